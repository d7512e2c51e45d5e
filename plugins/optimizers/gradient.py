"""Gradient descent through the solver: L-BFGS (with a backtracking line search) or Adam, by optax.

The fit loop hands this optimizer the loss *and* its gradient (reverse mode through the
time-doubling solver) of each asked candidate. Both methods work in the ask/tell protocol, so a
gradient fit is checkpointed and resumed exactly like an evolution strategy.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from memplug.errors import InputError
from memplug.interfaces import Optimizer

#: Armijo sufficient-decrease constant of the backtracking line search.
_ARMIJO = 1e-4


def _to_numpy(tree):
    return jax.tree.map(np.asarray, tree)


def _to_jax(tree):
    return jax.tree.map(jnp.asarray, tree)


class Gradient(Optimizer):
    """L-BFGS (default) or Adam on the unconstrained parameter vector.

    Options: ``method`` (``lbfgs`` or ``adam``), ``learning_rate`` (Adam's step, default 1e-2),
    ``memory`` (L-BFGS history length, default 10). One candidate per generation; a gradient
    evaluation counts as one evaluation of the budget. L-BFGS steps are accepted by the Armijo
    condition and halved otherwise (also when a trial solve diverged and scored +inf).
    """

    name = "gradient"
    description = "L-BFGS (default) or Adam via optax, gradients through the solver; options: method, learning_rate"
    options = {"method": "lbfgs", "learning_rate": 1e-2, "memory": 10}
    uses_gradient = True

    def __init__(self, **options: Any):
        super().__init__(**options)
        if self.config["method"] not in ("lbfgs", "adam"):
            raise InputError(
                f"optimizer 'gradient': method={self.config['method']!r}; expected lbfgs or adam"
            )
        if not float(self.config["learning_rate"]) > 0:
            raise InputError("optimizer 'gradient': learning_rate must be positive")
        if not isinstance(self.config["memory"], int) or self.config["memory"] < 1:
            raise InputError("optimizer 'gradient': memory must be an integer >= 1")

    def _transform(self):
        import optax

        if self.config["method"] == "adam":
            return optax.adam(float(self.config["learning_rate"]))
        return optax.scale_by_lbfgs(memory_size=self.config["memory"])

    def start(self, x0: np.ndarray, *, sigma0: float, seed: int, budget: int) -> None:
        x0 = np.asarray(x0, float)
        self.s: dict[str, Any] = {
            "x": x0,  # current accepted point
            "f": None,  # its loss
            "g": None,  # its gradient
            "d": None,  # L-BFGS search direction
            "step": 1.0,  # current line-search step
            "halvings": 0,
            "best_x": x0,
            "best_f": math.inf,
            "opt": _to_numpy(self._transform().init(jnp.asarray(x0))),
            "restarts": 0,
            "converged": False,
        }

    def ask(self) -> np.ndarray:
        s = self.s
        if s["f"] is None or self.config["method"] == "adam":
            return s["x"][None]
        return (s["x"] + s["step"] * s["d"])[None]

    def _update(self, g, state, x):
        """The optax update, jit-compiled once per optimizer (eager optax is slow op by op)."""
        if getattr(self, "_update_jit", None) is None:
            self._update_jit = jax.jit(self._transform().update)
        return self._update_jit(jnp.asarray(g), _to_jax(state), jnp.asarray(x))

    def _direction(self, x, g):
        upd, st = self._update(g, self.s["opt"], x)
        self.s["opt"] = _to_numpy(st)
        return -np.asarray(upd)

    def tell(self, candidates, losses, grads=None) -> None:
        if grads is None:
            raise InputError("optimizer 'gradient' needs gradients from the fit loop")
        s = self.s
        x = np.asarray(candidates, float)[0]
        f = float(np.asarray(losses)[0])
        g = np.asarray(grads, float)[0]
        ok = math.isfinite(f) and bool(np.all(np.isfinite(g)))
        if ok and f < s["best_f"]:
            s["best_x"], s["best_f"] = x, f
        if self.config["method"] == "adam":
            self._tell_adam(x, f, g, ok)
        else:
            self._tell_lbfgs(x, f, g, ok)

    def _tell_adam(self, x, f, g, ok):
        import optax

        s = self.s
        if not ok:  # back to the best point, smaller steps
            s["x"] = s["best_x"]
            s["opt"] = _to_numpy(self._transform().init(jnp.asarray(s["x"])))
            s["step"] *= 0.5
            return
        upd, st = self._update(g, s["opt"], x)
        s["opt"] = _to_numpy(st)
        s["x"] = np.asarray(optax.apply_updates(jnp.asarray(x), s["step"] * upd))
        s["f"] = f

    def _tell_lbfgs(self, x, f, g, ok):
        s = self.s
        if s["f"] is None:  # the starting point
            if not ok:
                raise InputError(
                    "optimizer 'gradient': the initial parameters give a diverged solve"
                )
            s["f"], s["g"] = f, g
            s["d"] = self._direction(x, g)
            return
        slope = float(np.dot(s["g"], s["d"]))
        if ok and f <= s["f"] + _ARMIJO * s["step"] * slope:
            s["x"], s["f"], s["g"] = x, f, g
            s["d"] = self._direction(x, g)
            if float(np.dot(g, s["d"])) >= 0:  # not a descent direction: restart the memory
                s["opt"] = _to_numpy(self._transform().init(jnp.asarray(x)))
                s["d"] = self._direction(x, g)
            s["step"], s["halvings"], s["restarts"] = 1.0, 0, 0
            return
        s["step"] *= 0.5
        s["halvings"] += 1
        if s["halvings"] > 40:  # line search failed: restart from steepest descent
            s["opt"] = _to_numpy(self._transform().init(jnp.asarray(s["x"])))
            s["d"] = self._direction(s["x"], s["g"])
            s["step"], s["halvings"] = 1.0, 0
            s["restarts"] += 1
            s["converged"] = s["restarts"] > 3

    def best(self) -> tuple[np.ndarray, float]:
        return np.asarray(self.s["best_x"]), float(self.s["best_f"])

    def stop(self) -> bool:
        return bool(self.s.get("converged", False))

    def state(self) -> dict[str, Any]:
        return dict(self.s)

    def restore(self, state: dict[str, Any]) -> None:
        self.s = dict(state)
