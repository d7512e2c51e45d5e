"""Shared small fitting problems of the fitting tests (not a test module).

The target is F from the paper's Eq. 8 kernel with a two-step relaxation (plateau ~0.5), made by
the same solver settings the fit uses (N = 8), on the 150 times of a synthetic dataset state
(0.005 … 70). Every problem with the same closure and statics shares one compiled loss.
"""

from __future__ import annotations

import functools

import numpy as np

from memplug.data import context_for, save_dataset
from memplug.fit import FitProblem
from memplug.plugins.datasets.schema import synthetic_state
from memplug.registry import get_registry
from memplug.targets import make_target

N = 8
#: Eq. 8 (scaled form, amplitudes in units of Ω²) parameters of the synthetic target; the rest are
#: the closure's defaults (A = q = 1, ν = 1 for these overdamped statics).
EQ8_TRUE = {
    "K_AA": 1.4,
    "ratio_AA": 0.003,
    "mu_AA": 0.6,
    "K_BB": 1.0,
    "ratio_BB": 0.01,
    "mu_BB": 0.7,
}
#: Eq. 6 (N_exp = 1) parameters of a synthetic target; off-diagonal weights stay 0.
EQ6_TRUE = {
    "w_AA": [60.0],
    "tau_AA": [5.0],
    "b_AA": [0.6],
    "w_BB": [40.0],
    "tau_BB": [3.0],
    "b_BB": [0.7],
}
#: The slow channel's parameters, which the long-time data determine tightly.
EQ8_IDENTIFIABLE = ["K_AA", "ratio_AA", "mu_AA", "K_BB", "ratio_BB", "mu_BB"]


@functools.cache
def dataset():
    return synthetic_state(T=0.8, seed=3)


def state() -> str:
    return str(dataset()["state"].values[0])


def dataset_file(directory) -> str:
    path = directory / "ds.nc"
    save_dataset(dataset(), path)
    return str(path)


def spec(values: dict, closure: str = "double-stretched", noise: float = 0.0, seed: int = 0) -> str:
    items = ",".join(f"{k}={v!r}".replace(" ", "") for k, v in values.items())
    return f"synthetic:closure={closure},N={N},noise={noise},seed={seed},{items}"


def eq8_spec(noise: float = 0.0, seed: int = 0) -> str:
    return spec(EQ8_TRUE, noise=noise, seed=seed)


def problem(closure: str = "double-stretched", target: str | None = None):
    """(FitProblem, true unconstrained vector) for a synthetic target."""
    ds = dataset()
    ctx = context_for(ds, state(), dynamics="overdamped")
    target = target or (eq8_spec() if closure == "double-stretched" else spec(EQ6_TRUE, closure))
    tgt = make_target(target, ds, state(), ctx)
    clo = get_registry().create("closures", closure)
    prob = FitProblem(clo, tgt, N=N)
    theta = {k: np.asarray(v) for k, v in clo.initial(ctx).items()}
    theta |= {k: np.asarray(v, float) for k, v in tgt.info["theta_true"].items()}
    return prob, prob.vector(theta)


def perturbed(x: np.ndarray, scale: float = 0.2, seed: int = 0) -> np.ndarray:
    return x + np.random.default_rng(seed).normal(0.0, scale, x.shape)
