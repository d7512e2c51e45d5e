"""The result of a memory-equation solve."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int

# Status codes (bit flags) of a Solution; 0 means success.
OK = 0
NOT_CONVERGED = 1  # fixed-point iteration of a functional kernel hit max_iter somewhere
NOT_FINITE = 2  # NaN or inf in F
BLOWUP = 4  # |F| grew beyond the blow-up bound
SOLVER_FAILED = 8  # the ODE solver (diffrax) reported a failure

STATUS_TEXT = {
    NOT_CONVERGED: "fixed-point iteration did not converge",
    NOT_FINITE: "NaN or inf in the solution",
    BLOWUP: "the solution blew up",
    SOLVER_FAILED: "the ODE solver failed",
}


class Solution(eqx.Module):
    """Solution of a memory equation on the solver's time grid.

    Attributes:
        t: times, shape ``(n_t,)``, increasing, ``t[0] = 0``.
        F: correlator, shape ``(n_t, *shape)``.
        M: memory kernel on the same grid, shape ``(n_t, *shape)`` (NaN where the solver has none).
        status: integer bit flags (0 = success), see the module constants. Never raised inside jit.
        iterations: largest number of fixed-point iterations used at one time point (0 if explicit).
    """

    t: Float[Array, " n_t"]
    F: Float[Array, " n_t *shape"]
    M: Float[Array, " n_t *shape"]
    status: Int[Array, ""]
    iterations: Int[Array, ""]

    @property
    def ok(self) -> Bool[Array, ""]:
        return self.status == OK

    def describe(self) -> str:
        code = int(self.status)
        if code == OK:
            return "ok"
        return "; ".join(text for bit, text in STATUS_TEXT.items() if code & bit)

    def interpolate(self, t_query, which: str = "F") -> Array:
        """Values at arbitrary times by cubic Lagrange interpolation on the four nearest grid points.

        ``t_query`` of shape ``(m,)`` gives ``(m, *shape)``. Times beyond the grid are clamped.
        """
        return interpolate(self.t, getattr(self, which), t_query)


def interpolate(t: Array, y: Array, t_query: Array) -> Array:
    """Cubic Lagrange interpolation of ``y(t)`` (first axis) at ``t_query``; clamped at the ends."""
    t_query = jnp.asarray(t_query, dtype=float)
    n = t.shape[0]
    tq = jnp.clip(t_query, t[0], t[-1])
    idx = jnp.clip(jnp.searchsorted(t, tq, side="right") - 2, 0, n - 4)  # stencil idx..idx+3
    nodes = idx[:, None] + jnp.arange(4)[None, :]
    tn = t[nodes]  # (m, 4)
    # Lagrange basis weights
    diff = tq[:, None] - tn  # (m, 4)
    w = []
    for j in range(4):
        num = jnp.ones_like(tq)
        den = jnp.ones_like(tq)
        for m in range(4):
            if m != j:
                num = num * diff[:, m]
                den = den * (tn[:, j] - tn[:, m])
        w.append(num / den)
    w = jnp.stack(w, axis=1)  # (m, 4)
    yn = y[nodes]  # (m, 4, *shape)
    w = w.reshape(w.shape + (1,) * (y.ndim - 1))
    return jnp.sum(w * yn, axis=1)


def status_from(F: Array, F0_scale: Array, blowup: float) -> Array:
    """Status bits for a finished F array."""
    finite = jnp.all(jnp.isfinite(F))
    big = jnp.max(jnp.where(jnp.isfinite(F), jnp.abs(F), 0.0)) > blowup * jnp.maximum(
        F0_scale, 1e-300
    )
    return jnp.where(finite, 0, NOT_FINITE) | jnp.where(big, BLOWUP, 0)
