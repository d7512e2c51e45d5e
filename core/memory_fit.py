"""Fitting an explicit closure's M(t; θ) to a tabulated memory (e.g. M_mct, the paper's start of
the evolutionary strategy): Levenberg-Marquardt through the kernel, one jit-compiled loop.

It needs only the closure's ``space`` and ``kernel``, so `memplug.interfaces.Closure.initial`
uses it without importing the model layer (`memplug.model.fit_memory` also takes a name).
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np


def fit_memory(
    closure: Any,
    context: Any,
    t,
    M,
    theta0: dict[str, Any] | None = None,
    max_steps: int = 300,
    max_move: float = 1.0,
) -> dict[str, Any]:
    """θ whose explicit kernel best matches a tabulated memory ``M`` at times ``t``
    (``closure``: a `memplug.interfaces.Closure`, ``context``: its `memplug.interfaces.Context`).

    Levenberg-Marquardt in the closure's unconstrained space (Jacobian by forward-mode autodiff,
    one jit-compiled loop), from ``theta0`` (default: the parameters' defaults). Residuals are
    scaled by the largest |M^{αα}|, so fast (vibrational) and slow (structural) parts weigh alike
    wherever M is non-negligible; unconstrained coordinates of log/logit parameters are kept in
    [−40, 40].

    Args:
        t: times, shape ``(n,)``; log-spaced over the range that matters.
        M: the memory, shape ``(n, s, s)`` (or ``(n, s)`` for the diagonal only).
        max_steps: Levenberg-Marquardt iterations (each one Jacobian and one linear solve).
        max_move: largest change of one unconstrained coordinate per iteration (a trust region:
            a factor e per step for log parameters), which keeps the fit in the basin it starts in.
    """
    import jax

    space = closure.space(context)
    if space.dim == 0:
        return space.default()
    s = context.n_species
    t = jnp.asarray(np.asarray(t, dtype=float))
    M = np.asarray(M, dtype=float)
    if M.ndim == 2:
        M = np.einsum("ta,ab->tab", M, np.eye(s))
    scale = max(float(np.max(np.abs(np.diagonal(M, axis1=1, axis2=2)))), 1e-300)
    ref = jnp.asarray(M / scale)
    theta0 = space.default() if theta0 is None else theta0
    capped = jnp.asarray(
        np.concatenate([np.full(p.size, p.transform != "identity") for p in space.parameters])
    )
    u0 = jnp.asarray(space.to_unconstrained(space.pack(theta0)), dtype=float)
    u0 = jnp.where(capped, jnp.clip(u0, -40.0, 40.0), u0)

    lower, upper = (jnp.asarray(b) for b in space.bounds())

    def physical(u):
        x = space.from_unconstrained(jnp.where(capped, jnp.clip(u, -40.0, 40.0), u))
        return jnp.clip(x, lower, upper)  # identity parameters with bounds (e.g. c >= 0)

    def residual(u):
        r = jnp.ravel(closure.kernel(space.unpack(physical(u)), context)(t) / scale - ref)
        return jnp.where(jnp.isfinite(r), r, 1e6)

    @jax.jit
    def levenberg_marquardt(u0):
        def step(_, state):
            u, cost, lam = state
            r = residual(u)
            J = jax.jacfwd(residual)(u)
            JTJ = J.T @ J
            damping = lam * (jnp.diag(JTJ) + 1e-12)
            delta = jnp.linalg.solve(JTJ + jnp.diag(damping), -(J.T @ r))
            delta = delta * jnp.minimum(1.0, max_move / jnp.max(jnp.abs(delta)))  # trust region
            u_new = u + delta
            cost_new = jnp.sum(residual(u_new) ** 2)
            better = jnp.isfinite(cost_new) & (cost_new < cost)
            return (
                jnp.where(better, u_new, u),
                jnp.where(better, cost_new, cost),
                jnp.clip(jnp.where(better, lam / 3.0, lam * 4.0), 1e-12, 1e12),
            )

        cost0 = jnp.sum(residual(u0) ** 2)
        u, _, _ = jax.lax.fori_loop(0, max_steps, step, (u0, cost0, jnp.asarray(1e-2)))
        return u

    return space.unpack(physical(levenberg_marquardt(u0)))
