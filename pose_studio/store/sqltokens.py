"""A small SQL tokenizer for reading ``CREATE`` statements out of ``sqlite_schema``.

Only what the schema check needs: tokens with comments dropped, identifiers unquoted and
lower-cased (SQLite identifiers are case-insensitive), keywords lower-cased, string literals
kept verbatim. It never evaluates anything.
"""

from __future__ import annotations

__all__ = ["balanced", "canonical", "tokens"]

_PUNCT = set("(),;.=<>!+-*/%|&~")


def tokens(sql: str) -> list[str]:
    """The tokens of ``sql`` (see the module docstring)."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c.isspace():
            i += 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == "'":
            j = i + 1
            while j < n:
                if sql[j] == "'":
                    if j + 1 < n and sql[j + 1] == "'":
                        j += 2
                        continue
                    break
                j += 1
            out.append(sql[i:j + 1])
            i = j + 1
        elif c in "\"`[":
            close = "]" if c == "[" else c
            j = i + 1
            buf = []
            while j < n:
                if sql[j] == close:
                    if close != "]" and j + 1 < n and sql[j + 1] == close:
                        buf.append(close)
                        j += 2
                        continue
                    break
                buf.append(sql[j])
                j += 1
            out.append("".join(buf).lower())
            i = j + 1
        elif c.isalnum() or c in "_$":
            j = i
            while j < n and (sql[j].isalnum() or sql[j] in "_$"):
                j += 1
            out.append(sql[i:j].lower())
            i = j
        else:
            # two-character operators stay one token
            two = sql[i:i + 2]
            if two in ("<=", ">=", "<>", "!=", "==", "||", "<<", ">>"):
                out.append(two)
                i += 2
            else:
                out.append(c)
                i += 1
    return out


def balanced(toks: list[str], start: int) -> tuple[list[str], int]:
    """The tokens inside the parenthesis that opens at ``toks[start]`` and the index after it."""
    depth = 0
    for j in range(start, len(toks)):
        if toks[j] == "(":
            depth += 1
        elif toks[j] == ")":
            depth -= 1
            if depth == 0:
                return toks[start + 1:j], j + 1
    return toks[start + 1:], len(toks)


def canonical(sql: str | None) -> str:
    """One normalised string for a statement (whitespace, comments, quoting and case removed)."""
    return " ".join(tokens(sql or ""))
