"""Numbered lines from a binary input, read incrementally: the reading side
of ``nmt8.serve.stream``.

:func:`read_lines` ends a line at ``\\n``, ``\\r\\n`` or a lone ``\\r`` (so a
file with old Mac line ends keeps its line count); a final line without a
line end is a line; empty lines are kept. A UTF-8 byte-order mark at the
start of the input is dropped. Other Unicode line separators (U+2028, form
feed) are text, not line ends. A line that is not UTF-8 or longer than
``MAX_LINE_BYTES`` raises ONE ValueError naming the input and the line
number, when the iterator reaches it. ``read1`` is used where the file has
it, so a slow pipe is translated as it arrives.

Does not: translate or write anything (``nmt8.serve.windows``).
"""

from __future__ import annotations

import codecs
import io
import re

MAX_LINE_BYTES = 1 << 20  # far beyond any translatable line (1000 subwords)
READ_BYTES = 1 << 16  # bytes per read

_LINE_END = re.compile(rb"\r\n|\r|\n")


def _decode(raw: bytes, n: int, name: str) -> str:
    if len(raw) > MAX_LINE_BYTES:
        raise ValueError(f"{name}, line {n}: longer than {MAX_LINE_BYTES} "
                         "bytes; split it")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{name}, line {n}: not valid UTF-8 ({err.reason} at "
                         f"byte {err.start})") from None


def read_lines(binary_file, name: str | None = None):
    """Yield ``(line_number, text)`` from a binary file, reading incrementally.

    Line ends ``\\n``, ``\\r\\n`` and a lone ``\\r``; numbers start at 1; a bad
    line raises ValueError naming ``name`` (default: the file's name) and its
    number, when the iterator reaches it.
    """
    if isinstance(binary_file, io.TextIOBase):
        raise TypeError("read_lines needs a binary file (e.g. sys.stdin.buffer "
                        "or open(path, 'rb')), not a text file")
    name = name or str(getattr(binary_file, "name", "<input>"))
    # read1 returns what is there, so a slow pipe is translated as it arrives
    read = getattr(binary_file, "read1", binary_file.read)
    buf, n, first = b"", 0, True
    while True:
        chunk = read(READ_BYTES)
        eof = not chunk
        buf += chunk
        if first and (len(buf) >= 3 or eof):
            buf, first = buf.removeprefix(codecs.BOM_UTF8), False
        start = 0
        for m in _LINE_END.finditer(buf):
            if m.group() == b"\r" and m.end() == len(buf) and not eof:
                break  # a \r at the end of a read: wait to see if \n follows
            n += 1
            yield n, _decode(buf[start:m.start()], n, name)
            start = m.end()
        buf = buf[start:]
        if eof:
            if buf:
                n += 1
                yield n, _decode(buf, n, name)
            return
        if len(buf) > MAX_LINE_BYTES + 1:
            _decode(buf, n + 1, name)  # raises: too long
