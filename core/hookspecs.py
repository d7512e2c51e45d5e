"""Hook specifications: the contract between memplug and its plugins.

A plugin is a module listed under the entry-point group ``memplug`` of its distribution::

    [project.entry-points.memplug]
    prony = "memplug_prony"

and implements any of the hooks below with `memplug.hookspecs.hookimpl`::

    from memplug.hookspecs import hookimpl

    @hookimpl
    def register_closures(register):
        register(PronyClosure)

Each ``register`` callable takes a class (or factory) whose ``name`` attribute is the kebab-case name
users type (``--closure prony``); options typed as ``name:key=value`` arrive as keyword arguments of
the class. A hook may ask for fewer arguments than its specification (pluggy passes only those).

Failure handling, as ``memplug plugins`` reports it:

- a plugin that fails to import, implements a hook not listed here (a typo such as
  ``register_closure``), or whose hook raises, is listed as failed with its error and registers
  nothing; every other plugin works;
- two plugins registering the same name for the same kind are both listed with a name conflict, and
  using that name is an error naming both plugins.

Built-in plugins (``memplug.plugins.*``) use exactly this mechanism.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("memplug")
hookimpl = pluggy.HookimplMarker("memplug")

Register = Callable[[Any], None]


@hookspec
def register_closures(register: Register) -> None:
    """Register memory-kernel closures: subclasses of `memplug.interfaces.Closure`.

    A closure declares ``name``, ``description``, ``options`` (defaults of its ``name:key=value``
    options), `parameters` (names, shapes, bounds, defaults and
    transforms, for a given `Context`) and
    `kernel`, which turns θ (a dict of arrays, JAX-traced) into an
    `ExplicitKernel` M(t) or a `FunctionalKernel` M[F].
    """


@hookspec
def register_optimizers(register: Register) -> None:
    """Register optimizers: subclasses of `memplug.interfaces.Optimizer`."""


@hookspec
def register_systems(register: Register) -> None:
    """Register systems (statics and, where known, target dynamics): `memplug.interfaces.System`."""


@hookspec
def register_engines(register: Register) -> None:
    """Register molecular-dynamics engines: subclasses of `memplug.interfaces.Engine`."""


@hookspec
def register_observables(register: Register) -> None:
    """Register observables computed from trajectories: subclasses of `memplug.interfaces.Observable`.

    An observable declares ``name``, ``description`` and ``variables`` (names and dims, without
    ``state``) and computes them with ``compute(trajectory)`` from a
    `memplug.interfaces.Trajectory`; an MD protocol that runs the registered observables writes
    them into each state's file.
    """


@hookspec
def register_surrogates(register: Register) -> None:
    """Register learned surrogates (statics -> dynamics): `memplug.interfaces.Surrogate`."""


@hookspec
def register_datasets(register: Register) -> None:
    """Register named datasets: objects with ``name`` and ``path()`` returning the netCDF file."""


@hookspec
def register_schemas(register: Register) -> None:
    """Register dataset schemas: subclasses of `memplug.interfaces.DatasetSchema`, named by the
    value of ``ds.attrs["schema"]`` they describe (e.g. ``"memplug-dataset/1"``). Loading,
    saving and the statics and target dynamics of a state dispatch on that attribute."""


@hookspec
def register_targets(register: Register) -> None:
    """Register fit targets (``--target NAME``): callables ``(ds, state, context, **options) ->
    memplug.targets.Target`` named with `memplug.targets.target_provider`."""


@hookspec
def register_references(register: Register) -> None:
    """Register reference memory functions (``--init NAME`` starts a fit from one, fits are
    compared with one): callables ``(context, t) -> (M(t), F(t))``, each ``(n_t, s, s)``, named
    with `memplug.targets.reference_provider`."""


@hookspec
def register_commands(app: Any) -> None:
    """Add sub-commands to the ``memplug`` Typer application (e.g. ``app.add_typer(mlp_app, name="mlp")``)."""
