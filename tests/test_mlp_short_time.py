"""The MLP's short-time gate: F_s(t → 0) = 1 and the free-particle t² decay by construction.

Reference: the free-particle (ballistic) limit of paper Eq. 1. For t → 0 a particle moves as
r(t) − r(0) = v t with Maxwell velocities (variance T/m per component), so
F_s(k, t) = ⟨exp(i k·v t)⟩ = exp(−k² T t² / 2m) and 1 − F_s = k² T t² / 2m + O(t⁴); m = 1 here.
"""

from __future__ import annotations

import json

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import memplug  # noqa: F401  (enables float64 like every entry point)
from memplug.errors import InputError
from memplug.plugins.surrogate.features import (
    K_GRID,
    N_INPUTS,
    Standardizer,
    Statics,
    peak_of,
    state_table,
)
from memplug.plugins.surrogate.mlp import MLPConfig, MLPSurrogate, _network, data_hash, train
from memplug.plugins.surrogate.network import ballistic_linear_output, ballistic_output
from memplug.plugins.surrogate.synthetic import synthetic_dataset

SMALL = dict(hidden=(24, 16), epochs=6, batch_size=16, lr=1e-2, patience=50, checkpoint_every=0)


@pytest.fixture(scope="module")
def table():
    return state_table(synthetic_dataset(n_states=20, n_t=30, seed=3))


def untrained(
    seed: int, output: str, short_time: str = "ballistic", gain: float = 1.0
) -> MLPSurrogate:
    """A surrogate with random (untrained) weights, last layer scaled by ``gain``, identity standardiser."""
    sur = MLPSurrogate(hidden=(16, 8), output=output, short_time=short_time, seed=seed)
    model = _network(sur.config, jax.random.PRNGKey(seed))
    last = model.layers[-1]
    sur.model = eqx.tree_at(
        lambda m: (m.layers[-1].weight, m.layers[-1].bias),
        model,
        (last.weight * gain, last.bias * gain),
    )
    sur.standardizer = Standardizer(np.zeros(N_INPUTS), np.ones(N_INPUTS))
    return sur


def random_statics(rng: np.random.Generator, k_peak: float | None) -> Statics:
    S = np.abs(rng.normal(1.0, 0.5, (3, K_GRID.size)))
    S[0, 17] += 2.0  # a main peak of S^AA at k = 7.0
    return Statics(
        S,
        float(rng.uniform(0.3, 6.0)),
        float(rng.uniform(1.1, 1.9)),
        str(rng.choice(["LJ", "WCA"])),
        "random",
        k_peak,
    )


# (1 − F)/u = 1 − u·second(z) + O(u²) for each construction (Taylor expansion of the formulas in
# memplug.plugins.surrogate.network): the network enters at order t⁴ only.
SECOND_ORDER = {
    ("ballistic", "none"): lambda z: 1.0 - z,
    ("ballistic_linear", "none"): lambda z: 0.5 + z,
    ("ballistic_linear", "sigmoid"): lambda z: 0.5 + np.exp(z),
}


@pytest.mark.parametrize(("short_time", "output"), list(SECOND_ORDER))
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("gain", [1.0, 30.0])
def test_short_time_limit_exact_for_untrained_networks(short_time, output, seed, gain):
    """Random weights and random inputs: F(t → 0) → 1 and (1 − F)/t² → k_p² T / 2 (free particle)."""
    rng = np.random.default_rng(100 + seed)
    sur = untrained(seed, output, short_time=short_time, gain=gain)
    for kp in (float(rng.uniform(5.0, 9.0)), None):
        st = random_statics(rng, kp)
        k_p = st.peak()
        if (
            kp is None
        ):  # computed from S^AA like the dataset's k_peak: the parabola-refined main peak
            assert k_p == pytest.approx(7.0, abs=0.2)
        t = np.array([1e-7, 1e-5, 3e-5, 1e-3])
        F = sur.predict(st, t)
        z = np.asarray(
            sur.model.batch(
                jnp.asarray(sur.standardizer.rows(st.features()[None], t[None]), jnp.float32)
            )
        )
        assert np.max(np.abs(z)) > 1e-3  # the network output itself is far from any special value
        ref = 0.5 * k_p**2 * st.T
        assert np.all(F <= 1.0) and np.all(
            np.abs(1.0 - F[0]) <= 1.01 * ref * t[0] ** 2
        )  # F(1e-7) = 1 − O(1e-12)
        # free-particle limit of Eq. 1: 1 − F = k_p² T t² / 2 + O(t⁴), whatever the network says.
        # At t = 1e-5 the O(t⁴) part is ~u|z| ≈ 1e-8 |z| relative and float64 rounding of 1 − F ~1e-8.
        coeff = (1.0 - F) / t[:, None] ** 2
        np.testing.assert_allclose(coeff[1], ref, rtol=1e-6)
        # the deviation is the O(t⁴) term of SECOND_ORDER, checked at t = 3e-5 and 1e-3
        for j in (2, 3):
            u = ref * t[j] ** 2
            c = SECOND_ORDER[short_time, output](z[j].astype(float))
            np.testing.assert_allclose(
                coeff[j] / ref, 1 - u * c, rtol=0, atol=10 * u**2 * (1 + np.max(c**2)) + 1e-8
            )


def test_without_the_gate_the_limit_is_not_built_in():
    """Contrast: the plain network (short_time="none") does not give F(0) = 1."""
    sur = untrained(0, "none", short_time="none")
    F = sur.predict(random_statics(np.random.default_rng(5), 7.0), np.array([1e-7, 1e-6]))
    assert np.max(np.abs(F - 1.0)) > 1e-2


def test_gate_formula_limits_and_bounds():
    z = jnp.asarray(np.random.default_rng(0).normal(0, 20, (400, 2)))
    u = jnp.asarray(np.geomspace(1e-12, 1e3, 400))
    w = -np.expm1(-np.asarray(u))[:, None]
    lin = np.asarray(ballistic_linear_output(z, u, "none"))
    np.testing.assert_allclose(
        lin, np.exp(-np.asarray(u))[:, None] + w**2 * np.asarray(z), rtol=1e-12, atol=1e-12
    )
    sig = np.asarray(ballistic_linear_output(z, u, "sigmoid"))
    # sigmoid form: exp(−u) ≤ F ≤ 1 for any network output (equalities only by float rounding)
    assert np.all(sig <= 1.0) and np.all(sig >= np.exp(-np.asarray(u))[:, None] - 1e-15)
    # t ≫ τ_0 (u ≫ 1): the plain network output, z or σ(z)
    big = np.asarray(u) > 50
    np.testing.assert_allclose(lin[big], np.asarray(z)[big], rtol=1e-12)
    np.testing.assert_allclose(sig[big], np.asarray(jax.nn.sigmoid(z))[big], rtol=1e-12, atol=1e-15)
    # exactly t = 0
    assert np.all(np.asarray(ballistic_linear_output(z[:2], jnp.zeros(2), "sigmoid")) == 1.0)
    assert np.all(np.asarray(ballistic_linear_output(z[:2], jnp.zeros(2), "none")) == 1.0)
    # the log form: 0 ≤ F ≤ 1 for any z, = 1 at t = 0, exp(−e^z) for t ≫ τ_0
    lg = np.asarray(ballistic_output(z, u))
    assert np.all((lg >= 0) & (lg <= 1)) and np.all(
        np.asarray(ballistic_output(z[:2], jnp.zeros(2))) == 1.0
    )
    zz = np.clip(np.asarray(z)[big], -50, 30)
    np.testing.assert_allclose(lg[big], np.exp(-np.exp(zz)), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize(("short_time", "output"), list(SECOND_ORDER))
def test_training_converges_with_the_gate(table, short_time, output, tmp_path):
    cfg = MLPConfig(**SMALL, output=output, short_time=short_time)
    assert MLPConfig().short_time == "ballistic"  # on by default
    sur, res = train(table, cfg, split="random:test=0.2", out=tmp_path)
    losses = [h["train_loss"] for h in res.history]
    assert losses[-1] < 0.5 * losses[0]
    pred = sur.predict_table(table)
    # the synthetic F_s is not ballistic at short times, but the gate's value is what is predicted
    u0 = 0.5 * table.k_peak**2 * table.T * table.time[:, 0] ** 2
    assert np.max(np.abs(pred[:, 0, :] - np.exp(-u0)[:, None])) < 10 * u0.max() ** 2 + 1e-6
    assert np.all(pred[:, 0] <= 1.0)
    # save → load → identical predictions, gate recorded
    back = MLPSurrogate.load(tmp_path)
    assert back.config.short_time == short_time and back.config.output == output
    np.testing.assert_array_equal(back.predict_table(table), pred)
    st = table.statics(0)
    np.testing.assert_array_equal(back.predict(st, table.time[0]), pred[0])
    rec = json.loads((tmp_path / "model.json").read_text())
    assert (
        rec["config"]["short_time"] == short_time
        and "exp(-k_peak^2 T t^2 / 2)" in rec["short_time"]
    )


def test_model_saved_without_the_field_loads_as_none(table, tmp_path):
    sur, _ = train(
        table, MLPConfig(**SMALL, short_time="none"), split="random:test=0.2", out=tmp_path
    )
    meta = json.loads((tmp_path / "model.json").read_text())
    del meta["config"]["short_time"]  # what a model saved before the option existed looks like
    (tmp_path / "model.json").write_text(json.dumps(meta))
    back = MLPSurrogate.load(tmp_path)
    assert back.config.short_time == "none"
    np.testing.assert_array_equal(back.predict_table(table), sur.predict_table(table))


def test_k_peak_sources(table, tmp_path):
    # the dataset's k_peak coordinate is used for training rows and for table states
    assert np.all(table.k_peak == table.subset(range(len(table))).k_peak)
    assert table.statics(3).peak() == table.k_peak[3]
    # without it, the main peak of S^AA (refined by a parabola, as the simulation does)
    st = table.statics(3)
    assert Statics(st.S, st.T, st.rho, st.potential).peak() == pytest.approx(peak_of(st.S[0]))
    # the hash of a gated model covers k_p
    assert data_hash(table, "ballistic") != data_hash(table, "none")
    # user files may give k_peak; a bad one names the field
    from memplug.plugins.surrogate.userfile import read_statics

    rows = "\n".join(f"{k},{a},{b},{c}" for k, a, b, c in zip(K_GRID, *st.S, strict=True))
    good = tmp_path / "s.csv"
    good.write_text(
        f"# T = 0.8\n# rho = 1.2\n# potential = LJ\n# k_peak = 7.1\nk,S_AA,S_AB,S_BB\n{rows}\n"
    )
    assert read_statics(good).k_peak == 7.1
    bad = tmp_path / "b.csv"
    bad.write_text(
        f"# T = 0.8\n# rho = 1.2\n# potential = LJ\n# k_peak = -1\nk,S_AA,S_AB,S_BB\n{rows}\n"
    )
    with pytest.raises(InputError, match="k_peak: expected a positive"):
        read_statics(bad)
    with pytest.raises(InputError, match="short_time"):
        MLPConfig(short_time="quadratic")
    with pytest.raises(InputError, match="output=sigmoid"):
        MLPConfig(short_time="ballistic", output="sigmoid")
