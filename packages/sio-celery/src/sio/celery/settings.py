"""Loading a configuration module under Celery's new setting names."""

from __future__ import annotations

import importlib
import types
from collections.abc import Iterator, Mapping
from typing import Any

from celery.app.defaults import _TO_NEW_KEY, SETTING_KEYS

DEFAULT_CONFIG_MODULE = "sio.celery.default_config"


def normalise(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` with old setting names renamed to the new ones.

    When a setting is given under both names the new name wins, as in
    Celery. Names Celery does not know are kept (upper-case ones only: a
    module's lower-case names are mostly its imports); private and module
    objects are dropped.
    """
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for key, value in settings.items():
        if key.startswith("_") or isinstance(value, types.ModuleType):
            continue
        if key in SETTING_KEYS:
            new[key] = value
        elif key in _TO_NEW_KEY:
            old[_TO_NEW_KEY[key]] = value
        elif key.isupper():
            old[key] = value
    return {**old, **new}


def load(module_name: str = DEFAULT_CONFIG_MODULE) -> dict[str, Any]:
    """Import ``module_name`` and return its settings under new names."""
    module = importlib.import_module(module_name)
    return normalise(vars(module))


class LazySettings(Mapping):
    """The settings of a module under new names, imported on first use.

    Lets :data:`sio.celery.app` name its configuration module before that
    module can be imported: a ``celeryconfig.py`` doing
    ``from sio.celery.default_config import *`` imports :mod:`sio.celery`
    while it is itself only half imported.
    """

    def __init__(self, module_name: str) -> None:
        self.module_name = module_name
        self._data: dict[str, Any] | None = None

    def _settings(self) -> dict[str, Any]:
        if self._data is None:
            self._data = load(self.module_name)
        return self._data

    def __getitem__(self, key: str) -> Any:
        return self._settings()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._settings())

    def __len__(self) -> int:
        return len(self._settings())

    def __repr__(self) -> str:
        return f"LazySettings({self.module_name!r})"
