"""Safe file handling of the job directory (docs/hostile.rst §C 23) and zip inputs."""

from __future__ import annotations

import os
import zipfile

import pytest

from sio.executors import files
from sio.workers import Failure


def test_open_regular_refuses_symlink_and_fifo(tmp_path):
    (tmp_path / "real").write_text("x")
    os.symlink("/etc/passwd", tmp_path / "link")
    os.mkfifo(tmp_path / "fifo")
    fd = files.open_regular(str(tmp_path / "real"))
    os.close(fd)
    with pytest.raises(files.UnsafeFileError):
        files.open_regular(str(tmp_path / "link"))
    with pytest.raises(files.UnsafeFileError, match="not a regular file"):
        files.open_regular(str(tmp_path / "fifo"))  # no hang: O_NONBLOCK


def test_check_same_file_detects_replacement(tmp_path):
    path = str(tmp_path / "out")
    fd = files.create_output(path)
    try:
        files.check_same_file(path, fd)
        os.unlink(path)
        os.symlink("/etc/passwd", path)
        with pytest.raises(files.UnsafeFileError, match="replaced"):
            files.check_same_file(path, fd)
    finally:
        os.close(fd)


def test_create_output_replaces_a_planted_symlink(tmp_path):
    target = tmp_path / "victim"
    target.write_text("keep")
    os.symlink(target, tmp_path / "out")
    fd = files.create_output(str(tmp_path / "out"))
    os.write(fd, b"new")
    os.close(fd)
    assert target.read_text() == "keep"
    assert (tmp_path / "out").read_bytes() == b"new"


def _zip(path, members):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)


def test_single_member_zip_is_unpacked(tmp_path):
    path = tmp_path / "in"
    _zip(path, {"../../evil.in": b"1 2\n" * 1000})
    assert files.is_zip(str(path))
    assert files.unpack_single_member_zip(str(path)) == "../../evil.in"
    assert path.read_bytes() == b"1 2\n" * 1000
    assert sorted(os.listdir(tmp_path)) == ["in"]


@pytest.mark.parametrize(
    ("members", "message"),
    [({}, "0 members"), ({"a": b"1", "b": b"2"}, "2 members"), ({"d/": b""}, "directory")],
)
def test_other_zips_fail_clearly(tmp_path, members, message):
    path = tmp_path / "in"
    _zip(path, members)
    with pytest.raises(Failure, match=message):
        files.unpack_single_member_zip(str(path))


def test_corrupt_zip_fails_clearly(tmp_path):
    path = tmp_path / "in"
    path.write_bytes(files.ZIP_MAGIC + b"garbage" * 10)
    assert files.is_zip(str(path))
    with pytest.raises(Failure, match="cannot be unpacked"):
        files.unpack_single_member_zip(str(path))


def test_plain_text_is_not_a_zip(tmp_path):
    (tmp_path / "in").write_bytes(b"PK but not a zip\n")
    assert not files.is_zip(str(tmp_path / "in"))
