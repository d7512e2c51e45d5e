"""MCT kernels: bipolar triangle sums and the vectorised kernels against plain NumPy references."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from memplug.errors import InputError
from memplug.plugins.mct import grid, kernels, reference
from memplug.plugins.systems import hard_spheres as hs


def test_triangle_sums_match_mask_and_recurrence():
    rng = np.random.default_rng(1)
    n = 17
    A = rng.normal(size=(n, n, 3))
    expected = np.einsum("ijl,jlr->ir", grid.triangle_mask(n), A)  # the definition
    np.testing.assert_allclose(np.asarray(grid.triangle_sums(jnp.asarray(A))), expected, atol=1e-12)
    np.testing.assert_allclose(reference.bengtzelius(A), expected, atol=1e-12)


def test_triangle_mask_is_the_bipolar_domain():
    # cell l of p covers [lΔ, (l+1)Δ]; the domain |k_i − q_j| ≤ p ≤ k_i + q_j is a union of whole cells
    n, dk = 12, 0.5
    k = grid.midpoint_grid(n, n * dk)
    W = grid.triangle_mask(n)
    for i in range(n):
        for j in range(n):
            lo, hi = abs(k[i] - k[j]), k[i] + k[j]
            inside = (k - dk / 2 >= lo - 1e-12) & (k + dk / 2 <= hi + 1e-12)
            np.testing.assert_array_equal(W[i, j], inside.astype(float))


def _mixture_statics(n):
    k = grid.midpoint_grid(n, 40.0)
    d, x, phi = [1.0, 0.8], [0.6, 0.4], 0.5
    return kernels.make_statics(
        k, hs.percus_yevick_mixture_S(k, phi, d, x), hs.mixture_density(phi, d, x), x
    )


def test_collective_and_tagged_kernels_match_reference():
    st = _mixture_statics(14)
    n = st.n_k
    rng = np.random.default_rng(0)
    F = st.S * rng.uniform(0.3, 1.0, size=(n, 1, 1))
    F[:, 0, 1] *= 0.9  # not symmetric: the Hadamard form must not assume it
    Fs = rng.uniform(0.2, 1.0, size=(n, 2))
    D = np.array([1.3, 0.7])
    ker = kernels.MCTKernel(st, D, tagged=True, k_probe=[st.k[5]])
    state = np.concatenate([F, Fs[:, :, None] * np.eye(2), np.zeros((1, 2, 2))])
    K = np.asarray(eqx.filter_jit(lambda kern, F: kern(F))(ker, jnp.asarray(state)))
    K_ref = reference.collective_kernel(F, st.k, st.c, st.rho, st.x, D)  # full s⁴ vertex, loops
    np.testing.assert_allclose(K[:n], K_ref, rtol=1e-11, atol=1e-11 * np.abs(K_ref).max())
    K_b = reference.collective_kernel_bengtzelius(F, st.k, st.c, st.rho, st.x, D)
    np.testing.assert_allclose(K_b, K_ref, rtol=1e-10, atol=1e-10 * np.abs(K_ref).max())
    Ks_ref = reference.tagged_kernel(Fs, F, st.k, st.c, st.rho, D)
    np.testing.assert_allclose(np.diagonal(K[n : 2 * n], axis1=1, axis2=2), Ks_ref, rtol=1e-11)
    # a probe placed on a grid point reproduces the grid row
    np.testing.assert_allclose(np.diagonal(K[2 * n]), Ks_ref[5], rtol=1e-11)
    # off-diagonal species entries of tagged rows stay zero
    assert np.all(K[n:, 0, 1] == 0) and np.all(K[n:, 1, 0] == 0)


def test_probe_between_grid_points_interpolates_smoothly():
    st = _mixture_statics(40)
    F = st.S
    kp = 0.5 * (st.k[10] + st.k[11])
    ker = kernels.MCTKernel(st, [1.0, 1.0], tagged=True, k_probe=[kp])
    K = np.asarray(
        eqx.filter_jit(lambda kern, F: kern(F))(
            ker, jnp.asarray(np.concatenate([F, np.broadcast_to(np.eye(2), (st.n_k + 1, 2, 2))]))
        )
    )

    grid_rows = np.diagonal(K[st.n_k : 2 * st.n_k], axis1=1, axis2=2)
    probe = np.diagonal(K[-1])
    lo, hi = np.minimum(grid_rows[10], grid_rows[11]), np.maximum(grid_rows[10], grid_rows[11])
    assert np.all(probe > 0.9 * lo) and np.all(probe < 1.1 * hi)


def test_statics_validation():
    k = grid.midpoint_grid(10, 4.0)
    with pytest.raises(InputError, match="midpoint grid"):
        kernels.make_statics(np.linspace(0, 4, 10), np.ones(10), 1.0)
    with pytest.raises(InputError, match="positive definite"):
        kernels.make_statics(k, -np.ones(10), 1.0)
    with pytest.raises(InputError, match="fractions"):
        kernels.make_statics(k, np.ones((10, 2, 2)) * np.eye(2), 1.0, [0.5, 0.6])
    st = kernels.make_statics(k, np.ones(10), 0.5)
    np.testing.assert_allclose(st.c, 0.0, atol=1e-15)  # S = 1: no correlations


@pytest.mark.parametrize("n", [23, 100])
def test_bipolar_sums_by_convolution_equal_the_direct_triangle_sums(n):
    """`bipolar_sums` (spectra of q^a g, p^b h) against the triangle sums of the explicit weighted
    (q, p) arrays: the same numbers to round-off, for every class and any coefficients."""
    k = grid.midpoint_grid(n, 40.0)
    rng = np.random.default_rng(n)
    g, h = rng.normal(size=(3, 2, n)), rng.normal(size=(3, 2, n))
    coef = rng.normal(size=(3, 3))
    A = np.einsum("cr,rxj,rxl->cxjl", coef, g, h) * kernels.bipolar_weights(k)[:, None]
    direct = np.asarray(jax.jit(grid.triangle_sums_last)(jnp.asarray(A)))
    fast = np.asarray(jax.jit(lambda g, h: grid.bipolar_sums(g, h, coef, k))(g, h))
    scale = np.abs(direct).max(axis=-1, keepdims=True)
    assert np.max(np.abs(fast - direct) / scale) < 1e-13
