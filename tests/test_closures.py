"""Closure catalogue: kernels against their formulas at hand-computed points, parameter spaces,
reductions between Eq. 6, Eq. 8 and the exponential closure, and JAX-friendliness. No solves here
(see test_closures_solve.py)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from closure_support import BUILTIN_CLOSURES as BUILTIN

from memplug.errors import InputError
from memplug.kernels import ExplicitKernel, FunctionalKernel
from memplug.model import default_context, get_closure
from memplug.registry import get_registry

CTX = default_context()  # binary mixture, T = 1, k_peak = 7.25: Omega^2 = diag(52.5625, 52.5625)
OM2 = 7.25**2  # 52.5625


def kernel_at(spec, theta, t):
    return np.asarray(get_closure(spec).kernel(theta, CTX)(jnp.asarray(t, dtype=float)))


def with_defaults(spec, **given):
    theta = dict(get_closure(spec).initial(CTX))
    theta.update({k: jnp.asarray(v, dtype=float) for k, v in given.items()})
    return theta


# -- registry view ---------------------------------------------------------------------------


def test_every_builtin_closure_is_registered_by_the_core_distribution():
    reg = get_registry()
    for name in BUILTIN:
        assert name in reg.names("closures")
        assert reg.owner["closures"][name].distribution == "memplug"


@pytest.mark.parametrize("name", BUILTIN)
def test_defaults_are_inside_bounds_and_round_trip_through_the_transforms(name):
    closure = get_closure(name)
    space = closure.space(CTX)
    x = np.asarray(space.pack(closure.initial(CTX)))
    lo, hi = space.bounds()
    assert x.shape == (space.dim,) and len(space.labels()) == space.dim
    assert np.all(x >= lo) and np.all(x <= hi)
    u = space.to_unconstrained(jnp.asarray(x))
    assert bool(jnp.all(jnp.isfinite(u)))  # logit/log defaults strictly inside their domain
    np.testing.assert_allclose(np.asarray(space.from_unconstrained(u)), x, rtol=1e-9, atol=1e-12)
    kernel = closure.kernel(closure.initial(CTX), CTX)
    assert isinstance(kernel, ExplicitKernel | FunctionalKernel)


# -- exponential -------------------------------------------------------------------------------


def test_exponential_kernel_values():
    M = kernel_at("exponential", {"amplitude": [2.0, 3.0], "rate": [1.0, 4.0]}, [0.5])
    # hand values: 2 e^{-0.5} = 1.2130613194252668, 3 e^{-2} = 0.4060058497098381
    np.testing.assert_allclose(np.diag(M[0]), [1.2130613194252668, 0.4060058497098381], rtol=1e-12)
    assert M[0, 0, 1] == 0.0 and M[0, 1, 0] == 0.0
    # free=none: the paper's closure exp(-Omega^2 t) with no parameter
    closure = get_closure("exponential:free=none")
    assert closure.space(CTX).dim == 0
    M = np.asarray(closure.kernel({}, CTX)(jnp.array([0.01])))
    assert M[0, 0, 0] == pytest.approx(math.exp(-0.525625), rel=1e-12)  # e^{-52.5625 * 0.01}


# -- Eq. 6 ---------------------------------------------------------------------------------------

STRETCHED_THETA = {
    # AA: two stretched/compressed modes and a plateau
    "c_AA": 0.1,
    "w_AA": [2.0, 0.5],
    "a_AA": [0.2, 0.0],
    "tau_AA": [1.0, 4.0],
    "b_AA": [0.5, 2.0],
    # AB: negative constant, one mode
    "c_AB": -0.3,
    "w_AB": [1.5, 0.0],
    "a_AB": [0.1, 0.5],
    "tau_AB": [2.0, 1.0],
    "b_AB": [1.0, 1.0],
    # BB: two identical Debye modes
    "c_BB": 0.0,
    "w_BB": [1.0, 1.0],
    "a_BB": [0.0, 0.0],
    "tau_BB": [1.0, 1.0],
    "b_BB": [1.0, 1.0],
}


#: The paper's literal Eq. 6: 27 parameters at N_exp = 2 (non-decaying fractions a_i, M^{AB}).
PAPER6 = "stretched:cross=True,fractions=True"


def test_stretched_kernel_values_at_hand_computed_points():
    M = kernel_at(PAPER6, STRETCHED_THETA, [0.0, 1.0, 2.0])
    assert M.shape == (3, 2, 2)
    # AA(0) = c + w1 + w2 = 0.1 + 2 + 0.5
    assert M[0, 0, 0] == pytest.approx(2.6, rel=1e-12)
    # AA(1) = 0.1 + 2[0.8 e^{-1} + 0.2] + 0.5 e^{-(1/4)^2} = 1.5583136372810458
    assert M[1, 0, 0] == pytest.approx(1.5583136372810458, rel=1e-12)
    # AA(2) = 0.1 + 2[0.8 e^{-sqrt 2} + 0.2] + 0.5 e^{-(2/4)^2} = 1.2783871666304452
    assert M[2, 0, 0] == pytest.approx(1.2783871666304452, rel=1e-12)
    # AB(1) = -0.3 + 1.5[0.9 e^{-1/2} + 0.1] = 0.6688163906120552, and M^{BA} = M^{AB}
    assert M[1, 0, 1] == pytest.approx(0.6688163906120552, rel=1e-12)
    np.testing.assert_array_equal(M[:, 0, 1], M[:, 1, 0])
    # BB(1) = 2 e^{-1} = 0.7357588823428847
    assert M[1, 1, 1] == pytest.approx(0.7357588823428847, rel=1e-12)


@pytest.mark.parametrize(
    "spec, dim",
    [
        (PAPER6, 27),  # paper: 3 (1 + 4 N_exp) = 27 at N_exp = 2
        (PAPER6 + ",n_exp=1", 15),
        (PAPER6 + ",n_exp=3", 39),
        (PAPER6 + ",stretch=False", 21),  # b fixed to 1: 3 (1 + 3 N_exp)
        ("stretched", 14),  # default: diagonal, no a_i: 2 (1 + 3 N_exp)
        ("stretched:n_exp=1", 8),
        ("stretched:n_exp=3", 20),
        ("stretched:stretch=False", 10),  # 2 (1 + 2 N_exp)
        ("stretched:cross=True", 21),
        ("stretched:fractions=True", 18),
    ],
)
def test_stretched_parameter_count(spec, dim):
    assert get_closure(spec).space(CTX).dim == dim


def test_stretched_reduces_to_a_pure_exponential_for_b_1_and_a_0():
    """Eq. 6 with c = 0, a = 0, b = 1, N_exp = 1 is w exp(-t/tau): the exponential closure."""
    theta = with_defaults(
        PAPER6 + ",n_exp=1",
        c_AA=0.0,
        w_AA=[2.0],
        a_AA=[0.0],
        tau_AA=[0.25],
        b_AA=[1.0],
        c_AB=0.0,
        w_AB=[0.0],
        c_BB=0.0,
        w_BB=[3.0],
        a_BB=[0.0],
        tau_BB=[0.5],
        b_BB=[1.0],
    )
    t = np.array([0.0, 0.1, 0.7, 3.0])
    M6 = kernel_at(PAPER6 + ",n_exp=1", theta, t)
    Mexp = kernel_at("exponential", {"amplitude": [2.0, 3.0], "rate": [4.0, 2.0]}, t)
    np.testing.assert_allclose(M6, Mexp, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(M6[:, 0, 0], 2.0 * np.exp(-4.0 * t), rtol=1e-13)


#: Eq. 8 as printed in the paper (unit-dependent).
LITERAL8 = "double-stretched:form=literal"


def test_stretched_reduces_to_eq8_form():
    """Eq. 6 with N_exp = 2, c = a = 0, w = (1, K), tau_1 = (Omega^2)^(-1/nu), b_1 = nu,
    tau_2 = (Omega~^2)^(-1/mu), b_2 = mu is Eq. 8."""
    nu, mu, K, omt = (
        {"AA": 0.8, "BB": 1.2},
        {"AA": 0.6, "AB": 0.9, "BB": 0.4},
        {"AA": 2.0, "AB": -0.4, "BB": 0.7},
        {"AA": 3.0, "AB": 1.5, "BB": 0.2},
    )
    eq8 = {}
    for p in ("AA", "AB", "BB"):
        eq8.update({f"K_{p}": K[p], f"omega2t_{p}": omt[p], f"mu_{p}": mu[p]})
    eq8.update({"nu_AA": nu["AA"], "nu_BB": nu["BB"]})
    eq6 = {}
    for p in ("AA", "AB", "BB"):
        first = p != "AB"  # Omega^2 is diagonal: no first channel off the diagonal
        b1 = nu[p] if first else 1.0
        eq6.update(
            {
                f"c_{p}": 0.0,
                f"w_{p}": [1.0 if first else 0.0, K[p]],
                f"a_{p}": [0.0, 0.0],
                f"tau_{p}": [OM2 ** (-1.0 / b1) if first else 1.0, omt[p] ** (-1.0 / mu[p])],
                f"b_{p}": [b1, mu[p]],
            }
        )
    t = np.geomspace(1e-4, 30.0, 25)
    M8 = kernel_at(LITERAL8 + ",cross=True", eq8, t)
    np.testing.assert_allclose(kernel_at(PAPER6, eq6, t), M8, rtol=1e-11, atol=1e-14)
    # and Eq. 8 itself at one hand point: AA(0.01) with nu = 0.8, K = 2, Omega~^2 = 3, mu = 0.6
    ref = math.exp(-OM2 * 0.01**0.8) + 2.0 * math.exp(-3.0 * 0.01**0.6)
    assert kernel_at(LITERAL8, eq8, [0.01])[0, 0, 0] == pytest.approx(ref, rel=1e-12)


def test_default_stretched_memory_is_one_dominant_decaying_mode():
    t = np.array([0.0, 1.0 / OM2, 5.0, 1e3])
    M = kernel_at("stretched", get_closure("stretched").initial(CTX), t)
    assert M[0, 0, 0] == pytest.approx(OM2 * 1.05, rel=1e-5)  # w = Omega^2 (1, 0.05), a ~ 0, c = 0
    assert np.all(np.diff(M[:, 0, 0]) < 0) and M[-1, 0, 0] < 1e-3 * M[0, 0, 0]
    np.testing.assert_array_equal(M[:, 0, 1], 0.0)  # F stays diagonal by default


# -- Eq. 8 ---------------------------------------------------------------------------------------


def test_double_stretched_values_and_parameter_counts():
    theta = with_defaults(
        LITERAL8,
        nu_AA=1.0,
        K_AA=2.0,
        omega2t_AA=3.0,
        mu_AA=0.5,
        K_AB=-0.5,
        omega2t_AB=1.0,
        mu_AB=1.0,
    )
    M = kernel_at(LITERAL8, theta, [0.01])
    # AA(0.01) = e^{-52.5625 * 0.01} + 2 e^{-3 * 0.1} = 2.072822199141612
    assert M[0, 0, 0] == pytest.approx(2.072822199141612, rel=1e-12)
    # AB(0.01) = K e^{-0.01} = -0.4950249168745835 (no first channel: Omega^2_AB = 0)
    assert M[0, 0, 1] == pytest.approx(-0.4950249168745835, rel=1e-12) and M[0, 1, 0] == M[0, 0, 1]
    assert get_closure(LITERAL8).space(CTX).dim == 11  # 3 x (K, Omega~^2, mu) + nu_AA, nu_BB
    assert get_closure(LITERAL8 + ",free_omega2=True").space(CTX).dim == 13
    assert get_closure(LITERAL8 + ",stretch=False").space(CTX).dim == 6
    # scaled (default): per species A, nu, K, Omega~, mu; M^{AB} only with cross=True
    assert get_closure("double-stretched").space(CTX).dim == 12
    assert get_closure("double-stretched:free_rate=False").space(CTX).dim == 10
    assert get_closure("double-stretched:cross=True").space(CTX).dim == 15
    assert get_closure("double-stretched:stretch=False").space(CTX).dim == 8


def test_scaled_double_stretched_values_at_a_hand_computed_point():
    """M = Ω² [A exp(−(q r t)^ν) + K exp(−(ratio q r t)^μ)], r = Ω² for these overdamped statics."""
    theta = with_defaults(
        "double-stretched", A_AA=0.5, q_AA=2.0, nu_AA=0.8, K_AA=2.0, ratio_AA=0.03, mu_AA=0.6
    )
    r1 = 2.0 * OM2
    ref = OM2 * (
        0.5 * math.exp(-((r1 * 0.01) ** 0.8)) + 2.0 * math.exp(-((0.03 * r1 * 0.01) ** 0.6))
    )
    assert kernel_at("double-stretched", theta, [0.01])[0, 0, 0] == pytest.approx(ref, rel=1e-12)


def test_scaled_double_stretched_is_unit_covariant_and_the_literal_form_is_not():
    """Measuring time in a unit c times smaller (t' = c t, so Ω'² = Ω²/c² and, Newtonian, M' = M/c²)
    must give M'(c t) = M(t)/c² for the same dimensionless parameters (A, ν, K, μ, Ω̃/Ω): true for
    the scaled form, false for the paper's printed form (its first channel has amplitude 1 in any unit)."""
    import dataclasses

    c = 10.0
    newton = dataclasses.replace(CTX, dynamics="newtonian")
    slow = dataclasses.replace(newton, omega2=np.diag([OM2, OM2]) / c**2)
    t = np.geomspace(1e-3, 5.0, 9)
    values = {"A_AA": 0.7, "nu_AA": 1.8, "K_AA": 3.0, "mu_AA": 0.6}
    for closure, ctx_scale in (("double-stretched", True), (LITERAL8, False)):
        clo = get_closure(closure)
        th1 = dict(clo.initial(newton))
        th2 = dict(clo.initial(slow))
        for k, v in values.items():
            if k in th1:
                th1[k] = th2[k] = jnp.asarray(v)
        if ctx_scale:
            th1["ratio_AA"] = th2["ratio_AA"] = jnp.asarray(0.05)
        else:
            th1["omega2t_AA"], th2["omega2t_AA"] = jnp.asarray(0.5), jnp.asarray(0.5 / c**0.6)
        M1 = np.asarray(clo.kernel(th1, newton)(jnp.asarray(t)))[:, 0, 0]
        M2 = np.asarray(clo.kernel(th2, slow)(jnp.asarray(c * t)))[:, 0, 0]
        if ctx_scale:
            np.testing.assert_allclose(M2, M1 / c**2, rtol=1e-12)
        else:
            assert np.max(np.abs(M2 * c**2 / M1 - 1)) > 1.0  # amplitude 1 does not scale


def test_double_stretched_free_omega2_replaces_the_statics():
    closure = get_closure(LITERAL8 + ",free_omega2=True")
    theta = dict(closure.initial(CTX))
    assert float(theta["omega2_AA"]) == pytest.approx(OM2)
    theta["omega2_AA"] = jnp.asarray(10.0)
    theta["K_AA"] = jnp.asarray(0.0 + 1e-300)
    M = np.asarray(closure.kernel(theta, CTX)(jnp.array([0.1])))
    assert M[0, 0, 0] == pytest.approx(math.exp(-10.0 * 0.1), rel=1e-12)  # nu = 1 by default


@pytest.mark.parametrize(
    "spec", [PAPER6 + ",stretch=False", "double-stretched:stretch=False", "neural"]
)
def test_exponential_sum_matches_the_kernel(spec):
    """The diffrax path uses exponential_sum(); it must describe the same M(t)."""
    closure = get_closure(spec)
    theta = dict(closure.initial(CTX))
    if spec.startswith("stretched"):  # a plateau (rate 0) and mixed signs too (paper form)
        theta.update(c_AA=jnp.asarray(0.3), a_AA=jnp.array([0.2, 0.1]), w_AB=jnp.array([-1.0, 2.0]))
    kernel = closure.kernel(theta, CTX)
    w, r = kernel.exponential_sum()
    t = jnp.geomspace(1e-5, 10.0, 17)
    series = jnp.sum(
        w[None] * jnp.exp(-jnp.broadcast_to(r, w.shape)[None] * t[:, None, None, None]), axis=1
    )
    np.testing.assert_allclose(np.asarray(series), np.asarray(kernel(t)), rtol=1e-12, atol=1e-12)


def test_stretched_kernels_are_not_exponential_sums_when_stretched():
    for spec in ("stretched", "double-stretched"):
        closure = get_closure(spec)
        assert closure.kernel(closure.initial(CTX), CTX).exponential_sum() is None


# -- schematic -----------------------------------------------------------------------------------


def test_schematic_kernels_at_hand_computed_points():
    F = jnp.diag(jnp.array([0.5, 0.25]))
    lam = {"lam": jnp.array([2.0, 3.0])}
    M1 = np.asarray(get_closure("schematic-f1").kernel(lam, CTX)(F))
    M2 = np.asarray(get_closure("schematic-f2").kernel(lam, CTX)(F))
    M12 = np.asarray(
        get_closure("schematic-f12").kernel(
            {"lam1": jnp.ones(2), "lam2": jnp.array([2.0, 3.0])}, CTX
        )(F)
    )
    # Omega^2 lam F: 52.5625 * 2 * 0.5, 52.5625 * 3 * 0.25
    np.testing.assert_allclose(np.diag(M1), [52.5625, 39.421875], rtol=1e-14)
    # Omega^2 lam F^2: 52.5625 * 2 * 0.25, 52.5625 * 3 * 0.0625
    np.testing.assert_allclose(np.diag(M2), [26.28125, 9.85546875], rtol=1e-14)
    # Omega^2 (F + lam2 F^2): 52.5625 * (0.5 + 0.5), 52.5625 * (0.25 + 0.1875)
    np.testing.assert_allclose(np.diag(M12), [52.5625, 22.99609375], rtol=1e-14)
    for M in (M1, M2, M12):
        assert M[0, 1] == 0.0 and M[1, 0] == 0.0


# -- neural --------------------------------------------------------------------------------------


def test_neural_memory_is_positive_and_decaying_for_any_weights():
    closure = get_closure("neural:width=8,depth=2,n_modes=12")
    space = closure.space(CTX)
    assert space.dim == (1 * 8 + 8) + (8 * 8 + 8) + (8 * 2 + 2)  # MLP 1 -> 8 -> 8 -> 2
    t = jnp.concatenate([jnp.zeros(1), jnp.geomspace(1e-6, 1e4, 60)])
    X = 3.0 * jax.random.normal(
        jax.random.PRNGKey(0), (8, space.dim)
    )  # far from the initial weights
    Ms = np.asarray(jax.jit(jax.vmap(lambda x: closure.kernel(space.unpack(x), CTX)(t)))(X))
    assert Ms.shape == (8, t.shape[0], 2, 2)
    for M in Ms:
        d = M[:, [0, 1], [0, 1]]
        assert np.all(d > 0) and np.all(np.diff(d, axis=0) <= 1e-12 * d[0])
        assert np.all(M[:, 0, 1] == 0.0)


def test_neural_seed_changes_the_initial_weights():
    a = get_closure("neural:seed=0").initial(CTX)["weights"]
    b = get_closure("neural:seed=1").initial(CTX)["weights"]
    assert a.shape == b.shape and not np.allclose(a, b)


# -- JAX friendliness ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["stretched", "double-stretched", "neural"])
def test_explicit_kernels_jit_vmap_grad(name):
    closure = get_closure(name)
    space = closure.space(CTX)
    t = jnp.array([0.0, 1e-3, 0.1, 10.0])  # t = 0 included: t**b must keep gradients finite
    u0 = space.to_unconstrained(space.pack(closure.initial(CTX)))

    def total(u):
        return jnp.sum(closure.kernel(space.unpack(space.from_unconstrained(u)), CTX)(t))

    g = jax.jit(jax.grad(total))(u0)
    assert bool(jnp.all(jnp.isfinite(g)))
    U = u0[None] + 0.01 * jax.random.normal(jax.random.PRNGKey(1), (5, space.dim))
    values = jax.jit(jax.vmap(total))(U)
    assert values.shape == (5,) and bool(jnp.all(jnp.isfinite(values)))


@pytest.mark.parametrize("name", ["schematic-f1", "schematic-f2", "schematic-f12"])
def test_functional_kernels_grad(name):
    closure = get_closure(name)
    space = closure.space(CTX)
    F = jnp.diag(jnp.array([0.7, 0.4]))
    g = jax.grad(lambda x: jnp.sum(closure.kernel(space.unpack(x), CTX)(F)))(
        space.pack(closure.initial(CTX))
    )
    assert bool(jnp.all(jnp.isfinite(g))) and bool(jnp.all(g > 0))


# -- options -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec, words",
    [
        ("stretched:n_exp=-1", ["n_exp=-1", "positive integer", "n_exp=2", "stretch=True"]),
        ("stretched:n_exp=2.5", ["n_exp=2.5", "positive integer"]),
        ("stretched:foo=1", ["no option foo", "n_exp=2", "stretch=True"]),
        ("double-stretched:free_omega2=maybe", ["free_omega2='maybe'", "True or False"]),
        ("double-stretched:free_omega2=True", ["free_omega2", "form=scaled"]),
        ("double-stretched:form=paper", ["form='paper'", "scaled or literal"]),
        ("stretched:cross=1", ["cross=1", "True or False"]),
        ("neural:rate_min=2,rate_max=1", ["rate_max=1", "above rate_min=2"]),
        ("exponential:free=all", ["free='all'", "none, amplitude, rate or both"]),
        (
            "nope",
            ["unknown closure 'nope'", "stretched", "double-stretched", "schematic-f2", "neural"],
        ),
    ],
)
def test_bad_closure_specs_raise_one_clear_input_error(spec, words):
    with pytest.raises(InputError) as exc:
        get_closure(spec)
    for w in words:
        assert w in str(exc.value)


# -- start of a fit from a reference memory (paper: the ES starts from M_mct) ---------------------


def test_stretched_initial_fits_a_reference_memory_from_the_context():
    import dataclasses

    closure = get_closure("stretched")
    true = dict(closure.initial(CTX))
    # a two-step memory: a vibrational Debye mode and a strong, slow, stretched structural mode
    true.update(
        w_AA=jnp.array([40.0, 20.0]),
        tau_AA=jnp.array([0.02, 5.0]),
        b_AA=jnp.array([1.0, 0.6]),
        w_BB=jnp.array([60.0, 10.0]),
        tau_BB=jnp.array([0.015, 2.0]),
        b_BB=jnp.array([1.2, 0.5]),
    )
    t = np.geomspace(1e-4, 1e3, 60)
    M_ref = np.asarray(closure.kernel(true, CTX)(jnp.asarray(t)))
    ctx = dataclasses.replace(CTX, extra={"memory": (t, M_ref)})
    theta = closure.initial(ctx)  # least squares from the defaults (one mode near Omega^2)
    M_fit = np.asarray(closure.kernel(theta, CTX)(jnp.asarray(t)))
    assert np.max(np.abs(M_fit - M_ref)) < 1e-4 * M_ref[0, 1, 1]
    np.testing.assert_allclose(np.asarray(theta["tau_AA"]), [0.02, 5.0], rtol=1e-3)
    np.testing.assert_allclose(np.asarray(theta["b_AA"]), [1.0, 0.6], rtol=1e-3)
