"""A slower check of the Laplace bands of `memplug.plugins.fitting.uncertainty`: re-fit the
kernel to replicas of the data made by a moving-block bootstrap of its residuals.

- `refit`: a few Gauss-Newton (trust-region) steps of Eq. 7 with the Jacobian through the
  solver, the cheap local fit of each replica (and of any fit started near its optimum);
- `bootstrap`: blocks of consecutive residuals along the lag axis, per species, resampled
  with replacement; percentile bands of θ, F(t) and M(t) over the re-fitted replicas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from memplug.errors import InputError
from memplug.plugins.fitting.uncertainty import (
    default_memory_grid,
    laplace,
    pinned_parameters,
    quantities_at,
)

if TYPE_CHECKING:
    from memplug.fit import FitProblem


def refit(
    problem: FitProblem, x0, F_target=None, *, free=None, max_nfev: int = 20, t_M=None
) -> np.ndarray:
    """A few Gauss-Newton (trust-region, ``scipy.optimize.least_squares``) steps of Eq. 7 from
    ``x0``, with the Jacobian through the solver: the cheap local fit of the bootstrap replicas.

    Args:
        problem: the `FitProblem`.
        x0: start, unconstrained, shape ``(dim,)``.
        F_target: the values to fit on the window's times, shape ``(n, s)`` (default: the target's).
        free: indices of the coordinates to fit (default: all); the others stay at ``x0``.
        max_nfev: the largest number of residual evaluations (each with its Jacobian).
    Returns:
        the fitted unconstrained vector, shape ``(dim,)``.
    """
    from scipy.optimize import least_squares

    x0 = np.asarray(x0, float)
    F_target = problem.F_target if F_target is None else np.asarray(F_target, float)
    free = np.arange(problem.dim) if free is None else np.asarray(free, int)
    t_M = default_memory_grid(problem) if t_M is None else np.asarray(t_M, float)
    if not len(free):
        return x0.copy()
    cache: dict[str, Any] = {}

    def evaluate(v):
        key = v.tobytes()
        if cache.get("key") != key:
            u = x0.copy()
            u[free] = v
            try:
                jac, values, _, _ = quantities_at(problem, u, t_M)
                r = (values["F"][problem.window] - F_target).ravel()
                J = jac["F"][problem.window][..., free].reshape(len(r), len(free))
            except ValueError:  # a failed solve: a large residual the trust region steps back from
                r = np.full(F_target.size, 1e3)
                J = np.zeros((F_target.size, len(free)))
            cache.update(key=key, r=r, J=J)
        return cache

    out = least_squares(
        lambda v: evaluate(v)["r"], x0[free], jac=lambda v: evaluate(v)["J"],
        method="trf", x_scale="jac", max_nfev=int(max_nfev),
    )  # fmt: skip
    x = x0.copy()
    x[free] = out.x
    return x


@dataclass
class BootstrapBands:
    """Percentile bands of a moving-block bootstrap (`bootstrap`).

    Attributes:
        theta: fitted physical θ of each successful replica, ``(n_ok, p)``.
        theta_lo, theta_hi: percentile interval of each θ, ``(p,)``.
        t, F_lo, F_hi: target times and the F^{αα} band, ``(n_t, s)``.
        t_M, M_lo, M_hi: memory grid and the M band, ``(n_M, s, s)``.
        M: M(t_M) of each replica, ``(n_ok, n_M, s, s)``.
        level, block, n_boot, n_failed: coverage, block length (points), replicas, failed replicas.
    """

    theta: np.ndarray
    theta_lo: np.ndarray
    theta_hi: np.ndarray
    t: np.ndarray
    F_lo: np.ndarray
    F_hi: np.ndarray
    t_M: np.ndarray
    M_lo: np.ndarray
    M_hi: np.ndarray
    M: np.ndarray
    level: float
    block: int
    n_boot: int
    n_failed: int


def bootstrap(
    problem: FitProblem,
    x,
    n_boot: int = 50,
    block: int | None = None,
    seed: int = 0,
    *,
    t_M=None,
    level: float = 0.95,
    max_nfev: int = 10,
    tol: float = 0.01,
) -> BootstrapBands:
    """Moving-block bootstrap of the residuals along the lag axis, per species.

    The residuals r = F_target − F_fit of each species, rescaled to the noise σ of
    `laplace` (which corrects for the degrees of freedom the fit absorbs), are cut into
    overlapping blocks of
    ``block`` consecutive points (default ≈ 2 (1 + ρ₁)/(1 − ρ₁), from the residuals' lag-one
    autocorrelation, `laplace`'s ρ₁); a replica target is F_fit + (blocks of the centred
    residuals drawn with replacement, joined and cut to length). Each replica is re-fitted from ``x`` by `refit` (``max_nfev``
    steps; pinned parameters stay fixed) and the bands are the percentiles of the replicas.
    """
    if n_boot < 2:
        raise InputError(f"bootstrap: n_boot={n_boot}; expected at least 2 replicas")
    if not 0 < level < 1:
        raise InputError(f"bootstrap: level={level}; expected a coverage in (0, 1)")
    x = np.asarray(x, float)
    t_all = np.asarray(problem.target.t, float)
    t_M = default_memory_grid(problem) if t_M is None else np.asarray(t_M, float)
    _, values, _, _ = quantities_at(problem, x, t_M)
    F_fit = values["F"][problem.window]
    resid = problem.F_target - F_fit  # (n, s)
    n, s = resid.shape
    # residuals are smaller than the noise (the fit absorbs p of their degrees of freedom, more
    # for correlated noise): rescale each species to the Laplace noise estimate
    lap = laplace(problem, x, t_M=t_M, tol=tol)
    resid = resid - resid.mean(axis=0)
    rms = np.sqrt(np.mean(resid**2, axis=0))
    resid = resid * np.array([lap.noise[sp] for sp in lap.species]) / np.where(rms > 0, rms, 1.0)
    if block is None:
        rho = max(lap.rho1.values())
        block = int(min(max(round(2 * (1 + rho) / (1 - rho)), 1), max(n // 2, 1)))
    if not 1 <= int(block) <= n:
        raise InputError(f"bootstrap: block={block}; expected 1 ... {n} points (the fit window)")
    block = int(block)
    labels = problem.space.labels()
    pinned = pinned_parameters(problem.space, x, tol)
    free = np.array([i for i, lab in enumerate(labels) if lab not in pinned], int)
    rng = np.random.default_rng(seed)
    thetas, Fs, Ms, failed = [], [], [], 0
    n_blocks = -(-n // block)
    for _ in range(int(n_boot)):
        replica = np.empty_like(resid)
        for a in range(s):
            starts = rng.integers(0, n - block + 1, n_blocks)
            series = np.concatenate([resid[i : i + block, a] for i in starts])[:n]
            replica[:, a] = series
        xb = refit(problem, x, F_fit + replica, free=free, max_nfev=max_nfev, t_M=t_M)
        try:
            _, vb, _, _ = quantities_at(problem, xb, t_M)
        except ValueError:
            failed += 1
            continue
        thetas.append(vb["theta"])
        Fs.append(vb["F"])
        Ms.append(vb["M"])
    if len(thetas) < 2:
        raise ValueError(f"bootstrap: {failed} of {n_boot} replicas failed to solve")
    q = [50 * (1 - level), 50 * (1 + level)]
    th, F, M = np.array(thetas), np.array(Fs), np.array(Ms)
    return BootstrapBands(
        theta=th, theta_lo=np.percentile(th, q[0], axis=0), theta_hi=np.percentile(th, q[1], axis=0),
        t=t_all, F_lo=np.percentile(F, q[0], axis=0), F_hi=np.percentile(F, q[1], axis=0),
        t_M=t_M, M_lo=np.percentile(M, q[0], axis=0), M_hi=np.percentile(M, q[1], axis=0), M=M,
        level=level, block=block, n_boot=int(n_boot), n_failed=failed,
    )  # fmt: skip
