"""Built-in molecular-dynamics engines (LAMMPS, HOOMD-blue), registered like any plugin.

Importing this package never imports an engine library: availability is checked lazily by
``Engine.available()``, so a missing engine is reported, not fatal.
"""

from __future__ import annotations

from memplug.hookspecs import hookimpl
from memplug.plugins.engines.hoomd import HoomdEngine
from memplug.plugins.engines.lammps import LammpsEngine


@hookimpl
def register_engines(register):
    register(LammpsEngine)
    register(HoomdEngine)
