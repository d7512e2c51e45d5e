"""CMA-ES through pycma: the evolutionary strategy of the paper (sec. IV D)."""

from __future__ import annotations

import math
import pickle
from typing import Any

import numpy as np

from memplug.errors import InputError
from memplug.interfaces import Optimizer

#: Stand-in for non-finite losses (diverged solves score +inf): CMA-ES only ranks, so any value
#: above every finite loss ranks them last without feeding inf into pycma's statistics.
_WORST = 1e300


class _Normal:
    """Standard normal samples from the optimizer's own generator (never numpy's global one).

    pycma draws its samples through the ``randn`` option; giving it this object makes a fit depend
    only on its seed, also when several fits run in threads of one process, and the generator is
    pickled with the optimizer so a resumed fit draws the same numbers as an uninterrupted one.
    """

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def __call__(self, *shape: int) -> np.ndarray:
        return self.rng.standard_normal(shape)


class CMAES(Optimizer):
    """Covariance-matrix-adaptation evolution strategy (Hansen's pycma).

    Options: ``popsize`` (default: the larger of pycma's 4 + ⌊3 ln n⌋ and 32), ``cma_options`` (a
    dict passed to pycma). A population of 32 costs little more per generation than 11-13 (it is
    evaluated in one vmapped call) and is more robust: on ``LJ-rho1.20-T15.000`` with Eq. 8 and
    6000 evaluations, pycma's default 11 stalled in a local minimum (R² −0.48) where 32 reached
    R² 0.99989 with the same seed.
    σ0 (``--sigma0``, default 5e-4 as in the paper) is the initial step in the closure's
    unconstrained parameter space.
    """

    name = "cmaes"
    description = "CMA-ES (pycma), the paper's evolution strategy; options: popsize"
    options = {"popsize": None, "cma_options": None}

    def __init__(self, **options: Any):
        super().__init__(**options)
        p = self.config["popsize"]
        if p is not None and (not isinstance(p, int) or p < 2):
            raise InputError(f"optimizer 'cmaes': popsize={p!r}; expected an integer >= 2")
        self.es = None

    def start(self, x0: np.ndarray, *, sigma0: float, seed: int, budget: int) -> None:
        import cma

        opts: dict[str, Any] = {
            "seed": math.nan,  # do not touch numpy's global generator
            "randn": _Normal(seed),
            "verbose": -9,
            "maxfevals": max(int(budget), 1),
            # the fit loop stops on the target loss and the budget; don't stop on flat progress
            "tolfun": 0.0,
            "tolfunhist": 0.0,
            "tolx": 0.0,
            "tolflatfitness": 10**9,
            "tolstagnation": 10**9,
            "tolfacupx": math.inf,  # σ growing far beyond σ0 is expected when x0 is far from the fit
            "tolupsigma": math.inf,
        }
        n = len(np.atleast_1d(x0))
        opts["popsize"] = int(self.config["popsize"] or max(4 + int(3 * math.log(max(n, 1))), 32))
        opts.update(self.config["cma_options"] or {})
        self.es = cma.CMAEvolutionStrategy(np.asarray(x0, float), float(sigma0), opts)

    @property
    def popsize(self) -> int:
        return int(self.es.popsize)

    def ask(self) -> np.ndarray:
        return np.asarray(self.es.ask(), float)

    def tell(self, candidates, losses, grads=None) -> None:
        losses = np.asarray(losses, float)
        safe = np.where(np.isfinite(losses), losses, _WORST)
        self.es.tell(list(np.asarray(candidates, float)), safe.tolist())

    def best(self) -> tuple[np.ndarray, float]:
        r = self.es.result
        f = float(r.fbest) if r.fbest is not None else math.inf
        return np.asarray(r.xbest, float), (math.inf if f >= _WORST else f)

    def stop(self) -> bool:
        # pycma's own criteria (e.g. numerically degenerate covariance); tolerances are off above
        stop = dict(self.es.stop())
        stop.pop("maxfevals", None)  # the fit loop owns the budget
        self.stop_reason = ", ".join(sorted(stop))
        return bool(stop)

    def state(self) -> bytes:
        return pickle.dumps(self.es)

    def restore(self, state: bytes) -> None:
        self.es = pickle.loads(state)
