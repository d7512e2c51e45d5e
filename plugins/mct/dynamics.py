"""MCT dynamics: collective, tagged and MSD equations, solved with the core time-doubling solver.

Equations (memplug form α F'' + β F' + Ω² F + ∫ K F' = 0, matrices from the left; see
`memplug.plugins.mct.kernels` for K):

- collective: F(k, 0) = S(k), Ω²(k) = k² diag(D_α x_α) S⁻¹(k);
- tagged:     F_s(k, 0) = 1,   Ω_s²(k) = k² D_α;
- overdamped (paper Eq. 5): α = 0, β = 1, D_α = T/ζ_α;  Newtonian: α = 1, β = 0, D_α = T/m_α.

The tagged kernel needs the collective F at the same time, so collective and tagged correlators are
stacked into one equation of shape ``(2 n_k + n_probe, s, s)`` and iterated together. The MSD obeys
(k → 0 limit of the tagged equation)

    α δr²'' + β δr²' + ∫ K_msd(t−τ) δr²'(τ) dτ = 6 D_α,
    K_msd^α(t) = D_α ρ/(6π²) ∫ dq q⁴ Σ_βγ c_αβ(q) c_αγ(q) F_βγ(q,t) F_s^α(q,t),

solved afterwards with K_msd known (an explicit kernel). The constant source 6 D_α is carried
exactly by a 2×2 embedding: Y = [[δr², 0], [L, 0]], Ω² = [[0, −6D_α/L], [0, 0]], M = [[K_msd, 0], [0, 0]]
keeps Y₂₁ = L constant, so the first row is the MSD equation.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from memplug.equation import MemoryEquation
from memplug.errors import InputError
from memplug.interfaces import Context
from memplug.plugins.mct.kernels import (
    MCTKernel,
    MCTStatics,
    TabulatedKernel,
    make_statics,
    mobility,
)
from memplug.solvers import TimeDoublingSolver

MSD_SCALE = 1e3  # L of the MSD embedding


def default_solver(
    t_max: float = 1e10, N: int = 16, dt0: float = 1e-6, tol: float = 1e-10
) -> TimeDoublingSolver:
    """Time-doubling settings used for MCT unless given (blocks of 4N points, ~log2(t_max/dt0) blocks)."""
    return TimeDoublingSolver(N=N, dt0=dt0, t_max=t_max, tol=tol, max_iter=10_000)


def _coefficients(dynamics: str) -> tuple[float, float]:
    if dynamics == "overdamped":
        return 0.0, 1.0
    if dynamics == "newtonian":
        return 1.0, 0.0
    raise InputError(f"dynamics {dynamics!r}; expected overdamped or newtonian")


def collective_omega2(statics: MCTStatics, D) -> np.ndarray:
    """Ω²(k) = k² diag(D_α x_α) S⁻¹(k), shape (n_k, s, s)."""
    J = statics.k[:, None] ** 2 * (np.asarray(D) * statics.x)[None, :]
    return J[:, :, None] * np.linalg.inv(statics.S)


def collective_equation(statics: MCTStatics, D, dynamics: str = "overdamped") -> MemoryEquation:
    """The collective MCT equation for F^{αβ}(k, t) on the grid, F0 = S."""
    a, b = _coefficients(dynamics)
    return MemoryEquation(a, b, collective_omega2(statics, D), statics.S, MCTKernel(statics, D))


def joint_equation(
    statics: MCTStatics, D, dynamics: str = "overdamped", k_probe=()
) -> MemoryEquation:
    """Collective + tagged (+ tagged at probe wave numbers) in one equation (see module docstring)."""
    a, b = _coefficients(dynamics)
    s, n = statics.n_species, statics.n_k
    D = np.broadcast_to(np.asarray(D, float), (s,))
    kp = np.atleast_1d(np.asarray(k_probe, float))
    eye = np.eye(s)
    ks = np.concatenate([statics.k, kp])
    gamma = np.concatenate(
        [collective_omega2(statics, D), ks[:, None, None] ** 2 * (D * eye)[None]]
    )
    F0 = np.concatenate([statics.S, np.broadcast_to(eye, (n + kp.size, s, s))])
    return MemoryEquation(a, b, gamma, F0, MCTKernel(statics, D, tagged=True, k_probe=kp))


@dataclass
class MCTSolution:
    """MCT correlators and memory kernels on the solver's time grid.

    Shapes: ``t`` (n_t,); ``F``, ``K`` (n_t, n_k, s, s) collective; ``Fs``, ``Ks`` (n_t, n_k, s)
    tagged; ``Fs_probe``, ``Ks_probe`` (n_t, n_probe, s) tagged at ``k_probe``; ``msd`` (n_t, s) or
    None. ``status`` is the solver's bit flags (0 = ok), ``describe`` its text.
    """

    t: np.ndarray
    k: np.ndarray
    F: np.ndarray
    K: np.ndarray
    Fs: np.ndarray | None
    Ks: np.ndarray | None
    k_probe: np.ndarray
    Fs_probe: np.ndarray | None
    Ks_probe: np.ndarray | None
    msd: np.ndarray | None
    status: int
    describe: str
    dynamics: str
    D: np.ndarray


def _diag(a):
    return np.diagonal(a, axis1=-2, axis2=-1)


def solve_mct(
    statics: MCTStatics,
    D,
    dynamics: str = "overdamped",
    *,
    tagged: bool = True,
    k_probe=(),
    msd: bool = False,
    solver: TimeDoublingSolver | None = None,
) -> MCTSolution:
    """Solve collective (and tagged, probe, MSD) MCT dynamics."""
    solver = solver or default_solver()
    s, n = statics.n_species, statics.n_k
    D = np.broadcast_to(np.asarray(D, float), (s,)).copy()
    kp = np.atleast_1d(np.asarray(k_probe, float))
    if (kp.size or msd) and not tagged:
        raise InputError("MCT solve: probes and the MSD need the tagged equation (tagged=True)")
    if tagged:
        sol = solver.solve(joint_equation(statics, D, dynamics, kp))
    else:
        sol = solver.solve(collective_equation(statics, D, dynamics))
    F_all, K_all = np.asarray(sol.F), np.asarray(sol.M)
    out = MCTSolution(
        t=np.asarray(sol.t),
        k=statics.k,
        F=F_all[:, :n],
        K=K_all[:, :n],
        Fs=_diag(F_all[:, n : 2 * n]) if tagged else None,
        Ks=_diag(K_all[:, n : 2 * n]) if tagged else None,
        k_probe=kp,
        Fs_probe=_diag(F_all[:, 2 * n :]) if tagged else None,
        Ks_probe=_diag(K_all[:, 2 * n :]) if tagged else None,
        msd=None,
        status=int(sol.status),
        describe=sol.describe(),
        dynamics=dynamics,
        D=D,
    )
    if msd:
        out.msd, msd_status = solve_msd(statics, D, dynamics, out, solver)
        out.status |= msd_status
    return out


def msd_memory(statics: MCTStatics, D, F, Fs) -> np.ndarray:
    """K_msd^α(t) (n_t, s) from collective F (n_t, n_k, s, s) and tagged F_s (n_t, n_k, s)."""
    c = statics.c
    X = np.einsum("kab,tkbc,kcd->tkad", c, F, c)
    w = statics.k**4 * statics.dk
    return (
        np.asarray(D)[None]
        * statics.rho
        / (6 * np.pi**2)
        * np.einsum("k,tks,tks->ts", w, _diag(X), Fs)
    )


def solve_msd(statics: MCTStatics, D, dynamics: str, sol: MCTSolution, solver: TimeDoublingSolver):
    """δr²_α(t) on ``sol.t`` (same solver grid) from the exact 2×2 embedding; returns (msd, status)."""
    a, b = _coefficients(dynamics)
    s = statics.n_species
    Kmsd = msd_memory(statics, D, sol.F, sol.Fs)  # (n_t, s)
    table = np.zeros(Kmsd.shape + (2, 2))
    table[..., 0, 0] = Kmsd
    F0 = np.zeros((s, 2, 2))
    F0[:, 1, 0] = MSD_SCALE
    gamma = np.zeros((s, 2, 2))
    gamma[:, 0, 1] = -6.0 * np.asarray(D) / MSD_SCALE
    eq = MemoryEquation(a, b, gamma, F0, TabulatedKernel(sol.t, table))
    res = solver.solve(eq)
    if not np.allclose(np.asarray(res.t), sol.t):  # pragma: no cover - same solver, same grid
        raise AssertionError("MSD solve on a different time grid")
    return np.asarray(res.F)[:, :, 0, 0], int(res.status)


# --------------------------------------------------------------------------------------------
# from a Context
# --------------------------------------------------------------------------------------------


def context_below_box(context: Context) -> np.ndarray | None:
    """Grid points of a simulated state below 2π/L: ``extra["k_below_box"]`` if given, else from the
    box of ``extra["N"]`` particles at density ρ (L = (N/ρ)^⅓); None for analytic statics."""
    from memplug.plugins.mct.small_k import below_box, box_length

    if context.extra.get("k_below_box") is not None:
        return np.asarray(context.extra["k_below_box"], bool)
    if context.extra.get("N") and context.rho:
        return below_box(context.k, box_length(float(context.extra["N"]), float(context.rho)))
    return None


def statics_from_context(context: Context, small_k: str = "quadratic") -> MCTStatics:
    """MCT statics of a context; for simulated states the points below 2π/L are replaced by the
    small-k continuation of c(k) (`memplug.plugins.mct.small_k`; ``small_k="keep"`` keeps them)."""
    from memplug.plugins.mct.small_k import continue_small_k

    context.require("k", "S", "rho")
    x = context.x if context.x is not None else np.full(context.n_species, 1.0 / context.n_species)
    S = np.asarray(context.S, float).reshape(len(context.k), context.n_species, context.n_species)
    flagged = context_below_box(context)
    if flagged is None:
        return make_statics(context.k, S, context.rho, x)
    where = f"state {context.extra.get('state', '?')}"
    S = continue_small_k(context.k, S, flagged, context.rho, x, method=small_k, where=where)
    try:
        return make_statics(context.k, S, context.rho, x)
    except InputError as err:
        raise InputError(f"{where}: {err}") from None


def mobility_from_context(context: Context, friction=None) -> np.ndarray:
    context.require("T")
    return mobility(context.T, context.dynamics, context.masses, friction, context.n_species)


def solve_context(
    context: Context, solver: TimeDoublingSolver | None = None, *, msd: bool = False
) -> MCTSolution:
    """Collective + tagged MCT for a context, with a probe at k_peak; cached in ``context.extra``."""
    context.require("k_peak")
    solver = solver or default_solver()
    key = ("mct-solution", solver, bool(msd), context.fingerprint())
    cache = context.extra.setdefault("_mct_cache", {})
    if key not in cache:
        st = statics_from_context(context)
        cache[key] = solve_mct(
            st,
            mobility_from_context(context),
            context.dynamics,
            k_probe=[context.k_peak],
            msd=msd,
            solver=solver,
        )
    return cache[key]


def mct_self_memory(context: Context, t, *, solver: TimeDoublingSolver | None = None):
    """Tagged-particle MCT memory and correlator at k_peak, interpolated onto times ``t``.

    Returns ``(M, Fs)``, both of shape ``(len(t), s, s)`` and diagonal in the species: M^{αα}(t) is
    K_s^α(k_peak, t), the memory of the paper's Eq. 5 (overdamped: α = 0, β = 1, Ω² = k_peak² T/ζ;
    Newtonian by ``context.dynamics``), and Fs^{αα}(t) its solution with F_s(0) = 1. The full MCT
    solve is done once per context (cached in ``context.extra``).
    """
    from memplug.solution import interpolate

    sol = solve_context(context, solver)
    t = jnp.atleast_1d(jnp.asarray(t, dtype=float))
    tt = jnp.asarray(sol.t)
    M = np.asarray(interpolate(tt, jnp.asarray(sol.Ks_probe[:, 0]), t))
    Fs = np.asarray(interpolate(tt, jnp.asarray(sol.Fs_probe[:, 0]), t))
    eye = np.eye(context.n_species)
    return M[:, :, None] * eye, Fs[:, :, None] * eye
