"""Building sandbox images from Debian packages installed on the host.

The original sioworkers only downloaded prepared images; this package makes
them: ``sio-sandbox build NAME [--out DIR]`` and ``sio-sandbox publish NAME...
--filetracker URL``. See :mod:`.recipes` for the names and
:mod:`.builder` for the archive layout and the cache.

For tests and scripts: :func:`ensure_image` returns a built archive (from
the cache when the packages did not change) and :func:`export_images` puts
``<name>.tar.gz`` files into a directory that ``SIO_SANDBOXES_URL`` (a
``file://`` URL or an ``http.server``) can serve.
"""

from __future__ import annotations

import os
from pathlib import Path

from sio.workers.sandbox_build.builder import (
    build_image,
    cache_dir,
    image_sha256,
    manifest_for,
    publish,
)
from sio.workers.sandbox_build.recipes import (
    RECIPES,
    RecipeError,
    default_name,
    known_names,
)

__all__ = [
    "RECIPES",
    "RecipeError",
    "build_image",
    "cache_dir",
    "default_name",
    "ensure_image",
    "export_images",
    "image_sha256",
    "known_names",
    "manifest_for",
    "publish",
]


def ensure_image(name: str) -> Path:
    """The archive ``<cache>/<name>-<key>.tar.gz`` of the image ``name``,
    built now if the cache has none for the current package versions."""
    return build_image(name)


def export_images(names: list[str], out_dir: str | os.PathLike) -> Path:
    """Put ``<name>.tar.gz`` (+ ``.sha256``, ``.manifest.json``) for every
    name into ``out_dir`` (hard links to the cache) and return ``out_dir``."""
    for name in names:
        build_image(name, out_dir)
    return Path(out_dir)
