"""The identity of a fit job never changes: for typical commands, the `FitJob` the command line
builds has exactly these `inputs()`, `stem()` and `checkpoint_key()` (a finished result is reused,
and a checkpoint continued, only when the recorded inputs compare equal)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from fit_support import dataset_file, eq8_spec, state

import memplug.plugins.fitting.jobs as fit_jobs
from memplug.cli import main
from memplug.plugins.fitting.jobs import FitJob

# the dataset's path is a temporary file: "<DATASET>" stands for it
PINNED = json.loads((Path(__file__).parent / "data" / "job_identity.json").read_text())


class _Captured(Exception):
    pass


@pytest.fixture(scope="module")
def ds_file(tmp_path_factory):
    return dataset_file(tmp_path_factory.mktemp("data"))


def jobs_of(args, ds_file, out, monkeypatch) -> list[FitJob]:
    """The jobs a command would run (caught where they are handed to `run_jobs`)."""
    captured: list[FitJob] = []

    def run_jobs(jobs, **_):
        captured.extend(jobs)
        raise _Captured

    monkeypatch.setattr(fit_jobs, "run_jobs", run_jobs)
    args = [eq8_spec() if a == "EQ8" else a for a in args]
    where = [] if "memory-vs-T" in args else ["--state", state()]
    with pytest.raises(_Captured):
        main([*args, "--dataset", ds_file, "--out", str(out), *where])
    return captured


@pytest.mark.parametrize("name", list(PINNED))
def test_job_identity_is_pinned(name, ds_file, tmp_path, monkeypatch):
    args, expected = PINNED[name]
    jobs = jobs_of(args, ds_file, tmp_path / "out", monkeypatch)
    got = []
    for job in jobs:
        inputs, key = job.inputs(), job.checkpoint_key()
        assert inputs["dataset"] == key["dataset"] == ds_file
        inputs["dataset"] = key["dataset"] = "<DATASET>"
        got.append({"inputs": inputs, "stem": job.stem(), "checkpoint_key": key})
    assert got == expected
    for job in jobs:  # Dask sends jobs to other processes
        again = pickle.loads(pickle.dumps(job))
        assert again == job and again.inputs() == job.inputs()


def test_a_job_built_in_code_keeps_its_identity():
    job = FitJob(
        state="LJ-rho1.20-T0.810",
        closure="stretched:n_exp=2",
        optimizer="cmaes:popsize=8",
        lasso=1e-7,
    )
    assert job.stem() == "LJ-rho1.20-T0.810__stretched_n_exp=2__cmaes_popsize=8"
    assert job.inputs() == {
        "state": "LJ-rho1.20-T0.810", "closure": "stretched:n_exp=2", "optimizer": "cmaes:popsize=8",
        "dataset": "default", "target": "data", "init": "default", "budget": None, "target_loss": 1e-06,
        "seed": 0, "sigma0": None, "lasso": 1e-07, "t_min": None, "t_max": None, "solver_n": 16,
        "dynamics": "newtonian", "polish": "lbfgs", "normalisation": "unit", "mct_reference": False,
    }  # fmt: skip
    key = job.checkpoint_key()
    assert (
        "budget" not in key and "target_loss" not in key and key["closure"] == "stretched:n_exp=2"
    )


def test_one_default_dynamics(ds_file):
    from memplug.data import context_for, load_dataset
    from memplug.interfaces import DEFAULT_DYNAMICS, Context
    from memplug.model import default_context

    ds = load_dataset(ds_file)
    assert DEFAULT_DYNAMICS == "newtonian"
    assert (
        Context().dynamics
        == FitJob(state=state()).dynamics
        == context_for(ds, state()).dynamics
        == DEFAULT_DYNAMICS
    )
    assert context_for(ds, state(), dynamics="overdamped").dynamics == "overdamped"
    assert default_context().dynamics == "overdamped"  # as before: statics without a dataset


def test_fit_options_defaults_are_the_jobs():
    """A command without one of the shared options gets the job's default (as it did before)."""
    from memplug.plugins.fitting.cli import FitOptions

    opts = FitOptions()
    job = FitJob(state="s")
    assert opts.job_fields() == {k: getattr(job, k) for k in FitOptions.JOB_FIELDS}
    assert pickle.loads(pickle.dumps(opts)) == opts


def _half(x):
    if x == 2:
        raise ValueError("no fit for 2")
    return x / 2


@pytest.mark.parametrize("workers", [0, 1], ids=["serial", "dask"])
def test_a_failing_unit_is_reported_and_the_others_go_on(workers):
    """A scan of many fits must not stop at the first one that raises: with ``on_error`` the
    failure is reported (unit index and exception) and every other unit still runs."""
    errors = []
    out = fit_jobs.fan_out(
        _half, [(1,), (2,), (4,)], workers=workers, on_error=lambda i, e: errors.append((i, str(e)))
    )
    assert out == [0.5, None, 2.0]
    assert errors == [(1, "no fit for 2")]
    with pytest.raises(ValueError, match="no fit for 2"):  # without on_error: the first failure
        fit_jobs.fan_out(_half, [(2,)], workers=0)
