"""Fitting orchestration, a built-in plugin: from a dataset to fitted closures and their figures.

The core holds the contract (`memplug.fit`: problem, loss, optimizer loop, checkpoints;
`memplug.fit_results`: result files); this plugin runs it.

- `jobs`: `FitJob` (one state, closure and optimizer; its identity names the files), `prepare`,
  `polish`, `run_job`, `run_jobs` and the Dask fan-out `fan_out`;
- `uncertainty`: pinned bounds, the Laplace bands and flags of a fit (`result_fields`);
- `bootstrap`: the slower moving-block bootstrap check of those bands;
- `cli`: ``memplug run``, ``memplug compare``, ``memplug experiment nexp-scan|mct-recovery|memory-vs-T``
  (`FitOptions` and the `fit_options` decorator shared by them);
- `figures`: the figures of those commands.
"""

from __future__ import annotations

from memplug.hookspecs import hookimpl


@hookimpl
def register_commands(app):
    from memplug.plugins.fitting.cli import register

    register(app)
