"""Built-in surrogate plugin: the statics → dynamics MLP (paper sec. II A, IV B).

Registers the ``mlp`` surrogate and the ``memplug mlp train|evaluate|predict|figures`` commands
through the same entry-point mechanism as any third-party plugin, and the fit target
``--target mlp:model=DIR`` (`memplug.plugins.surrogate.target.mlp_fit_target`) through the
``register_targets`` hook.
"""

from __future__ import annotations

from memplug.hookspecs import hookimpl


@hookimpl
def register_surrogates(register):
    from memplug.plugins.surrogate.mlp import MLPSurrogate

    register(MLPSurrogate)


@hookimpl
def register_targets(register):
    from memplug.plugins.surrogate.target import mlp_fit_target

    register(mlp_fit_target)


@hookimpl
def register_commands(app):
    from memplug.plugins.surrogate.cli import mlp_app

    app.add_typer(mlp_app, name="mlp")
