"""``memplug compare-engines`` on the smallest real runs: both engines, two seeds, one warm state.

The check is the cross-validation itself at test size: two independent engines (LAMMPS and
HOOMD-blue) simulating the same KA-LJ state must agree within their seed-to-seed error bars.
"""

from __future__ import annotations

import csv

import pytest
from md_support import ENGINE_L, require_engine

from memplug.cli import main


def test_two_engines_agree_on_a_warm_state_within_error_bars(tmp_path, capsys):
    require_engine("lammps")
    require_engine("hoomd")
    out = tmp_path / "engines.csv"
    argv = ["compare-engines", "--state", "ka-lj:1.2:2.0", "--seeds", "2", "--n-t", "20"]
    argv += ["--workdir", str(tmp_path / "runs"), "--out", str(out)]
    # one box both engines can simulate (HOOMD needs L ≥ 5.6 for LJ): N = 240
    argv += ["--set", f"L={ENGINE_L['hoomd']!r}"]
    small = ("max_equil_steps=6000", "glass_lag_steps=1000", "n_origins=2", "n_sk_frames=2")
    for s in (*small, "max_per_bin=30"):
        argv += ["--set", s]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code in (0, None)
    rows = list(csv.DictReader(out.open()))
    by = {r["observable"]: r for r in rows}
    assert {"E_pot/N", "tau_alpha", "S_AA peak position"} <= set(by)
    assert all(r["n_lammps"] == "2" and r["n_hoomd"] == "2" for r in rows)
    # same Hamiltonian, same state: E_pot/N within 5 standard errors and 2 % (independent engines)
    e_l, e_h = float(by["E_pot/N"]["mean_lammps"]), float(by["E_pot/N"]["mean_hoomd"])
    assert e_l == pytest.approx(e_h, rel=0.02)
    assert float(by["E_pot/N"]["z"]) < 5
    assert float(by["tau_alpha"]["mean_lammps"]) == pytest.approx(
        float(by["tau_alpha"]["mean_hoomd"]), rel=0.25
    )
    # a second call resumes: every run is finished, nothing is simulated again
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code in (0, None)
    assert list(csv.DictReader(out.open())) == rows


def test_bad_state_and_engines_exit_2(tmp_path, capsys):
    base = ["compare-engines", "--workdir", str(tmp_path), "--out", str(tmp_path / "x.csv")]
    for extra, message in (
        (["--state", "ka-lj:1.2"], "SYSTEM:RHO:T"),
        (["--engines", "lammps"], "two different engines"),
        (["--seeds", "1"], "--seeds"),
        (["--state", "ka-xx:1.2:1.0"], "unknown system"),
    ):
        with pytest.raises(SystemExit) as exc:
            main(base + extra)
        err = capsys.readouterr().err
        assert exc.value.code == 2 and message in err and "Traceback" not in err
