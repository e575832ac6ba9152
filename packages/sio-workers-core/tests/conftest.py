"""Fixtures for sio-workers-core's tests."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest


def _write_plugin_dist(root: Path) -> Path:
    """A third-party distribution (dist-info + module) registering a job and filters."""
    pkg = root / "sio_test_plugin.py"
    pkg.write_text(
        textwrap.dedent(
            '''
            import os

            from sio.workers import Failure

            def echo_job(environ):
                environ["echo_cwd"] = os.getcwd()
                environ["echo_trace"] = list(environ.get("trace", []))
                open("scratch.txt", "w").write("x")
                return environ

            def raising_job(environ):
                environ["raising_cwd"] = os.getcwd()
                raise Failure("the job said no")

            def bad_value_job(environ):
                environ["blob"] = b"\\xffbytes\\x00"
                environ["pair"] = (1, 2)
                environ["bag"] = {3, 1, 2}
                environ["nan"] = float("nan")
                environ["obj"] = ValueError("odd")
                return environ

            def crashing_job(environ):
                return 1 / 0

            def _mark(tag):
                def flt(environ):
                    environ.setdefault("trace", []).append(tag)
                    return environ
                return flt

            pre_a = _mark("pre_a")
            pre_b = _mark("pre_b")
            post_a = _mark("post_a")
            '''
        )
    )
    info = root / "sio_test_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: sio-test-plugin\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            """
            [sio.jobs]
            echo = sio_test_plugin:echo_job
            raising = sio_test_plugin:raising_job
            bad-values = sio_test_plugin:bad_value_job
            crashing = sio_test_plugin:crashing_job
            broken = sio_test_plugin_missing:job
            ping = sio_test_plugin_missing:job

            [sio.workers.filters]
            pre_a = sio_test_plugin:pre_a
            pre_b = sio_test_plugin:pre_b
            post_a = sio_test_plugin:post_a
            """
        )
    )
    return root


@pytest.fixture(scope="session")
def plugin_dir(tmp_path_factory) -> Path:
    """A directory holding a third-party plugin distribution."""
    return _write_plugin_dist(tmp_path_factory.mktemp("plugin"))


@pytest.fixture
def plugin(plugin_dir, monkeypatch) -> Path:
    """Put the plugin distribution on sys.path for this test."""
    monkeypatch.syspath_prepend(str(plugin_dir))
    yield plugin_dir
    sys.modules.pop("sio_test_plugin", None)
