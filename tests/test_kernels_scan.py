"""The kernels scan (memplug.plugins.kernels): a tiny scan, its resume after an interruption,
the schema validator's errors and ``memplug kernels list``.

The dataset is three made-up states with the same statics (so every fit of a closure shares one
compiled loss) and different F_s. Three slow steps that other test files cover are replaced by
stand-ins inside the scans: M_mct by a cheap analytic pair (the real MCT solve takes ~20 s per
state; the stand-in still exercises the M_mct cache and the MCT-target dataset), the fits' Laplace
uncertainty (its compilation through the solver would double the test's time; the kernels dataset
then takes the channel ratios from θ) and the model-free inversion (tested once, separately).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from cli_support import exit_code

from memplug.data import concat_states, save_dataset
from memplug.errors import InputError
from memplug.plugins.datasets.schema import synthetic_state

CLOSURES = "stretched:n_exp=1;double-stretched"
STATES = ("LJ-rho1.20-T1.000", "LJ-rho1.20-T1.001", "LJ-rho1.20-T1.002")
#: Variables that measure where and how fast a fit ran, not what it found.
TIMING = ("elapsed_s", "wall_s", "cpu_s", "load_1min")


def fake_mct_memory(context, t, name="mct"):
    """A decaying stand-in for (M_mct, F_mct), each (n_t, s, s), diagonal."""
    t = np.asarray(t, float)
    s = context.n_species
    om2 = np.diag(context.omega2_matrix())
    M = om2[None, :] * (0.8 * np.exp(-((t[:, None] * 8.0) ** 2)) + 0.2 * np.exp(-t[:, None] / 3.0))
    F = np.exp(-((t[:, None] / (2.0 + np.arange(s))) ** 0.8)) * np.ones((1, s))
    eye = np.eye(s)
    return M[:, :, None] * eye, F[:, :, None] * eye


def tiny_dataset(path: Path) -> str:
    base = synthetic_state(T=1.0, seed=3)
    parts = []
    for k, name in enumerate(STATES):
        one = base.copy(deep=True)
        one["Fs"] = one["Fs"] ** (1.0 + 0.1 * k)
        parts.append(one.assign_coords(state=[name]))
    save_dataset(concat_states(parts), path)
    return str(path)


def config(out: Path, dataset: str):
    from memplug.plugins.kernels.scan import ScanConfig

    return ScanConfig(out=out, dataset=dataset, states="all", closures=CLOSURES, budget_scale=0.01,
                      polish="none", solver_n=8)  # fmt: skip


class Interrupt(Exception):
    pass


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    """(uninterrupted kernels file via the CLI, interrupted-then-resumed file, resume log)."""
    tmp = tmp_path_factory.mktemp("kernels")
    dataset = tiny_dataset(tmp / "ds.nc")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("memplug.targets.reference_solution", fake_mct_memory)
        mp.setattr("memplug.plugins.fitting.uncertainty.result_fields", lambda *a, **k: {})
        mp.setattr(
            "memplug.plugins.kernels.assemble.inversion_status", lambda: (None, "not in tests")
        )
        code = exit_code("kernels", "scan", "--dataset", dataset, "--states", "all", "--closures",
                         CLOSURES, "--budget-scale", 0.01, "--polish", "none", "--solver-n", 8,
                         "--out", tmp / "a")  # fmt: skip
        assert code == 0
        from memplug.plugins.kernels.scan import run_scan

        seen = []

        def stop(i, progress):  # interrupt the fourth fit after its second generation
            if i == 3 and progress.generation == 2:
                raise Interrupt

        with pytest.raises(Interrupt):
            run_scan(config(tmp / "b", dataset), log=seen.append, on_progress=stop)
        checkpoints = sorted((tmp / "b" / "fits").rglob("*.ckpt"))
        assert checkpoints, "the interrupted fit left a checkpoint"
        partial: list[str] = []  # --assemble-only: the file of what is finished, no fit runs
        run_scan(
            config(tmp / "b", dataset),
            log=partial.append,
            kernels_path=tmp / "partial.nc",
            fit=False,
        )
        assert any("holds the 3 finished fits" in line for line in partial)
        log: list[str] = []
        run_scan(config(tmp / "b", dataset), log=log.append)
    return tmp / "a" / "kernels.nc", tmp / "b" / "kernels.nc", log, tmp


def test_resumed_scan_gives_the_same_file(scans):
    from memplug.plugins.kernels import load_kernels

    a_path, b_path, log, _ = scans
    assert any("6 fits on 3 states: 3 finished, 3 to run" in line for line in log)
    a, b = load_kernels(a_path), load_kernels(b_path)
    assert list(a["fit"].values) == ["stretched:n_exp=1|newtonian", "double-stretched|newtonian"]
    assert list(a["state"].values) == list(STATES)
    assert bool(a["done"].all())
    assert set(a.data_vars) == set(b.data_vars)
    for name in a.data_vars:
        if name in TIMING:
            continue
        x, y = a[name].values, b[name].values
        if x.dtype.kind in "fc":
            np.testing.assert_array_equal(x, y, err_msg=name)
        else:
            assert (x == y).all(), name
    assert a.attrs["command"].startswith("memplug kernels scan --dataset")
    assert "--budget-scale 0.01" in a.attrs["command"]
    assert json.loads(a.attrs["versions"])["memplug"]


def test_assemble_only_file_of_an_interrupted_scan(scans):
    """The partial file validates; `done` marks the 3 fits finished before the interruption, and
    they equal the complete scan's."""
    from memplug.plugins.kernels import load_kernels

    part, full = load_kernels(scans[3] / "partial.nc"), load_kernels(scans[0])
    done = part["done"].values
    assert done.sum() == 3 and full["done"].values.all()
    np.testing.assert_array_equal(part["theta"].values[done], full["theta"].values[done])


def test_contents(scans):
    from memplug.plugins.kernels import load_kernels

    ds = load_kernels(scans[0])
    assert ds.attrs["schema"] == "memplug-kernels/1"
    n_params = (ds["param_label"] != "").sum("param").values.tolist()
    assert n_params == [8, 12]
    theta = ds["theta"].values
    assert np.isnan(theta[:, 0, 8:]).all() and np.isfinite(theta[:, 1, :12]).all()
    assert np.isfinite(ds["rmse"].values).all() and np.isfinite(ds["r2"].values).all()
    # M_mct from the (stand-in) MCT cache, interpolated onto the common grid
    M = ds["M_mct"].values[0, :, 0]
    assert np.isfinite(M).all() and M[0] > M[-1] > 0
    assert bool(ds["mct_decays"].all()) and ds["mct_status"].values.tolist() == ["ok"] * 3
    assert np.isfinite(ds["M_mct_distance"].values).all()
    # F_fit on the common grid agrees with the fit result at its own times
    assert np.isfinite(ds["F_fit"].values[:, :, 1:-1]).all()
    # the one-channel closure has no channel ratio; Eq. 8 has one per species
    assert np.isnan(ds["amp_ratio"].values[:, 0]).all()
    assert np.isfinite(ds["amp_ratio"].values[:, 1]).all()
    assert float(ds["T_over_Tmct"].values[0]) == pytest.approx(1.0 / 0.877)
    assert "memplug" in str(ds["T_mct_source"].values[0])


def test_mct_target_dataset(scans):
    """States at 1.02-1.3 T_mct with a decaying F_mct get a time grid past the decay."""
    from memplug.data import load_dataset
    from memplug.plugins.kernels.mct_cache import compute_mct, mct_target_dataset

    tmp = scans[3]
    ds = load_dataset(tmp / "ds.nc")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("memplug.targets.reference_solution", fake_mct_memory)
        info = {
            s: compute_mct(str(tmp / "ds.nc"), s, str(tmp / "a" / "mct"), ds) for s in STATES[:2]
        }
    assert all(r["reused"] and r["ergodic"] for r in info.values())
    path = mct_target_dataset(ds, list(STATES[:2]), info, tmp / "targets.nc")
    targets = load_dataset(path)
    assert sorted(map(str, targets["state"].values)) == list(STATES[:2])
    assert float(targets["time"].max()) >= 3 * info[STATES[0]]["t_decay"] - 1e-9
    assert float(targets["Fs"].values[0, 0, -1]) < 0.05


def _broken(src: Path, dst: Path, change) -> Path:
    with xr.open_dataset(src, engine="h5netcdf") as f:
        ds = change(f.load())
    ds.to_netcdf(dst, engine="h5netcdf")
    return dst


@pytest.mark.parametrize(
    "change, variable, problem",
    [
        (lambda d: d.drop_vars("r2"), "'r2'", "missing variable"),
        (
            lambda d: d.assign(theta=d["theta"].transpose("fit", "state", "param")),
            "'theta'",
            "expected dims",
        ),
        (lambda d: d.assign(T=d["T"].where(d["T"] < 0)), "'T'", "non-finite"),
        (
            lambda d: d.assign_attrs(schema="memplug-kernels/0"),
            "'schema'",
            "expected 'memplug-kernels/1'",
        ),
        (lambda d: d.assign(loss=d["loss"] * np.nan), "'loss'", "NaN for a finished fit"),
    ],
    ids=["missing", "dims", "non-finite", "schema", "loss"],
)
def test_validator_errors(scans, tmp_path, capsys, change, variable, problem):
    bad = _broken(scans[0], tmp_path / "bad.nc", change)
    capsys.readouterr()
    assert exit_code("kernels", "validate", bad) == 2
    err = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
    assert str(bad) in err.replace(" ", "") or str(bad) in err
    assert variable in err and problem in err
    assert "Traceback" not in err


def test_validator_error_is_one_input_error(scans, tmp_path):
    from memplug.plugins.kernels.schema import load_kernels

    bad = _broken(scans[0], tmp_path / "bad.nc", lambda d: d.drop_vars("M_fit"))
    with pytest.raises(InputError) as exc:
        load_kernels(bad)
    assert str(exc.value) == f"{bad}: variable 'M_fit': missing variable"


def test_validate_ok_and_missing_file(scans, tmp_path, capsys):
    assert exit_code("kernels", "validate", scans[0]) == 0
    assert "valid memplug-kernels/1 (3 states, 2 fits)" in capsys.readouterr().out.replace("\n", "")
    assert exit_code("kernels", "validate", tmp_path / "none.nc") == 2
    assert "kernels dataset not found" in capsys.readouterr().err


def test_list(scans, capsys):
    assert exit_code("kernels", "list", scans[0]) == 0
    out = capsys.readouterr().out
    assert "3 states" in out and "2 fits" in out
    for label in ("stretched:n_exp=1|newtonian", "double-stretched|newtonian", "median R²"):
        assert label in out
    assert exit_code("kernels", "list", scans[0], "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["states"] for r in rows] == [3, 3]
    assert all(np.isfinite(r["median_r2"]) for r in rows)


def test_bad_options(tmp_path, capsys):
    assert (
        exit_code("kernels", "scan", "--closures", "stretched:n_exp=2@brownian", "--out", tmp_path)
        == 2
    )
    assert "dynamics 'brownian'" in capsys.readouterr().err
    assert exit_code("kernels", "scan", "--budget-scale", "-1", "--out", tmp_path) == 2
    assert "--budget-scale" in capsys.readouterr().err


def test_inversion_adapter(scans):
    """Where the inversion plugin is installed, the kernels dataset's M_inv comes from it."""
    from memplug.data import load_dataset
    from memplug.plugins.kernels.assemble import _inverted, inversion_status

    invert, note = inversion_status()
    if invert is None:
        pytest.skip(note)
    ds = load_dataset(scans[3] / "ds.nc")
    t = np.geomspace(0.01, 50.0, 40)
    M, lo, hi, reliable = _inverted(invert, ds, STATES[0], t, 2)
    assert M.shape == lo.shape == hi.shape == reliable.shape == (40, 2)
    assert np.isfinite(M).any() and reliable.dtype == bool


def test_figures(scans, tmp_path):
    from memplug.plugins.kernels import load_kernels
    from memplug.plugins.kernels.figures import all_figures

    written = {p.name for p in all_figures(load_kernels(scans[0]), tmp_path)}
    assert {"fig7.png", "fig7.csv", "figS4.png", "figS4.csv"} <= written
    header = (tmp_path / "fig7.csv").read_text().splitlines()[0]
    assert header == "fit,n_exp,state,T_over_Tmct,r2"


def test_shipped_default_loads_and_marks_what_is_finished():
    """The shipped kernels dataset loads in one line and validates; its finished fits have a
    finite loss and R² (the scan over the default dataset resumes from plugins/kernels/data/scan)."""
    from memplug.plugins.kernels import load_kernels

    ks = load_kernels("default")
    done = ks["done"].values.astype(bool)
    assert done.any()
    assert np.isfinite(ks["loss"].values[done]).all() and np.isfinite(ks["r2"].values[done]).all()
