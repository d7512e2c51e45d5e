"""Versions of the packages a result depends on, recorded with every fit result and trained model."""

from __future__ import annotations

import platform
from importlib import metadata

#: Distributions recorded by default; callers add their own (e.g. ``"cma"``, ``"equinox"``).
CORE = ("memplug", "jax", "jaxlib", "numpy", "xarray")


def versions(*extra: str) -> dict[str, str]:
    """``{"python": ..., distribution: version}`` for `CORE` and ``extra`` ("not installed"
    for a distribution that is absent)."""
    out = {"python": platform.python_version()}
    for dist in dict.fromkeys((*CORE, *extra)):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out
