"""Model-free memory kernels: M(t) by inverting the memory equation (an independent truth for fits).

- :mod:`~memplug.plugins.inversion.invert`: ``invert_memory`` (regularised inversion, band,
  reliability mask) and :class:`~memplug.plugins.inversion.invert.InvertedMemory`;
- :mod:`~memplug.plugins.inversion._quadrature`, :mod:`~memplug.plugins.inversion._regularise`:
  the smooth correlator and convolution matrices; Tikhonov for many λ and the λ rules;
- :mod:`~memplug.plugins.inversion.sum_rule`: M(0) = 2Ω² + Ω_E², the Einstein frequency from
  g(r) or from forces; :mod:`~memplug.plugins.inversion.md_check`: both routes on a small MD run;
- :mod:`~memplug.plugins.inversion.files`: the ``memplug-memory/1`` netCDF schema;
- :mod:`~memplug.plugins.inversion.cli`: ``memplug kernel invert`` and ``memplug kernel sum-rule``
  (registered by the hook below).

The closure that serves an inverted M(t) to solves and fits (``tabulated``) lives in
:mod:`memplug.plugins.closures.tabulated`.
"""

from __future__ import annotations

from memplug.hookspecs import hookimpl


@hookimpl
def register_commands(app):
    from memplug.plugins.inversion.cli import kernel_app

    app.add_typer(kernel_app, name="kernel")
