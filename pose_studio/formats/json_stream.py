"""Reading big JSON dataset files with bounded memory and one clear error for hostile input.

``json.loads`` of a 200 MB COCO file holds the bytes, the text and every number of every
annotation as a Python object at once (about 1.7 GB). :class:`JsonFile` instead reads the file
through a window of text a few MiB long and walks the top-level value itself: the elements of
chosen arrays (``annotations``, ``images``) go to a callback one at a time, as the standard
decoder parses each, and the caller keeps a compact form. Peak memory is the window plus what
the caller keeps.

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
from types import TracebackType
from typing import Any, BinaryIO

__all__ = ["JsonFile", "JsonInputError"]

#: Bytes read at a time; the window holds about twice this much text.
CHUNK = 4 << 20


class JsonInputError(ValueError):
    """Text that is not JSON this reader can take; ``str()`` is one line for the user."""


_DECODER = json.JSONDecoder()
_WS = re.compile(r"[ \t\n\r]*")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)  # fmt: skip


class JsonFile:
    """A JSON file read through a sliding window of text (see the module docstring).

    Raises:
        OSError: the file cannot be read.
        JsonInputError: the bytes are not UTF-8 (or UTF-16/32 with a byte-order mark) text.
    """

    def __init__(self, path: str | Path, *, chunk: int = CHUNK) -> None:
        self._f: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by close()/__exit__
        self._chunk = chunk
        self._hash = hashlib.sha256()
        head = self._f.read(4)
        encoding = "utf-8"
        for bom, enc in _BOMS:
            if head.startswith(bom):
                encoding = enc
                break
        self._decoder = codecs.getincrementaldecoder(encoding)()
        self._buf = ""
        self._dropped_lines = 0  # newlines in text already dropped from the window
        self._dropped_chars = 0
        self._eof = False
        self._feed(head)

    # --- the window ------------------------------------------------------------------------
    def _feed(self, raw: bytes) -> None:
        self._hash.update(raw)
        final = not raw
        try:
            self._buf += self._decoder.decode(raw, final=final)
        except UnicodeDecodeError as exc:
            raise JsonInputError(f"not a text/JSON file ({exc.reason})") from None
        if final:
            self._eof = True

    def _more(self) -> bool:
        """Read the next chunk into the window; False at the end of the file."""
        if self._eof:
            return False
        self._feed(self._f.read(self._chunk))
        return True

    def _drop(self, pos: int) -> int:
        """Forget the window's text before ``pos`` (once it is long); returns the new pos."""
        if pos < self._chunk:
            return pos
        self._dropped_lines += self._buf.count("\n", 0, pos)
        self._dropped_chars += pos
        self._buf = self._buf[pos:]
        return 0

    @property
    def digest(self) -> str:
        """SHA-256 of the bytes read so far (of the whole file once it has been scanned)."""
        return self._hash.hexdigest()

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> JsonFile:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # --- parsing pieces --------------------------------------------------------------------
    def _where(self, pos: int) -> str:
        line = self._dropped_lines + self._buf.count("\n", 0, pos) + 1
        col = pos - (self._buf.rfind("\n", 0, pos) + 1) + 1
        return f"line {line} column {col}"

    def _skip(self, pos: int) -> int:
        while True:
            m = _WS.match(self._buf, pos)
            end = m.end() if m else pos
            if end < len(self._buf) or not self._more():
                return end

    def _value(self, pos: int) -> tuple[Any, int]:
        """Decode the value at ``pos``; a value that runs past the window reads more text (a
        number is only taken once a character follows it)."""
        while True:
            try:
                value, end = _DECODER.raw_decode(self._buf, pos)
            except json.JSONDecodeError as exc:
                if self._more():
                    continue
                raise JsonInputError(f"not valid JSON: {exc.msg} at "
                                     f"{self._where(exc.pos)}") from None
            except RecursionError:
                raise JsonInputError(
                    f"not usable JSON: values nested too deeply (near {self._where(pos)}); "
                    "dataset files nest a few levels") from None
            except ValueError as exc:
                if "digits" in str(exc):
                    raise JsonInputError("not usable JSON: a number has more than 4300 "
                                         "digits") from None
                raise JsonInputError(f"not valid JSON: {exc}") from None
            if end < len(self._buf) or not self._more():
                return value, end

    def _expect(self, pos: int, chars: str) -> str:
        if pos >= len(self._buf) or self._buf[pos] not in chars:
            want = " or ".join(repr(c) for c in chars)
            raise JsonInputError(f"not valid JSON: expecting {want} at {self._where(pos)}")
        return self._buf[pos]

    def _end(self, pos: int) -> None:
        pos = self._skip(pos)
        if pos != len(self._buf):
            raise JsonInputError(f"not valid JSON: extra data after the top-level value at "
                                 f"{self._where(pos)}")

    def _elements(self, pos: int, each: Callable[[int, Any], None]) -> int:
        """Stream the array at ``buf[pos] == '['``; returns the position after it."""
        pos = self._skip(pos + 1)
        n = 0
        if self._buf[pos:pos + 1] == "]":
            return pos + 1
        while True:
            pos = self._drop(pos)
            value, pos = self._value(pos)
            each(n, value)
            n += 1
            pos = self._skip(pos)
            if self._expect(pos, ",]") == "]":
                return pos + 1
            pos = self._skip(pos + 1)

    # --- the top level ---------------------------------------------------------------------
    def top_level_kind(self) -> str:
        """``"object"``, ``"array"`` or ``"other"``: what the file's top-level value is."""
        pos = self._skip(0)
        c = self._buf[pos:pos + 1]
        return "object" if c == "{" else "array" if c == "[" else "other"

    def describe_other(self) -> str:
        """Why a file whose top level is neither an object nor an array is not a dataset."""
        value, end = self._value(self._skip(0))
        self._end(end)
        kind = {str: "string", int: "number", float: "number", bool: "true/false"}.get(
            type(value), "null" if value is None else type(value).__name__)
        return f"top level is a JSON {kind}, not an object"

    def scan_object(
        self, stream: Mapping[str, Callable[[int, Any], None]]
    ) -> tuple[dict[str, Any], set[str]]:
        """The members of the top-level object, except arrays under a key of ``stream``: each
        of their elements goes to ``stream[key](position, element)`` as it is parsed.

        Returns:
            (members, the keys whose arrays were streamed). A streamed key whose value is not
            an array is returned as a member like any other.
        """
        pos = self._skip(0)
        self._expect(pos, "{")
        out: dict[str, Any] = {}
        done: set[str] = set()
        pos = self._skip(pos + 1)
        if self._buf[pos:pos + 1] == "}":
            self._end(pos + 1)
            return out, done
        while True:
            pos = self._drop(pos)
            self._expect(pos, '"')
            key, pos = self._value(pos)
            pos = self._skip(pos)
            self._expect(pos, ":")
            pos = self._skip(pos + 1)
            sink = stream.get(key)
            if sink is not None and self._buf[pos:pos + 1] == "[":
                if key in done:
                    raise JsonInputError(f"not usable JSON: the top-level '{key}' appears twice")
                pos = self._elements(pos, sink)
                out.pop(key, None)
                done.add(key)
            else:
                out[key], pos = self._value(pos)
                done.discard(key)
            pos = self._skip(pos)
            if self._expect(pos, ",}") == "}":
                self._end(pos + 1)
                return out, done
            pos = self._skip(pos + 1)

    def scan_array(self, each: Callable[[int, Any], None]) -> int:
        """Stream the elements of a top-level array; returns how many there were."""
        pos = self._skip(0)
        self._expect(pos, "[")
        count = 0

        def counted(i: int, v: Any) -> None:
            nonlocal count
            count = i + 1
            each(i, v)

        self._end(self._elements(pos, counted))
        return count
