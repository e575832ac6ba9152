"""default_config, old and new setting names, broker selection (no worker)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from celery import Celery

from sio.celery import embedded, settings
from sio.celery.worker import split_broker


def fresh_app(config) -> Celery:
    app = Celery("test", set_as_current=False)
    app.config_from_object(config)
    return app


def check_settings(conf) -> None:
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.worker_send_task_events is True
    assert conf.task_send_sent_event is True
    assert "sio.celery.job" in conf.imports
    assert conf.task_serializer == "json"
    assert conf.result_serializer == "json"
    assert list(conf.accept_content) == ["json"]
    assert conf.task_default_queue == "sioworkers"
    assert conf.task_default_exchange == "sioworkers"
    assert conf.task_default_routing_key == "sioworkers"
    [queue] = conf.task_queues
    assert (queue.name, queue.exchange.name, queue.routing_key) == ("sioworkers",) * 3
    assert queue.durable


def test_default_config_settings():
    app = fresh_app("sio.celery.default_config")
    check_settings(app.conf)
    app.close()


def test_sio_celery_app_uses_new_names():
    from sio.celery import app

    check_settings(app.conf)
    assert not app.conf.deprecated_settings
    assert "sio.celery.job.sioworkers_job" in app.tasks


def write_config(tmp_path, body: str) -> str:
    (tmp_path / "userconfig.py").write_text(textwrap.dedent(body))
    sys.path.insert(0, str(tmp_path))
    return "userconfig"


@pytest.fixture
def user_module(tmp_path):
    yield lambda body: write_config(tmp_path, body)
    sys.path.remove(str(tmp_path))
    sys.modules.pop("userconfig", None)


@pytest.mark.parametrize("name", ["BROKER_URL", "broker_url"])
def test_user_celeryconfig_old_or_new_name(user_module, name):
    """The documented celeryconfig.py works with either spelling."""
    module = user_module(
        f"""
        from sio.celery.default_config import *
        {name} = "amqp://foo:bar@example.invalid:5672/vhost"
        """
    )
    app = fresh_app(module)
    assert app.conf.broker_url == "amqp://foo:bar@example.invalid:5672/vhost"
    check_settings(app.conf)
    # Not the embedded broker, so results go through rpc://.
    assert type(app.backend).__name__ == "RPCBackend"
    app.close()
    # And the same module as sio.celery's config module (new names only).
    conf = settings.load(module)
    assert conf["broker_url"] == "amqp://foo:bar@example.invalid:5672/vhost"
    assert "BROKER_URL" not in conf


@pytest.mark.parametrize("name", ["CELERY_RESULT_BACKEND", "result_backend"])
def test_user_result_backend_either_name(user_module, name):
    module = user_module(
        f"""
        from sio.celery.default_config import *
        broker_url = "redis://127.0.0.1:6379/11"
        {name} = "redis://127.0.0.1:6379/11"
        """
    )
    app = fresh_app(module)
    assert app.conf.result_backend == "redis://127.0.0.1:6379/11"
    assert type(app.backend).__name__ == "RedisBackend"
    app.close()


def test_normalise_prefers_new_names():
    conf = settings.normalise(
        {"BROKER_URL": "a://", "broker_url": "b://", "CELERYD_PREFETCH_MULTIPLIER": 4, "os": os}
    )
    assert conf == {"broker_url": "b://", "worker_prefetch_multiplier": 4}


def test_embedded_default_broker_and_backend(data_dir):
    app = fresh_app(
        {
            "broker_url": embedded.broker_url(),
            "result_backend": "sio.celery.embedded:auto_result_backend",
        }
    )
    assert app.conf.broker_url == f"sqla+sqlite:///{data_dir / 'broker.sqlite'}"
    backend = app.backend
    assert type(backend).__name__ == "DatabaseBackend"
    assert backend.url == f"sqlite:///{data_dir / 'results.sqlite'}"
    app.close()


def probe(env: dict, code: str) -> dict:
    full = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_")}
    full.update(env)
    out = subprocess.run(
        [sys.executable, "-c", code], env=full, capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.splitlines()[-1])


PROBE_APP = (
    "import json; from sio.celery import app; "
    "print(json.dumps({'broker': app.conf.broker_url, 'backend': type(app.backend).__name__}))"
)


def test_sio_celery_app_broker_selection(data_dir, tmp_path):
    env = {"SIO_CELERY_DATA_DIR": str(data_dir)}
    got = probe(env, PROBE_APP)
    assert got == {
        "broker": f"sqla+sqlite:///{data_dir}/broker.sqlite",
        "backend": "DatabaseBackend",
    }
    got = probe({**env, "CELERY_BROKER_URL": "redis://127.0.0.1:6379/11"}, PROBE_APP)
    assert got == {"broker": "redis://127.0.0.1:6379/11", "backend": "RPCBackend"}
    (tmp_path / "otherconfig.py").write_text(
        "from sio.celery.default_config import *\n"
        "BROKER_URL = 'amqp://guest:guest@127.0.0.1:5672//'\n"
        "CELERYD_PREFETCH_MULTIPLIER = 3\n"
    )
    got = probe(
        {**env, "CELERY_CONFIG_MODULE": "otherconfig", "PYTHONPATH": str(tmp_path)},
        PROBE_APP.replace(
            "'backend'", "'prefetch': app.conf.worker_prefetch_multiplier, 'backend'"
        ),
    )
    assert got == {
        "broker": "amqp://guest:guest@127.0.0.1:5672//",
        "prefetch": 3,
        "backend": "RPCBackend",
    }


def test_client_with_default_config_reaches_embedded_broker(data_dir):
    """A client's default_config without a broker names the same SQLite file."""
    code = (
        "import json; from celery import Celery; a = Celery(set_as_current=False); "
        "a.config_from_object('sio.celery.default_config'); "
        "print(json.dumps({'broker': a.conf.broker_url, 'backend': type(a.backend).__name__}))"
    )
    got = probe({"SIO_CELERY_DATA_DIR": str(data_dir)}, code)
    assert got == probe({"SIO_CELERY_DATA_DIR": str(data_dir)}, PROBE_APP)


@pytest.mark.parametrize(
    ("argv", "broker", "rest"),
    [
        ([], None, []),
        (["-c", "4", "amqp://h//"], "amqp://h//", ["-c", "4"]),
        (["redis://h/1", "-l", "info"], "redis://h/1", ["-l", "info"]),
        (["-Q", "sioworkers", "--autoscale=4,1"], None, ["-Q", "sioworkers", "--autoscale=4,1"]),
        (["-f", "file:///x", "-c", "1"], None, ["-f", "file:///x", "-c", "1"]),
    ],
)
def test_split_broker(argv, broker, rest):
    assert split_broker(argv) == (broker, rest)


def test_visibility_timeout_above_longest_job():
    from sio.celery import default_config

    # Compilation: 30 s CPU; exec jobs: their wall limit (64 x time limit + 1 s
    # for a 10 s limit is under 11 minutes). Keep a wide margin.
    assert default_config.VISIBILITY_TIMEOUT >= 3600
    assert (
        default_config.BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
        == default_config.VISIBILITY_TIMEOUT
    )


def test_embedded_transport_ignores_redis_options(data_dir):
    """visibility_timeout (for Redis) must not reach SQLAlchemy's create_engine."""
    from kombu import Connection

    with Connection(
        embedded.broker_url(), transport_options={"visibility_timeout": 10, "polling_interval": 0.1}
    ) as conn:
        queue = conn.SimpleQueue("probe")
        queue.put({"x": 1})
        message = queue.get(timeout=5)
        assert message.payload == {"x": 1}
        message.ack()
        queue.close()
    assert (data_dir / "broker.sqlite").exists()


def test_owner_alive():
    import subprocess as sp

    from sio.celery.transport import owner_alive, this_owner

    assert owner_alive(this_owner())
    child = sp.Popen([sys.executable, "-c", "pass"])
    host, _, _ = this_owner().split("/")
    owner = f"{host}/{child.pid}/"
    child.wait()
    assert not owner_alive(owner)
    # Same pid, another start time: a recycled pid is not the owner.
    pid = os.getpid()
    assert not owner_alive(f"{host}/{pid}/1")
    # Other hosts cannot be checked: assumed alive.
    assert owner_alive(f"elsewhere.invalid/{child.pid}/1")
