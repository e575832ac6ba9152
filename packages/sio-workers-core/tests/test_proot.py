"""PRoot with built images: the sandbox is /, the job dir is /tmp and itself."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from sio.workers.sandbox_build import recipes

pytestmark = pytest.mark.skipif(shutil.which("proot") is None, reason="needs Debian's proot")


def _executor(*args, **kwargs):
    from sio.workers.executors.proot import PRootExecutor

    return PRootExecutor(*args, **kwargs)


def _top_level(path):
    return set(os.listdir(path))


def test_ls_root_shows_the_image_not_the_host(sio_sandboxes, tmp_path, monkeypatch):
    from sio.workers.executors.proot import proot_argv

    root = sio_sandboxes("proot-sandbox")["proot-sandbox"]
    job = tmp_path / "job"
    job.mkdir()
    (job / "input.txt").write_text("from the job dir\n")
    monkeypatch.chdir(job)
    argv = proot_argv(root, str(job))
    out = subprocess.run([*argv, "/bin/sh", "-c", "ls -a /"], capture_output=True,
                         text=True, timeout=60, check=True).stdout.split()
    top = str(job).strip("/").split("/")[0]  # the job dir is visible at its path
    assert set(out) - {".", ".."} == _top_level(root) | {"tmp", "dev", top}
    host_only = {"work", "root", "home", "srv", "opt", "var"} - _top_level(root) - {top}
    assert not host_only & set(out)
    probe = subprocess.run(
        [*argv, "/bin/sh", "-c",
         "cat /tmp/input.txt; pwd; test -e /etc/passwd || echo no-passwd;"
         " echo written > /tmp/made-inside"],
        capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split("\n")[:3] == ["from the job dir", str(job), "no-passwd"]
    assert (job / "made-inside").read_text() == "written\n"


def test_executor_runs_ls_in_image(sio_sandboxes, tmp_path, monkeypatch):
    root = sio_sandboxes("proot-sandbox")["proot-sandbox"]
    monkeypatch.chdir(tmp_path)
    with _executor("proot-sandbox") as ex:
        assert ex.path == root and ex.rpath == "/"
        renv = ex(["/bin/sh", "-c", "ls -A /"], capture_output=True)
    assert renv["return_code"] == 0
    top = str(tmp_path).strip("/").split("/")[0]
    assert set(renv["stdout"].decode().split()) == _top_level(root) | {"tmp", "dev", top}


def test_executor_proot_options_and_basics(sio_sandboxes, tmp_path, monkeypatch):
    """null-sandbox has neither /bin/sh nor /lib: the proot-sandbox's are
    bound; proot_options add a bind."""
    sio_sandboxes("proot-sandbox", "null-sandbox")
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "hello").write_text("hi")
    job = tmp_path / "job"
    job.mkdir()
    monkeypatch.chdir(job)
    with _executor("null-sandbox") as ex:
        renv = ex("echo shell-works; read x < /extra/hello; echo $x", capture_output=True,
                  proot_options=["-b", f"{extra}:/extra"])
    assert renv["return_code"] == 0
    assert renv["stdout"].decode().split() == ["shell-works", "hi"]


def _run_in(root, argv):
    """Run ``argv`` under proot with ``root`` as / in the current directory."""
    from sio.workers.executors.proot import proot_argv

    return subprocess.run([*proot_argv(root, os.getcwd()), *argv], capture_output=True,
                          text=True, timeout=300)


def test_gcc_image_compiles_c_and_cpp(sio_sandboxes, tmp_path, monkeypatch):
    name = recipes.default_name("compiler-gcc")
    root = sio_sandboxes(name)[name]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.c").write_text('#include <stdio.h>\n#include <math.h>\n'
                                  'int main(void){printf("%d\\n",(int)sqrt(49.0));return 0;}\n')
    (tmp_path / "b.cpp").write_text('#include <iostream>\n#include <vector>\n'
                                    'int main(){std::vector<int> v(6);'
                                    'std::cout<<v.size()<<"\\n";}\n')
    (tmp_path / "leak.c").write_text('#include "/etc/passwd"\n')
    c = _run_in(root, ["/usr/bin/gcc", "-O2", "-static", "-o", "a", "a.c", "-lm"])
    assert c.returncode == 0, c.stderr
    cpp = _run_in(root, ["/usr/bin/g++", "-O2", "-o", "b", "b.cpp"])
    assert cpp.returncode == 0, cpp.stderr
    leak = _run_in(root, ["/usr/bin/gcc", "-c", "leak.c"])
    assert leak.returncode != 0 and "root:x:0" not in leak.stderr + leak.stdout
    assert subprocess.run(["./a"], capture_output=True, text=True).stdout == "7\n"
    assert subprocess.run(["./b"], capture_output=True, text=True).stdout == "6\n"


def test_executor_compiles_with_gcc_image(sio_sandboxes, tmp_path, monkeypatch):
    name = recipes.default_name("compiler-gcc")
    sio_sandboxes(name)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.c").write_text("int main(void){return 3;}\n")
    with _executor(name) as ex:
        renv = ex(["/usr/bin/gcc", "-o", "x", "x.c"], capture_output=True,
                  forward_stderr=True)
    assert renv["return_code"] == 0
    assert subprocess.run(["./x"]).returncode == 3


@pytest.mark.skipif(shutil.which("fpc") is None, reason="needs fpc")
def test_fpc_image_compiles_pascal(sio_sandboxes, tmp_path, monkeypatch):
    name = recipes.default_name("compiler-fpc")
    root = sio_sandboxes(name)[name]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.pas").write_text(
        "program p; uses sysutils, math; begin writeln(IntToStr(Max(4, 9))); end.\n")
    renv = _run_in(root, ["/usr/bin/fpc", "-O2", "p.pas"])
    assert renv.returncode == 0, renv.stdout + renv.stderr
    assert subprocess.run(["./p"], capture_output=True, text=True).stdout == "9\n"


def test_sandbox_executor_by_name_runs_the_images_tool(sio_sandboxes, tmp_path, monkeypatch):
    from sio.workers.executors import SandboxExecutor

    name = recipes.default_name("compiler-gcc")
    root = sio_sandboxes(name)[name]
    monkeypatch.chdir(tmp_path)
    with SandboxExecutor(name) as ex:
        assert ex.path == root == ex.rpath
        renv = ex(["usr/bin/gcc", "-dumpfullversion"], capture_output=True)
        assert renv["return_code"] == 0
        assert renv["stdout"].decode().strip() == name.split(".", 1)[1].replace("_", ".")
        renv = ex(["/bin/sh", "-c", "echo $PATH"], capture_output=True)
        assert renv["stdout"].decode().startswith(root)
