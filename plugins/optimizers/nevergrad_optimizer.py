"""Any nevergrad optimizer by name: ``nevergrad:NGOpt``, ``nevergrad:TwoPointsDE``, ...

Known incompatibility handled here: nevergrad 1.0.12's ``MetaModel`` (which ``NGOpt`` picks for
small budgets or populations, e.g. 3 parameters with 16 candidates per generation) converts a
one-element array to ``float``, which numpy ≥ 2.4 refuses (``TypeError``); the error escapes from
``ask()`` and leaves a background thread of nevergrad waiting, which also blocks the interpreter's
exit. Where this numpy behaviour is present, the surrogate step of every ``MetaModel`` in the
chosen optimizer is dropped and its own base optimizer (CMA or (1+1), what ``MetaModel`` falls
back to whenever its surrogate fails) is used instead; a warning names the substitution. Any other
error raised inside nevergrad becomes one clear `InputError`.
"""

from __future__ import annotations

import functools
import math
import pickle
import threading
import warnings
from typing import Any

import numpy as np

from memplug.errors import InputError
from memplug.interfaces import Optimizer

#: Stand-in for +inf (diverged solves): nevergrad clips losses above 5e20 anyway.
_WORST = 1e20
#: Suggested instead of a variant that failed.
_ALTERNATIVES = "nevergrad:TwoPointsDE, nevergrad:CMA, nevergrad:OnePlusOne or cmaes"


@functools.cache
def metamodel_is_broken() -> bool:
    """True when numpy refuses ``float()`` of a one-element 1-d array (numpy ≥ 2.4), which breaks
    the surrogate step of nevergrad's ``MetaModel`` (``float(model.predict(x))``)."""
    try:
        float(np.zeros(1))
    except TypeError:
        return True
    return False


def strip_metamodels(opt) -> tuple[Any, list[str]]:
    """``opt`` with every ``MetaModel`` replaced by its base optimizer (through ``NGOpt``-style
    selectors and chains); returns the optimizer and the names of the substitutions."""
    from nevergrad.optimization import optimizerlib as ol

    notes: list[str] = []

    def walk(o):
        if isinstance(o, ol._MetaModel):
            inner = walk(o._optim)
            notes.append(f"MetaModel -> {type(inner).__name__.lstrip('_')}")
            return inner
        if isinstance(o, ol.NGOptBase):
            o._optim = walk(o.optim)  # the selected optimizer (the property creates it)
        elif isinstance(o, ol._Chain):
            o.optimizers = [walk(x) for x in o.optimizers]
        return o

    return walk(opt), notes


def _stop_nevergrad_threads() -> None:
    """Release nevergrad's background threads (recast optimizers such as scipy's Powell inside a
    failed MetaModel wait on a queue forever and would block the interpreter's exit)."""
    try:
        from nevergrad.optimization.recaster import _MessagingThread
    except ImportError:  # pragma: no cover - nevergrad layout changed
        return
    for t in threading.enumerate():
        if isinstance(t, _MessagingThread) and t.is_alive():
            t.stop()


class Nevergrad(Optimizer):
    """Wraps ``nevergrad.optimizers.registry[variant]`` in the ask/tell protocol.

    Options: the optimizer name (``nevergrad:TwoPointsDE``, default ``NGOpt``) and ``popsize``,
    the number of candidates asked per generation (nevergrad's ``num_workers``, default 16).
    The parametrisation is an unbounded array around x0 with mutation step σ0. See the module
    docstring for the ``MetaModel`` substitution on numpy ≥ 2.4 (``substitutions`` lists it).
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
        self.substitutions: list[str] = []

    def _failed(self, exc: Exception) -> InputError:
        _stop_nevergrad_threads()
        return InputError(
            f"optimizer 'nevergrad:{self.config['variant']}': nevergrad failed "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); use {_ALTERNATIVES}"
        )

    def start(self, x0: np.ndarray, *, sigma0: float, seed: int, budget: int) -> None:
        import nevergrad as ng

        param = ng.p.Array(init=np.asarray(x0, float)).set_mutation(sigma=float(sigma0))
        param.random_state = np.random.RandomState(seed)
        cls = ng.optimizers.registry[self.config["variant"]]
        try:
            self.opt = cls(
                parametrization=param,
                budget=max(int(budget), 1),
                num_workers=self.config["popsize"],
            )
            if metamodel_is_broken():
                self.opt, self.substitutions = strip_metamodels(self.opt)
        except InputError:
            raise
        except Exception as exc:
            raise self._failed(exc) from None
        if self.substitutions:
            warnings.warn(
                f"nevergrad:{self.config['variant']}: nevergrad's MetaModel surrogate fails with numpy "
                f"{np.__version__}; using its base optimizer instead ({', '.join(self.substitutions)})",
                UserWarning,
                stacklevel=2,
            )
        self._pending: list = []

    def ask(self) -> np.ndarray:
        try:
            self._pending = [self.opt.ask() for _ in range(self.config["popsize"])]
        except Exception as exc:
            raise self._failed(exc) from None
        return np.stack([np.asarray(c.value, float) for c in self._pending])

    def tell(self, candidates, losses, grads=None) -> None:
        try:
            for cand, loss in zip(self._pending, np.asarray(losses, float), strict=True):
                self.opt.tell(cand, float(loss) if math.isfinite(loss) else _WORST)
        except Exception as exc:
            raise self._failed(exc) from None
        self._pending = []

    def best(self) -> tuple[np.ndarray, float]:
        try:
            rec = self.opt.provide_recommendation()
        except Exception as exc:
            raise self._failed(exc) from None
        loss = rec.loss if rec.loss is not None else math.inf
        return np.asarray(rec.value, float), (math.inf if loss >= _WORST else float(loss))

    def state(self) -> bytes:
        return pickle.dumps((self.opt, self.substitutions))

    def restore(self, state: bytes) -> None:
        self.opt, self.substitutions = pickle.loads(state)
        self._pending = []
