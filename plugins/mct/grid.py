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


def _fft_size(n: int) -> int:
    """The smallest 2^a 3^b 5^c ≥ 2n − 1: linear (not circular) convolutions of two length-n vectors."""
    m = 2 * n - 1
    while True:
        r = m
        for p in (2, 3, 5):
            while r % p == 0:
                r //= p
        if r == 1:
            return m
        m += 1


def bipolar_sums(g, h, coef, k):
    """The three bipolar triangle sums of separable arrays, by fast convolution: O(n log n).

    Every MCT vertex array is a sum of outer products, A_c[j, l] = w_c(q_j, p_l) Σ_r coef[c, r]
    g_r(q_j) h_r(p_l), with the bipolar weights w_0 = q p, w_1 = q p (q² − p²)², w_2 = q p (q² − p²)
    (see `memplug.plugins.mct.kernels.bipolar_weights`). On the midpoint grid q − p = (j − l) Δ and
    q + p = (j + l + 1) Δ, so on a diagonal m = j − l the factor (q − p) is the constant m Δ and on an
    anti-diagonal s = j + l the factor (q + p) is (s + 1) Δ. With

        T_i = Σ_{|m| ≤ i} D_m − Σ_{s ≤ i−1} S_s    (diagonal sums D_m, anti-diagonal sums S_s),

    the diagonal sums of a_j b_l are a correlation and the anti-diagonal sums a convolution of the
    vectors a and b; the remaining factor (q + p)^e on a diagonal, (q − p)^e on an anti-diagonal, is
    expanded in powers q^a p^b (e ≤ 2), so every sum is a product of spectra of q^a g_r and p^b h_r.
    The result equals `triangle_sums_last` of the stacked w_c ∘ A_c to round-off (the weights that
    vanish on the diagonal, (q − p)^e at m = 0, are applied exactly, after the sums).

    Args:
        g, h: (R, ..., n) arrays of the factors of the outer products (grid axis last).
        coef: (3, R) static coefficients of the products in the three classes.
        k: (n,) midpoint grid.

    Returns:
        T: (3, ..., n), the triangle sums of the three weighted classes.
    """
    n = g.shape[-1]
    k = jnp.asarray(k)
    dk = k[1] - k[0]
    nf = _fft_size(n)
    powers = jnp.stack([k, k**2, k**3])  # q^1, q^2, q^3
    G = jnp.fft.rfft(powers.reshape((3,) + (1,) * (g.ndim - 1) + (n,)) * g[None], nf)
    H = jnp.fft.rfft(powers.reshape((3,) + (1,) * (h.ndim - 1) + (n,)) * h[None], nf)
    coef = np.asarray(coef, float)

    def mix(c, a, b, conj):
        """Σ_r coef[c, r] spectrum(q^a g_r) spectrum(p^b h_r) (conjugated h for correlations)."""
        Hb = jnp.conj(H[b - 1]) if conj else H[b - 1]
        w = jnp.asarray(coef[c]).reshape((-1,) + (1,) * (g.ndim - 1))
        return jnp.sum(w * G[a - 1] * Hb, axis=0)

    # diagonal sums: (q + p)^e expanded, +; anti-diagonal sums: (q − p)^e expanded, signs alternate
    spectra = []
    for conj, sign in ((True, 1.0), (False, -1.0)):
        spectra += [
            mix(0, 1, 1, conj),
            mix(1, 3, 1, conj) + 2.0 * sign * mix(1, 2, 2, conj) + mix(1, 1, 3, conj),
            mix(2, 2, 1, conj) + sign * mix(2, 1, 2, conj),
        ]
    out = jnp.fft.irfft(jnp.stack(spectra), nf)
    corr, conv = out[:3], out[3:]
    lag = jnp.arange(n) * dk  # |m| Δ
    lead = (3,) + (1,) * (g.ndim - 2)
    # D_m for m ≥ 0 sits at index m, D_{−m} at nf − m
    d_pos = corr[..., :n]
    d_neg = jnp.concatenate([jnp.zeros_like(corr[..., :1]), corr[..., nf - 1 : nf - n : -1]], -1)
    w_pos = jnp.stack([jnp.ones(n), lag**2, lag]).reshape(lead + (n,))
    w_neg = jnp.stack([jnp.ones(n), lag**2, -lag]).reshape(lead + (n,))
    inside = jnp.cumsum(w_pos * d_pos + w_neg * d_neg, axis=-1)
    ks = (jnp.arange(n - 1) + 1.0) * dk  # (s + 1) Δ for s = 0 … n − 2
    w_s = jnp.stack([jnp.ones(n - 1), ks**2, ks]).reshape(lead + (n - 1,))
    below = jnp.cumsum(w_s * conv[..., : n - 1], axis=-1)
    below = jnp.concatenate([jnp.zeros_like(below[..., :1]), below], axis=-1)
    return inside - below


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
