"""Core solvers against independent truth: closed forms, known critical points, a second method."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import ive

import memplug.kernels
from memplug import (
    DiffraxSolver,
    ExponentialSumKernel,
    MemoryEquation,
    SchematicF1Kernel,
    SchematicF2Kernel,
    TimeDoublingSolver,
    nonergodicity_parameter,
)
from memplug.solution import BLOWUP, NOT_FINITE

# A solve is compiled once per solver configuration and equation structure (eqx.filter_jit), and
# compiling dominates this file's run time: the tests share a few configurations.
#: Overdamped closed-form checks (and the interpolation check on the same solution).
EXACT_OVERDAMPED = TimeDoublingSolver(N=128, dt0=1e-6, t_max=1e3, richardson=True)
#: Small problems: block vs point-wise, matrix vs scalar, order, gradient, vmap, divergence.
SMALL = TimeDoublingSolver(N=16, dt0=1e-3, t_max=1e2)
#: Schematic F2 across its transition (long times), scalar and matrix.
F2_SOLVER = TimeDoublingSolver(N=32, t_max=1e12)


def diffrax_solve(solver: DiffraxSolver, eq: MemoryEquation):
    """``solver.solve(eq)``: jit-compiled once per configuration and equation structure."""
    return solver.solve(eq)


def exact_exponential(t, alpha, beta, gamma, w, r):
    """Closed form for M(t) = w e^{-r t} by partial fractions of the Laplace transform.

    Laplace transform of α F'' + β F' + γ F + M * F' = 0 with F(0) = 1, F'(0) = 0:
        F̂(s) = [α s + β + w/(s + r)] / [α s² + β s + γ + w s/(s + r)]
              = [(α s + β)(s + r) + w] / [(α s² + β s + γ)(s + r) + w s],
    a rational function whose poles p_i give F(t) = Σ Res_i e^{p_i t}.
    """
    num = np.polyadd(np.polymul([alpha, beta], [1.0, r]), [w])
    den = np.polyadd(np.polymul([alpha, beta, gamma], [1.0, r]), [w, 0.0])
    den = np.trim_zeros(den, "f")
    p = np.roots(den)
    dden = np.polyder(den)
    out = np.zeros_like(t, dtype=complex)
    for pi in p:
        out += np.polyval(num, pi) / np.polyval(dden, pi) * np.exp(pi * t)
    return out.real


@pytest.mark.parametrize(
    "alpha,beta,gamma,w,r",
    [(0.0, 1.0, 1.0, 1.5, 2.0), (1.0, 0.0, 1.0, 1.5, 2.0), (1.0, 0.5, 2.0, 3.0, 0.7)],
    ids=["overdamped", "newtonian", "newtonian-damped"],
)
def test_exponential_kernel_matches_closed_form(alpha, beta, gamma, w, r):
    eq = MemoryEquation(alpha, beta, gamma, 1.0, ExponentialSumKernel([w], [r]))
    # time doubling (second order) with Richardson extrapolation
    # Newtonian: a first step of 1e-6 would make α/δt² = 1e12 multiply differences of F of order
    # δt², losing 4 digits to round-off; 1e-5 keeps both truncation and round-off small.
    solver = (
        EXACT_OVERDAMPED
        if alpha == 0.0
        else TimeDoublingSolver(N=128, dt0=1e-5, t_max=1e3, richardson=True)
    )
    sol = solver.solve(eq)
    t = np.asarray(sol.t)
    window = (t >= 1e-4) & (t <= 1e3)
    err_td = np.max(
        np.abs(np.asarray(sol.F)[window] - exact_exponential(t[window], alpha, beta, gamma, w, r))
    )
    assert int(sol.status) == 0
    # Overdamped: 1e-8. Newtonian: the time-doubling scheme's error after one Richardson step is not a
    # clean power of the step (measured 4e-6, 5.7e-7 at N = 64, 128), so its bound is 1e-6; the
    # embedding solver below meets 1e-8 for every case.
    assert err_td <= (1e-8 if alpha == 0.0 else 1e-6), err_td
    # diffrax (Markovian embedding), an independent method
    ts = tuple(float(x) for x in np.geomspace(1e-4, 1e3, 200))
    dsol = diffrax_solve(DiffraxSolver(ts=ts, rtol=1e-12, atol=1e-14), eq)
    err_dx = np.max(
        np.abs(np.asarray(dsol.F) - exact_exponential(np.asarray(ts), alpha, beta, gamma, w, r))
    )
    assert int(dsol.status) == 0
    assert err_dx <= 1e-8, err_dx


def test_plain_time_doubling_is_second_order():
    """Halving the step (doubling N) divides the error by 4 ± 10 %: the scheme's order is 2."""
    eq = MemoryEquation(0.0, 1.0, 1.0, 1.0, ExponentialSumKernel([1.5], [2.0]))
    errs = []
    for solver in (SMALL, TimeDoublingSolver(N=32, dt0=SMALL.dt0, t_max=SMALL.t_max)):
        sol = solver.solve(eq)
        t = np.asarray(sol.t)
        errs.append(
            np.max(np.abs(np.asarray(sol.F) - exact_exponential(t, 0.0, 1.0, 1.0, 1.5, 2.0)))
        )
    assert 3.6 < errs[0] / errs[1] < 4.4


@pytest.mark.parametrize("alpha,atol", [(0.0, 1e-12), (1.0, 1e-9)], ids=["overdamped", "newtonian"])
def test_block_and_pointwise_solves_agree(alpha, atol):
    """The block-triangular solve and the point-by-point solve are the same discretisation.

    They differ only by round-off, which the Newtonian α/δt² (here 1e6) amplifies.
    """
    eq = MemoryEquation(
        alpha,
        0.3,
        jnp.array([[2.0, 0.3], [0.1, 1.0]]),
        jnp.eye(2),
        ExponentialSumKernel(jnp.array([[[1.0, 0.2], [0.3, 0.5]]]), 1.3),
    )
    a = SMALL.solve(eq)
    b = TimeDoublingSolver(N=16, dt0=1e-3, t_max=1e2, pointwise=True).solve(eq)
    np.testing.assert_allclose(a.F, b.F, atol=atol, rtol=0)


def test_schematic_f1_matches_bessel_solution():
    """F1 model M = λF, λ = 1, α = 0, β = γ = 1: F(t) = e^{-2t}[I0(2t) + I1(2t)].

    Inverse Laplace transform of F̂(s) = (√(1 + 4/s) − 1)/2 (the same reference solution is used in the
    ModeCouplingTheory.jl test suite, there to 1e-3 on t ≤ 100).
    """
    eq = MemoryEquation(0.0, 1.0, 1.0, 1.0, SchematicF1Kernel(1.0))
    sol = TimeDoublingSolver(N=64, t_max=1e2, richardson=True).solve(eq)
    t = np.asarray(sol.t)
    window = t <= 100.0
    exact = ive(0, 2 * t) + ive(1, 2 * t)
    assert int(sol.status) == 0
    assert np.max(np.abs(np.asarray(sol.F)[window] - exact[window])) <= 1e-6


def test_schematic_f2_glass_transition_at_lambda_4():
    """F2 model M = λF² (α = 0, β = γ = 1): glass for λ > 4 with f_c = 1/2 at λ_c = 4 (Götze 1984).

    Nonergodicity parameter: f/(1 − f) = λ f² ⇒ f = [1 + √(1 − 4/λ)]/2 for λ ≥ 4, else 0.
    """
    solver = F2_SOLVER
    glass = solver.solve(MemoryEquation(0.0, 1.0, 1.0, 1.0, SchematicF2Kernel(4.0 + 1e-6)))
    assert int(glass.status) == 0
    assert abs(float(glass.F[-1]) - 0.5) < 1e-2
    liquid = solver.solve(MemoryEquation(0.0, 1.0, 1.0, 1.0, SchematicF2Kernel(3.9)))
    assert int(liquid.status) == 0
    assert abs(float(liquid.F[-1])) < 1e-6
    # steady-state solver against the closed form
    for lam in (3.9, 4.0 + 1e-6, 4.5, 10.0):
        ss = nonergodicity_parameter(
            MemoryEquation(0.0, 1.0, 1.0, 1.0, SchematicF2Kernel(lam)), tol=1e-14
        )
        expected = 0.5 * (1 + np.sqrt(1 - 4 / lam)) if lam >= 4 else 0.0
        tol = 2e-3 if abs(lam - 4) < 1e-3 else 1e-8  # critical slowing down of the iteration at λ_c
        assert abs(float(ss.f) - expected) < tol, (lam, float(ss.f), expected)


def test_matrix_problem_with_diagonal_kernel_equals_scalar_solves():
    w = jnp.array([[[1.5, 0.0], [0.0, 0.4]]])
    r = jnp.array([[[2.0, 1.0], [1.0, 0.5]]])
    eq = MemoryEquation(
        0.0, 1.0, jnp.diag(jnp.array([1.0, 3.0])), jnp.eye(2), ExponentialSumKernel(w, r)
    )
    solver = SMALL
    mat = solver.solve(eq)
    for a, (g, wa, ra) in enumerate([(1.0, 1.5, 2.0), (3.0, 0.4, 0.5)]):
        sca = solver.solve(MemoryEquation(0.0, 1.0, g, 1.0, ExponentialSumKernel([wa], [ra])))
        np.testing.assert_allclose(mat.F[:, a, a], sca.F, atol=1e-13, rtol=0)
    np.testing.assert_allclose(mat.F[:, 0, 1], 0.0, atol=1e-14)
    # functional kernels too
    solver = F2_SOLVER
    f2 = solver.solve(
        MemoryEquation(
            0.0, 1.0, 1.0, jnp.eye(2), SchematicF2Kernel(jnp.array([[3.0, 0.0], [0.0, 5.0]]))
        )
    )
    for a, lam in enumerate([3.0, 5.0]):
        sca = solver.solve(MemoryEquation(0.0, 1.0, 1.0, 1.0, SchematicF2Kernel(lam)))
        np.testing.assert_allclose(f2.F[:, a, a], sca.F, atol=1e-10, rtol=0)


def test_three_widely_separated_exponentials_time_doubling_vs_diffrax():
    w = jnp.array([2.0, 1.0, 0.5])
    r = jnp.array([1e3, 1.0, 1e-3])  # τ = 1e-3, 1, 1e3
    eq = MemoryEquation(0.0, 1.0, 1.0, 1.0, ExponentialSumKernel(w, r))
    td = TimeDoublingSolver(N=64, t_max=1e5, richardson=True).solve(eq)
    ts = np.geomspace(1e-5, 1e5, 150)
    dx = diffrax_solve(DiffraxSolver(ts=tuple(float(x) for x in ts)), eq)
    assert int(td.status) == 0 and int(dx.status) == 0
    np.testing.assert_allclose(np.asarray(td.interpolate(ts)), np.asarray(dx.F), atol=1e-6, rtol=0)


def _loss_fn(solver, t_obs, target):
    def loss(theta):
        w, r = theta[0], theta[1]
        eq = MemoryEquation(
            0.0, 1.0, 1.0, 1.0, ExponentialSumKernel(jnp.stack([w]), jnp.stack([r]))
        )
        F = solver.solve(eq).interpolate(t_obs)
        return jnp.sum((F - target) ** 2)

    return loss


def test_gradient_matches_finite_differences():
    solver = SMALL
    t_obs = jnp.geomspace(1e-2, 50.0, 40)
    target = jnp.asarray(exact_exponential(np.asarray(t_obs), 0.0, 1.0, 1.0, 1.0, 1.0))
    loss = _loss_fn(solver, t_obs, target)
    theta = jnp.array([1.7, 0.6])
    g = jax.grad(loss)(theta)
    h = 1e-5
    fd = jnp.array([(loss(theta + h * e) - loss(theta - h * e)) / (2 * h) for e in jnp.eye(2)])
    np.testing.assert_allclose(g, fd, rtol=1e-6)


def test_vmap_over_population_equals_separate_solves():
    solver = SMALL
    key = jax.random.PRNGKey(0)
    thetas = jnp.abs(jax.random.normal(key, (64, 2))) + 0.2

    def final(theta):
        eq = MemoryEquation(0.0, 1.0, 1.0, 1.0, ExponentialSumKernel(theta[:1], theta[1:]))
        return solver.solve(eq).F

    batched = jax.jit(jax.vmap(final))(thetas)
    separate = jnp.stack([final(th) for th in thetas])  # solver.solve: jit-compiled on its own
    np.testing.assert_allclose(batched, separate, atol=1e-13, rtol=0)


def test_diverging_parameters_are_flagged_not_raised():
    # negative memory amplitude makes the overdamped solution grow without bound
    eq = MemoryEquation(0.0, 1.0, 1.0, 1.0, ExponentialSumKernel([-5.0], [0.1]))
    sol = SMALL.solve(eq)  # blows up before t = 1e2
    assert int(sol.status) & (BLOWUP | NOT_FINITE)
    assert not bool(sol.ok)
    assert sol.describe() != "ok"


def test_interpolation_reproduces_smooth_function():
    # the overdamped closed-form solve above (same configuration and equation: no new compile);
    # its error on the grid is 1.4e-9, and off the grid the interpolant adds nothing measurable
    # (at N = 32, t_max = 1e2 both were 9e-8 against the former bound 1e-6)
    eq = MemoryEquation(0.0, 1.0, 1.0, 1.0, ExponentialSumKernel([1.5], [2.0]))
    sol = EXACT_OVERDAMPED.solve(eq)
    tq = np.geomspace(1e-3, 50, 77)
    np.testing.assert_allclose(
        sol.interpolate(tq), exact_exponential(tq, 0, 1, 1, 1.5, 2.0), atol=1e-8, rtol=0
    )


class _PlainExponential(memplug.kernels.ExplicitKernel):
    """w e^{−r t} without declaring it a sum of exponentials: exercises the quadrature path."""

    w: float
    r: float

    def __call__(self, t):
        return self.w * jnp.exp(-self.r * t)


def test_general_explicit_kernel_uses_quadrature_and_matches_closed_form():
    eq = MemoryEquation(0.0, 1.0, 1.0, 1.0, _PlainExponential(1.5, 2.0))
    sol = TimeDoublingSolver(N=32, t_max=1e3, richardson=True).solve(eq)
    t = np.asarray(sol.t)
    assert int(sol.status) == 0
    assert np.max(np.abs(np.asarray(sol.F) - exact_exponential(t, 0.0, 1.0, 1.0, 1.5, 2.0))) < 1e-6


def test_anderson_acceleration_reaches_the_plain_iterations_fixed_point_in_far_fewer_iterations():
    """Near λ_c = 4 the plain iteration F_i ← g(F_i) contracts slowly; Anderson's mixing of the last
    iterates must land on the same solution (the discretised equation, not the method, fixes it)."""
    eq = MemoryEquation(0.0, 1.0, 1.0, 1.0, SchematicF2Kernel(3.99))
    plain = TimeDoublingSolver(N=16, t_max=1e8, tol=1e-13, anderson=0).solve(eq)
    fast = TimeDoublingSolver(N=16, t_max=1e8, tol=1e-13, anderson=3).solve(eq)
    assert int(plain.status) == 0 and int(fast.status) == 0
    np.testing.assert_allclose(np.asarray(fast.F), np.asarray(plain.F), rtol=0, atol=1e-9)
    assert int(fast.iterations) * 4 <= int(plain.iterations), (fast.iterations, plain.iterations)
