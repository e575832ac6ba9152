"""The default output checker: streaming token comparison.

Rules (``contracts.md`` §6.2):

* tokens are separated by spaces, tabs, CR and NUL bytes; their number and
  kind do not matter;
* line breaks (LF) are significant: line *N* of the output must hold the same
  tokens as line *N* of the expected output (a blank line is a line with no
  tokens);
* trailing blank lines (and separators at the end of the file) are ignored,
  as is a missing final newline.

Both files are reduced on the fly to a *canonical form* — tokens joined by
one space, lines joined by LF, no leading/trailing separators on a line, no
trailing blank lines — and the two canonical streams are compared. The files
are read in chunks of :data:`CHUNK` bytes: memory use is constant and time
linear in the size of the files. While the raw chunks of both files are
identical (the common case), only cheap C-level scans run (``==``,
``count``), which keeps the checker within a small factor of ``cmp``.

The verdict comment names the first difference::

    line 3: expected "12", got "13"
    line 2: expected end of line, got "5"
    line 4: expected "7", got end of file

Tokens are shown shortened to :data:`TOKEN_SHOWN` bytes (``...`` follows a
shortened token); the comment is always valid UTF-8.
"""

from __future__ import annotations

import io
import os
import stat
from dataclasses import dataclass

from sio.workers.environ import utf8_safe

#: Bytes read per file per step.
CHUNK = 1 << 20
#: Tokens are shown in the comment shortened to this many bytes.
TOKEN_SHOWN = 100
_KEEP = TOKEN_SHOWN + 1

_SEPS = b" \t\r\x00"
_ALL_SEPS = _SEPS + b"\n"
_SEP_BYTES = [bytes([c]) for c in _ALL_SEPS]
_TO_SPACE = bytes.maketrans(b"\t\r\x00", b"   ")


@dataclass(frozen=True)
class Comparison:
    """Result of :func:`compare_fds`: ``ok`` and, when not ok, ``message``."""

    ok: bool
    message: str = ""


def _read_full(fd: int, size: int) -> bytes:
    """Read ``size`` bytes, fewer only at end of file."""
    data = os.read(fd, size)
    if len(data) == size or not data:
        return data
    parts = [data]
    got = len(data)
    while got < size:
        more = os.read(fd, size - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _last_sep(data: bytes, seps: list[bytes]) -> int:
    return max(data.rfind(s) for s in seps)


def _trailing_token(data: bytes, previous: bytes, seps: list[bytes], joined: bool) -> bytes:
    """First :data:`_KEEP` bytes of the token at the end of ``data``.

    ``data`` ends with a token byte. ``joined``: the bytes before ``data``
    continue that token when ``data`` holds no separator (``previous`` is
    then its kept prefix).
    """
    window = data[-(_KEEP + 1):]
    pos = _last_sep(window, seps)
    if pos >= 0:
        return window[pos + 1:]
    pos = _last_sep(data, seps)
    if pos >= 0:
        return data[pos + 1:pos + 1 + _KEEP]
    if joined and len(previous) >= _KEEP:
        return previous
    return ((previous if joined else b"") + data[:_KEEP])[:_KEEP]


class _Canonicaliser:
    """Turns chunks of one raw file into chunks of its canonical form.

    State: ``pending_nl`` line breaks and ``pending_sp`` (a separator) seen
    since the last token byte, not emitted yet (they may be trailing);
    ``line_has_token``: the current line already has a token.
    """

    __slots__ = ("pending_nl", "pending_sp", "line_has_token")

    def __init__(self) -> None:
        self.pending_nl = 0
        self.pending_sp = False
        self.line_has_token = False

    def copy(self) -> _Canonicaliser:
        other = _Canonicaliser()
        other.pending_nl = self.pending_nl
        other.pending_sp = self.pending_sp
        other.line_has_token = self.line_has_token
        return other

    def emits_separator(self) -> bool:
        """Whether a token byte now would be preceded by a separator."""
        return bool(self.pending_nl) or (self.pending_sp and self.line_has_token)

    def absorb_separators(self, seps: bytes) -> None:
        """Account for ``seps`` (separator bytes only, raw or normalised)."""
        if not seps:
            return
        last_nl = seps.rfind(b"\n")
        if last_nl >= 0:
            self.pending_nl += seps.count(b"\n")
            self.line_has_token = False
            self.pending_sp = last_nl < len(seps) - 1
        else:
            self.pending_sp = True

    def after_token_bytes(self, tail: bytes) -> None:
        """State after a stretch ending with a token byte, then ``tail``."""
        self.pending_nl = 0
        self.pending_sp = False
        self.line_has_token = True
        self.absorb_separators(tail)

    def feed(self, chunk: bytes) -> bytes:
        """Return the canonical bytes that ``chunk`` adds."""
        text = chunk
        if b"\r" in text:
            # CRLF line ends, the usual reason for the slow path: one pass.
            text = text.replace(b"\r\n", b"\n")
        if b"\r" in text or b"\t" in text or b"\x00" in text:
            text = text.translate(_TO_SPACE)
        while b"  " in text:
            text = text.replace(b"  ", b" ")
        if b" \n" in text:
            text = text.replace(b" \n", b"\n")
        if b"\n " in text:
            text = text.replace(b"\n ", b"\n")
        rest = text.lstrip(b" \n")
        if not rest:
            self.absorb_separators(text)
            return b""
        self.absorb_separators(text[: len(text) - len(rest)])
        core = rest.rstrip(b" \n")
        if self.pending_nl:
            prefix = b"\n" * self.pending_nl
        elif self.pending_sp and self.line_has_token:
            prefix = b" "
        else:
            prefix = b""
        self.after_token_bytes(rest[len(core):])
        return prefix + core if prefix else core


class _Side:
    """The remaining canonical stream of one file (for building messages)."""

    def __init__(self, fd: int, canon: _Canonicaliser, buf: bytes, eof: bool) -> None:
        self.fd = fd
        self.canon = canon
        self.buf = buf
        self.eof = eof

    def _fill(self) -> bool:
        while not self.buf and not self.eof:
            raw = _read_full(self.fd, CHUNK)
            if not raw:
                self.eof = True
            else:
                self.buf = self.canon.feed(raw)
        return bool(self.buf)

    def peek(self) -> int | None:
        return self.buf[0] if self._fill() else None

    def skip(self, n: int) -> None:
        self.buf = self.buf[n:]

    def skip_newlines(self) -> int:
        count = 0
        while self._fill():
            stripped = self.buf.lstrip(b"\n")
            count += len(self.buf) - len(stripped)
            self.buf = stripped
            if stripped:
                break
        return count

    def token(self) -> bytes:
        """Up to :data:`_KEEP` bytes of the token starting here."""
        got = b""
        while len(got) < _KEEP and self._fill():
            end = len(self.buf)
            for sep in (b" ", b"\n"):
                pos = self.buf.find(sep, 0, end)
                if pos >= 0:
                    end = pos
            got += self.buf[: min(end, _KEEP - len(got))]
            if end < len(self.buf):
                break
            self.buf = b""
        return got


def _show(token: bytes) -> str:
    text = utf8_safe(token[:TOKEN_SHOWN], TOKEN_SHOWN)
    return f'"{text}..."' if len(token) > TOKEN_SHOWN else f'"{text}"'


def _describe(side: _Side) -> str:
    c = side.peek()
    if c is None:
        return "end of file"
    if c == 0x0A:
        return "end of line"
    if c == 0x20:
        side.skip(1)
    return _show(side.token())


def _difference(line: int, tok: bytes, hint: _Side, out: _Side) -> str:
    """Describe the first difference; both sides start right after the
    common canonical prefix, which ends with ``tok`` (empty: with a
    separator, or nothing)."""
    h, o = hint.peek(), out.peek()
    seps = (None, 0x20, 0x0A)
    if tok and not (h in seps and o in seps):
        return (
            f"line {line}: expected {_show(tok + hint.token())}, "
            f"got {_show(tok + out.token())}"
        )
    if h is None and o == 0x0A:
        line += out.skip_newlines()
        return f"line {line}: expected end of file, got {_describe(out)}"
    if o is None and h == 0x0A:
        line += hint.skip_newlines()
        return f"line {line}: expected {_describe(hint)}, got end of file"
    return f"line {line}: expected {_describe(hint)}, got {_describe(out)}"


def _first_difference(a: bytes, b: bytes) -> int:
    """Index of the first differing byte of two different equal-length strings."""
    lo, hi = 0, len(a)
    while hi - lo > 64:
        mid = (lo + hi) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid
    while a[lo] == b[lo]:
        lo += 1
    return lo


class _Progress:
    """Line number and trailing token of the common canonical prefix."""

    __slots__ = ("lines", "tok")

    def __init__(self) -> None:
        self.lines = 1
        self.tok = b""

    def advance(self, common: bytes) -> None:
        if not common:
            return
        self.lines += common.count(b"\n")
        last = common[-1]
        if last in (0x20, 0x0A):
            self.tok = b""
        else:
            self.tok = _trailing_token(common, self.tok, [b" ", b"\n"], True)


def _fill(reader: io.FileIO, view: memoryview) -> int:
    """Fill ``view`` from ``reader``; fewer bytes only at end of file."""
    got = 0
    while got < len(view):
        n = reader.readinto(view[got:])
        if not n:
            break
        got += n
    return got


def _trailing_separators(data: bytearray) -> int:
    """How many separator bytes ``data`` ends with."""
    tail = data[-256:]
    kept = len(tail.rstrip(_ALL_SEPS))
    if kept:
        return len(tail) - kept
    return len(data) - len(bytes(data).rstrip(_ALL_SEPS))


def _buffer_size(*fds: int) -> int:
    """:data:`CHUNK`, or less for small regular files (no big allocation
    for the common tiny outputs)."""
    sizes = []
    for fd in fds:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return CHUNK
        sizes.append(st.st_size - os.lseek(fd, 0, os.SEEK_CUR))
    return max(1, min(CHUNK, max(sizes) + 1))


def compare_fds(hint_fd: int, out_fd: int) -> Comparison:
    """Compare the output ``out_fd`` with the expected output ``hint_fd``.

    Both are read from their current offsets to the end of file.
    """
    canon = _Canonicaliser()
    progress = _Progress()
    # Lock-step phase: identical raw chunks keep both canonical forms equal.
    # Reused buffers: no allocation (and no page faults) per chunk.
    hint_reader = io.FileIO(hint_fd, closefd=False)
    out_reader = io.FileIO(out_fd, closefd=False)
    size = _buffer_size(hint_fd, out_fd)
    abuf, bbuf = bytearray(size), bytearray(size)
    aview, bview = memoryview(abuf), memoryview(bbuf)
    while True:
        na = _fill(hint_reader, aview)
        nb = _fill(out_reader, bview)
        if na != size or nb != size or abuf != bbuf:
            a, b = bytes(aview[:na]), bytes(bview[:nb])
            if a != b or not a:
                break
            chunk = abuf[:na]
        else:
            chunk = abuf
        progress.lines += chunk.count(b"\n")
        trailing = _trailing_separators(chunk)
        if trailing == len(chunk):
            canon.absorb_separators(bytes(chunk))
            continue
        stripped = chunk if not trailing else chunk[: len(chunk) - trailing]
        progress.tok = bytes(
            _trailing_token(stripped, progress.tok, _SEP_BYTES, not canon.emits_separator())
        )
        canon.after_token_bytes(bytes(chunk[len(chunk) - trailing:]))
    if not a and not b:
        return Comparison(True)
    # Line breaks still pending in the lock-step state were counted above but
    # are not part of the canonical prefix yet.
    progress.lines -= canon.pending_nl
    hint_canon, out_canon = canon, canon.copy()
    bufs = [hint_canon.feed(a) if a else b"", out_canon.feed(b) if b else b""]
    eofs = [not a, not b]
    fds = (hint_fd, out_fd)
    canons = (hint_canon, out_canon)
    while True:
        for i in (0, 1):
            while not bufs[i] and not eofs[i]:
                raw = _read_full(fds[i], CHUNK)
                if raw:
                    bufs[i] = canons[i].feed(raw)
                else:
                    eofs[i] = True
        x, y = bufs
        if not x and not y:
            return Comparison(True)
        n = min(len(x), len(y))
        if n and x[:n] == y[:n]:
            progress.advance(x[:n])
            bufs = [x[n:], y[n:]]
            continue
        i = _first_difference(x[:n], y[:n]) if n else 0
        progress.advance(x[:i])
        hint = _Side(hint_fd, hint_canon, x[i:], eofs[0])
        out = _Side(out_fd, out_canon, y[i:], eofs[1])
        return Comparison(False, _difference(progress.lines, progress.tok, hint, out))
