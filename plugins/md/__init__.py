"""Molecular dynamics as a plugin: the MD protocol of one state point, campaigns of states, the
observables measured on each production run, and the commands ``memplug simulate``,
``memplug dataset build``, ``memplug dataset info`` and ``memplug compare-engines``.

- `memplug.plugins.md.protocol`: `run_state` (engine-independent protocol) and the engine
  interface (`MDEngine`, `EngineSession`) that the ``engines`` plugin implements;
- `memplug.plugins.md.campaign`: campaign specs (TOML) and building them state by state;
- `memplug.plugins.md.observables`: S(k), F_s, MSD, F^{αβ}, α₂, τ_α as NumPy functions;
- `memplug.plugins.md.validation`: two engines on the same states, compared with error bars;
- `memplug.plugins.md.analysis`: those as registered `memplug.interfaces.Observable`s; the
  protocol's analysis stage runs every registered observable (this plugin's and any other's).

Importing this package imports no engine and no command module.
"""

from __future__ import annotations

from memplug.hookspecs import hookimpl


@hookimpl
def register_observables(register):
    from memplug.plugins.md.analysis import BUILTIN

    for cls in BUILTIN:
        register(cls)


@hookimpl
def register_commands(app):
    from memplug.plugins.md import cli_build  # noqa: F401  (adds build and info to `memplug dataset`)
    from memplug.plugins.md.cli_simulate import simulate_command
    from memplug.plugins.md.cli_validate import compare_engines_command

    app.command("simulate")(simulate_command)
    app.command("compare-engines")(compare_engines_command)
