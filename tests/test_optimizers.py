"""Optimizer plugins: the ask/tell contract on a NumPy function, seeds, bad options, and each of
cmaes, nevergrad and gradient reaching loss < 1e-6 on a noise-free Eq. 8 target."""

from __future__ import annotations

import math
import pickle
import warnings

import numpy as np
import pytest
from fit_support import perturbed, problem

from memplug.errors import InputError
from memplug.fit import FitSettings, run_fit
from memplug.registry import get_registry

POP = 8


def create(spec):
    return get_registry().create("optimizers", spec)


def quadratic(X):
    """(x − 1)² summed, +inf where x₀ > 3 (a 'diverged solve' region)."""
    X = np.atleast_2d(X)
    f = np.sum((X - 1.0) ** 2, axis=1)
    return np.where(X[:, 0] > 3.0, np.inf, f), 2.0 * (X - 1.0)


def drive(opt, generations, x0, sigma0=0.5, seed=0):
    opt.start(np.asarray(x0, float), sigma0=sigma0, seed=seed, budget=10**6)
    for _ in range(generations):
        X = opt.ask()
        f, g = quadratic(X)
        opt.tell(X, f, g if opt.uses_gradient else None)
    return opt.best()


@pytest.mark.parametrize(
    "spec, generations, tol",
    [("cmaes:popsize=8", 150, 1e-6), ("nevergrad:TwoPointsDE,popsize=8", 300, 1e-3),
     ("gradient", 30, 1e-6), ("gradient:method=adam,learning_rate=0.1", 300, 1e-6)],
)  # fmt: skip
def test_ask_tell_on_quadratic_with_infinite_region(spec, generations, tol):
    x0 = np.array([2.9, -1.0, 0.5, 2.0])  # next to the +inf region
    x, f = drive(create(spec), generations, x0)
    assert f < tol and np.allclose(x, 1.0, atol=0.05), (spec, f, x)


def test_cmaes_depends_only_on_its_seed_and_pickles():
    def run(seed, disturb):
        opt = create("cmaes:popsize=6")
        opt.start(np.zeros(3), sigma0=0.3, seed=seed, budget=10**6)
        for g in range(20):
            if disturb:
                np.random.seed(g)  # other code using numpy's global generator
            if g == 10:
                opt.restore(pickle.loads(pickle.dumps(opt.state())))
            X = opt.ask()
            opt.tell(X, quadratic(X)[0])
        return opt.best()[0]

    np.testing.assert_array_equal(run(3, False), run(3, True))
    assert not np.array_equal(run(3, False), run(4, False))


def test_bad_options():
    with pytest.raises(InputError, match="TwoPointsDE"):
        create("nevergrad:NoSuchOptimizer")
    with pytest.raises(InputError, match="popsize"):
        create("cmaes:popsize=1")
    with pytest.raises(InputError, match="lbfgs or adam"):
        create("gradient:method=newton")
    with pytest.raises(
        InputError, match="unknown optimizer 'nope'; available: cmaes, gradient, nevergrad"
    ):
        create("nope")
    with pytest.raises(InputError, match="budget"):
        FitSettings(budget=-1)


@pytest.mark.parametrize(
    "spec, budget, sigma0",
    [(f"cmaes:popsize={POP}", 6000, 5e-4), (f"nevergrad:NGOpt,popsize={POP}", 8000, 1e-2), ("gradient", 200, 5e-4)],
)  # fmt: skip
def test_optimizers_reach_1e_6_on_eq8_target(spec, budget, sigma0):
    prob, x_true = problem()
    x0 = perturbed(x_true, 0.05, seed=7)
    assert prob.evaluate(np.stack([x0] * POP))[0] > 1e-5  # the start is off
    out = run_fit(
        prob, create(spec), x0, FitSettings(budget=budget, target_loss=1e-6, seed=0, sigma0=sigma0)
    )
    assert out.loss < 1e-6 and out.stop_reason == "target loss reached", (
        spec,
        out.loss,
        out.evaluations,
    )
    assert math.isfinite(out.history[-1, 2])


def test_ngopt_on_tiny_problems_never_crashes():
    """nevergrad 1.0.12's NGOpt picks MetaModel for 3 parameters and 16 candidates per generation;
    its surrogate step raises TypeError with numpy >= 2.4. memplug drops the surrogate (MetaModel's
    own fallback) and says so; the fit proceeds."""
    from memplug.plugins.optimizers.nevergrad_optimizer import metamodel_is_broken

    opt = create("nevergrad:NGOpt,popsize=16")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        x, f = drive(
            opt, 40, np.zeros(3), sigma0=0.3
        )  # 640 candidates: the surrogate step would run
    if metamodel_is_broken():
        assert opt.substitutions == ["MetaModel -> CMA"]
        assert any("MetaModel" in str(w.message) for w in caught)
    restored = create("nevergrad:NGOpt,popsize=16")
    restored.restore(opt.state())
    assert restored.substitutions == opt.substitutions
    X = opt.ask()
    assert np.all(np.isfinite(quadratic(X)[0])) and np.min(quadratic(X)[0]) < 1e-3


def test_error_inside_nevergrad_is_one_clear_message():
    opt = create("nevergrad:TwoPointsDE,popsize=4")
    opt.start(np.zeros(3), sigma0=0.1, seed=0, budget=100)

    def broken_ask():
        raise TypeError("only 0-dimensional arrays can be converted to Python scalars")

    opt.opt.ask = broken_ask
    with pytest.raises(
        InputError,
        match=r"nevergrad:TwoPointsDE.*nevergrad failed \(TypeError: only 0-dim.*use nevergrad:TwoPointsDE",
    ):
        opt.ask()
