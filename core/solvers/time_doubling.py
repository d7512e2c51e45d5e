"""Time-doubling solver of the memory equation (Fuchs, Götze, Hofacker & Latz 1991).

The time axis is covered by blocks of ``L = 4 N`` equidistant points. After a block is solved, every
second point is kept (the first half of the next block), the step is doubled, and the second half is
solved anew, so t spans ``dt0 … t_max`` (many decades) with ``L/2`` new points per block. Integrals
over F and M are carried as interval averages dF_j, dM_j (j-th interval [t_{j−1}, t_j]), which are
exact under decimation: dF'_j = (dF_{2j−1} + dF_{2j}) / 2.

Discretisation of row i (t_i = i δt, ī = ⌊i/2⌋; matrices multiply from the left):

    α F''_i + β F'_i + γ F_i + M_0 F_i − M_{i−ī} F_ī
        + Σ_{k=1}^{ī} [dM_{i−k+1} (F_k − F_{k−1}) + (M_{i−k} − M_{i−k+1}) ε_k]
        + Σ_{k=1}^{i−ī} [(M_k − M_{k−1}) dF_{i−k+1} + δ_k (F_{i−k+1} − F_{i−k})] = 0,

the convolution split at t/2 and integrated by parts on the second half. δ_k = dM_k − (M_{k−1} + M_k)/2
makes the second sum exact for F linear within a step even when M varies strongly within it (a
memory much faster than the grid); ε_k = (F_{k−1} + F_k)/2 − dF_k makes the first sum exact for M
linear within a step even when F varied strongly within it (an early decay resolved by earlier,
finer blocks, as in any two-step relaxation). Both vanish for trapezoidal averages, recovering the
plain scheme; they remove its first-order error when the time scales of F and M are far apart. F' and F'' are backward
differences of third order (lower order on the first points, using F'(0) = 0 for F''). New
interval averages are trapezoidal, dF_j = (F_{j−1} + F_j)/2; for explicit kernels dM_j is a
Gauss-Legendre average of M(t) over the interval.

Explicit kernels M(t) make every row linear in the unknowns, and all new rows of a block form one
block-lower-triangular system: each block is one triangular solve (sequential depth = number of
blocks), so ``jax.grad`` and ``jax.vmap`` over kernel parameters are exact and cheap. Functional
kernels M[F] are solved point by point with a fixed-point iteration (tolerance ``tol``, at most
``max_iter``); non-convergence is reported in ``Solution.status``.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import solve_triangular
from jaxtyping import Float

from memplug.equation import MemoryEquation
from memplug.kernels import ExplicitKernel, FunctionalKernel
from memplug.solution import NOT_CONVERGED, Solution, status_from


def _stencils(L: int, first: bool) -> tuple[np.ndarray, np.ndarray]:
    """Backward-difference weights for F' (times δt) and F'' (times δt²) on F_i, …, F_{i−4}.

    Third order (BDF3 for F', the five-point backward formula for F''), so the leading error of the
    scheme is the O(δt²) of the convolution, which Richardson extrapolation removes cleanly. The first
    points of the first block use lower orders (F'(0) = 0 fixes F'' at i = 1).
    """
    d1 = np.tile(np.array([11.0, -18.0, 9.0, -2.0, 0.0]) / 6.0, (L, 1))
    d2 = np.tile(np.array([35.0, -104.0, 114.0, -56.0, 11.0]) / 12.0, (L, 1))
    if first:
        d1[1] = [1.0, -1.0, 0.0, 0.0, 0.0]
        d1[2] = [1.5, -2.0, 0.5, 0.0, 0.0]
        d2[1] = [2.0, -2.0, 0.0, 0.0, 0.0]  # F_1 = F_0 + F''δt²/2 with F'(0) = 0
        d2[2] = [1.0, -2.0, 1.0, 0.0, 0.0]
        d2[3] = [2.0, -5.0, 4.0, -1.0, 0.0]
    return d1, d2


def _matmul(a, b):
    return jnp.einsum("...ab,...bc->...ac", a, b)


def _row(i, n0, L, eq_coeffs, dt, F, dF, M, dM, d1, d2):
    """Coefficients of row i: ``coef`` (L, K, s, s) multiplying F_col from the left, and ``const``.

    Interval averages dF_j of new intervals (j >= n0) are expanded as (F_{j−1} + F_j)/2; those of
    known intervals (j < n0) come from ``dF`` and go into ``const``.
    """
    alpha, beta, gamma = eq_coeffs
    cols = jnp.arange(L)
    ib = i // 2
    shape = F.shape[1:]
    zero = jnp.zeros((L,) + shape)

    # time derivatives
    coef = zero
    for s in range(5):
        c = alpha * d2[i, s] / dt**2 + beta * d1[i, s] / dt
        coef = coef.at[jnp.maximum(i - s, 0)].add(jnp.where(i - s >= 0, 1.0, 0.0) * c)
    coef = coef.at[i].add(gamma + M[0])
    coef = coef.at[ib].add(-M[i - ib])

    # Σ_{k=1}^{ī} dM_{i−k+1} (F_k − F_{k−1})
    mask_c = ((cols >= 1) & (cols <= ib)).astype(float)[:, None, None, None]
    A = mask_c * dM[jnp.clip(i - cols + 1, 0, L - 1)]
    coef = coef + A - jnp.concatenate([A[1:], jnp.zeros((1,) + shape)], axis=0)
    # ... + (M_{i−k} − M_{i−k+1}) ε_k on known intervals, ε_k = (F_{k−1} + F_k)/2 − dF_k: exact for M
    # linear within a step even when F varied strongly within it (resolved in earlier blocks)
    F_prev = jnp.concatenate([F[:1], F[:-1]], axis=0)
    eps = jnp.where((cols < n0)[:, None, None, None], 0.5 * (F_prev + F) - dF, 0.0)
    dMc = mask_c * (M[jnp.clip(i - cols, 0, L - 1)] - M[jnp.clip(i - cols + 1, 0, L - 1)])
    const_c = jnp.sum(_matmul(dMc, eps), axis=0)

    # Σ_{k=1}^{i−ī} [(M_k − M_{k−1}) dF_j + δ_k (F_j − F_{j−1})], j = i − k + 1 in [ī+1, i],
    # δ_k = dM_k − (M_{k−1} + M_k)/2 corrects for M varying within one step (0 for trapezoidal dM)
    k = i - cols + 1
    in_d = ((cols >= ib + 1) & (cols <= i))[:, None, None, None]
    k1, k0 = jnp.clip(k, 0, L - 1), jnp.clip(k - 1, 0, L - 1)
    G = jnp.where(in_d, M[k1] - M[k0], 0.0)
    D = jnp.where(in_d, dM[k1] - 0.5 * (M[k1] + M[k0]), 0.0)
    new = (cols >= n0)[:, None, None, None]
    up = jnp.where(new, 0.5 * G + D, 0.0)
    down = jnp.where(new, 0.5 * G - D, 0.0)
    coef = coef + up + jnp.concatenate([down[1:], jnp.zeros((1,) + shape)], axis=0)
    const = const_c + jnp.sum(
        _matmul(jnp.where(new, 0.0, G), dF) + _matmul(jnp.where(new, 0.0, D), F - F_prev), axis=0
    )
    return coef, const


def _history_row(i, n0, eq_coeffs, dt, F, dF, M, dM, d1, d2):
    """``rest`` and coef_i⁻¹ of row i ≥ n0 ≥ 4 of a later block, coef_i F_i + rest + M_i (dF_1 − F_0)
    = 0: the terms of `_row` (M_i = 0, dM_i = M_{i−1}/2) as three lagged products Σ_c (M or dM at
    lag i − c) × (F terms of column c), not assembled rows. F_i, M_i are still zero in F, M."""
    (alpha, beta, gamma), L, ib = eq_coeffs, F.shape[0], i // 2
    cols = jnp.arange(L)[:, None, None, None]
    lag, ok = i - jnp.arange(L), cols <= i
    a = jnp.where(ok, M[jnp.clip(lag, 0, L - 1)], 0.0)  # M_{i−c}
    b = jnp.where(ok, M[jnp.clip(lag + 1, 0, L - 1)], 0.0)  # M_{i−c+1} (M_i = 0: not yet set)
    e = jnp.where(ok, dM[jnp.clip(lag + 1, 0, L - 1)], 0.0)  # dM_{i−c+1}
    e = jnp.where((lag + 1 == i)[:, None, None, None], 0.5 * M[i - 1], e)  # dM_i = M_{i−1}/2
    F_prev = jnp.concatenate([F[:1], F[:-1]], axis=0)
    dFc, known = F - F_prev, cols < n0
    eps = jnp.where(known, 0.5 * (F_prev + F) - dF, 0.0)
    phi = jnp.where(known, dF, 0.5 * (F + F_prev))
    m1 = ((cols >= 1) & (cols <= ib)).astype(F.dtype)
    m3 = ((cols >= ib + 1) & (cols <= i)).astype(F.dtype)
    # Σ_{c≤ī} [dM_{i−c+1} ΔF_c + (M_{i−c} − M_{i−c+1}) ε_c] + Σ_{ī<c≤i} [(M_{i−c+1} − M_{i−c}) Φ_c + δ_c ΔF_c]
    P = (m1 + m3) * dFc
    Qa = m1 * eps - m3 * (phi + 0.5 * dFc)
    Rb = -m1 * eps + m3 * (phi - 0.5 * dFc)
    rest = jnp.sum(_matmul(e, P) + _matmul(a, Qa) + _matmul(b, Rb), axis=0)
    # time derivatives (rows of a later block share one stencil) and −M_{i−ī} F_ī
    Fw, d1r, d2r = jax.lax.dynamic_slice_in_dim(F, i - 4, 5), d1[n0], d2[n0]  # F_{i−4} … F_i
    back1, back2 = (sum(d[s] * Fw[4 - s] for s in range(1, 5)) for d in (d1r, d2r))
    rest = (
        rest + _matmul(alpha, back2) / dt**2 + _matmul(beta, back1) / dt - _matmul(M[i - ib], F[ib])
    )
    diag = alpha * d2r[0] / dt**2 + beta * d1r[0] / dt + gamma + dM[1]
    return rest, _small_inv(diag)


class _BlockIndex:
    """Static (NumPy) index tables of all rows n0..L−1 of a block: the vectorised form of `_row`."""

    @staticmethod
    @functools.cache
    def get(L: int, n0: int, first: bool) -> _BlockIndex:
        return _BlockIndex(L, n0, first)

    def __init__(self, L: int, n0: int, first: bool):
        d1, d2 = _stencils(L, first)
        self.U, self.n0 = L - n0, n0
        i = np.arange(n0, L)[:, None]  # rows (U, 1)
        j = np.arange(L)[None, :]  # columns (1, L)
        ib = i // 2
        lag = i - j
        in_stencil = (lag >= 0) & (lag <= 4)
        lag_c = np.clip(lag, 0, 4)
        rows = np.arange(n0, L)[:, None]
        self.D1 = np.where(in_stencil, d1[rows, lag_c], 0.0)  # (U, L)
        self.D2 = np.where(in_stencil, d2[rows, lag_c], 0.0)
        self.diag = (j == i).astype(float)
        self.at_ib = (j == ib).astype(float)
        self.idx_ib = (i - ib)[:, 0]  # M_{i−ī}
        # Σ_{k=1}^{ī} dM_{i−k+1} (F_k − F_{k−1})
        self.mask_c = ((j >= 1) & (j <= ib)).astype(float)
        self.known = (np.arange(L) < n0).astype(float)
        # Σ over j in [ī+1, i] of (M_{i−j+1} − M_{i−j}) dF_j
        in_d = (j >= ib + 1) & (j <= i)
        self.mask_new = (in_d & (j >= n0)).astype(float)
        self.mask_old = (in_d & (j < n0)).astype(float)
        self.idx_d1 = np.clip(i - j + 1, 0, L - 1)
        self.idx_d0 = np.clip(i - j, 0, L - 1)


def _shift_left(x):
    """y[:, j] = x[:, j + 1] (zero at the end)."""
    return jnp.concatenate([x[:, 1:], jnp.zeros_like(x[:, :1])], axis=1)


def _toeplitz(v, a: int, U: int):
    """T[u, j] = v[a + u − j] (0 where the index leaves [0, L)), shape (U, L, ...), without a 2-D gather.

    A row-shifted matrix is a tiled vector reshaped with one element less per row: only a 1-D gather
    of U + L elements and a copy, which is much cheaper than a (U, L) gather, above all under vmap.
    """
    L = v.shape[0]
    P = L + U
    m = np.concatenate([np.arange(L), [L], np.arange(-(U - 1), 0)])  # m = j − u, stored at m mod P
    src = a - m
    valid = (src >= 0) & (src <= L - 1) & (m != L)
    zz = jnp.where(valid.reshape((-1,) + (1,) * (v.ndim - 1)), v[np.clip(src, 0, L - 1)], 0.0)
    tiled = jnp.tile(zz, (U,) + (1,) * (v.ndim - 1))[: U * (P - 1)]
    return tiled.reshape((U, P - 1) + v.shape[1:])[:, :L]


def _assemble(ix: _BlockIndex, eq, dt, F, dF, M, dM):
    """All rows of a block at once: ``coef`` (U, L, K, s, s) and ``const`` (U, K, s, s)."""
    e = (Ellipsis, None, None, None)
    # three Toeplitz matrices serve every memory term: M_{i−j+1}, M_{i−j}, dM_{i−j+1}, i = n0 + u
    U, n0 = ix.U, ix.n0
    M1, M0, dM1 = _toeplitz(M, n0 + 1, U), _toeplitz(M, n0, U), _toeplitz(dM, n0 + 1, U)
    coef = ix.D2[e] * (eq.alpha / dt**2) + ix.D1[e] * (eq.beta / dt)
    coef = coef + ix.diag[e] * (eq.gamma + M[0])
    coef = coef - ix.at_ib[e] * M[ix.idx_ib][:, None]
    A = ix.mask_c[e] * dM1
    coef = coef + A - _shift_left(A)
    G = M1 - M0
    D = dM1 - 0.5 * (M1 + M0)
    coef = coef + ix.mask_new[e] * (0.5 * G + D) + _shift_left(ix.mask_new[e] * (0.5 * G - D))
    F_prev = jnp.concatenate([F[:1], F[:-1]], axis=0)
    eps = ix.known[:, None, None, None] * (0.5 * (F_prev + F) - dF)
    old = ix.mask_old[e]
    const = (
        jnp.einsum("ujkab,jkbc->ukac", old * G, dF)
        + jnp.einsum("ujkab,jkbc->ukac", old * D, F - F_prev)
        - jnp.einsum("ujkab,jkbc->ukac", ix.mask_c[e] * G, eps)
    )
    return coef, const


class TimeDoublingSolver(eqx.Module):
    """Configuration of the time-doubling solver.

    Attributes:
        N: a block has ``4 N`` points; each doubling solves ``2 N`` new ones.
        dt0: step of the first block. For Newtonian dynamics (α ≠ 0) keep α/dt0² well below ~1e10
            (e.g. dt0 ≈ 1e-5 … 1e-4 / √γ): the second difference of F loses digits to round-off.
        t_max: the last block reaches at least this time.
        tol: fixed-point tolerance (max abs change of F) for functional kernels.
        max_iter: fixed-point iteration limit per time point.
        blowup: |F| > blowup · max|F0| is flagged as a blow-up.
        n_quad: Gauss-Legendre nodes per interval for interval averages of explicit kernels.
        pointwise: solve explicit kernels point by point (a cross-check of the block solve).
        anderson: Anderson depth of the fixed-point iteration of functional kernels (0: plain
            F ← g(F), which near a glass transition needs hundreds of iterations per point).
        richardson: also solve with twice the points per block and half the first step (the grids
            nest), and return the Richardson extrapolation (4 F_fine − F_coarse)/3 on the coarse
            grid. The scheme is second order, so this removes the leading error at 3× the cost.
        blocks: a fixed number of blocks (0: enough to reach ``t_max`` from ``dt0``). With it,
            ``dt0`` may be a traced JAX value: one compiled solve then serves every first step
            (states of a dataset differ in dt0 but share the block count), the only static
            configuration being N, the block count and the flags. ``dt0`` is a leaf of the
            module (every other field is static): a Python float is a compile-time constant under
            ``eqx.filter_jit``, a JAX array an argument.
    """

    N: int = eqx.field(static=True, default=32)
    dt0: float = 1e-6
    t_max: float = eqx.field(static=True, default=1e10)
    blocks: int = eqx.field(static=True, default=0)
    tol: float = eqx.field(static=True, default=1e-12)
    max_iter: int = eqx.field(static=True, default=10_000)
    blowup: float = eqx.field(static=True, default=1e8)
    n_quad: int = eqx.field(static=True, default=6)
    pointwise: bool = eqx.field(static=True, default=False)
    richardson: bool = eqx.field(static=True, default=False)
    anderson: int = eqx.field(static=True, default=3)

    @property
    def L(self) -> int:
        return 4 * self.N

    @property
    def n_blocks(self) -> int:
        """Number of blocks: ``blocks`` if set, else enough for the last point to reach t_max."""
        if self.blocks:
            return int(self.blocks)
        first_end = (self.L - 1) * float(self.dt0)
        return 1 + max(0, math.ceil(math.log2(max(self.t_max / first_end, 1.0))))

    def steps(self) -> Float[np.ndarray, " n_t"]:
        """The output time grid in units of dt0 (exact small integers times powers of two)."""
        L, h = self.L, self.L // 2
        ts = [np.arange(L, dtype=float)]
        for b in range(1, self.n_blocks):
            ts.append(np.arange(h, L, dtype=float) * 2.0**b)
        return np.concatenate(ts)

    def times(self) -> Float[np.ndarray, " n_t"]:
        """The output time grid (same for every equation with this configuration; NumPy, so
        ``dt0`` must be concrete)."""
        return self.steps() * float(self.dt0)

    # ----------------------------------------------------------------------------------------
    @eqx.filter_jit
    def solve(self, eq: MemoryEquation) -> Solution:
        """Solve ``eq`` (jit-compiled once per configuration and equation structure)."""
        if self.richardson:
            return self._solve_richardson(eq)
        if isinstance(eq.kernel, ExplicitKernel):
            return self._solve_explicit(eq)
        if isinstance(eq.kernel, FunctionalKernel):
            return self._solve_functional(eq)
        raise TypeError(f"unsupported kernel type {type(eq.kernel).__name__}")

    def _solve_richardson(self, eq: MemoryEquation) -> Solution:
        coarse = dataclasses.replace(self, richardson=False)
        fine = dataclasses.replace(self, richardson=False, N=2 * self.N, dt0=self.dt0 / 2)
        a, b = coarse.solve(eq), fine.solve(eq)
        tc, tf = coarse.times(), fine.times()
        idx = np.searchsorted(tf, tc)
        idx = np.minimum(idx, len(tf) - 1)
        if not np.allclose(tf[idx], tc, rtol=1e-12, atol=0.0):  # pragma: no cover - by construction
            raise AssertionError("Richardson grids do not nest")
        F = (4.0 * b.F[idx] - a.F) / 3.0
        return Solution(
            t=a.t,
            F=F,
            M=b.M[idx],
            status=a.status | b.status,
            iterations=jnp.maximum(a.iterations, b.iterations),
        )

    # -- explicit kernels ----------------------------------------------------------------------
    def _explicit_grid(self, eq, dt):
        """M at grid points and its interval averages dM_j over [(j−1)δt, jδt], both (L, K, s, s).

        Sums of exponentials are averaged exactly. Other kernels use Gauss-Legendre on each interval,
        and on the first interval [0, δt] a composite rule on geometrically shrinking sub-intervals
        towards t = 0, so a memory much faster than δt (or singular-looking like t^b, b < 1) is still
        integrated accurately.
        """
        L = self.L
        t_nodes = jnp.arange(L, dtype=float) * dt
        M = eq.to_canonical(eq.kernel(t_nodes), lead=1)
        parts = eq.kernel.exponential_sum()
        if parts is not None:
            w, r = (eq.to_canonical(jnp.broadcast_to(a, parts[0].shape), lead=1) for a in parts)
            a = jnp.maximum(t_nodes - dt, 0.0)[
                :, None, None, None, None
            ]  # (L, 1, K, s, s) vs (J, K, s, s)
            rdt = r * dt
            # (1/δt)∫_a^{a+δt} e^{−r t} dt = e^{−r a} (1 − e^{−r δt})/(r δt), → e^{−r a} as r δt → 0
            factor = jnp.where(
                rdt > 1e-8, -jnp.expm1(-rdt) / jnp.where(rdt > 1e-8, rdt, 1.0), 1.0 - 0.5 * rdt
            )
            dM = jnp.sum(w * jnp.exp(-r * a) * factor, axis=1)
            return M, dM.at[0].set(M[0])
        x, wq = np.polynomial.legendre.leggauss(self.n_quad)
        starts = (jnp.arange(L, dtype=float) - 1.0) * dt
        tq = starts[:, None] + (0.5 * (x + 1.0))[None, :] * dt  # (L, n_quad)
        Mq = eq.to_canonical(eq.kernel(jnp.maximum(tq.reshape(-1), 0.0)), lead=1)
        Mq = Mq.reshape((L, self.n_quad) + Mq.shape[1:])
        dM = jnp.tensordot(jnp.asarray(0.5 * wq), Mq, axes=([0], [1]))
        # first interval: [δt/2^{m+1}, δt/2^m] for m = 0..n_sub−1, plus [0, δt/2^{n_sub}]
        n_sub = 40
        hi = 0.5 ** np.arange(n_sub + 1)  # in units of δt: 1, 1/2, ..., tiny
        lo = np.concatenate([hi[1:], [0.0]])
        widths = hi - lo
        tsub = lo[:, None] + (0.5 * (x + 1.0))[None, :] * widths[:, None]
        Msub = eq.to_canonical(eq.kernel(dt * jnp.asarray(tsub.reshape(-1))), lead=1)
        Msub = Msub.reshape((n_sub + 1, self.n_quad) + Msub.shape[1:])
        weights = jnp.asarray(0.5 * wq[None, :] * widths[:, None])  # sums to 1
        dM1 = jnp.tensordot(weights, Msub, axes=([0, 1], [0, 1]))
        return M, dM.at[0].set(M[0]).at[1].set(dM1)

    def _block_explicit(self, eq, dt, F, dF, n0, first):
        L = self.L
        M, dM = self._explicit_grid(eq, dt)
        if self.pointwise:
            d1, d2 = (jnp.asarray(a) for a in _stencils(L, first))
            coeffs = (eq.alpha, eq.beta, eq.gamma)
            F = self._pointwise(eq, coeffs, dt, F, dF, M, dM, n0, d1, d2, functional=False)[0]
        else:
            coef, const = _assemble(_BlockIndex.get(L, n0, first), eq, dt, F, dF, M, dM)
            rhs = -(const + jnp.einsum("ujkab,jkbc->ukac", coef[:, :n0], F[:n0]))
            T = coef[:, n0:]  # (U, U, K, s, s), block lower triangular
            F_new = jax.vmap(_block_triangular_solve, in_axes=(2, 1), out_axes=1)(T, rhs)
            F = F.at[n0:].set(F_new)
        dF = dF.at[n0:].set(0.5 * (F[n0 - 1 : L - 1] + F[n0:]))
        return F, dF, M

    def _solve_explicit(self, eq: MemoryEquation) -> Solution:
        L, h = self.L, self.L // 2
        K, s, _ = eq.canonical_shape
        F = jnp.zeros((L, K, s, s)).at[0].set(eq.F0)
        dF = jnp.zeros((L, K, s, s)).at[0].set(eq.F0)
        F, dF, M = self._block_explicit(eq, self.dt0, F, dF, 1, True)
        F_first, M_first = F, M

        def step(carry, b):
            F, dF, dt = carry
            F, dF = _decimate(F), _decimate_avg(dF)
            dt = 2.0 * dt
            F, dF, M = self._block_explicit(eq, dt, F, dF, h, False)
            return (F, dF, dt), (F[h:], M[h:])

        _, (F_rest, M_rest) = jax.lax.scan(
            step, (F, dF, jnp.asarray(self.dt0)), jnp.arange(self.n_blocks - 1)
        )
        return self._finish(eq, F_first, M_first, F_rest, M_rest, jnp.asarray(0))

    # -- functional kernels --------------------------------------------------------------------
    def _pointwise(self, eq, coeffs, dt, F, dF, M, dM, n0, d1, d2, functional):
        """Solve rows n0..L−1 one at a time; functional kernels iterate each row to a fixed point."""
        L = self.L
        kernel = eq.kernel

        def body(state, i):
            F, M, dM = state
            # linear extrapolation from the last two points (F_{i−1} alone at i = 1): fewer
            # fixed-point iterations per point than starting from F_{i−1}
            guess = jnp.where(i >= 2, 2.0 * F[i - 1] - F[jnp.maximum(i - 2, 0)], F[i - 1])

            def update(Fi, M, dM):
                if functional:
                    Mi = eq.to_canonical(kernel(eq.from_canonical(Fi)))
                    M = M.at[i].set(Mi)
                    dM = dM.at[i].set(0.5 * (M[i - 1] + Mi))
                coef, const = _row(i, n0, L, coeffs, dt, F, dF, M, dM, d1, d2)
                rest = const + jnp.einsum("jkab,jkbc->kac", coef.at[i].set(0.0), F)
                return -_matmul(_small_inv(coef[i]), rest), M, dM

            if not functional:
                Fi, M, dM = update(guess, M, dM)
                return (F.at[i].set(Fi), M, dM), jnp.asarray(0)

            def cond(c):
                _, _, _, it, err = c
                return (err > self.tol) & (it < self.max_iter)

            if n0 >= 4:
                # later blocks: M_i enters linearly, as M_i (dF_1 − F_0); the rest is summed once
                # per point, then each iteration costs one kernel evaluation
                rest0, Dinv = _history_row(i, n0, coeffs, dt, F, dF, M, dM, d1, d2)
                c1 = dF[1] - F[0]

                def fast(Fi, M, dM):
                    Mi = eq.to_canonical(kernel(eq.from_canonical(Fi)))
                    return -_matmul(Dinv, rest0 + _matmul(Mi, c1)), M, dM

                step_fn = fast
            else:
                step_fn = update

            Fi, M, dM, it = _anderson(step_fn, guess, M, dM, self.anderson, cond)
            # make M consistent with the final F_i
            Mi = eq.to_canonical(kernel(eq.from_canonical(Fi)))
            M = M.at[i].set(Mi)
            dM = dM.at[i].set(0.5 * (M[i - 1] + Mi))
            return (F.at[i].set(Fi), M, dM), it

        (F, M, dM), its = jax.lax.scan(body, (F, M, dM), jnp.arange(n0, L))
        return F, M, dM, jnp.max(its)

    def _solve_functional(self, eq: MemoryEquation) -> Solution:
        L, h = self.L, self.L // 2
        K, s, _ = eq.canonical_shape
        coeffs = (eq.alpha, eq.beta, eq.gamma)
        M0 = eq.to_canonical(eq.kernel(eq.from_canonical(eq.F0)))
        F = jnp.zeros((L, K, s, s)).at[0].set(eq.F0)
        dF = jnp.zeros((L, K, s, s)).at[0].set(eq.F0)
        M = jnp.zeros((L, K, s, s)).at[0].set(M0)
        dM = jnp.zeros((L, K, s, s)).at[0].set(M0)
        d1f, d2f = (jnp.asarray(a) for a in _stencils(L, True))
        d1, d2 = (jnp.asarray(a) for a in _stencils(L, False))
        F, M, dM, it0 = self._pointwise(eq, coeffs, self.dt0, F, dF, M, dM, 1, d1f, d2f, True)
        dF = dF.at[1:].set(0.5 * (F[:-1] + F[1:]))
        F_first, M_first = F, M

        def step(carry, b):
            F, dF, M, dM, dt = carry
            F, dF, M, dM = _decimate(F), _decimate_avg(dF), _decimate(M), _decimate_avg(dM)
            dt = 2.0 * dt
            F, M, dM, it = self._pointwise(eq, coeffs, dt, F, dF, M, dM, h, d1, d2, True)
            dF = dF.at[h:].set(0.5 * (F[h - 1 : L - 1] + F[h:]))
            return (F, dF, M, dM, dt), (F[h:], M[h:], it)

        _, (F_rest, M_rest, its) = jax.lax.scan(
            step, (F, dF, M, dM, jnp.asarray(self.dt0)), jnp.arange(self.n_blocks - 1)
        )
        iterations = jnp.maximum(it0, jnp.max(its)) if self.n_blocks > 1 else it0
        return self._finish(eq, F_first, M_first, F_rest, M_rest, iterations)

    # -- output --------------------------------------------------------------------------------
    def _finish(self, eq, F_first, M_first, F_rest, M_rest, iterations) -> Solution:
        shape = F_first.shape[1:]
        F_all = jnp.concatenate([F_first, F_rest.reshape((-1,) + shape)], axis=0)
        M_all = jnp.concatenate([M_first, M_rest.reshape((-1,) + shape)], axis=0)
        status = status_from(F_all, jnp.max(jnp.abs(eq.F0)), self.blowup)
        status = status | jnp.where(iterations >= self.max_iter, NOT_CONVERGED, 0)
        return Solution(
            t=jnp.asarray(self.steps()) * self.dt0,
            F=eq.from_canonical(F_all, lead=1),
            M=eq.from_canonical(M_all, lead=1),
            status=status,
            iterations=iterations,
        )


def _anderson(step_fn, x0, M, dM, m: int, cond):
    """Fixed point x = g(x) of one time point by Anderson acceleration (Walker & Ni 2011, type II,
    depth m; 0 is the plain iteration): x_{k+1} = g_k − ΔG γ, γ = argmin ‖f_k − ΔF γ‖, f = g(x) − x,
    one g per iteration. The plain iteration's stopping rule (max|f| ≤ tol) and result (g at the
    last x); a non-finite step falls back to g_k."""
    shape, n = x0.shape, x0.size
    g0, M, dM = step_fn(x0, M, dM)
    f0 = (g0 - x0).reshape(n)
    err0 = jnp.max(jnp.abs(f0))
    err0 = jnp.where(jnp.isfinite(err0), err0, 0.0)

    def body(c):
        x, M, dM, it, _, g_prev, f_prev, dF, dG = c
        g, M, dM = step_fn(x, M, dM)
        f = (g - x).reshape(n)
        gv = x_new = g.reshape(n)
        if m:  # m = 0: the plain iteration x ← g(x)
            dF, dG = dF.at[(it - 1) % m].set(f - f_prev), dG.at[(it - 1) % m].set(gv - g_prev)
            used = (jnp.arange(m) < jnp.minimum(it, m)).astype(x.dtype)
            A = dF * used[:, None]
            gram = A @ A.T
            gram = gram + jnp.diag(1e-12 * jnp.max(jnp.diag(gram)) + (1.0 - used))  # unused: γ = 0
            x_new = gv - jnp.linalg.solve(gram, A @ f) @ (dG * used[:, None])
            x_new = jnp.where(jnp.all(jnp.isfinite(x_new)), x_new, gv)
        err = jnp.max(jnp.abs(f))
        err = jnp.where(jnp.isfinite(err), err, 0.0)  # NaN: stop, flagged later
        return x_new.reshape(shape), M, dM, it + 1, err, gv, f, dF, dG, g

    init = (g0, M, dM, jnp.asarray(1), err0, g0.reshape(n), f0, *jnp.zeros((2, m, n)), g0)
    _, M, dM, it, *_, g_last = jax.lax.while_loop(
        lambda c: cond(c[:5]), lambda c: body(c[:-1]), init
    )
    return g_last, M, dM, it


def _decimate(x):
    """Keep every second point: the first half of the next block."""
    L = x.shape[0]
    return jnp.zeros_like(x).at[: L // 2].set(x[0:L:2])


def _decimate_avg(d):
    """Interval averages under step doubling: d'_j = (d_{2j−1} + d_{2j})/2, j = 1..L/2−1."""
    L = d.shape[0]
    j = jnp.arange(1, L // 2)
    new = jnp.zeros_like(d).at[0].set(d[0])
    return new.at[1 : L // 2].set(0.5 * (d[2 * j - 1] + d[2 * j]))


def _small_inv(A):
    """Inverse of a stack of small matrices (..., s, s): closed form for s = 1 and 2.

    Batched LAPACK calls on many 1×1 or 2×2 matrices are dominated by per-call overhead on CPU,
    especially under ``vmap``.
    """
    s = A.shape[-1]
    if s == 1:
        return 1.0 / A
    if s == 2:
        a, b, c, d = A[..., 0, 0], A[..., 0, 1], A[..., 1, 0], A[..., 1, 1]
        det = a * d - b * c
        return (
            jnp.stack([jnp.stack([d, -b], -1), jnp.stack([-c, a], -1)], -2) / det[..., None, None]
        )
    return jnp.linalg.inv(A)


def _block_triangular_solve(T, rhs):
    """Solve Σ_j T[i, j] X_j = rhs_i for a block-lower-triangular T of shape (U, U, s, s).

    Each block row is first multiplied by the inverse of its diagonal block, which makes the
    flattened (U s × U s) matrix unit lower triangular: one triangular solve.
    """
    U, _, s, _ = T.shape
    Dinv = _small_inv(T[jnp.arange(U), jnp.arange(U)])  # (U, s, s)
    Tn = jnp.einsum("iab,ijbc->ijac", Dinv, T)
    r = jnp.einsum("iab,ibc->iac", Dinv, rhs)
    A = jnp.transpose(Tn, (0, 2, 1, 3)).reshape(U * s, U * s)
    x = solve_triangular(A, r.reshape(U * s, s), lower=True, unit_diagonal=True)
    return x.reshape(U, s, s)
