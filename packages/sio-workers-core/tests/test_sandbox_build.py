"""The sandbox image builder: recipes, archives, cache, CLI and publishing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile

import pytest

from sio.workers import sandbox as sb
from sio.workers.sandbox_build import builder, debian, recipes

SIO_SANDBOX = os.path.join(os.path.dirname(sys.executable), "sio-sandbox")


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SIO_SANDBOX_IMAGE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _members(archive):
    with tarfile.open(archive, "r:gz") as tar:
        return tar.getmembers()


def test_proot_sandbox_archive_layout(tmp_cache, tmp_path):
    archive = builder.build_image("proot-sandbox")
    assert archive.parent == tmp_cache and archive.name.startswith("proot-sandbox-")
    members = _members(archive)
    names = [m.name for m in members]
    assert names == sorted(names) or names[0] == "proot-sandbox"
    for m in members:
        assert m.name == "proot-sandbox" or m.name.startswith("proot-sandbox/")
        assert m.uid == 0 and m.gid == 0 and m.mtime == 0
        assert not (m.mode & 0o6000)
        assert m.isdir() or m.isreg() or m.issym()
        if m.issym():
            assert not m.linkname.startswith("/"), m.name
    by_name = {m.name: m for m in members}
    assert by_name["proot-sandbox/usr/bin/proot"].isreg()
    assert by_name["proot-sandbox/lib"].issym()  # merged /usr, like the host
    assert not any("/usr/share/doc/" in n for n in names)
    # It extracts under the safe data filter.
    root = sb.extract_archive(str(archive), "proot-sandbox", str(tmp_path / "x"))
    assert os.access(os.path.join(root, "usr/bin/proot"), os.X_OK)
    assert os.path.realpath(os.path.join(root, "bin/sh")).startswith(root)


def test_manifest_lists_packages_with_versions(tmp_cache):
    archive = builder.build_image("proot-sandbox")
    with tarfile.open(archive, "r:gz") as tar:
        manifest = json.load(tar.extractfile("proot-sandbox/.sio-sandbox.json"))
    installed = debian.installed_packages()
    assert {"proot", "dash", "libc6", "coreutils"} <= set(manifest["packages"])
    for name, version in manifest["packages"].items():
        assert installed[name].version == version
    assert not set(manifest["packages"]) & debian.EXCLUDED
    side = json.loads((tmp_cache / archive.name.replace(".tar.gz", ".manifest.json"))
                      .read_text())
    assert side == manifest


def test_cache_and_reproducibility(tmp_cache, tmp_path):
    first = builder.build_image("null-sandbox")
    stamp = first.stat().st_mtime_ns
    assert builder.build_image("null-sandbox").stat().st_mtime_ns == stamp  # cached
    digest = builder.image_sha256(first)
    stale = tmp_cache / "null-sandbox-0123456789abcdef.tar.gz"
    stale.write_bytes(b"old build")
    rebuilt = builder.build_image("null-sandbox", force=True)
    assert not stale.exists()  # other builds of the name are pruned
    assert rebuilt == first and builder.image_sha256(rebuilt) == digest
    out = builder.build_image("null-sandbox", tmp_path / "out")
    assert out == tmp_path / "out" / "null-sandbox.tar.gz"
    assert (tmp_path / "out" / "null-sandbox.tar.gz.sha256").read_text().split()[0] == digest
    assert [m.name for m in _members(out)] == ["null-sandbox", "null-sandbox/.sio-sandbox.json"]


def test_recipe_names():
    gcc = recipes.gcc_version()
    assert recipes.resolve(f"compiler-gcc.{gcc}")[1] == gcc
    assert recipes.resolve(f"compiler-gcc.{gcc.replace('.', '_')}")[1] == gcc
    assert recipes.default_name("compiler-gcc") == f"compiler-gcc.{gcc.replace('.', '_')}"
    with pytest.raises(recipes.RecipeError, match=gcc):
        recipes.resolve("compiler-gcc.1.2.3")
    with pytest.raises(recipes.RecipeError, match="no recipe"):
        recipes.resolve("compiler-cobol.1")
    assert {"null-sandbox", "proot-sandbox"} <= set(recipes.known_names())


def test_cli_list_build_and_errors(tmp_cache, tmp_path):
    env = dict(os.environ)
    proc = subprocess.run([SIO_SANDBOX, "list"], capture_output=True, text=True, env=env,
                          timeout=60)
    assert proc.returncode == 0 and "null-sandbox" in proc.stdout.split()
    proc = subprocess.run([SIO_SANDBOX, "build", "null-sandbox", "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(tmp_path / "o" / "null-sandbox.tar.gz")
    proc = subprocess.run([SIO_SANDBOX, "build", "compiler-gcc.0.0"], capture_output=True,
                          text=True, env=env, timeout=60)
    assert proc.returncode == 1 and "this host has gcc" in proc.stderr


def test_publish_then_get_sandbox_from_filetracker(tmp_cache, tmp_path, monkeypatch,
                                                  sio_filetracker_server, sio_filetracker):
    env = dict(os.environ)
    proc = subprocess.run([SIO_SANDBOX, "publish", "null-sandbox",
                           "--filetracker", sio_filetracker_server.url],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("null-sandbox: /sandboxes/null-sandbox.tar.gz@")
    monkeypatch.setenv("SIO_SANDBOXES_BASEDIR", str(tmp_path / "base"))
    monkeypatch.delenv("SIO_SANDBOXES_URL", raising=False)
    with sb.get_sandbox("null-sandbox") as sandbox:
        assert os.path.isfile(os.path.join(sandbox.path, ".sio-sandbox.json"))
    meta = sb.Sandbox("null-sandbox").metadata()
    assert meta["source"] == "filetracker:/sandboxes/null-sandbox.tar.gz"
    assert meta["sha256"] == builder.image_sha256(builder.build_image("null-sandbox"))
