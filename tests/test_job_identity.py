"""The identity of a fit job never changes: for typical commands, the `FitJob` the command line
builds has exactly these `inputs()`, `stem()` and `checkpoint_key()` (a finished result is reused,
and a checkpoint continued, only when the recorded inputs compare equal)."""

from __future__ import annotations

import pickle

import pytest
from fit_support import dataset_file, eq8_spec, state

import memplug.plugins.fitting.jobs as fit_jobs
from memplug.cli import main
from memplug.plugins.fitting.jobs import FitJob

# the dataset's path is a temporary file: "<DATASET>" stands for it
PINNED = {
    "default": (
        ["run", "--closure", "double-stretched", "--optimizer", "cmaes"],
        [
            {
                "inputs": {
                    "state": "LJ-rho1.20-T0.800",
                    "closure": "double-stretched",
                    "optimizer": "cmaes",
                    "dataset": "<DATASET>",
                    "target": "data",
                    "init": "default",
                    "budget": None,
                    "target_loss": 1e-06,
                    "seed": 0,
                    "sigma0": None,
                    "lasso": 0.0,
                    "t_min": None,
                    "t_max": None,
                    "solver_n": 16,
                    "dynamics": "newtonian",
                    "polish": "lbfgs",
                    "normalisation": "unit",
                    "mct_reference": False,
                },
                "stem": "LJ-rho1.20-T0.800__double-stretched__cmaes",
                "checkpoint_key": {
                    "state": "LJ-rho1.20-T0.800",
                    "closure": "double-stretched",
                    "optimizer": "cmaes",
                    "dataset": "<DATASET>",
                    "target": "data",
                    "init": "default",
                    "seed": 0,
                    "sigma0": None,
                    "lasso": 0.0,
                    "t_min": None,
                    "t_max": None,
                    "solver_n": 16,
                    "dynamics": "newtonian",
                    "polish": "lbfgs",
                    "normalisation": "unit",
                    "mct_reference": False,
                },
            }
        ],
    ),
    "stretched2": (
        ["run", "--closure", "stretched:n_exp=2"],
        [
            {
                "inputs": {
                    "state": "LJ-rho1.20-T0.800",
                    "closure": "stretched:n_exp=2",
                    "optimizer": "cmaes",
                    "dataset": "<DATASET>",
                    "target": "data",
                    "init": "default",
                    "budget": None,
                    "target_loss": 1e-06,
                    "seed": 0,
                    "sigma0": None,
                    "lasso": 0.0,
                    "t_min": None,
                    "t_max": None,
                    "solver_n": 16,
                    "dynamics": "newtonian",
                    "polish": "lbfgs",
                    "normalisation": "unit",
                    "mct_reference": False,
                },
                "stem": "LJ-rho1.20-T0.800__stretched_n_exp=2__cmaes",
                "checkpoint_key": {
                    "state": "LJ-rho1.20-T0.800",
                    "closure": "stretched:n_exp=2",
                    "optimizer": "cmaes",
                    "dataset": "<DATASET>",
                    "target": "data",
                    "init": "default",
                    "seed": 0,
                    "sigma0": None,
                    "lasso": 0.0,
                    "t_min": None,
                    "t_max": None,
                    "solver_n": 16,
                    "dynamics": "newtonian",
                    "polish": "lbfgs",
                    "normalisation": "unit",
                    "mct_reference": False,
                },
            }
        ],
    ),
    "popsize": (
        ["run", "--optimizer", "cmaes:popsize=8"],
        [
            {
                "inputs": {
                    "state": "LJ-rho1.20-T0.800",
                    "closure": "double-stretched",
                    "optimizer": "cmaes:popsize=8",
                    "dataset": "<DATASET>",
                    "target": "data",
                    "init": "default",
                    "budget": None,
                    "target_loss": 1e-06,
                    "seed": 0,
                    "sigma0": None,
                    "lasso": 0.0,
                    "t_min": None,
                    "t_max": None,
                    "solver_n": 16,
                    "dynamics": "newtonian",
                    "polish": "lbfgs",
                    "normalisation": "unit",
                    "mct_reference": False,
                },
                "stem": "LJ-rho1.20-T0.800__double-stretched__cmaes_popsize=8",
                "checkpoint_key": {
                    "state": "LJ-rho1.20-T0.800",
                    "closure": "double-stretched",
                    "optimizer": "cmaes:popsize=8",
                    "dataset": "<DATASET>",
                    "target": "data",
                    "init": "default",
                    "seed": 0,
                    "sigma0": None,
                    "lasso": 0.0,
                    "t_min": None,
                    "t_max": None,
                    "solver_n": 16,
                    "dynamics": "newtonian",
                    "polish": "lbfgs",
                    "normalisation": "unit",
                    "mct_reference": False,
                },
            }
        ],
    ),
    "lasso": (
        ["run", "--lasso", "1e-7"],
        [
            {
                "inputs": {
                    "state": "LJ-rho1.20-T0.800",
                    "closure": "double-stretched",
                    "optimizer": "cmaes",
                    "dataset": "<DATASET>",
                    "target": "data",
                    "init": "default",
                    "budget": None,
                    "target_loss": 1e-06,
                    "seed": 0,
                    "sigma0": None,
                    "lasso": 1e-07,
                    "t_min": None,
                    "t_max": None,
                    "solver_n": 16,
                    "dynamics": "newtonian",
                    "polish": "lbfgs",
                    "normalisation": "unit",
                    "mct_reference": False,
                },
                "stem": "LJ-rho1.20-T0.800__double-stretched__cmaes",
                "checkpoint_key": {
                    "state": "LJ-rho1.20-T0.800",
                    "closure": "double-stretched",
                    "optimizer": "cmaes",
                    "dataset": "<DATASET>",
                    "target": "data",
                    "init": "default",
                    "seed": 0,
                    "sigma0": None,
                    "lasso": 1e-07,
                    "t_min": None,
                    "t_max": None,
                    "solver_n": 16,
                    "dynamics": "newtonian",
                    "polish": "lbfgs",
                    "normalisation": "unit",
                    "mct_reference": False,
                },
            }
        ],
    ),
    "window": (
        ["run", "--t-min", "0.05", "--t-max", "50"],
        [
            {
                "inputs": {
                    "state": "LJ-rho1.20-T0.800",
                    "closure": "double-stretched",
                    "optimizer": "cmaes",
                    "dataset": "<DATASET>",
                    "target": "data",
                    "init": "default",
                    "budget": None,
                    "target_loss": 1e-06,
                    "seed": 0,
                    "sigma0": None,
                    "lasso": 0.0,
                    "t_min": 0.05,
                    "t_max": 50.0,
                    "solver_n": 16,
                    "dynamics": "newtonian",
                    "polish": "lbfgs",
                    "normalisation": "unit",
                    "mct_reference": False,
                },
                "stem": "LJ-rho1.20-T0.800__double-stretched__cmaes",
                "checkpoint_key": {
                    "state": "LJ-rho1.20-T0.800",
                    "closure": "double-stretched",
                    "optimizer": "cmaes",
                    "dataset": "<DATASET>",
                    "target": "data",
                    "init": "default",
                    "seed": 0,
                    "sigma0": None,
                    "lasso": 0.0,
                    "t_min": 0.05,
                    "t_max": 50.0,
                    "solver_n": 16,
                    "dynamics": "newtonian",
                    "polish": "lbfgs",
                    "normalisation": "unit",
                    "mct_reference": False,
                },
            }
        ],
    ),
    "target_mct": (
        ["run", "--target", "mct"],
        [
            {
                "inputs": {
                    "state": "LJ-rho1.20-T0.800",
                    "closure": "double-stretched",
                    "optimizer": "cmaes",
                    "dataset": "<DATASET>",
                    "target": "mct",
                    "init": "default",
                    "budget": None,
                    "target_loss": 1e-06,
                    "seed": 0,
                    "sigma0": None,
                    "lasso": 0.0,
                    "t_min": None,
                    "t_max": None,
                    "solver_n": 16,
                    "dynamics": "newtonian",
                    "polish": "lbfgs",
                    "normalisation": "unit",
                    "mct_reference": False,
                },
                "stem": "LJ-rho1.20-T0.800__double-stretched__cmaes__mct",
                "checkpoint_key": {
                    "state": "LJ-rho1.20-T0.800",
                    "closure": "double-stretched",
                    "optimizer": "cmaes",
                    "dataset": "<DATASET>",
                    "target": "mct",
                    "init": "default",
                    "seed": 0,
                    "sigma0": None,
                    "lasso": 0.0,
                    "t_min": None,
                    "t_max": None,
                    "solver_n": 16,
                    "dynamics": "newtonian",
                    "polish": "lbfgs",
                    "normalisation": "unit",
                    "mct_reference": False,
                },
            }
        ],
    ),
    "init_mct": (
        [
            "run",
            "--init",
            "mct",
            "--dynamics",
            "overdamped",
            "--budget",
            "100",
            "--seed",
            "4",
            "--sigma0",
            "0.01",
        ],
        [
            {
                "inputs": {
                    "state": "LJ-rho1.20-T0.800",
                    "closure": "double-stretched",
                    "optimizer": "cmaes",
                    "dataset": "<DATASET>",
                    "target": "data",
                    "init": "mct",
                    "budget": 100,
                    "target_loss": 1e-06,
                    "seed": 4,
                    "sigma0": 0.01,
                    "lasso": 0.0,
                    "t_min": None,
                    "t_max": None,
                    "solver_n": 16,
                    "dynamics": "overdamped",
                    "polish": "lbfgs",
                    "normalisation": "unit",
                    "mct_reference": False,
                },
                "stem": "LJ-rho1.20-T0.800__double-stretched__cmaes",
                "checkpoint_key": {
                    "state": "LJ-rho1.20-T0.800",
                    "closure": "double-stretched",
                    "optimizer": "cmaes",
                    "dataset": "<DATASET>",
                    "target": "data",
                    "init": "mct",
                    "seed": 4,
                    "sigma0": 0.01,
                    "lasso": 0.0,
                    "t_min": None,
                    "t_max": None,
                    "solver_n": 16,
                    "dynamics": "overdamped",
                    "polish": "lbfgs",
                    "normalisation": "unit",
                    "mct_reference": False,
                },
            }
        ],
    ),
    "synthetic": (
        [
            "run",
            "--target",
            "EQ8",
            "--solver-n",
            "8",
            "--polish",
            "none",
            "--normalisation",
            "paper",
            "--target-loss",
            "0",
        ],
        [
            {
                "inputs": {
                    "state": "LJ-rho1.20-T0.800",
                    "closure": "double-stretched",
                    "optimizer": "cmaes",
                    "dataset": "<DATASET>",
                    "target": "synthetic:closure=double-stretched,N=8,noise=0.0,seed=0,K_AA=1.4,ratio_AA=0.003,mu_AA=0.6,K_BB=1.0,ratio_BB=0.01,mu_BB=0.7",
                    "init": "default",
                    "budget": None,
                    "target_loss": 0.0,
                    "seed": 0,
                    "sigma0": None,
                    "lasso": 0.0,
                    "t_min": None,
                    "t_max": None,
                    "solver_n": 8,
                    "dynamics": "newtonian",
                    "polish": "none",
                    "normalisation": "paper",
                    "mct_reference": False,
                },
                "stem": "LJ-rho1.20-T0.800__double-stretched__cmaes__synthetic_closure=double-stretched_N=8_noise=0.0_seed=0_K_AA=1.4_ratio_AA=0.003_mu_AA=0.6_K_BB=1.0_ratio_BB=0.01_mu_BB=0.7",
                "checkpoint_key": {
                    "state": "LJ-rho1.20-T0.800",
                    "closure": "double-stretched",
                    "optimizer": "cmaes",
                    "dataset": "<DATASET>",
                    "target": "synthetic:closure=double-stretched,N=8,noise=0.0,seed=0,K_AA=1.4,ratio_AA=0.003,mu_AA=0.6,K_BB=1.0,ratio_BB=0.01,mu_BB=0.7",
                    "init": "default",
                    "seed": 0,
                    "sigma0": None,
                    "lasso": 0.0,
                    "t_min": None,
                    "t_max": None,
                    "solver_n": 8,
                    "dynamics": "newtonian",
                    "polish": "none",
                    "normalisation": "paper",
                    "mct_reference": False,
                },
            }
        ],
    ),
    "compare": (
        [
            "compare",
            "--closures",
            "exponential,stretched:n_exp=2",
            "--optimizers",
            "cmaes:popsize=8,restarts=1",
        ],
        [
            {
                "inputs": {
                    "state": "LJ-rho1.20-T0.800",
                    "closure": "exponential",
                    "optimizer": "cmaes:popsize=8,restarts=1",
                    "dataset": "<DATASET>",
                    "target": "data",
                    "init": "default",
                    "budget": None,
                    "target_loss": 1e-06,
                    "seed": 0,
                    "sigma0": None,
                    "lasso": 0.0,
                    "t_min": None,
                    "t_max": None,
                    "solver_n": 16,
                    "dynamics": "newtonian",
                    "polish": "lbfgs",
                    "normalisation": "unit",
                    "mct_reference": False,
                },
                "stem": "LJ-rho1.20-T0.800__exponential__cmaes_popsize=8_restarts=1",
                "checkpoint_key": {
                    "state": "LJ-rho1.20-T0.800",
                    "closure": "exponential",
                    "optimizer": "cmaes:popsize=8,restarts=1",
                    "dataset": "<DATASET>",
                    "target": "data",
                    "init": "default",
                    "seed": 0,
                    "sigma0": None,
                    "lasso": 0.0,
                    "t_min": None,
                    "t_max": None,
                    "solver_n": 16,
                    "dynamics": "newtonian",
                    "polish": "lbfgs",
                    "normalisation": "unit",
                    "mct_reference": False,
                },
            },
            {
                "inputs": {
                    "state": "LJ-rho1.20-T0.800",
                    "closure": "stretched:n_exp=2",
                    "optimizer": "cmaes:popsize=8,restarts=1",
                    "dataset": "<DATASET>",
                    "target": "data",
                    "init": "default",
                    "budget": None,
                    "target_loss": 1e-06,
                    "seed": 0,
                    "sigma0": None,
                    "lasso": 0.0,
                    "t_min": None,
                    "t_max": None,
                    "solver_n": 16,
                    "dynamics": "newtonian",
                    "polish": "lbfgs",
                    "normalisation": "unit",
                    "mct_reference": False,
                },
                "stem": "LJ-rho1.20-T0.800__stretched_n_exp=2__cmaes_popsize=8_restarts=1",
                "checkpoint_key": {
                    "state": "LJ-rho1.20-T0.800",
                    "closure": "stretched:n_exp=2",
                    "optimizer": "cmaes:popsize=8,restarts=1",
                    "dataset": "<DATASET>",
                    "target": "data",
                    "init": "default",
                    "seed": 0,
                    "sigma0": None,
                    "lasso": 0.0,
                    "t_min": None,
                    "t_max": None,
                    "solver_n": 16,
                    "dynamics": "newtonian",
                    "polish": "lbfgs",
                    "normalisation": "unit",
                    "mct_reference": False,
                },
            },
        ],
    ),
    "nexp_scan": (
        ["experiment", "nexp-scan", "--n-exp", "1,2"],
        [
            {
                "inputs": {
                    "state": "LJ-rho1.20-T0.800",
                    "closure": "stretched:n_exp=1",
                    "optimizer": "cmaes",
                    "dataset": "<DATASET>",
                    "target": "data",
                    "init": "default",
                    "budget": None,
                    "target_loss": 1e-06,
                    "seed": 0,
                    "sigma0": None,
                    "lasso": 0.0,
                    "t_min": None,
                    "t_max": None,
                    "solver_n": 16,
                    "dynamics": "newtonian",
                    "polish": "lbfgs",
                    "normalisation": "unit",
                    "mct_reference": False,
                },
                "stem": "LJ-rho1.20-T0.800__stretched_n_exp=1__cmaes",
                "checkpoint_key": {
                    "state": "LJ-rho1.20-T0.800",
                    "closure": "stretched:n_exp=1",
                    "optimizer": "cmaes",
                    "dataset": "<DATASET>",
                    "target": "data",
                    "init": "default",
                    "seed": 0,
                    "sigma0": None,
                    "lasso": 0.0,
                    "t_min": None,
                    "t_max": None,
                    "solver_n": 16,
                    "dynamics": "newtonian",
                    "polish": "lbfgs",
                    "normalisation": "unit",
                    "mct_reference": False,
                },
            },
            {
                "inputs": {
                    "state": "LJ-rho1.20-T0.800",
                    "closure": "stretched:n_exp=2",
                    "optimizer": "cmaes",
                    "dataset": "<DATASET>",
                    "target": "data",
                    "init": "default",
                    "budget": None,
                    "target_loss": 1e-06,
                    "seed": 0,
                    "sigma0": None,
                    "lasso": 0.0,
                    "t_min": None,
                    "t_max": None,
                    "solver_n": 16,
                    "dynamics": "newtonian",
                    "polish": "lbfgs",
                    "normalisation": "unit",
                    "mct_reference": False,
                },
                "stem": "LJ-rho1.20-T0.800__stretched_n_exp=2__cmaes",
                "checkpoint_key": {
                    "state": "LJ-rho1.20-T0.800",
                    "closure": "stretched:n_exp=2",
                    "optimizer": "cmaes",
                    "dataset": "<DATASET>",
                    "target": "data",
                    "init": "default",
                    "seed": 0,
                    "sigma0": None,
                    "lasso": 0.0,
                    "t_min": None,
                    "t_max": None,
                    "solver_n": 16,
                    "dynamics": "newtonian",
                    "polish": "lbfgs",
                    "normalisation": "unit",
                    "mct_reference": False,
                },
            },
        ],
    ),
    "mct_recovery": (
        ["experiment", "mct-recovery"],
        [
            {
                "inputs": {
                    "state": "LJ-rho1.20-T0.800",
                    "closure": "stretched:n_exp=2",
                    "optimizer": "cmaes",
                    "dataset": "<DATASET>",
                    "target": "mct",
                    "init": "default",
                    "budget": None,
                    "target_loss": 1e-06,
                    "seed": 0,
                    "sigma0": None,
                    "lasso": 0.0,
                    "t_min": None,
                    "t_max": None,
                    "solver_n": 16,
                    "dynamics": "newtonian",
                    "polish": "lbfgs",
                    "normalisation": "unit",
                    "mct_reference": False,
                },
                "stem": "LJ-rho1.20-T0.800__stretched_n_exp=2__cmaes__mct",
                "checkpoint_key": {
                    "state": "LJ-rho1.20-T0.800",
                    "closure": "stretched:n_exp=2",
                    "optimizer": "cmaes",
                    "dataset": "<DATASET>",
                    "target": "mct",
                    "init": "default",
                    "seed": 0,
                    "sigma0": None,
                    "lasso": 0.0,
                    "t_min": None,
                    "t_max": None,
                    "solver_n": 16,
                    "dynamics": "newtonian",
                    "polish": "lbfgs",
                    "normalisation": "unit",
                    "mct_reference": False,
                },
            }
        ],
    ),
    "memory_vs_T": (
        ["experiment", "memory-vs-T", "--budget", "50"],
        [
            {
                "inputs": {
                    "state": "LJ-rho1.20-T0.800",
                    "closure": "stretched:n_exp=2",
                    "optimizer": "cmaes",
                    "dataset": "<DATASET>",
                    "target": "data",
                    "init": "default",
                    "budget": 50,
                    "target_loss": 1e-06,
                    "seed": 0,
                    "sigma0": None,
                    "lasso": 0.0,
                    "t_min": None,
                    "t_max": None,
                    "solver_n": 16,
                    "dynamics": "newtonian",
                    "polish": "lbfgs",
                    "normalisation": "unit",
                    "mct_reference": True,
                },
                "stem": "LJ-rho1.20-T0.800__stretched_n_exp=2__cmaes",
                "checkpoint_key": {
                    "state": "LJ-rho1.20-T0.800",
                    "closure": "stretched:n_exp=2",
                    "optimizer": "cmaes",
                    "dataset": "<DATASET>",
                    "target": "data",
                    "init": "default",
                    "seed": 0,
                    "sigma0": None,
                    "lasso": 0.0,
                    "t_min": None,
                    "t_max": None,
                    "solver_n": 16,
                    "dynamics": "newtonian",
                    "polish": "lbfgs",
                    "normalisation": "unit",
                    "mct_reference": True,
                },
            }
        ],
    ),
}


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
