"""A small SQL tokenizer for reading ``CREATE`` statements out of ``sqlite_schema``.

Only what the schema check needs: tokens with comments dropped, identifiers unquoted and
lower-cased (SQLite identifiers are case-insensitive), keywords lower-cased, string literals
kept verbatim. It never evaluates anything.
"""

from __future__ import annotations

import re

__all__ = ["balanced", "canonical", "tokens"]

_TOKEN = re.compile(
    r"""(?P<skip>\s+|--[^\n]*|/\*.*?(?:\*/|\Z))
      |(?P<string>'(?:[^']|'')*(?:'|\Z))
      |"(?P<dq>(?:[^"]|"")*)(?:"|\Z)
      |`(?P<bq>(?:[^`]|``)*)(?:`|\Z)
      |\[(?P<br>[^\]]*)(?:\]|\Z)
      |(?P<word>[\w$]+)
      |(?P<op><=|>=|<>|!=|==|\|\||<<|>>|.)""",
    re.S | re.X,
)


def tokens(sql: str) -> list[str]:
    """The tokens of ``sql`` (see the module docstring)."""
    out: list[str] = []
    for m in _TOKEN.finditer(sql):
        kind = m.lastgroup
        if kind == "skip":
            continue
        if kind == "string" or kind == "op":
            out.append(m.group())
        elif kind == "word":
            out.append(m.group().lower())
        else:  # a quoted identifier
            q = {"dq": '"', "bq": "`", "br": ""}[kind or "br"]
            text = m.group(kind or "br")
            out.append((text.replace(q + q, q) if q else text).lower())
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
