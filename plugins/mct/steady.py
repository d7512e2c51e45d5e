"""Long-time limit of MCT: nonergodicity parameters, the critical point, and the exponent λ.

For t → ∞ the collective equation gives Ω² f + K[f](f − S) = 0, i.e. with K = diag(k²D x) m,

    f(k) = S(k) − [S⁻¹(k) + m[f](k)]⁻¹,

independent of the dynamics (D, Newtonian or overdamped). Iterating from f = S converges
monotonically to the largest solution, the physical one (Götze's maximum theorem); the glass has
f ≠ 0, the liquid f = 0. The tagged parameters follow from f_s = m_s/(1 + m_s), m_s = K_s/(k²D).

The exponent parameter λ comes from the stability operator at the critical point,
C[δ] = (S − f) m'[f; δ] (S − f), whose largest eigenvalue is 1 there. With the right eigenvector e
and the left eigenvector ê (a linear functional ℓ on symmetric matrix fields) normalised by
ℓ(e) = 1 and ℓ(e (S − f)⁻¹ e) = 1,

    λ = ℓ((S − f) m[e] (S − f))      (m is quadratic: m[e] = ½ m''[e, e]).

(One-component check: f/(1−f) = 𝓕[f] gives Götze's λ = Σ_q ê_q (1−f_q)³ 𝓕_q[e] ...; the schematic
F2 model at v = 4 gives λ = 1/2.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from memplug.errors import InputError
from memplug.plugins.mct.grid import triangle_sums  # noqa: F401  (re-export for users)
from memplug.plugins.mct.kernels import (
    MCTStatics,
    collective_integral,
    tagged_integral,
)


def _memory_fn(k, c, pref):
    """m[F] (Götze-normalised collective memory) as a closure over the statics arrays."""

    def m(F):
        return pref * collective_integral(F, c, k)

    return m


def _arrays(statics: MCTStatics):
    k = jnp.asarray(statics.k)
    c = jnp.asarray(statics.c)
    x = statics.x
    pref = jnp.asarray(
        statics.rho
        * statics.dk**2
        / (32 * np.pi**2)
        / np.outer(x, x)[None]
        / statics.k[:, None, None] ** 2
    )
    pref_s = jnp.asarray(statics.rho * statics.dk**2 / (16 * np.pi**2) / statics.k[:, None] ** 2)
    return k, c, pref, pref_s


@jax.jit
def _iterate(S, k, c, pref, tol, max_iter):
    Sinv = jnp.linalg.inv(S)
    m = _memory_fn(k, c, pref)

    def cond(state):
        _, it, err = state
        return (err > tol) & (it < max_iter)

    def body(state):
        f, it, _ = state
        fn = S - jnp.linalg.inv(Sinv + m(f))
        fn = 0.5 * (fn + jnp.swapaxes(fn, 1, 2))
        err = jnp.max(jnp.abs(fn - f))
        return fn, it + 1, jnp.where(jnp.isfinite(err), err, 0.0)

    return jax.lax.while_loop(cond, body, (S, 0, jnp.inf))


@jax.jit
def _iterate_tagged(f, k, c, pref_s, tol, max_iter):
    X = jnp.einsum("kab,kbc,kcd->kad", c, f, c)
    Xd = jnp.diagonal(X, axis1=1, axis2=2)

    def cond(state):
        _, it, err = state
        return (err > tol) & (it < max_iter)

    def body(state):
        fs, it, _ = state
        ms = pref_s * tagged_integral(Xd, fs, k)
        fn = ms / (1.0 + ms)
        err = jnp.max(jnp.abs(fn - fs))
        return fn, it + 1, jnp.where(jnp.isfinite(err), err, 0.0)

    return jax.lax.while_loop(cond, body, (jnp.ones_like(Xd), 0, jnp.inf))


@dataclass
class Nonergodicity:
    """Long-time limits at one state point.

    Attributes:
        f: collective f^{αβ}(k), shape ``(n_k, s, s)`` (same normalisation as S).
        fs: tagged f_s^{α}(k), shape ``(n_k, s)``.
        glass: whether f ≠ 0 (max_k f^{αα}/S^{αα} > ``threshold``).
        iterations, converged: of the collective iteration.
    """

    f: np.ndarray
    fs: np.ndarray
    glass: bool
    iterations: int
    converged: bool
    residual: float


def nonergodicity(
    statics: MCTStatics,
    *,
    tol: float = 1e-12,
    max_iter: int = 1_000_000,
    threshold: float = 1e-4,
    tagged: bool = True,
) -> Nonergodicity:
    """Nonergodicity parameters by the monotone iteration from f = S (and f_s = 1)."""
    k, c, pref, pref_s = _arrays(statics)
    S = jnp.asarray(statics.S)
    f, it, err = _iterate(S, k, c, pref, tol, max_iter)
    f = np.asarray(f)
    ratio = np.diagonal(f, axis1=1, axis2=2) / np.diagonal(statics.S, axis1=1, axis2=2)
    glass = bool(np.max(ratio) > threshold)
    if tagged:
        fs, _, _ = _iterate_tagged(jnp.asarray(f), k, c, pref_s, tol, max_iter)
        fs = np.asarray(fs)
    else:
        fs = np.full(ratio.shape, np.nan)
    return Nonergodicity(
        f=f, fs=fs, glass=glass, iterations=int(it), converged=bool(err <= tol), residual=float(err)
    )


# --------------------------------------------------------------------------------------------
# exponent parameter
# --------------------------------------------------------------------------------------------


def _symmetric_basis(n: int, s: int):
    """expand(u) -> symmetric (n, s, s) field and project(Y) -> its upper-triangle vector."""
    iu = np.triu_indices(s)
    n_free = len(iu[0])

    def expand(u):
        U = jnp.zeros((n, s, s)).at[:, iu[0], iu[1]].set(u.reshape(n, n_free))
        return U + jnp.swapaxes(U, 1, 2) - jnp.eye(s) * U

    def project(Y):
        Y = 0.5 * (Y + jnp.swapaxes(Y, 1, 2))
        return Y[:, iu[0], iu[1]].reshape(-1)

    return expand, project, n * n_free


def _stability_matrix(memory, f, G):
    """C[u] = P((S−f) m'[f; E u] (S−f)) as a dense matrix on symmetric fields (columns = basis images)."""
    n, s, _ = f.shape
    expand, project, dim = _symmetric_basis(n, s)

    def stability(u):
        _, dm = jax.jvp(memory, (f,), (expand(u),))
        return project(G @ dm @ G)

    return jax.lax.map(stability, jnp.eye(dim)).T


@jax.jit
def _mct_stability_matrix(f, G, k, c, pref):
    return _stability_matrix(_memory_fn(k, c, pref), f, G)


def exponent_parameter(memory: Callable, S, f, C=None) -> tuple[float, float, np.ndarray]:
    """λ at a critical point from the (quadratic) memory functional ``memory(F) -> m`` (n, s, s).

    ``S`` and ``f`` have shape ``(n, s, s)``; f should be the critical nonergodicity parameter (in
    practice f just on the glass side). ``C`` is the stability matrix if already computed. Returns
    ``(λ, largest eigenvalue of C, e)`` with e the critical eigenvector (n, s, s), normalised as in
    the module docstring.
    """
    S = jnp.asarray(S, float)
    f = jnp.asarray(f, float)
    n, s, _ = S.shape
    expand, project, _ = _symmetric_basis(n, s)
    G = S - f  # = (S⁻¹ + m[f])⁻¹
    C = np.asarray(_stability_matrix(memory, f, G) if C is None else C)
    vals, right = np.linalg.eig(C)
    i_max = int(np.argmax(vals.real))
    e_r = right[:, i_max].real
    vals_l, left = np.linalg.eig(C.T)
    eh = left[:, int(np.argmax(vals_l.real))].real
    e = np.asarray(expand(jnp.asarray(e_r)))
    Gn = np.asarray(G)
    Ginv = np.linalg.inv(Gn)
    ell = lambda Y: float(eh @ np.asarray(project(jnp.asarray(Y))))  # noqa: E731
    l1 = ell(e)
    l2 = ell(e @ Ginv @ e)
    a = l1 / l2
    b = 1.0 / (a * l1)
    me = np.asarray(memory(jnp.asarray(e)))
    lam = a**2 * b * ell(Gn @ me @ Gn)
    return float(lam), float(vals.real[i_max]), a * e


def mct_exponent_parameter(statics: MCTStatics, f) -> tuple[float, float, np.ndarray]:
    """λ of the multi-component MCT functional at the (near-)critical f."""
    k, c, pref, _ = _arrays(statics)
    f = jnp.asarray(f, float)
    C = _mct_stability_matrix(f, jnp.asarray(statics.S) - f, k, c, pref)
    return exponent_parameter(jax.jit(_memory_fn(k, c, pref)), statics.S, f, C=C)


# --------------------------------------------------------------------------------------------
# critical point
# --------------------------------------------------------------------------------------------


@dataclass
class CriticalPoint:
    """Result of a bisection for the MCT transition along a one-parameter path.

    Attributes:
        value: the critical parameter (midpoint of the final bracket).
        liquid, glass: the final bracket (parameter values on each side).
        f_c: nonergodicity parameter on the glass side of the bracket (n_k, s, s).
        fs_c: tagged parameters there (n_k, s).
        lam: exponent parameter λ (NaN if not computed).
        eigenvalue: largest eigenvalue of the stability matrix on the glass side (→ 1).
        steps: list of (parameter, glass?, iterations).
        resolved: False if the bisection stopped before ``xtol`` because the iteration at a
            midpoint did not converge within ``max_iter`` (the bracket is still valid).
    """

    value: float
    liquid: float
    glass: float
    f_c: np.ndarray
    fs_c: np.ndarray
    lam: float = float("nan")
    eigenvalue: float = float("nan")
    statics: MCTStatics | None = None
    steps: list = field(default_factory=list)
    resolved: bool = True


def critical_point(
    statics_at: Callable[[float], MCTStatics],
    lo: float,
    hi: float,
    *,
    glass_above: bool = True,
    xtol: float = 1e-6,
    tol: float = 1e-12,
    max_iter: int = 1_000_000,
    exponent: bool = True,
) -> CriticalPoint:
    """Bisect the parameter p in [lo, hi] for the liquid-glass transition of MCT.

    ``statics_at(p)`` gives the statics along the path (φ for hard spheres, T at fixed ρ, ...).
    ``glass_above``: the glass is at large p (φ) or, if False, at small p (T). Raises
    `InputError` if the ends are not a liquid and a glass. Each step iterates f at most
    ``max_iter`` times (the count grows like 1/√|p − p_c| near the transition); if a midpoint does
    not converge, the bisection stops there with ``resolved = False`` and the bracket reached so far.
    """
    if not lo < hi:
        raise InputError(f"critical point: need lo < hi, got {lo} and {hi}")
    steps = []

    def glass(p):
        ne = nonergodicity(statics_at(p), tol=tol, max_iter=max_iter, tagged=False)
        steps.append((float(p), ne.glass, ne.iterations))
        return ne

    ne_lo, ne_hi = glass(lo), glass(hi)
    for p, ne in ((lo, ne_lo), (hi, ne_hi)):
        if not ne.converged:
            raise InputError(
                f"critical point: the nonergodicity iteration at the bracket end {p:g} did not converge in "
                f"{max_iter} iterations (residual {ne.residual:.1e}); the end is too close to the transition"
            )
    g_lo, g_hi = (ne_hi, ne_lo) if not glass_above else (ne_lo, ne_hi)
    liquid_p, glass_p = (lo, hi) if glass_above else (hi, lo)
    if g_lo.glass or not g_hi.glass:
        if not g_lo.glass and not g_hi.glass:
            what = f"both ends ({lo:g}, {hi:g}) are liquid: the transition lies beyond {glass_p:g}"
        elif g_lo.glass and g_hi.glass:
            what = (
                f"both ends ({lo:g}, {hi:g}) are glasses: the transition lies beyond {liquid_p:g}"
            )
        else:
            what = f"{liquid_p:g} is a glass and {glass_p:g} a liquid (the path is reversed)"
        raise InputError(f"critical point: no liquid-glass bracket; {what}")
    glass_ne = g_hi
    resolved = True
    while abs(glass_p - liquid_p) > xtol:
        mid = 0.5 * (glass_p + liquid_p)
        ne = glass(mid)
        if not ne.converged:
            resolved = False
            break
        if ne.glass:
            glass_p, glass_ne = mid, ne
        else:
            liquid_p = mid
    st = statics_at(glass_p)
    k, c, _, pref_s = _arrays(st)
    fs, _, _ = _iterate_tagged(jnp.asarray(glass_ne.f), k, c, pref_s, tol, max_iter)
    out = CriticalPoint(
        value=0.5 * (glass_p + liquid_p),
        liquid=liquid_p,
        glass=glass_p,
        f_c=glass_ne.f,
        fs_c=np.asarray(fs),
        statics=st,
        steps=steps,
        resolved=resolved,
    )
    if exponent:
        out.lam, out.eigenvalue, _ = mct_exponent_parameter(st, glass_ne.f)
    return out
