"""Helpers for the environ: JSON safety and limits.

Units everywhere: time in ms, memory in KiB, output sizes in bytes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

_MISSING = object()
_PLAIN = frozenset({str, int, bool, type(None)})
"""Types that :func:`to_jsonable` returns as they are (exactly these: not subclasses)."""


def to_jsonable(value: Any) -> Any:
    """Return ``value`` converted to something :func:`json.dumps` accepts.

    Bytes are decoded as UTF-8 with U+FFFD for invalid sequences, tuples and
    sets become lists (sets sorted when their items allow it), mapping keys
    become strings, non-finite floats become ``None`` and any other object
    becomes its ``str()``.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if type(value) is dict:
        # the environ itself: mostly str keys and plain values, which need
        # no call of their own
        return {k if type(k) is str else _key(k): v if type(v) in _PLAIN else to_jsonable(v)
                for k, v in value.items()}
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, Mapping):
        return {_key(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        items = [to_jsonable(v) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return items
    if isinstance(value, (list, tuple)) or _is_iterable_container(value):
        return [to_jsonable(v) for v in value]
    return str(value)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, (bytes, bytearray)):
        return bytes(key).decode("utf-8", errors="replace")
    return str(key)


def _is_iterable_container(value: Any) -> bool:
    return isinstance(value, Iterable) and not isinstance(value, (str, bytes))


def utf8_safe(data: bytes | str, limit: int | None = None) -> str:
    """Decode ``data`` as UTF-8 (U+FFFD for invalid bytes), NULs replaced by
    U+FFFD, and cut to at most ``limit`` *bytes* of UTF-8 without splitting a
    character."""
    if isinstance(data, str):
        text = data
    else:
        text = data.decode("utf-8", errors="replace")
    text = text.replace("\x00", "\ufffd")
    if limit is not None:
        encoded = text.encode("utf-8")
        if len(encoded) > limit:
            text = encoded[:limit].decode("utf-8", errors="ignore")
    return text


class LimitError(ValueError):
    """A limit in the environ has a wrong type or value."""


def parse_limit(name: str, value: Any) -> int | None:
    """Validate one limit value: ``None`` (no limit) or a non-negative integer.

    Integral floats and decimal strings are accepted; anything else raises
    :class:`LimitError` naming the key.
    """
    if value is None or (type(value) is int and value >= 0):
        return value
    if isinstance(value, bool):
        raise LimitError(f"{name} must be a number, not {value!r}")
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise LimitError(f"{name} must be a whole number, not {value!r}")
        value = int(value)
    elif isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise LimitError(f"{name} must be a number, not {value!r}") from None
    elif not isinstance(value, int):
        raise LimitError(f"{name} must be a number, not {type(value).__name__}")
    if value < 0:
        raise LimitError(f"{name} must not be negative, got {value}")
    return value


def get_limit(
    environ: Mapping[str, Any] | None,
    prefix: str,
    name: str,
    default: Any = _MISSING,
) -> Any:
    """Return ``environ[prefix + name]`` validated by :func:`parse_limit`.

    When the key is absent, return ``default`` (or raise ``KeyError`` if no
    default is given). A present key with value ``None`` means "no limit".
    """
    key = prefix + name
    if environ is not None and key in environ:
        return parse_limit(key, environ[key])
    if default is _MISSING:
        raise KeyError(key)
    return default
