"""ES targeting an MCT-generated F recovers M_mct (paper SI Figs. S5-S6), on small sizes.

The MCT stand-in of the real command (``memplug experiment mct-recovery``, KA mixture, 100 wave
numbers) is one-component Percus-Yevick hard spheres on a coarse grid of 30 wave numbers at
φ = 0.47 (a liquid with a clear two-step decay on this grid; φ_c ≈ 0.50 there): the tagged MCT
memory M_mct(k_peak, t) and its solution F_s^mct(t) of Eq. 5 (overdamped, Ω² = k_peak² T) are made
by the mct plugin; CMA-ES then fits Eq. 6 (N_exp = 2, 9 parameters for one species) to F_s^mct
from the closure's generic default — it never sees M_mct — and the fitted M(t) is compared with
M_mct(t).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from memplug.fit import FitProblem, FitSettings, run_fit
from memplug.registry import get_registry
from memplug.targets import Target


@pytest.fixture(scope="module")
def mct_target():
    from memplug.plugins.mct import dynamics as dyn
    from memplug.plugins.systems import hard_spheres as hs

    ctx = dataclasses.replace(
        hs.HardSpheres(n_k=30).context(phi=0.47), dynamics="overdamped", extra={}
    )
    t = np.geomspace(1e-3, 10.0, 60)
    M, Fs = dyn.mct_self_memory(
        ctx, t, solver=dyn.default_solver(t_max=10.0, N=8, dt0=1e-4, tol=1e-9)
    )
    F = np.diagonal(Fs, axis1=1, axis2=2).copy()
    return Target("PY-phi0.47", t, F, ctx, "mct"), M[:, 0, 0]


def test_es_on_mct_dynamics_recovers_the_mct_memory(mct_target):
    target, M_mct = mct_target
    F = target.F[:, 0]
    assert F[0] > 0.95 and F[-1] < 1e-3  # the window spans the whole decay
    prob = FitProblem(get_registry().create("closures", "stretched:n_exp=2"), target, N=8)
    x0 = prob.initial_vector()
    out = run_fit(
        prob, get_registry().create("optimizers", "cmaes:popsize=16"), x0,
        FitSettings(budget=1200, target_loss=1e-9, seed=0, sigma0=0.3),
    )  # fmt: skip
    F_fit, M_fit, status = prob.outputs(out.x, target.t, target.t)
    assert status == 0
    # F is reproduced: measured loss 7.4e-4 over 60 points (rms error 3.5e-3) after 1200
    # evaluations; 3e-3 (rms 7e-3) leaves room for platform rounding, R² stays > 0.999
    assert out.loss < 3e-3, out.loss
    # M is compared where F carries information about it: while F_s^mct is still decaying,
    # 0.05 ≤ F ≤ 0.95 (here t ≈ 2e-3 … 1.3). Earlier, F barely moved and sees M only at O(t²);
    # later, F' ≈ 0 and ∫ M(t−τ) F'(τ) dτ no longer constrains M (the fit's M there is arbitrary).
    w = (F >= 0.05) & (F <= 0.95)
    assert w.sum() >= 20

    def distance(M):
        return float(np.linalg.norm(M[w] - M_mct[w]) / np.linalg.norm(M_mct[w]))

    _, M_default, _ = prob.outputs(x0, target.t, target.t)
    # Tolerance 15 % (relative L2 over the window): measured 6.2 % with this budget (5.4 % after
    # 3000 evaluations); Eq. 6 with two stretched exponentials cannot follow M_mct's shape exactly,
    # so 0 is out of reach. The closure's default start is at 84 %, so the test can fail.
    assert distance(M_default[:, 0, 0]) > 0.5
    assert distance(M_fit[:, 0, 0]) < 0.15, distance(M_fit[:, 0, 0])
