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
    """Covariance-matrix-adaptation evolution strategy (Hansen's pycma) with IPOP restarts.

    Options: ``popsize`` (default: the larger of pycma's 4 + ⌊3 ln n⌋ and 32), ``restarts`` (IPOP:
    at most this many restarts, each with twice the population; default 4, 0 = plain CMA-ES),
    ``patience`` (generations without a relative improvement of ``rtol`` = 1e-4 of the run's best
    loss that count as a stalled run; default 10 + ⌈30 n / λ⌉), ``run_share`` (a run that has used
    this share of the budget is restarted too, default 0.5, so at least one larger population
    runs), ``cma_options`` (a dict passed to pycma). A population of 32 costs little more per generation than 11-13 (it is evaluated in one
    vmapped call) and is more robust: on ``LJ-rho1.20-T15.000`` with Eq. 8 and 6000 evaluations,
    pycma's default 11 stalled in a local minimum (R² −0.48) where 32 reached R² 0.99989 with the
    same seed.

    σ0 (``--sigma0``) is the initial step in the closure's unconstrained parameter space. A run
    that stalls (or that pycma stops) is restarted from the same start x0 with twice the population
    and σ = max(σ0, 0.3) (Auger & Hansen 2005, IPOP-CMA-ES: a larger population searches more
    globally, so a paper-style σ0 = 5e-4 that cannot leave a poor start gets a second chance). The
    best point over all runs is the result; ``runs`` lists each run's best loss, so a user sees
    whether independent runs agree.
    """

    name = "cmaes"
    description = "CMA-ES (pycma) with IPOP restarts, the paper's evolution strategy; options: popsize, restarts"
    options = {
        "popsize": None,
        "restarts": 4,
        "patience": None,
        "rtol": 1e-4,
        "run_share": 0.5,
        "cma_options": None,
    }

    #: σ of a restarted run is at least this (a unit of the unconstrained space is a factor e for
    #: log parameters).
    RESTART_SIGMA = 0.3

    def __init__(self, **options: Any):
        super().__init__(**options)
        p = self.config["popsize"]
        if p is not None and (not isinstance(p, int) or p < 2):
            raise InputError(f"optimizer 'cmaes': popsize={p!r}; expected an integer >= 2")
        r = self.config["restarts"]
        if isinstance(r, bool) or not isinstance(r, int) or r < 0:
            raise InputError(f"optimizer 'cmaes': restarts={r!r}; expected an integer >= 0")
        q = self.config["patience"]
        if q is not None and (isinstance(q, bool) or not isinstance(q, int) or q < 1):
            raise InputError(f"optimizer 'cmaes': patience={q!r}; expected an integer >= 1")
        if not 0 < float(self.config["run_share"]) <= 1:
            raise InputError(
                f"optimizer 'cmaes': run_share={self.config['run_share']!r}; expected in (0, 1]"
            )
        if not float(self.config["rtol"]) >= 0:
            raise InputError(f"optimizer 'cmaes': rtol={self.config['rtol']!r}; expected >= 0")
        self.es = None
        self.s: dict[str, Any] = {}

    def add_start(self, x: np.ndarray, sigma: float) -> None:
        """A further independent start (before `start`): the budget is shared between the
        starts (one run each, at the base population, each capped at budget / number of starts),
        then IPOP restarts continue from the start whose run did best. The fit loop adds the
        closure's default start when the user's start is another (``--init mct`` or a result),
        so a poor start (e.g. M_mct in its glass phase) cannot decide the result alone."""
        self._extra_starts = [
            *getattr(self, "_extra_starts", []),
            (np.asarray(x, float), float(sigma)),
        ]

    def _new_run(self, x0: np.ndarray, sigma: float, popsize: int) -> None:
        import cma

        opts: dict[str, Any] = {
            "seed": math.nan,  # do not touch numpy's global generator
            "randn": self.s["randn"],
            "verbose": -9,
            "maxfevals": max(int(self.s["budget"]), 1),
            # the fit loop stops on the target loss and the budget; stalls are detected here
            "tolfun": 0.0,
            "tolfunhist": 0.0,
            "tolx": 0.0,
            "tolflatfitness": 10**9,
            "tolstagnation": 10**9,
            "tolfacupx": math.inf,  # σ growing far beyond σ0 is expected when x0 is far from the fit
            "tolupsigma": math.inf,
            "popsize": int(popsize),
        }
        opts.update(self.config["cma_options"] or {})
        self.es = cma.CMAEvolutionStrategy(np.asarray(x0, float), float(sigma), opts)
        self.s["run_best"] = []  # best loss of this run after each generation
        self.s["run_evals"] = 0
        self.s["runs"].append({"popsize": int(self.es.popsize), "sigma0": float(sigma), "best": math.inf,
                               "start": len(self.s["runs"]) if len(self.s["runs"]) < len(self.s["starts"])
                               else self.s["best_start"]})  # fmt: skip

    def start(self, x0: np.ndarray, *, sigma0: float, seed: int, budget: int) -> None:
        n = len(np.atleast_1d(x0))
        pop = int(self.config["popsize"] or max(4 + int(3 * math.log(max(n, 1))), 32))
        starts = [(np.asarray(x0, float), float(sigma0)), *getattr(self, "_extra_starts", [])]
        self.s = {
            "x0": np.asarray(x0, float), "sigma0": float(sigma0), "budget": int(budget), "n": n,
            "randn": _Normal(seed), "runs": [], "best_x": np.asarray(x0, float), "best_f": math.inf,
            "done": False, "starts": starts, "base_popsize": pop, "best_start": 0,
        }  # fmt: skip
        self._new_run(x0, sigma0, pop)

    @property
    def popsize(self) -> int:
        return int(self.es.popsize)

    def ask(self) -> np.ndarray:
        return np.asarray(self.es.ask(), float)

    def _stalled(self) -> bool:
        hist = self.s["run_best"]
        lam = self.popsize
        patience = int(self.config["patience"] or 10 + math.ceil(30 * self.s["n"] / lam))
        if len(hist) <= patience or not math.isfinite(hist[-1]):
            return False
        old, now = hist[-1 - patience], hist[-1]
        return (old - now) <= float(self.config["rtol"]) * abs(now)

    def tell(self, candidates, losses, grads=None) -> None:
        losses = np.asarray(losses, float)
        safe = np.where(np.isfinite(losses), losses, _WORST)
        X = np.asarray(candidates, float)
        self.es.tell(list(X), safe.tolist())
        i = int(np.argmin(safe))
        run = self.s["runs"][-1]
        if safe[i] < _WORST and safe[i] < run["best"]:
            run["best"] = float(safe[i])
        if safe[i] < _WORST and safe[i] < self.s["best_f"]:
            self.s["best_x"], self.s["best_f"] = X[i].copy(), float(safe[i])
        self.s["run_best"].append(run["best"])
        self.s["run_evals"] += len(X)
        self.s["evals"] = self.s.get("evals", 0) + len(X)
        starts, runs = self.s["starts"], self.s["runs"]
        pycma_stop = {k: v for k, v in dict(self.es.stop()).items() if k != "maxfevals"}
        share_spent = len(runs) < len(starts) and self.s["run_evals"] >= self.s["budget"] / len(
            starts
        )
        # one run may use at most run_share of the budget: the rest goes to a larger population
        long_run = self.s["run_evals"] >= float(self.config["run_share"]) * self.s["budget"]
        if not (pycma_stop or self._stalled() or share_spent or long_run):
            return
        if len(runs) < len(starts):  # the next independent start, at the base population
            x, sigma = starts[len(runs)]
            self._new_run(x, sigma, self.s["base_popsize"])
            return
        if len(runs) == len(starts):
            self.s["best_start"] = int(np.argmin([r["best"] for r in runs]))
        left = self.s["budget"] - self.s["evals"]
        if len(runs) - len(starts) < int(self.config["restarts"]) and left >= 2 * self.popsize:
            # IPOP from the best start (only if the budget still holds a generation of it)
            x, sigma = starts[self.s["best_start"]]
            self._new_run(x, max(sigma, self.RESTART_SIGMA), 2 * self.popsize)
        elif (
            pycma_stop
            or len(runs) - len(starts) >= int(self.config["restarts"])
            and self._stalled()
        ):
            self.s["done"] = True
            self.stop_reason = ", ".join(sorted(pycma_stop)) or "stalled"
        # else: no restart fits in the budget that is left: the current run goes on

    @property
    def runs(self) -> list[dict[str, Any]]:
        """Each run's population, σ0 and best loss (the first run is plain CMA-ES from x0)."""
        return [dict(r) for r in self.s.get("runs", [])]

    def note(self) -> str:
        """One line on the restarts, for the fit's stop reason."""
        runs = self.s.get("runs", [])
        if len(runs) <= 1:
            return ""
        best = int(np.argmin([r["best"] for r in runs]))
        losses = ", ".join(f"{r['best']:.3g}" for r in runs)
        n_starts = len(self.s.get("starts", [None]))
        starts = f" from {n_starts} starts" if n_starts > 1 else ""
        return (f"{len(runs)} CMA-ES runs (IPOP){starts}, best losses {losses}; best from run {best + 1}"
                f" (start {runs[best]['start'] + 1})")  # fmt: skip

    def best(self) -> tuple[np.ndarray, float]:
        f = self.s["best_f"]
        return np.asarray(self.s["best_x"], float), (math.inf if f >= _WORST else f)

    def stop(self) -> bool:
        return bool(self.s.get("done", False))

    def state(self) -> bytes:
        return pickle.dumps({"es": self.es, "s": self.s})

    def restore(self, state: bytes) -> None:
        d = pickle.loads(state)
        self.es, self.s = d["es"], d["s"]
        # the run's sampler and the optimizer's share one generator: re-link after unpickling
        self.es.opts["randn"] = self.s["randn"]
