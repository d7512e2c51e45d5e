"""The third-party plugin contract, proven from outside the core: memplug finds the Prony closure
through its entry point, and a solve uses it by name with both solvers."""

from __future__ import annotations

import json
import math

import jax.numpy as jnp
import numpy as np
import pytest

import memplug
from memplug.model import default_context, get_closure, solve_closure
from memplug.registry import Registry

# Small solver configurations keep the suite fast; the time-doubling one is the configuration the
# core tests use too, so its compiled solve is shared.
TD = memplug.TimeDoublingSolver(N=16, t_max=1e2)
DX = memplug.DiffraxSolver(t_max=1e2, n_out=60, rtol=1e-8, atol=1e-10)


def test_registry_finds_prony_from_its_distribution():
    reg = Registry()
    assert "prony" in reg.names("closures")
    info = reg.owner["closures"]["prony"]
    assert info.distribution == "memplug-prony"
    assert info.ok and info.registered == {"closures": ["prony"]}
    # the built-ins are still there, from the core distribution
    assert reg.owner["closures"]["stretched"].distribution == "memplug"


def test_prony_kernel_matches_the_series():
    ctx = default_context()
    closure = get_closure("prony:n_terms=2")
    theta = {"w": jnp.array([[2.0, 1.0], [0.5, 3.0]]), "tau": jnp.array([[1.0, 0.5], [4.0, 2.0]])}
    M = np.asarray(closure.kernel(theta, ctx)(jnp.array([0.0, 1.0])))
    assert M.shape == (2, 2, 2)
    # hand values: M_AA(1) = 2 e^{-1} + 0.5 e^{-1/4}; M_BB(1) = 1 e^{-2} + 3 e^{-1/2}
    assert M[1, 0, 0] == pytest.approx(2 * math.exp(-1) + 0.5 * math.exp(-0.25), rel=1e-12)
    assert M[1, 1, 1] == pytest.approx(math.exp(-2) + 3 * math.exp(-0.5), rel=1e-12)
    assert M[0, 0, 0] == pytest.approx(2.5) and M[0, 1, 1] == pytest.approx(4.0)
    assert M[:, 0, 1] == pytest.approx(0.0) and M[:, 1, 0] == pytest.approx(0.0)
    assert closure.space(ctx).dim == 8  # w and tau, 2 terms x 2 species


def test_prony_solves_by_name_with_both_solvers():
    tq = np.geomspace(1e-3, 1e2, 15)
    F_td = np.asarray(solve_closure("prony:n_terms=2", solver=TD).interpolate(tq))
    sol_dx = solve_closure("prony:n_terms=2", solver=DX)
    F_dx = np.asarray(sol_dx.interpolate(tq))
    assert sol_dx.describe() == "ok"
    assert F_td[0, 0, 0] < 1.0 and F_td[-1, 0, 0] < 0.05  # relaxes
    # two independent solvers agree (time-doubling discretisation error at N = 16 is ~1e-3)
    assert np.max(np.abs(F_td - F_dx)) < 5e-3


def test_cli_lists_and_solves_prony(capsys):
    from memplug.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["plugins", "--kind", "optimizer"])  # any listing works with the plugin installed
    assert exc.value.code in (0, None)
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "solve",
                "--closure",
                "prony:n_terms=2",
                "--t-max",
                "100",
                "--block-n",
                "16",
                "--points",
                "5",
                "--json",
            ]
        )
    assert exc.value.code in (0, None)
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["closure"] == "prony:n_terms=2" and out["status"] == "ok"
    ref = np.asarray(solve_closure("prony:n_terms=2", solver=TD).interpolate(np.array(out["t"])))
    assert np.allclose(np.array(out["Fs"])[:, 0], ref[:, 0, 0], atol=1e-12)


def test_bad_option_is_one_clear_error(capsys):
    from memplug.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["solve", "--closure", "prony:n_terms=0"])
    assert exc.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "n_terms=0" in err and "positive integer" in err and "Traceback" not in err
