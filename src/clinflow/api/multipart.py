"""A streaming reader of ``multipart/related`` bodies (RFC 2046 section 5.1, RFC 2387), as
DICOMweb STOW-RS sends them: fed the body chunk by chunk, it hands out each part's headers
and then its bytes as they arrive, holding at most a header block and one delimiter's worth
of bytes, so a part of any size streams to disk.

``media_type(header)`` splits a Content-Type into its type and parameters (quoted values
unquoted). Malformed input raises ``MultipartError`` with a message that names the problem,
never a byte of the body.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

MAX_HEADER_BYTES = 16 * 1024  # one part's header block
MAX_BOUNDARY = 70  # RFC 2046


class MultipartError(ValueError):
    """The body is not a well-formed multipart body for its boundary."""


@dataclass(frozen=True, slots=True)
class PartStart:
    headers: dict[str, str]  # lower-case names


@dataclass(frozen=True, slots=True)
class PartData:
    data: bytes


@dataclass(frozen=True, slots=True)
class PartEnd:
    pass


Event = PartStart | PartData | PartEnd


def media_type(header: str) -> tuple[str, dict[str, str]]:
    """``'multipart/related; type="application/dicom"; boundary=x'`` ->
    ``("multipart/related", {"type": "application/dicom", "boundary": "x"})``."""
    kind, _, rest = header.partition(";")
    params: dict[str, str] = {}
    while rest:
        item, rest = _next_param(rest)
        name, sep, value = item.partition("=")
        if sep and name.strip():
            params[name.strip().lower()] = value.strip()
    return kind.strip().lower(), params


def _next_param(text: str) -> tuple[str, str]:
    """The first ``name=value`` of ``text`` (a quoted value may hold ``;``), the rest."""
    name, eq, after = text.partition("=")
    if not eq:
        return name, ""
    after = after.lstrip()
    if after.startswith('"'):
        chars: list[str] = []
        index, escaped = 1, False
        while index < len(after):
            char = after[index]
            index += 1
            if escaped:
                chars.append(char)
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                break
            else:
                chars.append(char)
        _, _, rest = after[index:].partition(";")
        return f"{name}={''.join(chars)}", rest
    value, _, rest = after.partition(";")
    return f"{name}={value}", rest


def check_boundary(boundary: str) -> bytes:
    """The boundary as bytes; MultipartError unless 1-70 ASCII characters (RFC 2046)."""
    if not 0 < len(boundary) <= MAX_BOUNDARY or not boundary.isascii():
        raise MultipartError("boundary must be 1-70 ASCII characters")
    if boundary.endswith(" "):
        raise MultipartError("boundary must not end with a space")
    return boundary.encode("ascii")


class MultipartReader:
    """Feed body chunks with ``feed`` (events out), then ``close`` (raises if truncated)."""

    def __init__(self, boundary: bytes) -> None:
        self._dash = b"--" + boundary
        self._delimiter = b"\r\n--" + boundary
        self._buffer = b""
        self._state = "preamble"  # preamble | after | headers | body | done

    def feed(self, chunk: bytes) -> Iterator[Event]:
        self._buffer += chunk
        while True:
            state = self._state
            if state == "preamble":
                if not self._preamble():
                    return
            elif state == "after":
                done = self._after_delimiter()
                if done is None:
                    return
            elif state == "headers":
                headers = self._headers()
                if headers is None:
                    return
                yield PartStart(headers)
            elif state == "body":
                data, ended = self._body()
                if data:
                    yield PartData(data)
                if not ended:
                    return
                yield PartEnd()
            else:  # done: the epilogue is ignored
                self._buffer = b""
                return

    def close(self) -> None:
        if self._state != "done":
            raise MultipartError("body ended before the closing boundary")

    def _preamble(self) -> bool:
        """Skip to the first delimiter (at the start, or after a CRLF)."""
        if self._buffer.startswith(self._dash):
            self._buffer = self._buffer[len(self._dash) :]
            self._state = "after"
            return True
        found = self._buffer.find(self._delimiter)
        if found < 0:
            keep = len(self._delimiter) - 1
            self._buffer = self._buffer[-keep:] if len(self._buffer) > keep else self._buffer
            return False
        self._buffer = self._buffer[found + len(self._delimiter) :]
        self._state = "after"
        return True

    def _after_delimiter(self) -> bool | None:
        """After ``--boundary``: ``--`` closes; else optional spaces then CRLF opens a part."""
        if len(self._buffer) < 2:
            return None
        if self._buffer.startswith(b"--"):
            self._state, self._buffer = "done", b""
            return True
        line_end = self._buffer.find(b"\r\n")
        if line_end < 0:
            if len(self._buffer) > 256:
                raise MultipartError("boundary line not ended by CRLF")
            return None
        if self._buffer[:line_end].strip(b" \t"):
            raise MultipartError("unexpected characters after a boundary")
        self._buffer = self._buffer[line_end + 2 :]
        self._state = "headers"
        return True

    def _headers(self) -> dict[str, str] | None:
        if self._buffer.startswith(b"\r\n"):  # a part without headers
            self._buffer = self._buffer[2:]
            self._state = "body"
            return {}
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > MAX_HEADER_BYTES:
                raise MultipartError(f"part headers longer than {MAX_HEADER_BYTES} bytes")
            return None
        if end > MAX_HEADER_BYTES:
            raise MultipartError(f"part headers longer than {MAX_HEADER_BYTES} bytes")
        block, self._buffer = self._buffer[:end], self._buffer[end + 4 :]
        headers: dict[str, str] = {}
        for line in block.split(b"\r\n"):
            name, sep, value = line.partition(b":")
            if not sep or not name.strip():
                raise MultipartError("a part header line is not 'Name: value'")
            headers[name.strip().decode("latin-1").lower()] = value.strip().decode("latin-1")
        self._state = "body"
        return headers

    def _body(self) -> tuple[bytes, bool]:
        """The part's bytes available now and whether its delimiter was reached."""
        found = self._buffer.find(self._delimiter)
        if found >= 0:
            data = self._buffer[:found]
            self._buffer = self._buffer[found + len(self._delimiter) :]
            self._state = "after"
            return data, True
        keep = len(self._delimiter) - 1  # a delimiter may straddle this chunk and the next
        if len(self._buffer) <= keep:
            return b"", False
        data, self._buffer = self._buffer[:-keep], self._buffer[-keep:]
        return data, False
