"""``memplug mlp train | evaluate | predict | figures`` on a small synthetic dataset, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from memplug.cli import main
from memplug.data import save_dataset
from memplug.plugins.surrogate.features import K_GRID
from memplug.plugins.surrogate.synthetic import synthetic_dataset

TINY = ["--hidden", "16-16", "--epochs", "4", "-O", "batch_size=32", "-O", "lr=0.01"]


def run(argv) -> int:
    try:
        main([str(a) for a in argv])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlpcli")
    ds = synthetic_dataset(n_states=16, n_t=25, seed=5)
    data = root / "syn.nc"
    save_dataset(ds, data)
    model = root / "model"
    assert (
        run(
            [
                "mlp",
                "train",
                "-d",
                data,
                "-o",
                model,
                "--split",
                "random:test=0.25",
                "--no-progress",
                *TINY,
            ]
        )
        == 0
    )
    return root, data, model, ds


def test_train_writes_model_and_metrics(setup):
    root, data, model, ds = setup
    for f in (
        "model.eqx",
        "model.json",
        "history.csv",
        "metrics_test.csv",
        "checkpoint/state.json",
    ):
        assert (model / f).exists(), f
    rec = json.loads((model / "model.json").read_text())
    assert len(rec["split"]["test"]) == 4 and rec["config"]["hidden"] == [16, 16]
    assert (model / "metrics_test.csv").read_text().count("\n") == 1 + 4


def test_evaluate_and_predict_state(setup):
    root, data, model, ds = setup
    assert (
        run(["mlp", "evaluate", "-m", model, "-d", data, "--states", "all", "-o", root / "all.csv"])
        == 0
    )
    assert (root / "all.csv").read_text().count("\n") == 1 + 16
    sid = json.loads((model / "model.json").read_text())["split"]["test"][0]
    assert (
        run(["mlp", "predict", "-m", model, "-d", data, "--state", sid, "-o", root / "p.csv"]) == 0
    )
    rows = np.loadtxt(root / "p.csv", delimiter=",", skiprows=1)
    assert rows.shape == (25, 3) and (root / "p.png").stat().st_size > 1000


def _write_csv(
    path, k, S, meta=("T = 1.0", "rho = 1.2", "potential = LJ"), cols=("S_AA", "S_AB", "S_BB")
):
    lines = [f"# {m}" for m in meta] + [",".join(("k", *cols))]
    lines += [",".join(f"{v:.6g}" for v in (k[i], *S[: len(cols), i])) for i in range(len(k))]
    path.write_text("\n".join(lines) + "\n")


def test_predict_user_files(setup, tmp_path):
    _, _, model, ds = setup
    S = ds["S"].values[0]
    _write_csv(tmp_path / "s.csv", K_GRID, S)
    assert (
        run(
            [
                "mlp",
                "predict",
                "-m",
                model,
                "-i",
                tmp_path / "s.csv",
                "-o",
                tmp_path / "a.nc",
                "--points",
                "20",
            ]
        )
        == 0
    )
    import xarray as xr

    assert xr.load_dataset(tmp_path / "a.nc")["Fs"].shape == (20, 2)
    doc = {
        "k": K_GRID.tolist(),
        "S": {p: S[i].tolist() for i, p in enumerate(("AA", "AB", "BB"))},
        "T": 0.9,
        "rho": 1.2,
        "potential": "WCA",
    }
    (tmp_path / "s.json").write_text(json.dumps(doc))
    assert (
        run(["mlp", "predict", "-m", model, "-i", tmp_path / "s.json", "-o", tmp_path / "b.csv"])
        == 0
    )


@pytest.mark.parametrize(
    "case, message",
    [
        ("kgrid", "k: expected the 100-point grid"),
        ("short", "k: expected the 100-point grid"),
        ("species", "missing column(s) S_BB"),
        ("nan", "non-finite value"),
        ("noT", "T: missing"),
        ("potential", "potential: expected one of LJ, WCA"),
        ("json-species", "S: missing pair(s) BB"),
    ],
)
def test_predict_bad_input_exits_2(setup, tmp_path, capsys, case, message):
    _, _, model, ds = setup
    S = ds["S"].values[0].copy()
    f = tmp_path / "bad.csv"
    if case == "kgrid":
        _write_csv(f, K_GRID * 0.5, S)
    elif case == "short":
        _write_csv(f, K_GRID[:99], S[:, :99])
    elif case == "species":
        _write_csv(f, K_GRID, S, cols=("S_AA", "S_AB"))
    elif case == "nan":
        S[2, 40] = np.nan
        _write_csv(f, K_GRID, S)
    elif case == "noT":
        _write_csv(f, K_GRID, S, meta=("rho = 1.2", "potential = LJ"))
    elif case == "potential":
        _write_csv(f, K_GRID, S, meta=("T = 1", "rho = 1.2", "potential = Yukawa"))
    else:
        f = tmp_path / "bad.json"
        f.write_text(
            json.dumps(
                {
                    "k": K_GRID.tolist(),
                    "S": {"AA": S[0].tolist(), "AB": S[1].tolist()},
                    "T": 1,
                    "rho": 1.2,
                    "potential": "LJ",
                }
            )
        )
    capsys.readouterr()
    assert run(["mlp", "predict", "-m", model, "-i", f, "-o", tmp_path / "x.csv"]) == 2
    err = capsys.readouterr().err
    assert message in " ".join(err.split()) and "Traceback" not in err
    assert not (tmp_path / "x.csv").exists()


def test_bad_options_exit_2(setup, tmp_path):
    _, data, model, _ = setup
    assert (
        run(
            [
                "mlp",
                "train",
                "-d",
                data,
                "-o",
                tmp_path / "m",
                "--split",
                "nonsense",
                "--no-progress",
            ]
        )
        == 2
    )
    assert (
        run(["mlp", "train", "-d", data, "-o", tmp_path / "m", "-O", "depth=3", "--no-progress"])
        == 2
    )
    assert run(["mlp", "predict", "-m", tmp_path / "nothing", "--state", "x"]) == 2
    assert run(["mlp", "predict", "-m", model, "-d", data, "--state", "no-such-state"]) == 2


def test_figures(setup, tmp_path):
    _, data, model, _ = setup
    out = tmp_path / "figs"
    code = run(
        [
            "mlp",
            "figures",
            "-m",
            model,
            "-d",
            data,
            "-o",
            out,
            "--cuts",
            "1.2",
            "--no-progress",
            "-O",
            "epochs=2",
        ]
    )
    assert code == 0
    for name in ("fig2", "fig3", "figS1", "fig4", "fig5"):
        assert (out / f"{name}.png").stat().st_size > 1000, name
        assert (out / f"{name}.csv").exists(), name
    assert (out / "fig4" / "cut-1.2" / "model.json").exists()
    assert (out / "fig5" / "train-LJ" / "model.json").exists()


def test_crossval_predicts_every_state_out_of_fold(setup, tmp_path):
    _, data, _, _ = setup
    out = tmp_path / "cv"
    assert (
        run(["mlp", "crossval", "-d", data, "-o", out, "--folds", "2", "--no-progress", *TINY]) == 0
    )
    text = (out / "crossval_states.csv").read_text().splitlines()
    assert len(text) == 1 + 16
    test_sets = [
        set(json.loads((out / f"fold-{f}" / "model.json").read_text())["split"]["test"])
        for f in range(2)
    ]
    assert not (test_sets[0] & test_sets[1])
    assert len(set().union(*test_sets)) == 16  # every state is tested exactly once
    for f in range(2):  # no fold trains on its own test states
        rec = json.loads((out / f"fold-{f}" / "model.json").read_text())["split"]
        assert not (set(rec["train"]) | set(rec["val"])) & test_sets[f]
    assert (out / "fig3.png").exists() and (out / "figS1.png").exists()


def test_figures_mct_option_adds_curves(setup, tmp_path, monkeypatch):
    """--mct passes MCT curves of the Fig. 2 states into fig2.csv (the MCT solve itself is replaced here)."""
    from memplug.plugins.surrogate import figures

    _, data, model, _ = setup
    seen = {}

    def fake_mct(dataset, ids, times, dynamics):
        seen["dynamics"] = dynamics
        return {str(s): np.full((len(t), 2), 0.25) for s, t in zip(ids, times, strict=True)}

    monkeypatch.setattr(figures, "mct_curves", fake_mct)
    out = tmp_path / "f"
    assert (
        run(
            [
                "mlp",
                "figures",
                "-m",
                model,
                "-d",
                data,
                "-o",
                out,
                "--which",
                "fig2",
                "--mct",
                "--no-progress",
            ]
        )
        == 0
    )
    header, first = (out / "fig2.csv").read_text().splitlines()[:2]
    assert header.split(",")[-2:] == ["Fs_A_mct", "Fs_B_mct"] and first.endswith("0.25,0.25")
    assert seen["dynamics"] == "newtonian"
