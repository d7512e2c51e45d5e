"""``memplug run`` / ``compare`` / ``experiment``: bad input exits 2 with one message; an end-to-end
run writes its files; a run killed by SIGINT or SIGKILL resumes to the identical result; the Dask
fan-out gives the serial result."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from fit_support import dataset_file, eq8_spec, state

from memplug.cli import main
from memplug.fit_results import load_result


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    return exc.value.code, capsys.readouterr()


@pytest.fixture(scope="module")
def ds_file(tmp_path_factory):
    return dataset_file(tmp_path_factory.mktemp("data"))


def fit_args(ds_file, out, *extra):
    return [
        "run", "--dataset", ds_file, "--state", state(), "--target", eq8_spec(),
        "--optimizer", "cmaes:popsize=8", "--solver-n", "8", "--seed", "3", "--out", str(out),
        "--polish", "none", *extra,  # the polish stage is tested in test_fit_strategy.py
    ]  # fmt: skip


@pytest.mark.parametrize(
    "args, message",
    [
        (["--closure", "nope"], "unknown closure 'nope'; available: "),
        (
            ["--optimizer", "nope"],
            "unknown optimizer 'nope'; available: cmaes, gradient, nevergrad",
        ),
        (["--dataset", "{missing}"], "file not found"),
        (["--dataset", "{corrupt}"], "not a readable netCDF file"),
        (["--state", "LJ-rho9.99-T1.000"], "--state: LJ-rho9.99-T1.000 not in dataset"),
        (["--budget", "-5"], "--budget: expected a positive number"),
        (["--out", "{file}/sub"], "cannot write there"),
        (["--T", "abc"], "--T 'abc': expected a number"),
        (
            ["--target", "nope"],
            "--target: unknown target 'nope'; available: data, mct, mlp, synthetic",
        ),
        (["--polish", "bfgs"], "--polish: expected lbfgs or none, got 'bfgs'"),
        (["--normalisation", "max"], "--normalisation: expected unit or paper, got 'max'"),
        (["--compile-cache", "{file}/sub"], "--compile-cache"),
    ],
)
def test_bad_input_exits_2_with_one_message(tmp_path, ds_file, capsys, args, message):
    (tmp_path / "corrupt.nc").write_bytes(b"this is not netCDF")
    (tmp_path / "file").write_text("x")
    subs = {
        "{missing}": str(tmp_path / "missing.nc"),
        "{corrupt}": str(tmp_path / "corrupt.nc"),
        "{file}": str(tmp_path / "file"),
    }
    args = [next((a.replace(k, v) for k, v in subs.items() if k in a), a) for a in args]
    base = ["run", "--dataset", ds_file, "--state", state(), "--out", str(tmp_path / "out")]
    # later options win: the bad one is appended after the good defaults
    code, cap = run_cli(
        base + args + (["--budget", "10"] if "--budget" not in args else []), capsys
    )
    assert code == 2
    err = cap.err.strip()
    assert err.startswith("error:") and message in " ".join(err.split()), err
    assert "Traceback" not in cap.err + cap.out


def test_run_writes_results_and_summary(tmp_path, ds_file, capsys):
    out = tmp_path / "out"
    code, cap = run_cli(fit_args(ds_file, out, "--budget", "40", "--target-loss", "0"), capsys)
    assert code in (0, None)
    assert "loss" in cap.out and state() in cap.out  # the final table
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary) == 1 and summary[0]["evaluations"] == 40
    nc = Path(summary[0]["files"]["netcdf"])
    assert nc.exists() and nc.with_suffix(".png").exists() and nc.with_suffix(".json").exists()
    assert load_result(nc).attrs["optimizer"] == "cmaes:popsize=8"
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def checkpoint_generation(path: Path) -> int:
    with open(path, "rb") as fh:
        return pickle.load(fh)["generation"]


# A real `memplug run` process that sends itself a signal right after generation GEN (so the test
# does not race a fast fit): SIGINT raises KeyboardInterrupt like Ctrl-C, SIGKILL ends it at once.
CHILD = """
import os, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, even if the runner ignores SIGINT
import memplug.plugins.fitting.jobs as jobs
GEN, SIG = int(sys.argv[1]), int(sys.argv[2])
run_fit = jobs.run_fit
def killed_run_fit(*args, callback=None, **kwargs):
    def cb(p):
        if p.generation == GEN:
            os.kill(os.getpid(), SIG)
    return run_fit(*args, callback=cb, **kwargs)
jobs.run_fit = killed_run_fit
from memplug.cli import main
main(sys.argv[3:])
"""


@pytest.mark.slow
def test_kill_and_resume_is_identical(tmp_path, ds_file, capsys):
    """SIGINT a run after generation 5, resume it in a new process and SIGKILL that one after
    generation 12, then resume to the end: θ and loss equal those of an uninterrupted run."""
    budget = ["--budget", "800", "--target-loss", "0", "--sigma0", "0.01"]
    ref_out, out = tmp_path / "ref", tmp_path / "killed"
    code, _ = run_cli(fit_args(ds_file, ref_out, *budget), capsys)
    assert code in (0, None)
    ref = json.loads((ref_out / "summary.json").read_text())[0]

    env = dict(os.environ, MPLBACKEND="Agg")
    for gen, sig, extra in ((5, signal.SIGINT, []), (12, signal.SIGKILL, ["--resume"])):
        cmd = [
            sys.executable,
            "-c",
            CHILD,
            str(gen),
            str(int(sig)),
            *fit_args(ds_file, out, *budget, *extra),
        ]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == (130 if sig == signal.SIGINT else -signal.SIGKILL), proc.stderr[
            -2000:
        ]
        (ck,) = (out / "checkpoints").glob("*.ckpt")
        assert checkpoint_generation(ck) == gen
        assert not list(out.glob("*.nc"))  # no result of an unfinished fit
        assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    code, _ = run_cli(fit_args(ds_file, out, *budget, "--resume"), capsys)
    assert code in (0, None)
    res = json.loads((out / "summary.json").read_text())[0]
    assert res["theta"] == ref["theta"] and res["loss"] == ref["loss"]
    assert res["evaluations"] == ref["evaluations"] == 800


def test_dask_fan_out_equals_serial(tmp_path, ds_file, capsys):
    """Fits sent through a Dask scheduler (here an in-process cluster, so the compiled loss is
    shared; ``--workers N`` starts worker processes the same way) give the serial result."""
    from dask.distributed import LocalCluster

    args = ["--budget", "48", "--target-loss", "0", "--sigma0", "0.01"]
    code, _ = run_cli(fit_args(ds_file, tmp_path / "serial", *args), capsys)
    assert code in (0, None)
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        code, _ = run_cli(
            fit_args(ds_file, tmp_path / "dask", *args, "--scheduler", cluster.scheduler_address),
            capsys,
        )
    assert code in (0, None)
    a = json.loads((tmp_path / "serial" / "summary.json").read_text())[0]
    b = json.loads((tmp_path / "dask" / "summary.json").read_text())[0]
    assert a["theta"] == b["theta"] and a["loss"] == b["loss"]
