"""Built-in systems, registered through the ``memplug`` entry-point group like any plugin."""

from __future__ import annotations

from memplug.hookspecs import hookimpl
from memplug.plugins.systems.hard_spheres import HardSpheres
from memplug.plugins.systems.ka import KobAndersenLJ, KobAndersenWCA


@hookimpl
def register_systems(register):
    register(KobAndersenLJ)
    register(KobAndersenWCA)
    register(HardSpheres)
