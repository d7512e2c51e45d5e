"""Multi-component mode-coupling theory (paper Eq. 12-13) on a wave-number grid.

- `grid`: the midpoint grid and the bipolar (Bengtzelius) triangle sums;
- `kernels`: conventions, statics, the collective/tagged kernel;
- `dynamics`: equations, solves (collective, tagged, MSD), ``mct_self_memory``;
- `steady`: nonergodicity parameters, critical point, exponent λ;
- `cli`: the ``memplug mct`` commands (registered by the hook below);
- `target`: the ``mct`` fit target (``--target mct``: F_s^mct of a state) and the ``mct`` reference
  memory (``--init mct``, M_mct of a state).

The closure itself (``mct``) lives in `memplug.plugins.closures.mct`.
"""

from __future__ import annotations

from memplug.hookspecs import hookimpl


@hookimpl
def register_targets(register):
    from memplug.plugins.mct.target import mct_target

    register(mct_target)


@hookimpl
def register_references(register):
    from memplug.plugins.mct.target import mct_reference

    register(mct_reference)


@hookimpl
def register_commands(app):
    from memplug.plugins.mct.cli import mct_app

    app.add_typer(mct_app, name="mct")
