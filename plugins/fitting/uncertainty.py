"""How much a fitted kernel can be trusted: error bars, pinned bounds, bands and flags.

A fit of Eq. 7 is a measurement. This module says which parameters the data determine and how
well, for any closure:

- `pinned_parameters`: parameters sitting at a bound of their range (never a result);
- `laplace`: Gauss-Newton / Laplace uncertainty through the solver. With residuals
  r(u) = F_θ(u)(t_i) − F_target(t_i) over the fit window and J = ∂r/∂u (``jax.jacfwd`` through the
  time-doubling solver, in the closure's unconstrained coordinates u),

      Cov_u = (JᵀJ)⁺ [Σ_α s_α² J_αᵀ R_α J_α] (JᵀJ)⁺,

  the sandwich of least squares with noise correlated along the lag axis (MD correlators from
  overlapping time origins): AR(1) per species α, R_α,ij = ρ_α^|i−j|; with R = 1 it is the plain
  s² (JᵀJ)⁺. ρ_α is fitted to the residuals' lag-one autocorrelation allowing for the fit (which
  absorbs the smooth part of the noise), s_α² = SSR_α / E[SSR_α/σ²]; ``correlation="neff"``
  instead inflates s² (JᵀJ)⁺ by n/n_eff = (1 + ρ)/(1 − ρ), ``"none"`` takes the residuals as
  independent. Intervals use the Student-t quantile of the noise estimate's Satterthwaite degrees
  of freedom. The pseudo-inverse is taken in column-scaled coordinates (columns of unit norm)
  and drops directions whose singular value is below ``rcond`` (default 1e-4) times the largest:
  the data do not determine them. Pinned parameters are held fixed. Everything else follows by
  the delta method: θ intervals (asymmetric for log/logit), pointwise bands of M(t) and F(t),
  and derived quantities (M(0), ∫M dt, the plateau M(t_last), a closure's ``channels``), each
  with its error;
- `kernel_flags`: unphysical kernels (negative M^{αα}, a rise before the first decay);
- `memplug.plugins.fitting.bootstrap.bootstrap`: a moving-block bootstrap of the residuals, each
  replica re-fitted by a few Gauss-Newton steps: slower, a check of the Laplace bands;
- `result_fields`: all of it as the optional fields of a `FitResult`.

Limits: the Laplace approximation is linear in u around the fit, so intervals of parameters with
large relative errors (σ_u ≳ 1) are indicative only; AR(1) is the simplest correlation model (a
correlation that decays slower than exponentially along the lag index is underestimated; the
``neff`` inflation is exact only for slowly varying regressors and otherwise conservative);
the bands are conditional on the pinned parameters staying at their bounds; the Lasso term of
Eq. 7 is ignored (the Laplace approximation of the data term only).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
from scipy.stats import t as student_t

from memplug.errors import InputError
from memplug.interfaces import Parameter, ParameterSpace
from memplug.kernels import ExplicitKernel

if TYPE_CHECKING:
    from memplug.fit import FitProblem

#: Relative threshold on the singular values of the column-scaled Jacobian: directions below
#: RCOND × the largest are not determined by the data.
RCOND = 1e-4
#: Relative size (of the largest |M^{αα}|) below which a negative or rising M is round-off.
FLAG_RTOL = 1e-8
#: Points of the fine log grid (from t = 0) on which ∫M dt and the flags are evaluated.
N_FINE = 2000
CORRELATIONS = ("ar1", "neff", "none")

# --------------------------------------------------------------------------------------------
# scales and pinned parameters
# --------------------------------------------------------------------------------------------


def position_scale(p: Parameter) -> str:
    """``"log"`` or ``"linear"``: the scale on which a parameter's position in its range is measured.

    ``log`` and ``ordered`` (increasing time constants) use ln v; ``logit`` and ``identity`` use v;
    a transform this module does not know uses ln v when ``lower > 0`` and v otherwise.
    """
    if p.transform in ("log", "ordered"):
        return "log"
    if p.transform in ("logit", "identity"):
        return "linear"
    return "log" if p.lower > 0 else "linear"


def interval_scale(p: Parameter) -> str:
    """``"log"``, ``"logit"`` or ``"linear"``: the scale on which a θ interval is symmetric
    (the parameter's own transform, element by element; unknown transforms as in
    `position_scale`)."""
    return "logit" if p.transform == "logit" else position_scale(p)


def _pinned_side(kind: str, v: float, lo: float, hi: float, tol: float) -> str | None:
    """``"lower"``, ``"upper"`` or None for one value (see `pinned_parameters`)."""
    if not math.isfinite(v):
        return None

    def side(pos: float, lower_counts: bool = True) -> str | None:
        if pos <= tol and lower_counts:
            return "lower"
        return "upper" if pos >= 1.0 - tol else None

    finite_lo, finite_hi = math.isfinite(lo), math.isfinite(hi)
    if kind == "log" and lo > 0 and v > 0 and finite_hi:
        return side((math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo)))
    if finite_lo and finite_hi:
        # on a log scale a lower bound 0 is at −∞ and never pins; the upper one uses the raw range
        return side((v - lo) / (hi - lo), lower_counts=not (kind == "log" and lo <= 0) or v < lo)
    eps = 1e-9  # one finite bound, infinite range: only a value at or beyond the bound pins
    if finite_lo and v <= lo + eps * max(1.0, abs(lo)):
        return "lower"
    if finite_hi and v >= hi - eps * max(1.0, abs(hi)):
        return "upper"
    return None


def pinned_parameters(
    space: ParameterSpace, x, tol: float = 0.01, *, physical: bool = False
) -> dict[str, str]:
    """Parameters sitting at a bound: ``{label: "lower" | "upper"}`` in the space's order.

    A value is pinned when it lies within ``tol`` (1 %) of its range from a bound, or beyond it.
    The position is (ln v − ln lo)/(ln hi − ln lo) for ``log``/``ordered`` parameters (element by
    element) and (v − lo)/(hi − lo) for ``logit``/``identity`` ones; an unknown transform uses
    the log rule when lo > 0 and the linear one otherwise. Infinite bounds never pin, nor does a
    lower bound 0 on a log scale (ln 0 = −∞; the upper bound is then measured on the raw range).
    With one finite bound and an infinite range only a value at or beyond that bound pins.

    Args:
        space: the closure's parameter space.
        x: the unconstrained vector u, shape ``(dim,)`` (``physical=True``: the physical values).
        tol: the fraction of the range that counts as "at the bound".
    """
    x = np.asarray(x, float)
    if x.shape != (space.dim,):
        raise InputError(f"pinned_parameters: x has shape {x.shape}; expected ({space.dim},)")
    v = x if physical else np.asarray(space.from_unconstrained(jnp.asarray(x)), float)
    labels = space.labels()
    out: dict[str, str] = {}
    for p, a, b in zip(space.parameters, space.offsets[:-1], space.offsets[1:], strict=True):
        kind = position_scale(p)
        for i in range(int(a), int(b)):
            which = _pinned_side(kind, float(v[i]), float(p.lower), float(p.upper), tol)
            if which is not None:
                out[labels[i]] = which
    return out


def _spans_range(kind: str, a: float, b: float, lo: float, hi: float, tol: float) -> bool:
    """Whether the interval [a, b] covers at least 1 − 2 tol of the range [lo, hi] on the
    position scale of `pinned_parameters` (never for a range infinite on that scale)."""
    if kind == "log" and lo > 0 and a > 0 and math.isfinite(hi):
        return (math.log(b) - math.log(a)) / (math.log(hi) - math.log(lo)) >= 1.0 - 2.0 * tol
    if math.isfinite(lo) and math.isfinite(hi) and not (kind == "log" and lo <= 0):
        return (b - a) / (hi - lo) >= 1.0 - 2.0 * tol
    return False


def _element_parameters(space: ParameterSpace) -> list[Parameter]:
    """The parameter owning each element of the flat vector."""
    return [p for p in space.parameters for _ in range(p.size)]


def _to_scale(kind: str, v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "log":
            return np.log(v)
        if kind == "logit":
            z = (v - lo) / (hi - lo)
            return np.log(z) - np.log1p(-z)
        return v


def _from_scale(kind: str, g: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    if kind == "log":
        return np.exp(g)
    if kind == "logit":
        return lo + (hi - lo) / (1.0 + np.exp(-g))
    return g


def _scale_slope(kind: str, v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """dg/dv of the interval scale g."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "log":
            return 1.0 / v
        if kind == "logit":
            return (hi - lo) / ((v - lo) * (hi - v))
        return np.ones_like(v)


# --------------------------------------------------------------------------------------------
# flags
# --------------------------------------------------------------------------------------------


def kernel_flags(t, M_diag, species: tuple[str, ...], rtol: float = FLAG_RTOL) -> list[str]:
    """Unphysical features of a kernel's diagonal, as one-line strings ``"<what>: <details>"``.

    - ``negative M^{αα}``: M^{αα}(t) < −rtol max|M^{αα}| somewhere on the grid;
    - ``M^{αα} rises before its first decay``: M^{αα} exceeds M^{αα}(t_0) by more than
      rtol max|M^{αα}| before it first falls below half of M^{αα}(t_0) (the short-time
      non-monotonic behaviour Eq. 6 allows, paper sec. II B).

    Args:
        t: increasing times, shape ``(n,)`` (the first is the start, ideally 0).
        M_diag: M^{αα}(t), shape ``(n, s)``.
        species: names of the s species.
    """
    t, M_diag = np.asarray(t, float), np.asarray(M_diag, float)
    out = []
    for a, sp in enumerate(species):
        m = M_diag[:, a]
        name = f"M^{sp}{sp}"
        if not np.all(np.isfinite(m)):
            out.append(f"non-finite {name}: at {int(np.sum(~np.isfinite(m)))} of {len(m)} times")
            continue
        scale = float(np.max(np.abs(m)))
        if scale == 0.0:
            continue
        i = int(np.argmin(m))
        if m[i] < -rtol * scale:
            out.append(f"negative {name}: min {m[i]:.3g} at t = {t[i]:.3g} (max |M| {scale:.3g})")
        decayed = np.nonzero(m < 0.5 * m[0])[0]
        end = int(decayed[0]) if len(decayed) else len(m)
        j = int(np.argmax(m[:end])) if end > 0 else 0
        if m[j] > m[0] + rtol * scale:
            out.append(
                f"{name} rises before its first decay: from {m[0]:.3g} at t = {t[0]:.3g} to "
                f"{m[j]:.3g} at t = {t[j]:.3g} (non-monotonic at short times)"
            )
    return out


# --------------------------------------------------------------------------------------------
# the quantities and their Jacobian through the solver
# --------------------------------------------------------------------------------------------

#: Compiled (values, Jacobian) functions per problem key, least recently used first.
_COMPILED: OrderedDict[tuple, Callable] = OrderedDict()
_CACHE_SIZE = 4


def _quantities_function(problem: FitProblem) -> Callable:
    """``(u, t, t_M, t_fine) -> (jacobians, values, M^{αα}(t_fine), status)``, jit-compiled once
    per closure, statics and solver (the times are arguments)."""
    closure = problem.closure
    channels = getattr(closure, "channels", None)
    # the statics are an argument where the problem's are (FitProblem.compile_key): one compile
    # serves every state with the same block count
    key = (problem.compile_key, callable(channels))
    space = problem.space

    def quantities(u, t, t_M, t_fine, statics):
        context, _, scale = problem.bind(statics)
        theta = problem.theta(u)
        sol = problem.solve(u, statics)
        F = jnp.diagonal(sol.interpolate(t), axis1=-2, axis2=-1) * scale  # (n_t, s), as predict
        M = sol.interpolate(t_M, which="M")  # (n_M, s, s), as the result's M_fit
        kernel = closure.kernel(theta, context)
        fine = (
            kernel(t_fine)
            if isinstance(kernel, ExplicitKernel)
            else sol.interpolate(t_fine, which="M")
        )
        d = jnp.diagonal(fine, axis1=-2, axis2=-1)  # (n_fine, s)
        out = {
            "theta": space.from_unconstrained(u),
            "F": F,
            "M": M,
            "M0": d[0],
            "int_M": jnp.trapezoid(d, t_fine, axis=0),
            "M_plateau": jnp.diagonal(M[-1]),
        }
        if callable(channels):
            out["channels"] = {
                k: jnp.ravel(jnp.asarray(v, dtype=float))
                for k, v in channels(theta, context).items()
            }
        return out, (out, d, sol.status)

    from memplug.fit import compiled_for

    return compiled_for(
        key, lambda: jax.jit(jax.jacfwd(quantities, has_aux=True)), _COMPILED, _CACHE_SIZE
    )


def default_memory_grid(problem: FitProblem, n: int = 200) -> np.ndarray:
    """200 log-spaced times over the target's span (the result files' t_M grid)."""
    t = problem.target.t
    return np.geomspace(float(t[0]), float(t[-1]), n)


def quantities_at(problem: FitProblem, x: np.ndarray, t_M: np.ndarray, n_fine: int = N_FINE):
    """What the uncertainty is computed from, at the unconstrained vector ``x`` (NumPy).

    Returns ``(jac, values, M_fine, t_fine)``: ``values`` has ``theta`` (p,), ``F`` (n_t, s) on
    all target times (the problem's normalisation), ``M`` (n_M, s, s) on ``t_M``, ``M0``,
    ``int_M`` (∫₀^{t_M[-1]} M^{αα} dt, trapezoid on ``t_fine``), ``M_plateau`` (each (s,)) and,
    for closures with ``channels``, ``channels`` {name: (k,)}; ``jac`` holds ∂/∂u of each,
    shape ``value.shape + (p,)``; ``M_fine`` is M^{αα} on ``t_fine`` (0 and ``n_fine``
    log-spaced times up to t_M[-1]), shape (n_fine + 1, s). One compile per closure, statics
    and solver and per grid size (keep the sizes fixed). Raises ValueError on a flagged or
    non-finite solve."""
    t = np.asarray(problem.target.t, float)
    t0 = min(float(t_M[0]), float(problem.solver.dt0)) * 1e-2
    t_fine = np.concatenate([[0.0], np.geomspace(t0, float(t_M[-1]), n_fine)])
    from memplug.fit import pad_times

    fn = _quantities_function(problem)
    jac, (values, d, status) = fn(
        jnp.asarray(x, float), pad_times(t), pad_times(t_M), jnp.asarray(t_fine), problem.statics
    )
    # padded rows (targets of any length share one compile) are dropped
    for part in (jac, values):
        part["F"], part["M"] = part["F"][: len(t)], part["M"][: len(t_M)]
    if int(status) != 0:
        from memplug.solution import STATUS_TEXT

        why = "; ".join(text for bit, text in STATUS_TEXT.items() if int(status) & bit)
        raise ValueError(f"the solve at the fitted parameters is flagged ({why})")
    jac, values = jax.tree_util.tree_map(np.asarray, (jac, values))
    if not all(np.all(np.isfinite(a)) for a in jax.tree_util.tree_leaves((jac["F"], values["F"]))):
        raise ValueError("F or its Jacobian is not finite at the fitted parameters")
    return jac, values, np.asarray(d), t_fine


def _lag1(r: np.ndarray) -> float:
    """Lag-one autocorrelation of a residual series (mean removed)."""
    r = r - r.mean()
    den = float(np.sum(r * r))
    return float(np.sum(r[1:] * r[:-1]) / den) if den > 0 else 0.0


def _fitted_ar1(
    r: np.ndarray, H: np.ndarray, correlated: bool = True
) -> tuple[float, float, float]:
    """(ρ₁, dof, ν) of the AR(1) noise e behind the residuals r ≈ (I − H) e of one species.

    The residuals' own lag-one autocorrelation is biased low: the fit absorbs the smooth part of
    the noise and the mean is removed. ρ₁ is the value for which the *expected* autocorrelation
    of such residuals, E[rᵀ C S C r] / E[rᵀ C r] = tr(R Qᵀ C S C Q) / tr(R Qᵀ C Q) with
    Q = I − H, C the centring and S the lag-one pairs, equals the observed one (bisection on
    [0, 0.99]); dof = E[Σ r²]/σ² = tr(R QᵀQ), the denominator of the noise variance, and
    ν = tr(W)²/tr(W²), W = Q R Qᵀ, the Satterthwaite degrees of freedom of that variance (its
    spread: Σ r²/σ² is about χ²_ν scaled). ``correlated=False``: ρ₁ = 0 (independent residuals).
    """
    n = len(r)
    lag = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
    Q = np.eye(n) - H
    dof_of = Q.T @ Q

    def result(rho: float) -> tuple[float, float, float]:
        W = Q @ rho**lag @ Q.T
        return (
            rho,
            float(np.sum(rho**lag * dof_of)),
            float(np.trace(W) ** 2 / max(np.sum(W * W), 1e-300)),
        )

    if not correlated or n < 4:
        return result(0.0)
    C = np.eye(n) - 1.0 / n
    pairs = (np.eye(n, k=1) + np.eye(n, k=-1)) / 2
    num, den = Q.T @ C @ pairs @ C @ Q, Q.T @ C @ Q

    def expected(rho: float) -> float:
        R = rho**lag
        return float(np.sum(R * num) / np.sum(R * den))

    observed, lo, hi = _lag1(r), 0.0, 0.99
    if observed <= expected(lo):
        rho = lo
    elif observed >= expected(hi):
        rho = hi
    else:
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if expected(mid) < observed else (lo, mid)
        rho = 0.5 * (lo + hi)
    return result(rho)


# --------------------------------------------------------------------------------------------
# the Laplace approximation
# --------------------------------------------------------------------------------------------


@dataclass
class Uncertainty:
    """The trust of one fitted kernel (Laplace approximation, `laplace`).

    Shapes: p parameters, s species, n_t target times, n_M times of the memory grid.

    Attributes:
        labels, theta: parameter labels and fitted physical values, ``(p,)``.
        theta_lo, theta_hi: the ``level`` interval of each θ, ``(p,)``; NaN where the parameter is
            pinned or not determined.
        sigma_u, cov_u: standard errors ``(p,)`` and covariance ``(p, p)`` of the unconstrained
            vector (zero for pinned parameters; undetermined directions are left out).
        pinned: ``{label: "lower" | "upper"}``.
        undetermined: labels the data do not determine: pinned ones, those loading on an
            undetermined direction (no interval) and those whose interval covers at least
            1 − 2 tol (98 %) of their range (interval kept).
        directions: the undetermined directions, each ``{label: loading}`` (labels loading most).
        singular_values: of the column-scaled Jacobian over the free parameters, relative to the
            largest, descending.
        noise, rho1, n, n_eff: per species: noise σ (units of F), lag-one autocorrelation of the
            residuals, number of fitted points, effective number of independent points.
        t, F, F_sigma, F_lo, F_hi: target times and F^{αα} with its 1σ and ``level`` band,
            ``(n_t, s)``; band NaN where F is not determined.
        t_M, M, M_sigma, M_lo, M_hi: the memory grid and M(t) with its band, ``(n_M, s, s)``.
        derived: ``{name: {"value", "sigma", "lo", "hi", "determined"}}``: ``M0_α`` (M^{αα}(0)),
            ``int_M_α`` (∫₀^{t_last} M^{αα} dt), ``M_plateau_α`` (M^{αα}(t_last)) and the closure's
            ``channels``; lo/hi = value ± z σ.
        flags: one-line warnings (unphysical kernel, not at a minimum, too few effective points).
        level, z: the band's coverage and its quantile: Student t with ``extra["t_dof"]`` degrees
            of freedom (the Satterthwaite ν of the noisiest species' variance; → normal for many
            effective points), so a band is value ± z σ.
        correlation: ``"ar1"`` (residual correlation corrected) or ``"none"``.
    """

    labels: list[str]
    theta: np.ndarray
    theta_lo: np.ndarray
    theta_hi: np.ndarray
    sigma_u: np.ndarray
    cov_u: np.ndarray
    pinned: dict[str, str]
    undetermined: list[str]
    directions: list[dict[str, float]]
    singular_values: np.ndarray
    species: tuple[str, ...]
    noise: dict[str, float]
    rho1: dict[str, float]
    n: dict[str, int]
    n_eff: dict[str, float]
    t: np.ndarray
    F: np.ndarray
    F_sigma: np.ndarray
    F_lo: np.ndarray
    F_hi: np.ndarray
    t_M: np.ndarray
    M: np.ndarray
    M_sigma: np.ndarray
    M_lo: np.ndarray
    M_hi: np.ndarray
    derived: dict[str, dict[str, Any]]
    flags: list[str]
    level: float
    z: float
    correlation: str
    rcond: float = RCOND
    method: str = "laplace"
    extra: dict[str, Any] = field(default_factory=dict)

    def interval(self, label: str) -> tuple[float, float]:
        """The ``level`` interval of one parameter (NaN, NaN if pinned or undetermined)."""
        i = self.labels.index(label)
        return float(self.theta_lo[i]), float(self.theta_hi[i])

    def meta(self) -> dict[str, Any]:
        """How the uncertainty was computed (JSON-friendly)."""
        return {
            "method": self.method, "level": self.level, "correlation": self.correlation,
            "rcond": self.rcond, "rho1": self.rho1, "n": self.n, "directions": self.directions,
            "singular_values": self.singular_values.tolist(), "quantile": self.z,
            "t_dof": self.extra.get("t_dof"),
        }  # fmt: skip


def _propagate(G, free, D, cov_s, null_s, null_var, floor):
    """1σ and determinedness of quantities with gradients ``G`` (k, p) in u.

    The variance is G Cov Gᵀ over the determined directions; a quantity is *not determined* when
    the undetermined directions — each given the smallest variance it can have, ``null_var`` —
    would add more than that (or more than ``floor``², for quantities known exactly).
    """
    Gs = G[:, free] / D  # gradient in the scaled coordinates ũ = D u
    var = np.einsum("ki,ij,kj->k", Gs, cov_s, Gs)
    var = np.maximum(var, 0.0)
    if null_s.shape[1]:
        extra = np.sum((Gs @ null_s) ** 2, axis=1) * null_var
        determined = extra <= np.maximum(var, floor**2)
    else:
        determined = np.ones(len(var), bool)
    return np.sqrt(var), determined


def laplace(
    problem: FitProblem,
    x,
    *,
    t_M=None,
    level: float = 0.95,
    correlation: str = "ar1",
    rcond: float = RCOND,
    tol: float = 0.01,
) -> Uncertainty:
    """Gauss-Newton / Laplace uncertainty of a fit at the unconstrained vector ``x``.

    Args:
        problem: the `FitProblem` (closure, target, window, solver).
        x: the fitted unconstrained vector u, shape ``(dim,)``.
        t_M: times of the M(t) band (default: `default_memory_grid`).
        level: coverage of the intervals and bands (z = Φ⁻¹((1 + level)/2)).
        correlation: ``"ar1"`` (inflate by n/n_eff of AR(1) residuals) or ``"none"``.
        rcond: relative singular-value threshold of undetermined directions.
        tol: the pinning tolerance of `pinned_parameters`.

    Raises:
        InputError: a bad option; ValueError: the solve at ``x`` fails.
    """
    if correlation not in CORRELATIONS:
        raise InputError(
            f"uncertainty: correlation={correlation!r}; expected one of {', '.join(CORRELATIONS)}"
        )
    if not 0 < level < 1:
        raise InputError(f"uncertainty: level={level}; expected a coverage in (0, 1)")
    space, labels = problem.space, problem.space.labels()
    x = np.asarray(x, float)
    t_all = np.asarray(problem.target.t, float)
    t_M = default_memory_grid(problem) if t_M is None else np.asarray(t_M, float)
    species = tuple(problem.context.species)[: problem.context.n_species]
    s, p = problem.context.n_species, space.dim
    jac, values, M_fine, t_fine = quantities_at(problem, x, t_M)

    # residuals and Jacobian over the window, pinned parameters held fixed
    w = problem.window
    r = values["F"][w] - problem.F_target  # (n, s)
    pinned = pinned_parameters(space, x, tol)
    free = np.array([i for i, lab in enumerate(labels) if lab not in pinned], int)
    JF = jac["F"][w][..., free]  # (n, s, q)
    n_s, q = r.shape[0], len(free)
    n_tot = n_s * s
    col = np.sqrt(np.sum(JF**2, axis=(0, 1)))
    dead = col <= 1e-12 * (col.max() if q else 1.0)
    D = np.where(dead, 1.0, col)
    Js = np.where(dead, 0.0, JF / D)  # columns of unit norm (or zero: no effect at all)
    if q:
        _, S, Vt = np.linalg.svd(Js.reshape(n_tot, q), full_matrices=False)
    else:
        S, Vt = np.zeros(0), np.zeros((0, 0))
    s_max = float(S[0]) if len(S) else 0.0
    keep = S > rcond * s_max if s_max > 0 else np.zeros(len(S), bool)
    p_eff = int(keep.sum())

    # noise per species, with the correction of residuals correlated along the lag axis
    Vk = Vt[keep].T  # (q, k) determined directions in ũ
    A_pinv = (Vk / S[keep] ** 2) @ Vk.T
    lag = np.abs(np.subtract.outer(np.arange(n_s), np.arange(n_s)))
    rho, var, nu, meat = {}, {}, {}, np.zeros((q, q))
    for a, sp in enumerate(species):
        Ja = Js[:, a]  # (n, q)
        rho[sp], dof, nu[sp] = _fitted_ar1(r[:, a], Ja @ A_pinv @ Ja.T, correlation != "none")
        R = rho[sp] ** lag
        var[sp] = float(np.sum(r[:, a] ** 2)) / max(dof, 0.1 * n_s, 1.0)
        if correlation == "ar1":  # sandwich with the AR(1) correlation matrix R_ij = ρ^|i−j|
            meat += var[sp] * (Ja.T @ R @ Ja)
        else:  # inflation by n/n_eff (``neff``; κ = 1 for ``none``)
            meat += var[sp] * (1.0 + rho[sp]) / (1.0 - rho[sp]) * (Ja.T @ Ja)
    kappa = {sp: (1.0 + rho[sp]) / (1.0 - rho[sp]) for sp in species}
    n_eff = {sp: n_s / kappa[sp] for sp in species}
    # the quantile: Student t with the fewest degrees of freedom of the noise estimates
    dof_t = max(min(nu.values()), 1.0)
    z = float(student_t.ppf(0.5 + level / 2, dof_t))
    cov_s = A_pinv @ meat @ A_pinv
    null_s = Vt[~keep].T  # (q, m)
    noise_var = max(kappa[sp] * var[sp] for sp in species)
    null_var = noise_var / (rcond * s_max) ** 2 if s_max > 0 else math.inf

    cov_u = np.zeros((p, p))
    cov_u[np.ix_(free, free)] = cov_s / np.outer(D, D)
    sigma_u = np.sqrt(np.maximum(np.diag(cov_u), 0.0))

    def propagate(G, floor):
        return _propagate(np.asarray(G).reshape(-1, p), free, D, cov_s, null_s, null_var, floor)

    # θ intervals on each parameter's own scale
    elements = _element_parameters(space)
    theta = np.asarray(values["theta"], float)
    lo_b, hi_b = space.bounds()
    kinds = [interval_scale(e) for e in elements]
    slope = np.array(
        [
            _scale_slope(k, theta[i : i + 1], lo_b[i : i + 1], hi_b[i : i + 1])[0]
            for i, k in enumerate(kinds)
        ]
    )
    sig_g, det_g = propagate(slope[:, None] * jac["theta"], 0.0)
    theta_lo, theta_hi = np.full(p, np.nan), np.full(p, np.nan)
    undetermined = [lab for lab in labels if lab in pinned]
    for i, (k, lab) in enumerate(zip(kinds, labels, strict=True)):
        if lab in pinned:
            continue
        if not det_g[i]:
            undetermined.append(lab)
            continue
        g = _to_scale(k, theta[i : i + 1], lo_b[i : i + 1], hi_b[i : i + 1])[0]
        pair = _from_scale(k, np.array([g - z * sig_g[i], g + z * sig_g[i]]), lo_b[i], hi_b[i])
        theta_lo[i], theta_hi[i] = np.clip(np.sort(pair), lo_b[i], hi_b[i])
        if _spans_range(
            position_scale(elements[i]), theta_lo[i], theta_hi[i], lo_b[i], hi_b[i], tol
        ):
            undetermined.append(lab)  # the data allow (almost) any value of its range
    directions = []
    for v in null_s.T:
        share = v**2 / max(float(np.sum(v**2)), 1e-300)
        top = np.argsort(share)[::-1]
        directions.append(
            {
                labels[free[j]]: round(float(v[j]), 4)
                for j in top
                if share[j] >= 0.25 * share[top[0]]
            }
        )

    # bands of F (all target times) and M (memory grid)
    F_sig, F_det = propagate(jac["F"], 1e-9)
    F_sig, F_det = F_sig.reshape(values["F"].shape), F_det.reshape(values["F"].shape)
    M_scale = float(np.max(np.abs(np.diagonal(values["M"], axis1=1, axis2=2)))) or 1.0
    M_sig, M_det = propagate(jac["M"], 1e-9 * M_scale)
    M_sig, M_det = M_sig.reshape(values["M"].shape), M_det.reshape(values["M"].shape)

    def band(center, sig, det):
        return np.where(det, center - z * sig, np.nan), np.where(det, center + z * sig, np.nan)

    F_lo, F_hi = band(values["F"], F_sig, F_det)
    M_lo, M_hi = band(values["M"], M_sig, M_det)

    derived: dict[str, dict[str, Any]] = {}
    items = [
        (f"{key}_{sp}", values[key][a], jac[key][a])
        for key in ("M0", "int_M", "M_plateau")
        for a, sp in enumerate(species)
    ]
    for name, val in values.get("channels", {}).items():
        vals, grads = np.ravel(val), np.asarray(jac["channels"][name]).reshape(-1, p)
        for j in range(len(vals)):
            items.append((name if len(vals) == 1 else f"{name}[{j}]", vals[j], grads[j]))
    for name, val, grad in items:
        sig, det = propagate(np.asarray(grad)[None], 1e-9 * max(abs(float(val)), 1e-300))
        ok = bool(det[0])
        derived[name] = {
            "value": float(val),
            "sigma": float(sig[0]) if ok else math.inf,
            "lo": float(val - z * sig[0]) if ok else math.nan,
            "hi": float(val + z * sig[0]) if ok else math.nan,
            "determined": ok,
        }

    flags = kernel_flags(t_fine, M_fine, species)
    if q and p_eff:  # a Gauss-Newton step from x, in units of σ: the bars assume a minimum
        Jf = Js.reshape(n_tot, q)
        step_s = -A_pinv @ (Jf.T @ r.reshape(n_tot))
        step_u = step_s / D
        sig_free = sigma_u[free]
        ratio = np.where(sig_free > 0, np.abs(step_u) / np.where(sig_free > 0, sig_free, 1.0), 0.0)
        j = int(np.argmax(ratio))
        if ratio[j] > 1.0:
            flags.append(
                f"not at a minimum: one Gauss-Newton step moves {labels[free[j]]} by {ratio[j]:.1f} σ "
                "(the error bars assume a minimum)"
            )
    n_eff_tot = sum(n_eff.values())
    if p_eff and n_eff_tot < 2 * p_eff:
        flags.append(
            f"few effective points: n_eff = {n_eff_tot:.1f} for {p_eff} determined directions "
            "(the error bars are unreliable)"
        )
    return Uncertainty(
        labels=labels, theta=theta, theta_lo=theta_lo, theta_hi=theta_hi, sigma_u=sigma_u,
        cov_u=cov_u, pinned=pinned, undetermined=undetermined, directions=directions,
        singular_values=S / s_max if s_max > 0 else S, species=species,
        noise={sp: math.sqrt(var[sp]) for sp in species}, rho1=rho,
        n={sp: int(n_s) for sp in species}, n_eff=n_eff,
        t=t_all, F=values["F"], F_sigma=F_sig, F_lo=F_lo, F_hi=F_hi,
        t_M=t_M, M=values["M"], M_sigma=M_sig, M_lo=M_lo, M_hi=M_hi,
        derived=derived, flags=flags, level=level, z=z, correlation=correlation, rcond=rcond,
        extra={"t_dof": dof_t, "nu": nu},
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# into a result
# --------------------------------------------------------------------------------------------


def _finite_or_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def result_fields(problem: FitProblem, x, t_M, **options: Any) -> dict[str, Any]:
    """The uncertainty fields of a `FitResult` for the fit at ``x``.

    Pinned parameters are always reported; when the Laplace approximation fails (a flagged solve,
    a non-finite Jacobian, ...) the flags say ``"uncertainty failed: <reason>"`` and the bands
    are absent. ``options`` go to `laplace`.
    """
    x = np.asarray(x, float)
    pinned = (
        pinned_parameters(problem.space, x, options.get("tol", 0.01))
        if np.all(np.isfinite(x))
        else {}
    )
    try:
        u = laplace(problem, x, t_M=t_M, **options)
    except Exception as exc:  # the measurement of trust never costs the fit
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return {
            "pinned": pinned,
            "undetermined": list(pinned),
            "flags": [f"uncertainty failed: {reason}"],
            "uncertainty": {"method": "laplace", "status": f"failed: {reason}"},
        }
    return {
        "theta_lo": u.theta_lo,
        "theta_hi": u.theta_hi,
        "pinned": u.pinned,
        "undetermined": u.undetermined,
        "flags": u.flags,
        "M_fit_lo": u.M_lo,
        "M_fit_hi": u.M_hi,
        "F_fit_lo": u.F_lo,
        "F_fit_hi": u.F_hi,
        "derived": {k: _finite_or_none(v) for k, v in u.derived.items()},
        "noise": u.noise,
        "n_eff": u.n_eff,
        "uncertainty": u.meta() | {"status": "ok"},
    }
