"""Tables for scripts and pipes (`memplug.cli.tables`): ``--table FILE`` writes a command's rows
as JSON or CSV by suffix, printed tables are never cut when stdout is not a terminal, and a bad
``--closure``/``--closures``/``--table`` is one error line (exit 2), before any work."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from fit_support import dataset_file, eq8_spec, state
from rich.console import Console

from memplug.cli import main
from memplug.cli.tables import show, table_text
from memplug.plugins.fitting.cli import comparison_table, results_table

LONG_STATE = "WCA-rho1.40-T10.000-with-a-long-suffix-for-the-test"
LONG_CLOSURE = "stretched:n_exp=4,cross=True,fractions=True"


def run_cli(args, capsys):
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr()


@pytest.fixture(scope="module")
def ds_file(tmp_path_factory):
    return dataset_file(tmp_path_factory.mktemp("data"))


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_closures_table_file(tmp_path, capsys, suffix):
    path = tmp_path / f"closures{suffix}"
    code, cap = run_cli(["closures", "--table", path], capsys)
    assert code == 0
    text = path.read_text()
    rows = json.loads(text) if suffix == ".json" else list(csv.DictReader(io.StringIO(text)))
    by_name = {r["closure"]: r for r in rows}
    assert {"double-stretched", "stretched", "schematic-f12", "exponential"} <= set(by_name)
    assert int(by_name["double-stretched"]["n_parameters"]) == 12
    assert "n_exp=2" in by_name["stretched"]["options"]


def test_one_closure_and_plugins_table_files(tmp_path, capsys):
    code, _ = run_cli(["closures", "stretched:n_exp=2", "--table", tmp_path / "p.csv"], capsys)
    assert code == 0
    rows = list(csv.DictReader(io.StringIO((tmp_path / "p.csv").read_text())))
    assert rows[0]["parameter"] and set(rows[0]) == {
        "parameter",
        "shape",
        "default",
        "bounds",
        "transform",
        "meaning",
    }
    code, _ = run_cli(["plugins", "--table", tmp_path / "plugins.json"], capsys)
    assert code == 0
    plugins = {r["plugin"]: r for r in json.loads((tmp_path / "plugins.json").read_text())}
    assert (
        "closures: " in plugins["closures"]["registers"] and plugins["closures"]["status"] == "ok"
    )


def test_piped_tables_are_not_cut():
    """`memplug closures | cat`: each closure's row on one line, its description in full."""
    memplug = Path(sys.executable).with_name("memplug")
    out = subprocess.run(
        [str(memplug), "closures"], capture_output=True, text=True, check=True
    ).stdout
    line = next(ln for ln in out.splitlines() if "│ double-stretched " in ln)
    assert "Eq. 8: Omega^2 [A exp(-(q r t)^nu) + K exp(-(Omega~ t)^mu)] per species pair" in line
    assert "…" not in out


def test_fit_tables_keep_ids_and_numbers_when_not_a_terminal():
    result = {
        "state": LONG_STATE, "closure": LONG_CLOSURE, "optimizer": "cmaes:popsize=16,restarts=2",
        "T_over_Tmct": 1.2345, "loss": 1.8312345e-5, "r2": 0.99991234, "evaluations": 5600,
        "elapsed_s": 123.4, "pinned": [], "flags": [], "stop_reason": "target loss reached",
    }  # fmt: skip
    rows = [{"state": s, "closure": c, "optimizer": "cmaes", "k": 9, "n": 300, "loss": 1.8312345e-5,
             "ssr": 1.8e-5, "r2": 0.999912, "rmse": 1.234e-3, "aic": -4321.5, "bic": -4300.25,
             "delta_aic": 0.0, "delta_bic": math.nan} for s in (LONG_STATE, "LJ-rho1.20-T0.810")
            for c in (LONG_CLOSURE, "exponential")]  # fmt: skip
    buf = io.StringIO()
    console = Console(file=buf, width=80)  # not a terminal: a pipe or a file
    assert not console.is_terminal
    show(
        results_table([result, result | {"closure": "exponential"}], title="memplug run"),
        console=console,
    )
    show(comparison_table(rows), console=console)
    out = buf.getvalue()
    assert "…" not in out
    for text in (LONG_STATE, LONG_CLOSURE, "1.831e-05", "1.83e-05", "0.99991", "-4321.5"):
        assert text in out, text


def test_table_text_json_and_csv():
    rows = [{"a": 1, "b": 0.1 + 0.2, "c": math.nan, "d": ["x", "y"]}]
    assert json.loads(table_text("t.json", rows)) == [
        {"a": 1, "b": 0.30000000000000004, "c": None, "d": ["x", "y"]}
    ]
    assert table_text("t.csv", rows) == "a,b,c,d\n1,0.30000000000000004,nan,x; y\n"


def test_run_table_file_and_piped_output(tmp_path, ds_file, capsys):
    out = tmp_path / "out"
    args = [
        "run", "--dataset", ds_file, "--state", state(), "--target", eq8_spec(), "--optimizer", "cmaes:popsize=8",
        "--solver-n", "8", "--seed", "3", "--polish", "none", "--budget", "16", "--target-loss", "0",
        "--out", out, "--table", tmp_path / "run.json",
    ]  # fmt: skip
    code, cap = run_cli(args, capsys)
    assert code == 0
    (row,) = json.loads((tmp_path / "run.json").read_text())
    (summary,) = json.loads((out / "summary.json").read_text())
    assert (
        row["state"] == state()
        and row["closure"] == "double-stretched"
        and row["optimizer"] == "cmaes:popsize=8"
    )
    assert (
        row["loss"] == summary["loss"]
        and row["evaluations"] == 16
        and row["netcdf"] == summary["files"]["netcdf"]
    )
    assert any(
        state() in line and "e-" in line for line in cap.out.splitlines()
    )  # the final table, uncut


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "--closure", "nosuch"], "unknown closure 'nosuch'; available: "),
        (
            ["run", "--closure", "stretched:n_exp=x"],
            "closure 'stretched': option n_exp='x'; expected a positive integer",
        ),
        (
            ["run", "--closure", "stretched:nexp=2"],
            "closure 'stretched' has no option nexp; valid options: n_exp=2",
        ),
        (
            ["run", "--optimizer", "cmaes:popsize=1"],
            "optimizer 'cmaes': popsize=1; expected an integer >= 2",
        ),
        (
            ["compare", "--closures", ",,"],
            "--closures ',,': expected a comma list of one or more names",
        ),
        (
            ["compare", "--optimizers", "cmaes,cmaes"],
            "--optimizers 'cmaes,cmaes': cmaes given more than once",
        ),
        (
            ["compare", "--closures", "stretched:n_exp=2,stretched: n_exp = 2"],
            "--closures: stretched:n_exp=2 given more than once",
        ),
        (
            ["run", "--table", "{tmp}/rows.txt"],
            "--table {tmp}/rows.txt: expected a file name ending in .json or .csv",
        ),
        (
            ["closures", "--table", "{tmp}/rows.xlsx"],
            "expected a file name ending in .json or .csv",
        ),
    ],
)
def test_bad_spec_or_table_is_one_line(tmp_path, ds_file, capsys, args, message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    fit = (
        []
        if args[0] == "closures"
        else ["--dataset", ds_file, "--state", state(), "--out", tmp_path / "out"]
    )
    code, cap = run_cli([*args, *fit], capsys)
    assert code == 2
    err = cap.err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1, err
    assert message.replace("{tmp}", str(tmp_path)) in err
    assert "Traceback" not in cap.err + cap.out
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_rows_of_a_printed_table(tmp_path, capsys):
    """Commands whose table holds formatted text (``memplug solve``, ``mct ...``, ``kernel ...``)
    write its rows as printed."""
    code, _ = run_cli(
        ["solve", "--closure", "exponential", "--points", "3", "--table", tmp_path / "f.json"],
        capsys,
    )
    assert code == 0
    rows = json.loads((tmp_path / "f.json").read_text())
    assert (
        len(rows) == 3
        and set(rows[0]) == {"t", "F_s^AA", "F_s^BB"}
        and 0 < float(rows[0]["F_s^AA"]) <= 1
    )
