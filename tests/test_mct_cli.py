"""``memplug mct`` commands and the dataset (T-bisection) path."""

from __future__ import annotations

import json

import numpy as np
import pytest

from memplug.cli import main
from memplug.plugins.datasets.schema import synthetic_state
from memplug.plugins.mct.cli import critical_temperature
from memplug.plugins.systems import hard_spheres as hs

PHI_C = 0.515912  # Franosch et al., PRE 55, 7153 (1997): PY hard spheres on this grid


def run(args):
    with pytest.raises(SystemExit) as exc:
        main(args)
    return exc.value.code


def test_critical_hard_spheres_command(tmp_path, capsys):
    out = tmp_path / "crit.json"
    code = run(
        [
            "mct",
            "critical",
            "--system",
            "hard-spheres",
            "--n-k",
            "30",
            "--lo",
            "0.45",
            "--hi",
            "0.55",
            "--xtol",
            "1e-3",
            "--no-exponent",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    data = json.loads(out.read_text())
    assert 0.45 < data["critical"] < 0.55 and data["glass"] - data["liquid"] <= 1e-3
    assert np.asarray(data["f_c"]).shape == (30, 1, 1)
    assert "φ_c" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args",
    [
        ["mct", "critical"],  # neither system nor dataset
        ["mct", "critical", "--system", "ka-lj"],
        ["mct", "critical", "--system", "hard-spheres", "--lo", "0.6", "--hi", "0.5"],
        ["mct", "critical", "--system", "hard-spheres", "--diameters", "1,x"],
        ["mct", "critical", "--dataset", "default"],  # no --rho
        ["mct", "critical", "--dataset", "default", "--rho", "1.2", "--interpolate", "log"],
        ["mct", "critical", "--dataset", "default", "--rho", "1.2", "--small-k", "cubic"],
        ["mct", "critical", "--dataset", "default", "--rho", "1.2", "--max-iter", "0"],
        ["mct", "solve", "--system", "hard-spheres"],  # no --phi
        ["mct", "solve", "--system", "hard-spheres", "--phi", "0.5", "--dynamics", "lazy"],
        [
            "mct",
            "critical",
            "--system",
            "hard-spheres",
            "--n-k",
            "30",
            "--lo",
            "0.3",
            "--hi",
            "0.4",
            "--xtol",
            "0.05",
        ],
    ],
)
def test_bad_input_exits_2(args):
    assert run(args) == 2


def test_dataset_path_bisects_in_temperature(tmp_path):
    """Synthetic dataset: S(k) of PY 'identical' spheres at φ_i, labelled T_i = 1/φ_i, fixed ρ = ρ(φ_c).

    At T = 1/φ_c the statics are exactly critical, so the bisection must find T_mct ≈ 1/φ_c (up to
    the linear interpolation of S in T between states). The points below 2π/L (k = 0.2, 0.6) are
    corrupted as a truncated g(r) transform can do (indefinite S): the default small-k continuation
    of c(k) must still give T_mct ≈ 1/φ_c, and ``--small-k keep`` must fail with exit code 2.
    """
    from memplug import data

    rho_c = 6 * PHI_C / np.pi
    phis = np.arange(0.505, 0.5275, 0.005)
    states = []
    for i, phi in enumerate(phis):
        st = synthetic_state("LJ", rho=rho_c, T=float(1 / phi), seed=i)
        S = hs.percus_yevick_mixture_S(st["k"].values, phi, [1.0, 1.0], [0.8, 0.2])
        st["S"].values[:] = np.stack([S[:, 0, 0], S[:, 0, 1], S[:, 1, 1]])[None]
        below = st["k_below_box"].values
        assert below.sum() == 2
        st["S"].values[0, :, below] = [[-0.33, 0.1, 0.5], [0.37, -0.09, 0.08]]
        states.append(st)
    ds = data.concat_states(states)
    cp = critical_temperature(ds, "LJ", rho_c, xtol=2e-3, exponent=False)
    assert cp.value == pytest.approx(1 / PHI_C, rel=2e-3)
    assert cp.glass < cp.liquid  # glass at low T
    path = tmp_path / "ds.nc"
    data.save_dataset(ds, path)
    code = run(
        [
            "mct",
            "critical",
            "--dataset",
            str(path),
            "--potential",
            "LJ",
            "--rho",
            str(rho_c),
            "--xtol",
            "0.03",
            "--no-exponent",
        ]
    )
    assert code == 0
    code = run(
        [
            "mct",
            "critical",
            "--dataset",
            str(path),
            "--potential",
            "LJ",
            "--rho",
            str(rho_c),
            "--small-k",
            "keep",
            "--no-exponent",
        ]
    )
    assert code == 2


def test_dataset_without_bracket_names_the_states(tmp_path, capsys):
    from memplug import data

    rho_c = 6 * PHI_C / np.pi
    states = []
    for i, phi in enumerate([0.40, 0.45]):  # both far below φ_c: liquid at every T of the path
        st = synthetic_state("LJ", rho=rho_c, T=float(1 / phi), seed=i)
        S = hs.percus_yevick_mixture_S(st["k"].values, phi, [1.0, 1.0], [0.8, 0.2])
        st["S"].values[:] = np.stack([S[:, 0, 0], S[:, 0, 1], S[:, 1, 1]])[None]
        states.append(st)
    path = tmp_path / "ds.nc"
    data.save_dataset(data.concat_states(states), path)
    code = run(
        [
            "mct",
            "critical",
            "--dataset",
            str(path),
            "--potential",
            "LJ",
            "--rho",
            str(rho_c),
            "--no-exponent",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "states at T = 2.22222, 2.5" in err and "both ends" in err
