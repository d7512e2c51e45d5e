"""Inversion of the overdamped memory equation (paper Eq. 5), F' + Ω²F + ∫M F' = 0.

Independent truth: F solved by the time-doubling solver for M = 40 exp(−5 t) (``exponential``
closure, overdamped context), sampled on a molecular-dynamics-like lag grid.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from memplug.model import default_context, solve_closure
from memplug.plugins.inversion.invert import invert_memory
from memplug.solvers import TimeDoublingSolver


def test_overdamped_exponential_kernel():
    """Measured: noise-free, max |ΔM| = 3.6 % of M(0) and median relative error 0.09 % over the
    reliable window 0.0053 … 1.4; with noise 1e-3 (1 − F²), 0.8 % and 0.4 % over 0.0084 … 0.9."""
    ctx = default_context(T=0.8, k_peak=7.25)
    assert ctx.dynamics == "overdamped"
    theta = {"amplitude": jnp.array([40.0, 40.0]), "rate": jnp.array([5.0, 5.0])}
    t = np.concatenate([np.arange(1, 21) * 0.005, np.geomspace(0.105, 20.0, 130)])
    sol = solve_closure("exponential", ctx, theta, TimeDoublingSolver(N=64, dt0=1e-5, t_max=20.2))
    F = np.asarray(sol.interpolate(t))[:, 0, 0]
    rng = np.random.default_rng(0)
    for eps, worst_max, window_end in ((0.0, 0.05, 1.0), (1e-3, 0.03, 0.6)):
        Fn = F + eps * (1 - F**2) * rng.standard_normal(F.size)
        inv = invert_memory(t, Fn, ctx.omega2_matrix()[0, 0], dynamics="overdamped")
        truth = 40.0 * np.exp(-5.0 * inv.t_M)
        rel = inv.reliable[:, 0]
        lo, hi = inv.window(0)
        assert inv.t_M[lo] < 0.01 and inv.t_M[hi] > window_end
        assert np.max(np.abs(inv.M[rel, 0] - truth[rel])) < worst_max * 40.0
        assert np.median(np.abs(inv.M[rel, 0] / truth[rel] - 1)) < 0.01
