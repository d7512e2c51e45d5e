"""Any nevergrad optimizer by name: ``nevergrad:NGOpt``, ``nevergrad:TwoPointsDE``, ..."""

from __future__ import annotations

import math
import pickle
from typing import Any

import numpy as np

from memplug.errors import InputError
from memplug.interfaces import Optimizer

#: Stand-in for +inf (diverged solves): nevergrad clips losses above 5e20 anyway.
_WORST = 1e20


class Nevergrad(Optimizer):
    """Wraps ``nevergrad.optimizers.registry[variant]`` in the ask/tell protocol.

    Options: the optimizer name (``nevergrad:TwoPointsDE``, default ``NGOpt``) and ``popsize``,
    the number of candidates asked per generation (nevergrad's ``num_workers``, default 16).
    The parametrisation is an unbounded array around x0 with mutation step σ0.
    """

    name = "nevergrad"
    description = "any nevergrad optimizer by name, e.g. nevergrad:NGOpt, nevergrad:TwoPointsDE"
    options = {"variant": "NGOpt", "popsize": 16}

    def __init__(self, **options: Any):
        super().__init__(**options)
        import nevergrad as ng

        variant = self.config["variant"]
        if variant not in ng.optimizers.registry:
            some = ", ".join(sorted(ng.optimizers.registry)[:12])
            raise InputError(
                f"optimizer 'nevergrad:{variant}': nevergrad has no optimizer {variant!r}; "
                f"e.g. NGOpt, TwoPointsDE, CMA, OnePlusOne (all {len(ng.optimizers.registry)}: {some}, ...)"
            )
        p = self.config["popsize"]
        if not isinstance(p, int) or p < 1:
            raise InputError(f"optimizer 'nevergrad': popsize={p!r}; expected an integer >= 1")
        self.opt = None

    def start(self, x0: np.ndarray, *, sigma0: float, seed: int, budget: int) -> None:
        import nevergrad as ng

        param = ng.p.Array(init=np.asarray(x0, float)).set_mutation(sigma=float(sigma0))
        param.random_state = np.random.RandomState(seed)
        cls = ng.optimizers.registry[self.config["variant"]]
        self.opt = cls(parametrization=param, budget=max(int(budget), 1), num_workers=self.config["popsize"])
        self._pending: list = []

    def ask(self) -> np.ndarray:
        self._pending = [self.opt.ask() for _ in range(self.config["popsize"])]
        return np.stack([np.asarray(c.value, float) for c in self._pending])

    def tell(self, candidates, losses, grads=None) -> None:
        for cand, loss in zip(self._pending, np.asarray(losses, float), strict=True):
            self.opt.tell(cand, float(loss) if math.isfinite(loss) else _WORST)
        self._pending = []

    def best(self) -> tuple[np.ndarray, float]:
        rec = self.opt.provide_recommendation()
        loss = rec.loss if rec.loss is not None else math.inf
        return np.asarray(rec.value, float), (math.inf if loss >= _WORST else float(loss))

    def state(self) -> bytes:
        return pickle.dumps(self.opt)

    def restore(self, state: bytes) -> None:
        self.opt = pickle.loads(state)
        self._pending = []
