"""Model-free memory kernel: M(t) by regularised inversion of the integrated memory equation.

Maths (unit mass, F(0) = 1, F'(0) = 0, one species at a time: with self statics Ω² and M are
diagonal). Newtonian dynamics, F'' + Ω² F + ∫₀ᵗ M(t−s) F'(s) ds = 0, integrated twice with
∫₀^τ (τ−v) F'(v) dv = ∫₀^τ (F(v) − 1) dv =: Φ(τ), gives

    F(t) − 1 + Ω² ∫₀ᵗ (t−s) F(s) ds + ∫₀ᵗ M(r) Φ(t−r) dr = 0;

overdamped dynamics (paper Eq. 5), F' + Ω² F + ∫ M F' = 0, integrated once gives

    F(t) − 1 + Ω² ∫₀ᵗ F(s) ds + ∫₀ᵗ M(r) (F(t−r) − 1) dr = 0.

Both are first-kind Volterra equations for M in which the data enter only through integrals of F
(no derivatives of noisy data). M is piecewise linear in ln t on log-spaced nodes τ_j (constant
below τ₀ = t₁/2, up to τ_n = t_n): M(t) = Σ_j m_j b_j(t). One row per data lag gives X x = y with
y_i = 1 − F(t_i), x = (m_j) (and Ω², unpenalised, with ``fit_omega2``), X_ij = ∫ b_j(r) κ(t_i − r) dr
with κ = Φ (Newtonian) or F − 1 (overdamped), plus the Ω² column ∫(t_i − s)F or ∫F; the quadrature of
`._quadrature` resolves κ(u) near r = t_i on a fine log grid whatever the node spacing.

Weights (whitening). The left-hand side R[F; M] is affine in F with linear part
L δF(t) = δF(t) + ∫₀ᵗ K(t−s) δF(s) ds, K(u) = Ω² u + ∫₀ᵘ M (Newtonian) or Ω² + M(u) (overdamped).
Since R[F_M; M] = 0 for the correlator F_M that M produces, R[F; M] = L (F − F_M) exactly: a row
residual mapped back by L⁻¹ and divided by the error of F is the misfit of F in units of its error.
The rows are whitened by L⁻¹, with L built from the previous estimate (a pilot with diagonal
weights 1/(1 + ∫₀ᵗ K) for M = 0, then ``sweeps`` sweeps; isolated spurious modes of the discrete
L are dropped, `_whitening`); at convergence the least-squares problem is a
linearised fit of F itself and the whitened rows carry the (uncorrelated) noise of F. The error of
F is ``F_err`` when given, else σ (1 − F²) with one unknown σ: the variance of cos(k·Δr) over
independent particles with Gaussian Δr is (1 − F²)²/2. With ``noise_correlation`` ρ the F misfits
are further whitened as AR(1) noise in the lag index (Prais-Winsten).

Regularisation: Tikhonov on second differences of m in ln t (the nodes are evenly spaced in ln t),
plus first differences before the first lag (dM/d ln t → 0 as t → 0: M is even in t), minimise
|W(Xx − y)|² + λ |D m|². λ maximises the marginal likelihood of the data (Tikhonov read as
a Gaussian prior; σ profiled out when ``F_err`` is not given). Why not GCV: the data enter the design
X as well as y, so at small λ a wildly oscillating M fits the noise through the noisy X; GCV then
picks the smallest λ on molecular-dynamics data, while the marginal likelihood's Occam factor does
not (on synthetic data with white noise both agree). ``rule`` selects GCV, the discrepancy principle
(with ``F_err``) or the L-curve instead; ``lam`` fixes λ.

Band: M ± 2 posterior standard deviations, C = σ² (JᵀJ + λDᵀD)⁻¹ (J = W X; Wahba's Bayesian
interval, which also covers the regularisation bias on average), σ² = 1 with ``F_err``, else the
profiled σ̂² = (|r|² + λ|Dm|²)/(n − n_free).

Reliability: node j is ``reliable`` when (i) t₁ ≤ τ_j ≤ t_n/2: before the first lag M enters F at
order t⁴ only (Φ ∝ t³), and near the end of the window only rows with Φ(t_n − τ_j) ≈ 0 see it;
(ii) the data determine it: the resolution matrix R = (JᵀJ + λDᵀD)⁻¹ JᵀJ, summed over the nodes
within ±0.5 in ln t of τ_j, is ≥ 1/2 (at least half the estimate comes from M near τ_j, not from
the prior); (iii) the band is narrow, 2σ_j + 10⁻⁴ max|M| ≤ |M_j| / 4 (the second term is a floor for the
accuracy of the quadrature, measured at ~10⁻⁵ max|M| on noise-free data); (iv) the node belongs
to a run of such nodes spanning at least 0.5 in ln t (a factor 1.65 in t): isolated nodes amid
noise are not trusted. (iii) ends the window once F has decayed into its noise, where M no longer
changes F.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np

from memplug.errors import InputError
from memplug.plugins.inversion._quadrature import Correlator, convolution_matrix, hat_weights
from memplug.plugins.inversion._regularise import RULES, Regularised, choose

DYNAMICS = ("newtonian", "overdamped")
#: reliability thresholds (module docstring)
RESOLUTION_MIN = 0.5
RESOLUTION_WINDOW = 0.5
BAND_MAX = 0.25
#: accuracy of the quadrature and interpolation relative to max |M| (measured ~1e-5 noise-free)
NUMERICAL_FLOOR = 1e-4
#: reliable runs shorter than this in ln t are dropped (isolated nodes amid noise)
RUN_MIN = 0.5
#: singular values of L below this are dropped from its inverse (see `_whitening`)
L_CUT = 1e-2


@dataclass(frozen=True)
class InvertedMemory:
    """Model-free memory kernel from the inversion of the memory equation, per species.

    Attributes:
        t_M: node times, shape ``(n,)`` (log-spaced; M is linear in ln t between them and
            constant below the first).
        M: memory kernel M^{αα}(t_M), shape ``(n, s)`` (1/time², Newtonian; 1/time, overdamped).
        M_lo, M_hi: the band M ∓ 2 posterior standard deviations, shape ``(n, s)``.
        reliable: where the inversion resolves M, shape ``(n, s)`` (module docstring).
        lam: chosen λ per species (relative to |J|²/|D|²), shape ``(s,)``.
        residual: rms whitened residual per species, shape ``(s,)``: the F misfit in units of the
            noise shape 1 − F² (≈ σ) without ``F_err``, χ per point with it.
        sigma: noise level σ̂ of F in units of the noise shape 1 − F² (estimated) without
            ``F_err``; 1 with it; shape ``(s,)``.
        omega2: Ω² used per species (given, or fitted with ``fit_omega2``), shape ``(s,)``.
        omega2_given: the Ω² passed in, shape ``(s,)``.
        omega2_err: standard deviation of a fitted Ω² (0 when fixed), shape ``(s,)``.
        dynamics: ``"newtonian"`` or ``"overdamped"``.
        rule: how λ was chosen (``evidence``, ``gcv``, ``discrepancy``, ``lcurve`` or ``fixed``).
        t: lags of the data, shape ``(n_t,)``; F: the data, shape ``(n_t, s)``.
        F_fit: the linearised correlator of the estimate, F − L⁻¹ R[F; M], shape ``(n_t, s)``.
        info: diagnostics: ``resolution`` (n, s), ``dropped`` modes of L, the λ ``scan`` per species.
    """

    t_M: np.ndarray
    M: np.ndarray
    M_lo: np.ndarray
    M_hi: np.ndarray
    reliable: np.ndarray
    lam: np.ndarray
    residual: np.ndarray
    sigma: np.ndarray
    omega2: np.ndarray
    omega2_given: np.ndarray
    omega2_err: np.ndarray
    dynamics: str
    rule: str
    t: np.ndarray
    F: np.ndarray
    F_fit: np.ndarray
    info: dict = field(default_factory=dict)

    def window(self, species: int = 0) -> tuple[int, int] | None:
        """(first, last) index of the reliable nodes of one species, or None."""
        idx = np.flatnonzero(self.reliable[:, species])
        return (int(idx[0]), int(idx[-1])) if idx.size else None

    def integral(self, species: int = 0, reliable_only: bool = True) -> float:
        """∫ M dt of one species (trapezoid on the nodes) over the reliable window (first to last
        reliable node; NaN with fewer than two) or from 0 to t_n."""
        m, tm = self.M[:, species], self.t_M
        if not reliable_only:
            return float(tm[0] * m[0] + np.trapezoid(m, tm))
        w = self.window(species)
        if w is None or w[1] == w[0]:
            return float("nan")
        return float(np.trapezoid(m[w[0] : w[1] + 1], tm[w[0] : w[1] + 1]))


def noise_shape(F: np.ndarray) -> np.ndarray:
    """Relative standard error of a self correlator averaged over independent particles: the
    variance of cos(k·Δr) for Gaussian Δr is (1 − F²)²/2, so σ_F ∝ 1 − F² (floored at 1e-6)."""
    return np.maximum(np.abs(1.0 - F**2), 1e-6)


def _check(t, F, omega2, dynamics, F_err, n_nodes, lam, sweeps, rule):
    t = np.asarray(t, float)
    if t.ndim != 1 or t.size < 8:
        raise InputError(f"t: expected a 1-d array of at least 8 lags, got shape {t.shape}")
    if not np.all(np.isfinite(t)) or t[0] <= 0 or np.any(np.diff(t) <= 0):
        raise InputError("t: expected finite lags > 0, strictly increasing (t = 0 is implied)")
    F = np.asarray(F, float)
    F = F[:, None] if F.ndim == 1 else F
    if F.ndim != 2 or F.shape[0] != t.size:
        raise InputError(
            f"F: expected shape ({t.size},) or ({t.size}, s) to match t, got {F.shape}"
        )
    if not np.all(np.isfinite(F)):
        raise InputError("F: expected finite values")
    if np.any(F[0] >= 1):
        raise InputError("F: expected F(t_1) < 1 at the first lag (F(0) = 1 is implied)")
    s = F.shape[1]
    om = np.asarray(omega2, float)
    if om.ndim == 2 and om.shape == (s, s) and not np.any(om - np.diag(np.diag(om))):
        om = np.diag(om)
    if om.ndim > 1 or om.size not in (1, s) or not np.all(np.isfinite(om)) or np.any(om <= 0):
        raise InputError(
            f"omega2: expected positive value(s): a scalar, ({s},) or a diagonal ({s}, {s})"
        )
    om = np.broadcast_to(om, (s,)).astype(float)
    if dynamics not in DYNAMICS:
        raise InputError(f"dynamics {dynamics!r}: expected one of {', '.join(DYNAMICS)}")
    if F_err is not None:
        F_err = np.asarray(F_err, float)
        F_err = F_err[:, None] if F_err.ndim == 1 else F_err
        try:
            F_err = np.broadcast_to(F_err, F.shape).astype(float)
        except ValueError:
            raise InputError(
                f"F_err: expected the shape of F {F.shape}, got {F_err.shape}"
            ) from None
        if not np.all(np.isfinite(F_err)) or np.any(F_err <= 0):
            raise InputError("F_err: expected positive finite errors")
    if (
        isinstance(n_nodes, bool)
        or not isinstance(n_nodes, int | np.integer)
        or not 8 <= n_nodes <= 1000
    ):
        raise InputError(f"n_nodes: expected an integer in 8..1000, got {n_nodes!r}")
    if lam is not None and not (isinstance(lam, int | float) and np.isfinite(lam) and lam > 0):
        raise InputError(f"lam: expected a positive number, got {lam!r}")
    if isinstance(sweeps, bool) or not isinstance(sweeps, int) or sweeps < 0:
        raise InputError(f"sweeps: expected an integer >= 0, got {sweeps!r}")
    if rule not in RULES:
        raise InputError(f"rule {rule!r}: expected one of {', '.join(RULES)}")
    if rule == "discrepancy" and F_err is None:
        raise InputError("rule 'discrepancy': needs F_err (the noise level)")
    return t, F, om, F_err


def _one_thread():
    """Single-threaded BLAS for the small dense algebra here (threads only contend on busy cores)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional
        return contextlib.nullcontext()
    return threadpool_limits(1)


def invert_memory(
    t: np.ndarray,
    F: np.ndarray,
    omega2,
    dynamics: str = "newtonian",
    F_err: np.ndarray | None = None,
    n_nodes: int = 120,
    lam: float | None = None,
    fit_omega2: bool = False,
    sweeps: int = 3,
    rule: str = "evidence",
    noise_correlation: float = 0.0,
) -> InvertedMemory:
    """M(t) per species from F(t) by regularised inversion of the memory equation (module docstring).

    Args:
        t: lags, shape ``(n_t,)``, > 0 and strictly increasing (time units).
        F: correlators F^{αα}(t), shape ``(n_t,)`` or ``(n_t, s)``; F(0) = 1 is implied.
        omega2: Ω² per species: scalar, ``(s,)`` or a diagonal ``(s, s)`` matrix (1/time²).
        dynamics: ``"newtonian"`` (F'' + Ω²F + ∫M F' = 0) or ``"overdamped"`` (F' + Ω²F + ∫M F' = 0).
        F_err: standard errors of F, shape of F (or broadcastable); default σ (1 − F²), σ unknown.
        n_nodes: nodes of M, log-spaced from t₁/2 to t_n.
        lam: fixed λ (relative to |J|²/|D|²); default: chosen by ``rule``.
        fit_omega2: make Ω² an unknown of the linear system, determined by the data's own
            short-time curvature (MD data: the sampled kinetic energy differs from k²T by a few %,
            which the short-time M cannot absorb).
        sweeps: whitening sweeps after the pilot (0: pilot weights only).
        rule: ``evidence`` (default), ``gcv``, ``discrepancy`` (needs ``F_err``) or ``lcurve``.
        noise_correlation: lag-1 correlation ρ of the noise of F between consecutive lags (AR(1)
            in the lag index; 0: independent). MD correlators share their time origins, so their
            noise is correlated (ρ ≈ 0.7 measured from fit residuals, docs/fitting.md): a larger ρ
            widens the band and raises λ.
    """
    t, F, om, F_err = _check(t, F, omega2, dynamics, F_err, n_nodes, lam, sweeps, rule)
    if not isinstance(noise_correlation, int | float) or not 0 <= noise_correlation < 0.99:
        raise InputError(f"noise_correlation: expected 0 <= ρ < 0.99, got {noise_correlation!r}")
    nodes = np.geomspace(t[0] / 2, t[-1], int(n_nodes))
    with _one_thread():
        out = [
            _invert_one(
                t,
                F[:, a],
                om[a],
                dynamics,
                None if F_err is None else F_err[:, a],
                nodes,
                lam,
                fit_omega2,
                sweeps,
                rule,
                float(noise_correlation),
            )
            for a in range(F.shape[1])
        ]
    stack = lambda key: np.stack([o[key] for o in out], axis=-1)  # noqa: E731
    return InvertedMemory(
        t_M=nodes,
        M=stack("M"),
        M_lo=stack("lo"),
        M_hi=stack("hi"),
        reliable=stack("reliable"),
        lam=stack("lam"),
        residual=stack("residual"),
        sigma=stack("sigma"),
        omega2=stack("omega2"),
        omega2_given=om.copy(),
        omega2_err=stack("omega2_err"),
        dynamics=dynamics,
        rule="fixed" if lam is not None else rule,
        t=t,
        F=F,
        F_fit=stack("F_fit"),
        info={
            "resolution": stack("resolution"),
            "dropped": stack("dropped"),
            "scan": [o["scan"] for o in out],
            "sweeps": sweeps,
        },
    )


# ------------------------------------------------------------------------------------------------


def _invert_one(
    t, F, om2_given, dynamics, F_err, nodes, lam, fit_omega2, sweeps, rule, rho
) -> dict:
    cor = Correlator(t, F, power=2 if dynamics == "newtonian" else 1)
    n_t, n = t.size, nodes.size
    if dynamics == "newtonian":
        kappa, I_om = cor.Phi, cor.integral_tF(t)
    else:
        kappa, I_om = (lambda u: -cor.G(u)), cor.integral_F(t)
    A = convolution_matrix(t, nodes, kappa, cor.grid, below="flat")
    y = cor.G_data
    if fit_omega2:
        X, z0, k0 = np.concatenate([I_om[:, None], A], axis=1), y, 1
    else:
        X, z0, k0 = A, y - om2_given * I_om, 0
    P = _penalty(nodes, t[0])
    D = np.concatenate([np.zeros((P.shape[0], k0)), P], axis=1)
    sigma_F = noise_shape(F) if F_err is None else F_err
    m, om2, dropped = np.zeros(n), om2_given, 0
    Wr = _ar1_whitening(n_t, rho)
    # pilot: diagonal weights, |L| ≈ 1 + ∫₀ᵗ K for M = 0
    Linv = np.diag(1.0 / (1.0 + (0.5 * om2 * t**2 if dynamics == "newtonian" else om2 * t)))
    for sweep in range(sweeps + 1):
        if sweep > 0:
            Linv, dropped = _whitening(_response_matrix(cor, t, nodes, m, om2, dynamics))
        reg = Regularised(Wr @ ((Linv @ X) / sigma_F[:, None]), Wr @ ((Linv @ z0) / sigma_F), D)
        scan = reg.scan()
        lam_rel = float(lam) if lam is not None else choose(reg, scan, rule, F_err is not None)
        x, r, _ = reg.solve(lam_rel)
        m = x[k0:]
        om2 = float(x[0]) if fit_omega2 else om2_given
    n_free = int(scan["n_free"])
    sigma2 = 1.0 if F_err is not None else reg.penalised(lam_rel) / max(n_t - n_free, 1)
    sd = np.sqrt(np.clip(np.diag(reg.covariance(lam_rel)) * sigma2, 0, None))
    R = reg.resolution(lam_rel)[k0:, k0:]
    lnt = np.log(nodes)
    near = np.abs(lnt[:, None] - lnt[None, :]) <= RESOLUTION_WINDOW
    resolution = np.sum(np.where(near, R, 0.0), axis=1)
    sd_m = sd[k0:]
    reliable = _drop_short_runs(
        (nodes >= t[0])
        & (nodes <= t[-1] / 2)
        & (resolution >= RESOLUTION_MIN)
        & (2 * sd_m + NUMERICAL_FLOOR * np.max(np.abs(m)) <= BAND_MAX * np.abs(m)),
        lnt,
    )
    Lw, _ = _whitening(_response_matrix(cor, t, nodes, m, om2, dynamics))
    return {
        "M": m,
        "lo": m - 2 * sd_m,
        "hi": m + 2 * sd_m,
        "reliable": reliable,
        "lam": lam_rel,
        "residual": float(np.sqrt(np.mean(r**2))),
        "sigma": float(np.sqrt(sigma2)),
        "omega2": om2,
        "omega2_err": float(sd[0]) if fit_omega2 else 0.0,
        "F_fit": F - Lw @ (X @ x - z0),  # F_M = F − L⁻¹ R[F; M], R = X x − y
        "resolution": resolution,
        "dropped": dropped,
        "scan": scan,
    }


def _response_matrix(cor: Correlator, t: np.ndarray, nodes, m, om2, dynamics) -> np.ndarray:
    """L_ik = δ_ik + ∫₀^{t_i} K(t_i − s) h_k(s) ds on the data lags (hats h_k; below t₁ the first
    follows the short-time law of δF, ∝ t² Newtonian, ∝ t overdamped)."""
    h = np.diff(np.log(nodes))
    dm = np.diff(m)
    a, b = nodes[:-1], nodes[1:]
    # ∫_a^u M for M linear in ln r on [a, b]: m_a (u − a) + (Δm / h) (u ln(u/a) − u + a)
    cell = m[:-1] * (b - a) + dm / h * (b * np.log(b / a) - b + a)
    cum = np.concatenate([[nodes[0] * m[0]], nodes[0] * m[0] + np.cumsum(cell)])

    def int_M(u):  # ∫₀ᵘ M, exact for the memory of the nodes (constant below, last value beyond)
        k = np.clip(np.searchsorted(nodes, u, side="right") - 1, 0, nodes.size - 2)
        uu = np.clip(u, nodes[k], nodes[k + 1])
        part = m[k] * (uu - nodes[k]) + dm[k] / h[k] * (uu * np.log(uu / nodes[k]) - uu + nodes[k])
        val = np.where(u < nodes[0], m[0] * u, cum[k] + part)
        return np.where(u > nodes[-1], cum[-1] + m[-1] * (u - nodes[-1]), val)

    def M_of(u):
        k, wl, wr = hat_weights(nodes, u, "flat")
        return m[k] * wl + m[k + 1] * wr

    if dynamics == "newtonian":
        K = lambda u: om2 * u + int_M(u)  # noqa: E731
    else:
        K = lambda u: om2 + M_of(u)  # noqa: E731
    u_breaks = np.unique(np.concatenate([cor.grid, nodes]))
    below = "ballistic" if dynamics == "newtonian" else "linear"
    return np.eye(t.size) + convolution_matrix(t, t, K, u_breaks, below=below)


def _whitening(L: np.ndarray) -> tuple[np.ndarray, int]:
    """L⁻¹ by SVD without the singular values below `L_CUT`, and their number.

    L = 1 + K∗ discretised on the data lags: where the lag spacing is far beyond the period of the
    response (late lags of a correlator with a long memory plateau) it can have an isolated
    near-zero singular value, a spurious mode (the continuous operator's inverse is bounded).
    Dropping it keeps the weights finite at the cost of one row of information.
    """
    U, S, Vt = np.linalg.svd(L)
    keep = S >= L_CUT
    return (Vt[keep].T / S[keep]) @ U[:, keep].T, int(np.sum(~keep))


def _drop_short_runs(mask: np.ndarray, lnt: np.ndarray) -> np.ndarray:
    """``mask`` without its runs of consecutive True that span less than `RUN_MIN` in ln t."""
    out = mask.copy()
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
    for a, b in zip(edges[::2], edges[1::2], strict=True):  # run = [a, b)
        if lnt[b - 1] - lnt[a] < RUN_MIN:
            out[a:b] = False
    return out


def _ar1_whitening(n: int, rho: float) -> np.ndarray:
    """Prais-Winsten transform of AR(1) noise with lag-1 correlation ρ (in the lag index) to white
    noise of the same variance: u₀ = e₀, u_i = (e_i − ρ e_{i−1}) / √(1 − ρ²)."""
    W = np.eye(n)
    if rho:
        c = 1.0 / np.sqrt(1.0 - rho**2)
        W[np.arange(1, n), np.arange(1, n)] = c
        W[np.arange(1, n), np.arange(n - 1)] = -rho * c
    return W


def _penalty(nodes: np.ndarray, t1: float) -> np.ndarray:
    """Second differences of m (in ln t: the nodes are evenly spaced in ln t), plus first differences
    between the nodes before the first lag t₁: M is even in t (Newtonian) or analytic (overdamped)
    near 0, so dM/d ln t → 0 there, while the second differences alone would extrapolate the slope
    of the first resolved nodes into M(t → 0)."""
    n = nodes.size
    D = np.zeros((n - 2, n))
    i = np.arange(n - 2)
    D[i, i], D[i, i + 1], D[i, i + 2] = 1.0, -2.0, 1.0
    k = np.flatnonzero(nodes[1:] <= t1)
    D1 = np.zeros((k.size, n))
    D1[np.arange(k.size), k], D1[np.arange(k.size), k + 1] = -1.0, 1.0
    return np.concatenate([D, D1])
