"""Built-in optimizers, registered through the ``memplug`` entry-point group like any plugin.

- ``cmaes``: CMA-ES (pycma), the paper's evolutionary strategy (sec. IV D);
- ``nevergrad:<Name>``: any optimizer of nevergrad's registry (``nevergrad:NGOpt``, ``nevergrad:TwoPointsDE``);
- ``gradient``: L-BFGS or Adam (optax) with gradients through the solver.
"""

from __future__ import annotations

from memplug.hookspecs import hookimpl
from memplug.plugins.optimizers.cmaes import CMAES
from memplug.plugins.optimizers.gradient import Gradient
from memplug.plugins.optimizers.nevergrad_optimizer import Nevergrad


@hookimpl
def register_optimizers(register):
    register(CMAES)
    register(Nevergrad)
    register(Gradient)
