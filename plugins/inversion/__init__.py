"""Model-free memory kernels: M(t) by inverting the memory equation (an independent truth for fits).

- `invert`: ``invert_memory`` (regularised inversion, band,
  reliability mask) and `InvertedMemory`;
- `_quadrature`, `_regularise`:
  the smooth correlator and convolution matrices; Tikhonov for many λ and the λ rules;
- `sum_rule`: M(0) = 2Ω² + Ω_E², the Einstein frequency from
  g(r) or from forces; `md_check`: both routes on a small MD run;
- `files`: the ``memplug-memory/1`` netCDF schema;
- `cli`: ``memplug kernel invert`` and ``memplug kernel sum-rule``
  (registered by the hook below).

The closure that serves an inverted M(t) to solves and fits (``tabulated``) lives in
`memplug.plugins.closures.tabulated`.
"""

from __future__ import annotations

from memplug.hookspecs import hookimpl


@hookimpl
def register_commands(app):
    from memplug.plugins.inversion.cli import kernel_app

    app.add_typer(kernel_app, name="kernel")
