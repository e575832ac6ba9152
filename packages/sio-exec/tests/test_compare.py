"""The default checker's token rules (docs/contracts.rst §6.2, docs/hostile.rst §C 21-22)."""

from __future__ import annotations

import os
import random
import re
import resource
import threading

import pytest

from sio.executors import compare


def _compare(tmp_path, hint: bytes, out: bytes, chunk: int | None = None, monkeypatch=None):
    (tmp_path / "hint").write_bytes(hint)
    (tmp_path / "out").write_bytes(out)
    h = os.open(tmp_path / "hint", os.O_RDONLY)
    o = os.open(tmp_path / "out", os.O_RDONLY)
    try:
        return compare.compare_fds(h, o, chunk=chunk)
    finally:
        os.close(h)
        os.close(o)


EQUAL = [
    (b"1 2 3\n", b"1 2 3\n"),
    (b"1 2 3\n", b"1 2 3   \n"),  # trailing spaces
    (b"1 2 3\n", b"1 2 3\r\n"),  # CRLF
    (b"1 2\n3\n", b"1 2\r\n3\r\n\r\n"),
    (b"1 2 3\n", b"1 2 3"),  # missing final newline
    (b"1 2 3\n", b"1 2 3\n\n\n\n"),  # trailing blank lines
    (b"1 2 3\n\n\n", b"1 2 3\n"),
    (b"1 2 3\n", b"  1\t2\x003 \n"),  # tabs, NUL bytes, leading spaces
    (b"a\n\nb\n", b"a\n  \t\nb\n"),  # a blank line is a line without tokens
    (b"", b""),
    (b"", b"\n\n \n"),
    (b"\xff\xfe x\n", b"\xff\xfe  x\n"),  # non-UTF-8 tokens compare as bytes
]


@pytest.mark.parametrize(("hint", "out"), EQUAL)
@pytest.mark.parametrize("chunk", [None, 1, 3])
def test_equal(tmp_path, monkeypatch, hint, out, chunk):
    result = _compare(tmp_path, hint, out, chunk, monkeypatch)
    assert result.ok, result.message


DIFFERENT = [
    (b"1 2 3\n", b"1 2 4\n", 'line 1: expected "3", got "4"'),
    (b"1 2\n3\n", b"1 2 5\n3\n", 'line 1: expected end of line, got "5"'),  # extra token
    (b"1 2 5\n3\n", b"1 2\n3\n", 'line 1: expected "5", got end of line'),
    (b"1\n2\n3\n", b"1\n2\n", 'line 3: expected "3", got end of file'),
    (b"1\n2\n", b"1\n2\n\n\n7\n", 'line 5: expected end of file, got "7"'),
    (b"12 3\n", b"123 3\n", 'line 1: expected "12", got "123"'),
    (b"a b\n", b"a\nb\n", 'line 1: expected "b", got end of line'),  # line breaks count
    (b"a\nb\n", b"a\n\nb\n", 'line 2: expected "b", got end of line'),
    (b"x\n", b"", 'line 1: expected "x", got end of file'),
    (b"x\n", b"x\x00y\n", 'line 1: expected end of file, got "y"'),
]


@pytest.mark.parametrize(("hint", "out", "message"), DIFFERENT)
@pytest.mark.parametrize("chunk", [None, 1, 4])
def test_different(tmp_path, monkeypatch, hint, out, message, chunk):
    result = _compare(tmp_path, hint, out, chunk, monkeypatch)
    assert not result.ok
    assert result.message == message


def test_long_tokens_are_shortened(tmp_path):
    result = _compare(tmp_path, b"7 " + b"x" * 300 + b"\n", b"7 " + b"x" * 250 + b"y\n")
    assert not result.ok
    shown = "x" * 100
    assert result.message == f'line 1: expected "{shown}...", got "{shown}..."'


def test_message_is_valid_utf8_for_binary_output(tmp_path):
    result = _compare(tmp_path, b"ok\n", b"\xc3\x28\xff\x80 tail\n")
    assert not result.ok
    text = result.message
    text.encode("utf-8")  # no surrogates
    assert "\x00" not in text
    assert text.startswith('line 1: expected "ok", got "')
    assert "\ufffd" in text


def test_multibyte_token_cut_on_character_boundary(tmp_path):
    token = "ż".encode() * 80  # 160 bytes
    result = _compare(tmp_path, b"a\n", token + b"\n")
    shown = result.message.split('got "')[1]
    assert shown.endswith('..."')
    assert len(shown[:-4].encode("utf-8")) <= compare.TOKEN_SHOWN
    assert "\ufffd" not in shown


def test_difference_after_many_identical_chunks(tmp_path, monkeypatch):
    body = b"".join(b"%d %d\n" % (i, i * i) for i in range(5000))
    result = _compare(tmp_path, body + b"end\n", body + b"end2\n", 1024, monkeypatch)
    assert result.message == 'line 5001: expected "end", got "end2"'
    result = _compare(tmp_path, body, body.replace(b"\n", b"\r\n"), 1024, monkeypatch)
    assert result.ok


def _peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@pytest.mark.slow
def test_huge_single_line_bounded_memory(tmp_path):
    """docs/hostile.rst §C 22: a 100 MB line without newline is WA, memory flat."""
    out = tmp_path / "out"
    with open(out, "wb") as f:
        block = b"x" * (1 << 20)
        for _ in range(100):
            f.write(block)
    (tmp_path / "hint").write_bytes(b"42\n")
    (tmp_path / "hint2").write_bytes(b"x" * (100 << 20) + b"y")
    before = _peak_rss_kib()
    h = os.open(tmp_path / "hint", os.O_RDONLY)
    o = os.open(out, os.O_RDONLY)
    result = compare.compare_fds(h, o)
    os.close(h)
    assert result.message.startswith('line 1: expected "42", got "xxxx')
    h = os.open(tmp_path / "hint2", os.O_RDONLY)
    os.lseek(o, 0, os.SEEK_SET)
    result = compare.compare_fds(h, o)
    os.close(h)
    os.close(o)
    assert not result.ok
    # A few chunks at most, whatever the size of the files.
    assert _peak_rss_kib() - before < 32 * 1024


def test_chunk_constant_is_the_default(tmp_path, monkeypatch):
    monkeypatch.setattr(compare, "CHUNK", 2)
    assert _compare(tmp_path, b"ab\ncd\n", b"ab\r\ncd\r\n").ok
    assert _compare(tmp_path, b"ab\ncd\n", b"ab\ncx\n").message == 'line 2: expected "cd", got "cx"'


# Block boundaries: every case with every block size up to past its length,
# so that each byte of the files is once the first and once the last of a
# block (the lock-step phase, its insertions and the canonical phase all
# meet the boundary).
CHUNKS = [*range(1, 18), 31, 64, 1 << 20]

BOUNDARY_EQUAL = [
    (b"12345 678\n9\n", b"12345 678\r\n9\r\n"),  # CR and LF in two blocks
    (b"12345 678\r\n9\r\n", b"12345 678\n9\n"),  # the expected output has CRLF
    (b"1 2\n3 4\n", b"1 2 \n3 4 \n"),  # trailing spaces
    (b"1 2\n3 4\n", b"1 2 \r\n3 4 \r\n"),  # both
    (b"1 2\n3 4\n", b"1 2\t\x00\n3 4\t\x00\n"),
    (b"1 2\n3 4\n", b"1 2\n3 4\n  \n\t\n\r\n\x00"),  # trailing blank lines
    (b"1 2\n3 4", b"1 2\n3 4\n"),
    (b"a\r\nb\nc\r\nd\ne\r\nf\ng\r\nh\ni\r\nj\nk\r\nl\nm\r\n",
     b"a\nb\r\nc\nd\r\ne\nf\r\ng\nh\r\ni\nj\r\nk\nl\r\nm\n"),  # mixed line ends
    (b"x" * 300 + b"\n", b"x" * 300 + b"\r\n"),  # a token longer than a block
    (b"x" * 300 + b" y\n", b"x" * 300 + b"\ty \n"),
    (b"\n\n\n1\n", b"\r\n\r\n\r\n1\r\n"),  # blank lines
    (b"1\n\n2\n", b"1\r\n \r\n2\r\n"),
    (b"\x00\xff\xfe 1\n", b"\x00\xff\xfe\x001\r\n"),  # binary data
]


@pytest.mark.parametrize(("hint", "out"), BOUNDARY_EQUAL)
@pytest.mark.parametrize("chunk", CHUNKS)
def test_boundary_equal(tmp_path, hint, out, chunk):
    assert _compare(tmp_path, hint, out, chunk).ok
    assert _compare(tmp_path, out, hint, chunk).ok


BOUNDARY_DIFFERENT = [
    (b"abcdefgh ijklmnop\n", b"abcdefgh ijklmnoq\n", 'line 1: expected "ijklmnop", got "ijklmnoq"'),
    (b"abcdefgh ijklmnop\nz\n", b"abcdefgh ijklmnop q\nz\n", 'line 1: expected end of line, got "q"'),
    (b"abcdefgh ijklmnop\n", b"abcdefgh ijklmnop q\n", 'line 1: expected end of file, got "q"'),
    (b"1 2\n3 4\n5 6\n", b"1 2\r\n3 4\r\n5 7\r\n", 'line 3: expected "6", got "7"'),
    (b"1 2\r\n3 4\r\n5 6\r\n", b"1 2\n3 4\n5 7\n", 'line 3: expected "6", got "7"'),
    (b"1 2\n3 4\n5 6\n8\n", b"1 2 \n3 4 \n5 6 7\n8\n", 'line 3: expected end of line, got "7"'),
    (b"1 2\n3 4\n5 6\n", b"1 2\r\n3 4\r\n\r\n5 6\r\n", 'line 3: expected "5", got end of line'),
    (b"1 2\n3 4\n", b"1 2\r\n3 4\r\n5\r\n", 'line 3: expected end of file, got "5"'),
    (b"1 2\n3 4\n5\n", b"1 2\r\n3 4\r\n", 'line 3: expected "5", got end of file'),
    (b"1\r2\n", b"1\r\n2\n", 'line 1: expected "2", got end of line'),  # a lone CR is a space
    (b"a\r\nb\nc\r\nd\ne\r\nf\ng\r\nh\ni\r\nj\nk\r\nl\nm\r\n",
     b"a\nb\r\nc\nd\r\ne\nf\r\ng\nh\r\ni\nj\r\nk\nl\r\nn\n", 'line 13: expected "m", got "n"'),
    (b"x" * 300 + b"\n", b"x" * 299 + b"y\r\n", f'line 1: expected "{"x" * 100}...", got "{"x" * 100}..."'),
    (b"x" * 300 + b"\n", b"x" * 299 + b"\r\n", f'line 1: expected "{"x" * 100}...", got "{"x" * 100}..."'),
    (b"y " + b"x" * 300 + b"\n", b"y\r\n" + b"x" * 300 + b"\n", 'line 1: expected "' + "x" * 100 + '...", got end of line'),
    (b"7 1234\n", b"7 12345\n", 'line 1: expected "1234", got "12345"'),
    (b"\x00\xff 1\n", b"\x00\xff\x002\n", 'line 1: expected "1", got "2"'),
]


@pytest.mark.parametrize(("hint", "out", "message"), BOUNDARY_DIFFERENT)
@pytest.mark.parametrize("chunk", CHUNKS)
def test_boundary_different(tmp_path, hint, out, message, chunk):
    result = _compare(tmp_path, hint, out, chunk)
    assert not result.ok
    assert result.message == message


@pytest.mark.parametrize("chunk", [4, 5, 8, 64])
def test_difference_at_every_offset(tmp_path, chunk):
    """A token changed at each offset of a file of many blocks, CRLF or not:
    the line number and tokens of the message do not depend on the block."""
    lines = [b"%d %d" % (i, i * 7) for i in range(40)]
    hint = b"\n".join(lines) + b"\n"
    for eol in (b"\n", b"\r\n", b" \n"):
        for n in range(0, 40, 3):
            changed = [*lines]
            changed[n] = changed[n] + b"9"
            out = eol.join(changed) + eol
            expected = f'line {n + 1}: expected "{n * 7}", got "{n * 7}9"'
            assert _compare(tmp_path, hint, out, chunk).message == expected


def test_mixed_line_ends_past_the_insertion_limit(tmp_path):
    """More switches than the lock-step phase allows: the canonical phase
    finishes the job with the right line numbers."""
    lines = [b"%d" % i for i in range(60)]
    hint = b"\n".join(lines) + b"\n"
    out = b"".join(x + (b"\r\n" if i % 2 else b"\n") for i, x in enumerate(lines))
    assert _compare(tmp_path, hint, out, 8).ok
    out = out.replace(b"\n40\n", b"\n41\n")
    assert _compare(tmp_path, hint, out, 8).message == 'line 41: expected "40", got "41"'


def test_reads_from_the_current_offsets(tmp_path):
    """Line numbers count from where the descriptors stand (the expected
    output is read again, from that offset, to count them)."""
    (tmp_path / "hint").write_bytes(b"skip\nme\n1\n2\n3\n")
    (tmp_path / "out").write_bytes(b"xx1\r\n2\r\n4\r\n")
    h = os.open(tmp_path / "hint", os.O_RDONLY)
    o = os.open(tmp_path / "out", os.O_RDONLY)
    try:
        os.lseek(h, 8, os.SEEK_SET)
        os.lseek(o, 2, os.SEEK_SET)
        for chunk in (1, 2, 3, None):
            os.lseek(h, 8, os.SEEK_SET)
            os.lseek(o, 2, os.SEEK_SET)
            result = compare.compare_fds(h, o, chunk=chunk)
            assert result.message == 'line 3: expected "3", got "4"'
    finally:
        os.close(h)
        os.close(o)


def _through_pipe(data: bytes) -> int:
    r, w = os.pipe()

    def write() -> None:
        with os.fdopen(w, "wb") as f:
            f.write(data)

    threading.Thread(target=write, daemon=True).start()
    return r


@pytest.mark.parametrize("chunk", [1, 3, 7, None])
def test_pipes(chunk):
    """Descriptors that are not regular files: read once, lines counted as
    they are read."""
    body = b"".join(b"%d\n" % i for i in range(2000))
    cases = [
        (body, body.replace(b"\n", b"\r\n"), ""),
        (body, body.replace(b"\n1999\n", b"\n1998\n"), 'line 2000: expected "1999", got "1998"'),
        (body, body.replace(b"\n1500\n", b"\n1500 \r\n1501 x\r\n"), 'line 1502: expected end of line, got "x"'),
    ]
    for hint, out, message in cases:
        h, o = _through_pipe(hint), _through_pipe(out)
        try:
            result = compare.compare_fds(h, o, chunk=chunk)
        finally:
            os.close(h)
            os.close(o)
        assert result.ok == (not message)
        assert result.message == message


def _canonical(data: bytes) -> list[list[bytes]]:
    """The token rules, in memory: the reference for the random test."""
    lines = [re.split(rb"[ \t\r\x00]+", line.strip(b" \t\r\x00")) for line in data.split(b"\n")]
    lines = [[t for t in line if t] for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def test_random_files(tmp_path):
    """Random files (tokens, all separators, CRLF, trailing spaces, binary
    bytes, small edits): the verdict is that of the token rules and the
    message does not depend on the block size."""
    rnd = random.Random(18)
    pieces = [b"1", b"22", b"x" * 9, b" ", b"\t", b"\r", b"\n", b"\r\n", b"\x00", b"\xff", b"\xc5\xbc"]
    for _ in range(300):
        if rnd.random() < 0.5:
            hint = b"".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 30)))
        else:
            hint = b"".join(b" ".join(rnd.choice([b"1", b"23", b"x" * rnd.randint(1, 120)])
                                      for _ in range(rnd.randint(0, 4))) + b"\n"
                            for _ in range(rnd.randint(0, 10)))
        out = hint.replace(b"\n", rnd.choice([b"\n", b"\r\n", b" \n", b" \r\n", b"\t\n"]))
        for _ in range(rnd.randint(0, 2)):
            i = rnd.randint(0, len(out))
            out = out[:i] + rnd.choice(pieces) + out[i + rnd.randint(0, 2):]
        if rnd.random() < 0.5:
            hint, out = out, hint
        messages = set()
        for chunk in (1, 2, 3, 5, 16, None):
            result = _compare(tmp_path, hint, out, chunk)
            assert result.ok == (_canonical(hint) == _canonical(out)), (hint, out, chunk)
            messages.add(result.message)
        assert len(messages) == 1, (hint, out, messages)


@pytest.mark.slow
def test_crlf_bounded_memory(tmp_path):
    """40 MB with LF against the same with CRLF line ends, then with a
    difference at the end: memory flat."""
    block = b"".join(b"%d %d\n" % (i, i * i) for i in range(20000))
    with open(tmp_path / "hint", "wb") as f:
        for _ in range(40_000_000 // len(block)):
            f.write(block)
    crlf = block.replace(b"\n", b"\r\n")
    with open(tmp_path / "out", "wb") as f:
        for _ in range(40_000_000 // len(block)):
            f.write(crlf)
    before = _peak_rss_kib()
    h = os.open(tmp_path / "hint", os.O_RDONLY)
    o = os.open(tmp_path / "out", os.O_RDONLY)
    try:
        assert compare.compare_fds(h, o).ok
        with open(tmp_path / "out", "ab") as f:
            f.write(b"1\r\n")
        os.lseek(h, 0, os.SEEK_SET)
        os.lseek(o, 0, os.SEEK_SET)
        lines = (40_000_000 // len(block)) * 20000
        assert compare.compare_fds(h, o).message == f'line {lines + 1}: expected end of file, got "1"'
    finally:
        os.close(h)
        os.close(o)
    assert _peak_rss_kib() - before < 32 * 1024
