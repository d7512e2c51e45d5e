"""The MD protocol through both real engines, LAMMPS and HOOMD-blue, on a small Kob-Andersen box
(LAMMPS: L = 5, N = 150; HOOMD: L = 5.848, N = 240, see `md_support.ENGINE_L`). Every test runs once
per engine; a HOOMD test skips where HOOMD-blue is not installed, and fails instead under
``MEMPLUG_REQUIRE_HOOMD=1`` (CI with the HOOMD wheel).

Reference numbers: x_A = 0.8, x_B = 0.2 (the 80:20 mixture); S^{αβ}(k→∞) = x_α δ_αβ follows from the
normalisation N⁻¹⟨ρ_α ρ_β⟩; the ballistic MSD 3 T t² (unit mass) is the short-time limit of
Newtonian dynamics; F_s(k, t) ≈ exp(−k² T t²/2) at short t for the same reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from md_support import require_engine, small

from memplug import data
from memplug.errors import InputError
from memplug.plugins.md import observables
from memplug.plugins.md.protocol import read_trajectory, run_state

ENGINES = ["lammps", "hoomd"]
VERSION_TEXT = {"lammps": "LAMMPS", "hoomd": "HOOMD-blue"}


def _run(engine: str, workdir: Path, seed: int = 3, **kw):
    return run_state(
        "ka-lj",
        1.2,
        1.0,
        engine=engine,
        seed=seed,
        workdir=workdir,
        threads=1,
        n_t=30,
        **{**small(engine), **kw},
    )


@pytest.fixture(scope="module", params=ENGINES)
def small_run(request, tmp_path_factory):
    """(dataset, workdir, engine) of one small LJ run at ρ = 1.2, T = 1.0 per engine."""
    engine = request.param
    require_engine(engine)
    workdir = tmp_path_factory.mktemp(f"md-{engine}")
    ds = _run(engine, workdir)
    return ds, workdir, engine


def test_schema_counts_and_composition(small_run):
    ds, workdir, engine = small_run
    data.validate(ds)
    N = round(1.2 * small(engine)["L"] ** 3)  # ρ L³: 150 (L = 5) or 240 (L = 200^{1/3})
    assert int(ds.N.values[0]) == N
    traj = read_trajectory(workdir / "trajectory.gsd")
    counts = np.bincount(traj["typeid"], minlength=2)
    assert counts.tolist() == [N * 4 // 5, N // 5]  # 80:20 exactly
    assert traj["unwrapped"].shape[1:] == (N, 3)
    assert str(ds.status.values[0]) in ("equilibrated", "glass")
    assert ds.engine.values[0] == engine
    assert VERSION_TEXT[engine] in str(ds.engine_version.values[0])
    assert np.all(np.diff(ds.time.values[0]) > 0)
    assert ds.time.values[0, 0] == pytest.approx(0.005)


def test_nve_energy_conservation(small_run):
    ds, workdir, _ = small_run
    traj = read_trajectory(workdir / "trajectory.gsd")
    e = traj["pe"] + traj["ke"]
    N, T = int(ds.N.values[0]), 1.0
    drift = np.max(np.abs(e - e[0])) / (N * T)
    assert drift == pytest.approx(float(ds.energy_drift.values[0]))
    assert drift < 0.01  # the protocol's stated bound (drift_bound)
    # kinetic energy really fluctuates (it is a dynamics, not a frozen system)
    assert np.std(traj["ke"]) > 1e-3 * np.mean(traj["ke"])
    sim = json.loads(ds.attrs["simulation"])
    assert sim["temperature_mean"] == pytest.approx(1.0, abs=0.15)


def test_structure_factor_large_k_limit(small_run):
    ds, _, _ = small_run
    tail = ds.S.values[0, :, -20:].mean(axis=-1)
    np.testing.assert_allclose(tail, [0.8, 0.0, 0.2], atol=0.05)
    assert 6.5 < float(ds.k_peak.values[0]) < 8.0  # first peak of S^AA near 7.2


def test_fs_starts_at_one_and_msd_is_ballistic(small_run):
    ds, workdir, _ = small_run
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
    ds, workdir, engine = small_run
    again = _run(engine, workdir)
    assert again.S.values.tobytes() == ds.S.values.tobytes()
    with pytest.raises(InputError, match="other settings"):
        _run(engine, workdir, seed=4)


@pytest.mark.parametrize("engine", ENGINES)
def test_kill_and_resume_leaves_no_half_written_files(engine, tmp_path):
    require_engine(engine)

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
            engine=engine,
            seed=5,
            workdir=tmp_path,
            threads=1,
            n_t=30,
            progress=killer,
            checkpoint_seconds=0.0,
            **small(engine),
        )
    assert not (tmp_path / "trajectory.gsd").exists()
    assert not (tmp_path / "state.nc").exists()
    prog = json.loads((tmp_path / "progress.json").read_text())
    assert prog["stage"] == "produce" and 0 < prog["frames_done"] < len(prog["frame_steps"])
    ds = run_state(
        "ka-wca",
        1.2,
        1.0,
        engine=engine,
        seed=5,
        workdir=tmp_path,
        threads=1,
        n_t=30,
        checkpoint_seconds=0.0,
        **small(engine),
    )
    data.validate(ds)
    traj = read_trajectory(tmp_path / "trajectory.gsd")
    assert traj["step"].tolist() == prog["frame_steps"]  # every planned frame, each once
    assert ds.potential.values[0] == "WCA"
    # the same run without the kill. Measured (both engines, one thread): the frames written before
    # the kill are bit-identical; after the restart the trajectories separate at round-off level
    # and then chaotically (LAMMPS re-sorts its neighbour lists, HOOMD's GSD restart holds float32
    # positions), so the observables agree within the statistics of this tiny box: measured
    # |ΔF_s| ≤ 0.05, Δτ_α/τ_α ≤ 3 %
    fresh = run_state(
        "ka-wca",
        1.2,
        1.0,
        engine=engine,
        seed=5,
        workdir=tmp_path / "fresh",
        threads=1,
        n_t=30,
        checkpoint_seconds=0.0,
        **small(engine),
    )
    before = np.searchsorted(
        traj["step"], prog["frame_steps"][prog["frames_done"] - 1], side="right"
    )
    fresh_traj = read_trajectory(tmp_path / "fresh" / "trajectory.gsd")
    assert fresh_traj["step"].tolist() == traj["step"].tolist()
    np.testing.assert_array_equal(fresh_traj["position"][:before], traj["position"][:before])
    np.testing.assert_allclose(fresh.Fs.values, ds.Fs.values, atol=0.1)
    assert float(fresh.tau_alpha.values[0]) == pytest.approx(float(ds.tau_alpha.values[0]), rel=0.1)


def test_same_seed_single_thread_is_bit_reproducible(small_run, tmp_path):
    # measured for both engines: one thread, same seed and build → identical trajectories
    ds, workdir, engine = small_run
    again = _run(engine, tmp_path)
    a = read_trajectory(workdir / "trajectory.gsd")
    b = read_trajectory(tmp_path / "trajectory.gsd")
    assert np.array_equal(a["position"], b["position"]) and np.array_equal(a["image"], b["image"])
    assert np.array_equal(ds.Fs.values, again.Fs.values)


@pytest.mark.parametrize("engine", ENGINES)
def test_too_short_production_is_extended_then_glass(engine, tmp_path):
    # lag_factor = 0.5 makes every production window shorter than min_lag_over_tau = 5 τ_α:
    # the protocol must re-equilibrate and produce again, and give up as "glass" after 2 tries
    # (or earlier, when the equilibration cap is reached first)
    require_engine(engine)
    ds = run_state(
        "ka-lj",
        1.2,
        1.0,
        engine=engine,
        seed=6,
        workdir=tmp_path,
        threads=1,
        n_t=20,
        **{**small(engine), "lag_factor": 0.5, "t_lag_min": 0.2, "max_productions": 2},
    )
    sim = json.loads(ds.attrs["simulation"])
    assert 1 <= len(sim["rejected_productions"]) <= 2
    assert str(ds.status.values[0]) == "glass"
    traj = read_trajectory(workdir_gsd := tmp_path / "trajectory.gsd")
    assert workdir_gsd.exists() and traj["step"][0] == 0  # the last production only
    data.validate(ds)


@pytest.mark.parametrize("engine", ENGINES)
def test_kill_during_analysis_resumes(engine, tmp_path):
    require_engine(engine)

    class Killed(Exception):
        pass

    def killer(stage, done, total):
        if stage == "analyse" and done == 0:
            raise Killed

    kw = dict(engine=engine, seed=7, workdir=tmp_path, threads=1, n_t=20, **small(engine))
    with pytest.raises(Killed):
        run_state("ka-lj", 1.2, 2.0, progress=killer, **kw)
    assert json.loads((tmp_path / "progress.json").read_text())["stage"] == "analyse"
    assert not (tmp_path / "state.nc").exists()
    ds = run_state("ka-lj", 1.2, 2.0, **kw)
    data.validate(ds)


def test_a_run_directory_in_use_is_refused(tmp_path):
    """Two processes on one run directory would write the same checkpoints and trajectory: the
    second gets one clear error (the lock is the one a running ``run_state`` holds)."""
    require_engine("lammps")
    from memplug.plugins.md.protocol import _exclusive

    with _exclusive(tmp_path):
        with pytest.raises(InputError, match="in use by another process"):
            run_state(
                "ka-lj", 1.2, 2.0, engine="lammps", seed=0, workdir=tmp_path, **small("lammps")
            )
    assert not (tmp_path / "progress.json").exists()  # refused before doing anything
