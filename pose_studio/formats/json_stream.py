"""Reading big JSON dataset files with bounded memory and one clear error for hostile input.

``json.loads`` of a 200 MB COCO file builds every number of every annotation as a Python object
at once (about 1.7 GB). :func:`scan_object` instead walks the top-level object itself and hands
the elements of chosen arrays (``annotations``, ``images``) to a callback one at a time, as the
standard decoder parses each; the caller keeps a compact form and the element is freed. Peak
memory is then the text plus what the caller keeps.

Everything a fuzzer throws at the decoder becomes :class:`JsonInputError` with one line for the
user: malformed text (line and column), integers over Python's 4300-digit limit, nesting deeper
than the decoder can follow, undecodable bytes.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "JsonInputError",
    "describe_other",
    "read_json_text",
    "scan_array",
    "scan_object",
    "top_level_kind",
]


class JsonInputError(ValueError):
    """Text that is not JSON this reader can take; ``str()`` is one line for the user."""


_DECODER = json.JSONDecoder()
_WS = re.compile(r"[ \t\n\r]*")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)  # fmt: skip


def read_json_text(path: str | Path) -> tuple[str, str]:
    """The file's text (UTF-8, or UTF-16/32 with a byte-order mark) and its SHA-256.

    Raises:
        OSError: the file cannot be read.
        JsonInputError: the bytes are not text in those encodings.
    """
    raw = Path(path).read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    encoding = "utf-8"
    for bom, enc in _BOMS:
        if raw.startswith(bom):
            encoding = enc
            break
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise JsonInputError(f"not a text/JSON file ({exc.reason})") from None
    del raw
    return text, digest


def _describe(exc: BaseException, text: str, pos: int) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    if isinstance(exc, RecursionError):
        line = text.count("\n", 0, pos) + 1
        return (f"not usable JSON: values nested too deeply (near line {line}); dataset files "
                "nest a few levels")
    msg = str(exc)
    if "digits" in msg:
        return "not usable JSON: a number has more than 4300 digits"
    return f"not valid JSON: {msg}"


def _value(text: str, pos: int) -> tuple[Any, int]:
    try:
        return _DECODER.raw_decode(text, pos)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise JsonInputError(_describe(exc, text, pos)) from None


def _skip(text: str, pos: int) -> int:
    m = _WS.match(text, pos)
    return m.end() if m else pos


def _expect(text: str, pos: int, chars: str) -> str:
    if pos >= len(text) or text[pos] not in chars:
        line = text.count("\n", 0, pos) + 1
        col = pos - (text.rfind("\n", 0, pos) + 1) + 1
        want = " or ".join(repr(c) for c in chars)
        raise JsonInputError(f"not valid JSON: expecting {want} at line {line} column {col}")
    return text[pos]


def top_level_kind(text: str) -> str:
    """``"object"``, ``"array"`` or ``"other"``: what the text's top-level value is."""
    pos = _skip(text, 0)
    c = text[pos:pos + 1]
    return "object" if c == "{" else "array" if c == "[" else "other"


def describe_other(text: str) -> str:
    """Why text whose top level is neither an object nor an array is not a dataset: the JSON
    error, or the kind of value it is."""
    try:
        value, end = _value(text, _skip(text, 0))
    except JsonInputError as exc:
        return str(exc)
    _end(text, end, None)
    kind = {str: "string", int: "number", float: "number", bool: "true/false"}.get(
        type(value), "null" if value is None else type(value).__name__)
    return f"top level is a JSON {kind}, not an object"


def _scan_elements(text: str, pos: int, each: Callable[[int, Any], None]) -> int:
    """Parse the array starting at ``text[pos] == '['``; returns the position after it."""
    pos = _skip(text, pos + 1)
    n = 0
    if text[pos:pos + 1] == "]":
        return pos + 1
    while True:
        value, pos = _value(text, pos)
        each(n, value)
        n += 1
        pos = _skip(text, pos)
        if _expect(text, pos, ",]") == "]":
            return pos + 1
        pos = _skip(text, pos + 1)


def scan_object(
    text: str, stream: Mapping[str, Callable[[int, Any], None]]
) -> tuple[dict[str, Any], set[str]]:
    """The members of the top-level object, except arrays under a key of ``stream``: each of
    their elements goes to ``stream[key](position, element)`` as it is parsed (not kept).

    Returns:
        (members, the keys whose arrays were streamed). A streamed key whose value is not an
        array is returned as a member like any other.
    """
    pos = _skip(text, 0)
    _expect(text, pos, "{")
    out: dict[str, Any] = {}
    done: set[str] = set()
    pos = _skip(text, pos + 1)
    if text[pos:pos + 1] == "}":
        return _end(text, pos + 1, out), done
    while True:
        _expect(text, pos, '"')
        key, pos = _value(text, pos)
        pos = _skip(text, pos)
        _expect(text, pos, ":")
        pos = _skip(text, pos + 1)
        sink = stream.get(key)
        if sink is not None and text[pos:pos + 1] == "[":
            if key in done:  # a repeated key: JSON's last value wins, as json.loads does
                raise JsonInputError(f"not usable JSON: the top-level '{key}' appears twice")
            pos = _scan_elements(text, pos, sink)
            out.pop(key, None)
            done.add(key)
        else:
            out[key], pos = _value(text, pos)
            done.discard(key)
        pos = _skip(text, pos)
        if _expect(text, pos, ",}") == "}":
            return _end(text, pos + 1, out), done
        pos = _skip(text, pos + 1)


def scan_array(text: str, each: Callable[[int, Any], None]) -> int:
    """Stream the elements of a top-level array; returns how many there were."""
    pos = _skip(text, 0)
    _expect(text, pos, "[")
    count = 0

    def counted(i: int, v: Any) -> None:
        nonlocal count
        count = i + 1
        each(i, v)

    end = _scan_elements(text, pos, counted)
    _end(text, end, None)
    return count


def _end(text: str, pos: int, out: dict[str, Any] | None) -> dict[str, Any]:
    pos = _skip(text, pos)
    if pos != len(text):
        line = text.count("\n", 0, pos) + 1
        raise JsonInputError(f"not valid JSON: extra data after the top-level value at line {line}")
    return out if out is not None else {}
