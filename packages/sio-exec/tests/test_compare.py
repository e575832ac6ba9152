"""The default checker's token rules (contracts.md §6.2, bad-inputs §C 21-22)."""

from __future__ import annotations

import os
import resource

import pytest

from sio.executors import compare


def _compare(tmp_path, hint: bytes, out: bytes, chunk: int | None = None, monkeypatch=None):
    (tmp_path / "hint").write_bytes(hint)
    (tmp_path / "out").write_bytes(out)
    if chunk is not None:
        monkeypatch.setattr(compare, "CHUNK", chunk)
    h = os.open(tmp_path / "hint", os.O_RDONLY)
    o = os.open(tmp_path / "out", os.O_RDONLY)
    try:
        return compare.compare_fds(h, o)
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
    """bad-inputs §C 22: a 100 MB line without newline is WA, memory flat."""
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
