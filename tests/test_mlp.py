"""The mlp surrogate on a small synthetic dataset: shapes, splits, standardisation, save/load, training."""

from __future__ import annotations

import json

import numpy as np
import pytest

import memplug  # noqa: F401  (enables float64 like every entry point)
from memplug.errors import InputError
from memplug.plugins.surrogate import metrics
from memplug.plugins.surrogate.features import N_INPUTS, N_STATIC, Standardizer, state_table
from memplug.plugins.surrogate.mlp import MLPConfig, MLPSurrogate, train
from memplug.plugins.surrogate.splits import make_split
from memplug.plugins.surrogate.synthetic import synthetic_dataset
from memplug.plugins.surrogate.target import mlp_target

SMALL = dict(hidden=(24, 16), epochs=6, batch_size=16, lr=1e-2, patience=50, checkpoint_every=2)


@pytest.fixture(scope="module")
def ds():
    return synthetic_dataset(n_states=20, n_t=30, seed=3)


@pytest.fixture(scope="module")
def table(ds):
    return state_table(ds)


@pytest.fixture(scope="module")
def trained(table, tmp_path_factory):
    out = tmp_path_factory.mktemp("mlp")
    sur, res = train(table, MLPConfig(**SMALL), split="random:test=0.2", out=out)
    return sur, res, out


def test_shapes(table, trained):
    sur, _, _ = trained
    assert table.static.shape == (20, N_STATIC) and N_STATIC == 303 and N_INPUTS == 304
    rows = sur.standardizer.rows(table.static, table.time)
    assert rows.shape == (20 * 30, 304)
    assert sur.predict_table(table).shape == (20, 30, 2)
    assert sur.predict(table.statics(0), np.geomspace(0.01, 10, 7)).shape == (7, 2)
    # the paper's architecture is the default: 304 → 500-400-400-300-200 → 2
    cfg = MLPConfig()
    assert cfg.hidden == (500, 400, 400, 300, 200) and cfg.loss == "l1" and cfg.activation == "relu"


@pytest.mark.parametrize("seed", [0, 1, 2, 7])
def test_random_split_never_leaks_a_state(table, seed):
    s = make_split(table, "random:test=0.2", seed=seed, val_fraction=0.15)
    parts = [set(s.train), set(s.val), set(s.test)]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert parts[0] | parts[1] | parts[2] == set(table.ids)
    assert len(s.test) == 4  # 20 % of 20 states
    assert make_split(table, "random:test=0.2", seed=seed, val_fraction=0.15) == s  # seeded


def test_physics_splits(table):
    x = table.T / table.tmct
    s = make_split(table, "temperature:cut=1.2", seed=0)
    tr = [table.index(i) for i in s.train + s.val]
    te = [table.index(i) for i in s.test]
    assert np.all(x[tr] > 1.2) and np.all(x[te] <= 1.2) and len(te) > 0
    s = make_split(table, "potential:train=WCA", seed=0)
    assert {table.potential[table.index(i)] for i in s.train + s.val} == {"WCA"}
    assert {table.potential[table.index(i)] for i in s.test} == {"LJ"}
    with pytest.raises(InputError, match="expected one of"):
        make_split(table, "bogus", seed=0)
    with pytest.raises(InputError, match="unknown option"):
        make_split(table, "random:fraction=0.2", seed=0)


def test_training_rows_come_from_training_states_only(table, trained):
    """Standardisation is fitted on training states; test and validation data never enter training."""
    sur, _, _ = trained
    split = sur.split
    tr = table.subset([table.index(i) for i in split.train])
    expect = Standardizer.fit(tr.static, tr.time)
    np.testing.assert_array_equal(sur.standardizer.mean, expect.mean)
    np.testing.assert_array_equal(sur.standardizer.scale, expect.scale)
    everything = Standardizer.fit(table.static, table.time)
    assert not np.allclose(everything.mean, expect.mean)
    # Corrupting the test states (statics and targets) changes nothing in the trained model.
    bad = state_table(synthetic_dataset(n_states=20, n_t=30, seed=3))
    for sid in split.test:
        i = bad.index(sid)
        bad.static[i] *= 3.0
        bad.Fs[i] = 0.5
    again, _ = train(bad, MLPConfig(**SMALL), split=split)
    np.testing.assert_array_equal(again.standardizer.mean, sur.standardizer.mean)
    np.testing.assert_array_equal(again.predict_table(table), sur.predict_table(table))


def test_save_load_identical_predictions(table, trained):
    sur, _, out = trained
    back = MLPSurrogate.load(out)
    np.testing.assert_array_equal(back.predict_table(table), sur.predict_table(table))
    rec = json.loads((out / "model.json").read_text())
    assert rec["seed"] == 0 and rec["data_hash"].startswith("sha256:")
    assert {"jax", "equinox", "optax", "memplug"} <= set(rec["versions"])
    assert rec["config"]["hidden"] == [24, 16]
    assert (out / "history.csv").read_text().count("\n") == 1 + 6


def test_training_loss_decreases(trained):
    _, res, _ = trained
    losses = [h["train_loss"] for h in res.history]
    assert len(losses) == 6
    assert losses[-1] < 0.5 * losses[0]
    assert res.best_epoch >= 1


def test_resume_continues_bit_for_bit(table, tmp_path):
    cfg = MLPConfig(**{**SMALL, "epochs": 4})
    full, _ = train(table, cfg, split="random:test=0.2", out=tmp_path / "full")
    # interrupted after epoch 2 (a checkpoint is written there), then resumed
    train(table, cfg, split="random:test=0.2", out=tmp_path / "cut", callback=lambda e, h: e == 2)
    resumed, res = train(table, cfg, split="random:test=0.2", out=tmp_path / "cut", resume=True)
    assert res.resumed_from == 2 and len(res.history) == 4
    np.testing.assert_array_equal(resumed.predict_table(table), full.predict_table(table))
    with pytest.raises(InputError, match="another config"):
        train(
            table,
            MLPConfig(**{**SMALL, "epochs": 5}),
            split="random:test=0.2",
            out=tmp_path / "cut",
            resume=True,
        )


def test_early_stopping_stops(table):
    # lr so small that float32 weights never change: the validation loss is flat: patience 2 must end the run early
    cfg = MLPConfig(**{**SMALL, "epochs": 40, "patience": 2, "lr": 1e-30, "schedule": "constant"})
    _, res = train(table, cfg, split="random:test=0.2")
    assert res.stopped_early and len(res.history) < 40


def test_metrics_reference_numbers():
    # hand computation: SS_res = 1, mean truth 7/3, SS_tot = 42/9 → R² = 1 − 9/42
    assert metrics.r2(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0])) == pytest.approx(
        1 - 9 / 42
    )
    assert metrics.rmse(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0])) == pytest.approx(
        np.sqrt(1 / 3)
    )
    y = np.linspace(0, 1, 11)
    assert metrics.r2(y, y) == 1.0 and metrics.r2(np.full(11, y.mean()), y) == pytest.approx(0.0)
    # Eq. S1: sum over times and species, divided by the number of states (2 here): sqrt(4 * 0.01 / 2)
    p, t = np.zeros((2, 2, 1)), np.full((2, 2, 1), 0.1)
    assert metrics.rmse_eq_s1(p, t) == pytest.approx(np.sqrt(0.02))
    sc = metrics.per_state(
        np.stack([t[..., 0]] * 1)[..., None].repeat(2, -1),
        np.stack([t[..., 0]])[..., None].repeat(2, -1),
    )
    assert set(sc) == {"r2_A", "r2_B", "r2", "rmse_A", "rmse_B", "rmse"}


def test_target_generator_from_context(ds, trained):
    from memplug.data import context_for

    sur, _, out = trained
    sid = sur.split.test[0]
    ctx = context_for(ds, sid, dynamics="overdamped")
    t = np.asarray(ds["time"].sel(state=sid).values)
    F = mlp_target(out, ctx, t)
    assert F.shape == (30, 2) and F.dtype == np.float64
    tab = state_table(ds)
    np.testing.assert_array_equal(F, sur.predict_table(tab.subset([tab.index(sid)]))[0])
    import dataclasses

    with pytest.raises(InputError, match="k: expected the 100-point grid"):
        mlp_target(out, dataclasses.replace(ctx, k=ctx.k * 1.01), t)
    with pytest.raises(InputError, match="potential"):
        mlp_target(out, dataclasses.replace(ctx, extra={}), t)


def test_registered_and_options_checked():
    from memplug.registry import get_registry

    assert get_registry().get("surrogates", "mlp") is MLPSurrogate
    with pytest.raises(InputError, match="unknown option"):
        MLPSurrogate(depth=3)
    with pytest.raises(InputError, match="loss"):
        MLPSurrogate(loss="l3")
    assert MLPSurrogate(hidden="8-4").config.hidden == (8, 4)


def test_statics_validation_property():
    """Any off-grid k, any NaN/inf in S, any non-positive T or ρ is rejected with the field named."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from memplug.plugins.surrogate.features import K_GRID, check_statics

    S = np.ones((3, 100))

    @settings(max_examples=40, deadline=None)
    @given(
        i=st.integers(0, 99),
        dk=st.floats(1e-3, 5.0),
        sign=st.sampled_from([-1, 1]),
        j=st.integers(0, 2),
        bad=st.sampled_from([np.nan, np.inf, -np.inf]),
        T=st.floats(-10, 0),
    )
    def check(i, dk, sign, j, bad, T):
        k = K_GRID.copy()
        k[i] += sign * dk
        with pytest.raises(InputError, match="k: expected"):
            check_statics("f", k, S, 1.0, 1.2, "LJ")
        S2 = S.copy()
        S2[j, i] = bad
        with pytest.raises(InputError, match="S: non-finite"):
            check_statics("f", K_GRID, S2, 1.0, 1.2, "LJ")
        with pytest.raises(InputError, match="T: expected a positive"):
            check_statics("f", K_GRID, S, T, 1.2, "LJ")
        check_statics("f", K_GRID, S, 1.0, 1.2, "WCA")  # the valid input passes

    check()
