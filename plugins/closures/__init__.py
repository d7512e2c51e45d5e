"""Built-in closures, registered through the ``memplug`` entry-point group like any plugin."""

from __future__ import annotations

from memplug.hookspecs import hookimpl
from memplug.plugins.closures.exponential import ExponentialClosure


@hookimpl
def register_closures(register):
    register(ExponentialClosure)
