"""The wave-number grid of MCT and the bipolar (Bengtzelius) triangle sums.

MCT integrals over a wave vector q are written in bipolar coordinates (q, p = |k − q|):

    ∫ d³q f(q, p) = (2π / k) ∫_0^∞ dq q ∫_{|k−q|}^{k+q} dp p f(q, p).

On the midpoint grid k_i = (i + ½) Δ, i = 0 … n−1, the cells of p covering [|k_i − q_j|, k_i + q_j]
are exactly those with |j − l| ≤ i ≤ j + l (0-based), so every MCT kernel is a *triangle sum*

    T_i[A] = Σ_{j,l : |j−l| ≤ i ≤ j+l} A_{jl}

of an (n, n) array A that does not depend on k once the k-dependence of the vertices is pulled out
as powers of k (the bipolar trick of Bengtzelius). Instead of the sequential recurrence
T_i = T_{i−1} + (new diagonals) − (old anti-diagonal), `triangle_sums` computes all diagonal
and anti-diagonal sums at once (a skew reshape) and takes cumulative sums: O(n²) work, no loop, so it
vectorises and differentiates in JAX.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from memplug.errors import InputError


def midpoint_grid(n_k: int = 100, k_max: float = 40.0) -> np.ndarray:
    """k_i = (i + ½) k_max / n_k, i = 0 … n_k − 1: midpoints of n_k bins on (0, k_max]."""
    if n_k < 2 or k_max <= 0:
        raise InputError(f"k grid: need n_k >= 2 and k_max > 0, got n_k={n_k}, k_max={k_max}")
    return (np.arange(n_k) + 0.5) * (k_max / n_k)


def grid_spacing(k) -> float:
    """Δ of a midpoint grid; raises `InputError` if ``k`` is not one (k_0 = Δ/2, equal steps)."""
    k = np.asarray(k, dtype=float)
    if k.ndim != 1 or k.size < 2:
        raise InputError(
            f"k grid: expected a 1-d array of at least 2 wave numbers, got shape {k.shape}"
        )
    dk = k[1] - k[0]
    if (
        dk <= 0
        or not np.allclose(np.diff(k), dk, rtol=1e-8, atol=1e-12)
        or not np.isclose(k[0], dk / 2, rtol=1e-8, atol=1e-12)
    ):
        raise InputError(
            "k grid: MCT needs the midpoint grid k_i = (i + 1/2) dk (equal steps, k_0 = dk/2); "
            f"got k_0 = {k[0]:g}, steps {np.min(np.diff(k)):g}..{np.max(np.diff(k)):g}"
        )
    return float(dk)


def _anti_diagonal_sums(A):
    """Sums over j + l = s, s = 0 … 2n−2, of A[..., j, l] (a skew reshape, no loop)."""
    n = A.shape[-1]
    lead = A.shape[:-2]
    padded = jnp.concatenate([A, jnp.zeros_like(A)], axis=-1)  # (..., n, 2n)
    flat = padded.reshape(lead + (2 * n * n,))[..., : n * (2 * n - 1)]
    skew = flat.reshape(lead + (n, 2 * n - 1))  # skew[..., j, j + l] = A[..., j, l]
    return jnp.sum(skew, axis=-2)


def triangle_sums_last(A):
    """T[..., i] = Σ_{|j−l| ≤ i ≤ j+l} A[..., j, l] for i = 0 … n−1 (grid axes last: the fast layout)."""
    n = A.shape[-1]
    anti = _anti_diagonal_sums(A)  # index s = j + l
    diag = _anti_diagonal_sums(A[..., ::-1])  # index n−1 + (j − l)
    # |j − l| = m: diagonals n−1+m and n−1−m
    by_abs = jnp.concatenate(
        [diag[..., n - 1 : n], diag[..., n:] + diag[..., : n - 1][..., ::-1]], axis=-1
    )
    inside = jnp.cumsum(by_abs, axis=-1)  # Σ_{|j−l| ≤ i}
    below = jnp.cumsum(anti[..., : n - 1], axis=-1)  # Σ_{j+l ≤ i−1}, for i = 1 … n−1
    below = jnp.concatenate([jnp.zeros_like(below[..., :1]), below], axis=-1)
    return inside - below


def triangle_sums(A):
    """T_i = Σ_{|j−l| ≤ i ≤ j+l} A[j, l, ...] for i = 0 … n−1 (0-based midpoint grid).

    ``A`` has shape ``(n, n, *rest)``; the result has shape ``(n, *rest)``.
    """
    rest = A.ndim - 2
    moved = jnp.moveaxis(A, (0, 1), (rest, rest + 1))
    return jnp.moveaxis(triangle_sums_last(moved), rest, 0)


def triangle_mask(n: int) -> np.ndarray:
    """The 0/1 weights W[i, j, l] of `triangle_sums` (a plain reference for tests)."""
    i, j, l = np.ogrid[:n, :n, :n]
    return ((np.abs(j - l) <= i) & (i <= j + l)).astype(float)


def probe_weights(k_probe, k) -> np.ndarray:
    """Bipolar weights for tagged kernels at arbitrary wave numbers k* (off the grid).

    Returns W[m, j, l] = q_j p_l a(k*_m, q_j, p_l)² · overlap / k*_m, where a = k̂·q =
    (k*² + q² − p²)/(2k*) and ``overlap`` is the fraction of the p-cell [lΔ, (l+1)Δ] inside
    [|k* − q_j|, k* + q_j]. For k* on the grid this is exactly the triangle sum of the tagged vertex.
    """
    k = np.asarray(k, float)
    dk = grid_spacing(k)
    kp = np.atleast_1d(np.asarray(k_probe, float))
    q = k[None, :, None]
    p = k[None, None, :]
    ks = kp[:, None, None]
    lo = np.abs(ks - q)
    hi = ks + q
    cell_lo = p - dk / 2
    cell_hi = p + dk / 2
    overlap = np.clip(np.minimum(hi, cell_hi) - np.maximum(lo, cell_lo), 0.0, None) / dk
    a = (ks**2 + q**2 - p**2) / (2 * ks)
    return q * p * a**2 * overlap / ks
