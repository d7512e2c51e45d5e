"""Every closure solves by name, from the command line and from Python, with the same result.

The CLI run (``--block-n 16 --t-max 100``) and the Python run use the same solver configuration,
so the second reuses the first's compiled solve; closures of the same kernel structure (Eq. 6 and
Eq. 8) share one compilation as well. The diffrax path is cross-checked against the time-doubling
solver by the contrib Prony plugin's tests, and ``exponential_sum()`` of every Markovian built-in
against its kernel in test_closures.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from closure_support import BUILTIN_CLOSURES

import memplug
from memplug.model import solve_closure

TD = memplug.TimeDoublingSolver(N=16, t_max=1e2)


def cli_solve(spec: str, capsys, *extra: str) -> dict:
    from memplug.cli import main

    with pytest.raises(SystemExit) as exc:
        main(
            [
                "solve",
                "--closure",
                spec,
                "--t-max",
                "100",
                "--block-n",
                "16",
                "--points",
                "7",
                "--json",
                *extra,
            ]
        )
    assert (exc.value.code or 0) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.parametrize("spec", BUILTIN_CLOSURES)
def test_solve_every_closure_by_name_cli_and_python(spec, capsys):
    out = cli_solve(spec, capsys)
    assert out["closure"] == spec and out["status"] == "ok" and out["species"] == ["A", "B"]
    t, Fs = np.array(out["t"]), np.array(out["Fs"])
    sol = solve_closure(spec, solver=TD)  # by name, from Python
    assert sol.describe() == "ok"
    F = np.asarray(sol.interpolate(t))
    np.testing.assert_allclose(Fs, F[:, [0, 1], [0, 1]], rtol=0, atol=1e-12)
    # a relaxing correlator: starts below F(0) = 1, decreases, and the defaults are ergodic
    assert np.all(Fs[0] < 1.0) and np.all(np.diff(Fs[:, 0]) < 1e-9)
    assert Fs[-1, 0] < 0.05
    np.testing.assert_allclose(F[:, 0, 1], 0.0, atol=1e-12)  # default memories keep F diagonal
