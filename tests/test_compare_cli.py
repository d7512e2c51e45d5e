"""``memplug compare`` compares closures on both species with residuals, memories and information
criteria; the metric functions against hand values; ``--target mlp:model=DIR``; bad option values
exit 2 with one line.

Sizes: the one-state synthetic dataset of ``fit_support`` (150 times, 0.005 … 70), solver N = 8,
two exponential closures, CMA-ES with 8 candidates and 64 evaluations per fit; the MLP is 8-8
wide, trained for 2 epochs."""

from __future__ import annotations

import csv
import dataclasses
import json
import math

import numpy as np
import pytest
from fit_support import dataset, dataset_file, state

from memplug.cli import main
from memplug.errors import InputError
from memplug.fit import information_criteria, rmse_eq_s1
from memplug.fit_results import load_result

#: M = A exp(−r t) with A and r free (k = 4) against r free only (k = 2): two closures of one family,
#: the cheapest to compile.
CLOSURES = ("exponential", "exponential:free=rate")
FIT = ["--optimizers", "cmaes:popsize=8", "--budget", "64", "--solver-n", "8", "--target-loss", "0"]


def run_cli(args, capsys):
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr()


@pytest.fixture(scope="module", autouse=True)
def no_polish():
    """Fits here stop after the main optimizer: a gradient polish stage (where the fit jobs have
    one) would compile the loss gradient of every closure, which is not what these tests check."""
    import memplug.plugins.fitting.cli as run

    make_jobs = run.make_jobs

    def jobs_without_polish(*args, **kwargs):
        jobs = make_jobs(*args, **kwargs)
        return [dataclasses.replace(j, polish="none") if hasattr(j, "polish") else j for j in jobs]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(run, "make_jobs", jobs_without_polish)
        yield


@pytest.fixture(scope="module")
def ds_file(tmp_path_factory):
    return dataset_file(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def compared(ds_file, tmp_path_factory):
    """One ``memplug compare`` of two closures on one state; the figures' axes are recorded as
    they are saved (kind of scale, number of lines per axis)."""
    import memplug.plugins.fitting.figures as figures

    out = tmp_path_factory.mktemp("compare")
    saved = []
    original = figures._save

    def record(fig, path, rect=None):
        axes = [(ax.get_xscale(), ax.get_yscale(), len(ax.get_lines())) for ax in fig.axes]
        saved.append((path, axes))
        original(fig, path, rect)

    args = ["compare", "--dataset", ds_file, "--state", state(), "--closures", ",".join(CLOSURES),
            *FIT, "--out", out]  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(figures, "_save", record)
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            assert not exc.code, exc.code
    return out, saved


def test_compare_figure_has_both_species_residuals_and_memories(compared):
    out, saved = compared
    ((path, axes),) = saved  # one state: one figure
    assert path == out / f"compare-{state()}.png" and path.stat().st_size > 10_000
    # 3 rows (F, residual, M) × 2 species (A, B of the dataset)
    assert len(axes) == 6
    top, residual, memory = axes[0:2], axes[2:4], axes[4:6]
    assert all(x == "log" for x, _, _ in axes)
    assert [n for _, _, n in top] == [1 + len(CLOSURES)] * 2  # the data, then one line per fit
    assert all(n >= len(CLOSURES) for _, _, n in residual)  # one residual per fit (+ the zero line)
    assert all(
        y in ("log", "symlog") and n == len(CLOSURES) for _, y, n in memory
    )  # no M_reference here


def test_compare_table_csv_and_json(compared, capsys):
    from memplug.data import context_for, dynamics_for
    from memplug.registry import get_registry

    out, _ = compared
    rows = list(csv.DictReader((out / "compare.csv").open()))
    specs = [get_registry().create("closures", c).spec() for c in CLOSURES]
    assert [r["closure"] for r in rows] == specs
    assert [int(r["k"]) for r in rows] == [4, 2]  # amplitude and rate of AA, BB; rate only
    summary = json.loads((out / "compare.json").read_text())
    ctx = context_for(dataset(), state(), dynamics="overdamped")
    n_t = len(dynamics_for(dataset(), state())[0])
    for row, res in zip(rows, summary, strict=True):
        # k: the closure's own parameter count; n: the dataset's times × 2 species (no window)
        assert int(row["k"]) == get_registry().create("closures", row["closure"]).space(ctx).dim
        assert int(row["n"]) == 2 * n_t
        # SSR recomputed from the result file; without Lasso it is the fit's loss (Eq. 7)
        ds = load_result(res["files"]["netcdf"])
        ssr = float(np.sum((ds["F_fit"].values - ds["F_target"].values) ** 2))
        assert float(row["ssr"]) == pytest.approx(ssr, rel=1e-12)
        assert float(row["loss"]) == pytest.approx(ssr, rel=1e-8)
        assert float(row["r2"]) == pytest.approx(res["r2"], rel=1e-12)
        # Eq. S1 for one state is sqrt(SSR); AIC/BIC from their definitions
        n, k = int(row["n"]), int(row["k"])
        assert float(row["rmse"]) == pytest.approx(math.sqrt(ssr), rel=1e-12)
        assert float(row["aic"]) == pytest.approx(n * math.log(ssr / n) + 2 * k, rel=1e-12)
        assert float(row["bic"]) == pytest.approx(
            n * math.log(ssr / n) + k * math.log(n), rel=1e-12
        )
        assert res["aic"] == pytest.approx(float(row["aic"]), rel=1e-15)
    for c in ("aic", "bic"):
        values = [float(r[c]) for r in rows]
        assert [float(r[f"delta_{c}"]) for r in rows] == pytest.approx(
            [v - min(values) for v in values]
        )
        assert min(float(r[f"delta_{c}"]) for r in rows) == 0.0


def test_metric_functions_against_hand_values():
    # residuals 0.1, 0.2, 0, 0.2, 0.1, 0: SSR = 0.01 + 0.04 + 0.04 + 0.01 = 0.10
    truth = np.array([[0.1, 0.2], [0.0, 0.2], [0.1, 0.0]])
    assert rmse_eq_s1(np.zeros((3, 2)), truth) == pytest.approx(math.sqrt(0.10), rel=1e-14)
    # two states with SSR 0.10 each: sqrt(0.20 / 2 states)
    assert rmse_eq_s1(np.zeros((2, 3, 2)), np.stack([truth, truth])) == pytest.approx(
        math.sqrt(0.10), rel=1e-14
    )
    # SSR = 2, n = 8, k = 3: 8 ln(1/4) = -11.0903548890; 3 ln 8 = 6.2383246250
    aic, bic = information_criteria(2.0, 8, 3)
    assert aic == pytest.approx(-11.0903548890 + 6.0, abs=1e-9)
    assert bic == pytest.approx(-11.0903548890 + 6.2383246250, abs=1e-9)
    assert information_criteria(0.0, 8, 3) == (-math.inf, -math.inf)
    for bad in ((2.0, 0, 3), (2.0, 8, -1), (-1.0, 8, 3), (math.nan, 8, 3)):
        with pytest.raises(InputError, match="information_criteria"):
            information_criteria(*bad)
    with pytest.raises(InputError, match="rmse_eq_s1"):
        rmse_eq_s1(np.zeros((3, 2)), np.zeros((3, 1)))


@pytest.fixture(scope="module")
def mlp_model(tmp_path_factory):
    """A tiny MLP (8-8, 2 epochs) trained with ``memplug mlp train`` on 8 synthetic states."""
    from memplug.data import save_dataset
    from memplug.plugins.surrogate.synthetic import synthetic_dataset

    root = tmp_path_factory.mktemp("mlp")
    save_dataset(synthetic_dataset(n_states=8, n_t=20, seed=1), root / "syn.nc")
    args = ["mlp", "train", "-d", root / "syn.nc", "-o", root / "model", "--no-progress",
            "--split", "random:test=0.25", "--hidden", "8-8", "--epochs", "2",
            "-O", "batch_size=32"]  # fmt: skip
    try:
        main([str(a) for a in args])
    except SystemExit as exc:
        assert not exc.code, exc.code
    return root / "model"


def test_run_target_mlp_fits_the_model_prediction(ds_file, mlp_model, tmp_path, capsys):
    from memplug.data import context_for
    from memplug.plugins.surrogate.target import mlp_target

    args = ["run", "--dataset", ds_file, "--state", state(), "--target", f"mlp:model={mlp_model}",
            "--closure", "exponential", "--optimizer", "cmaes:popsize=8", "--budget", "16",
            "--solver-n", "8", "--out", tmp_path]  # fmt: skip
    code, cap = run_cli(args, capsys)
    assert code == 0, cap.err
    (res,) = json.loads((tmp_path / "summary.json").read_text())
    assert res["target"] == f"mlp:{mlp_model}"
    ds = load_result(res["files"]["netcdf"])
    # the fitted target is what the plugin's Python API predicts for this state's statics and times
    expected = mlp_target(
        mlp_model, context_for(dataset(), state(), dynamics="overdamped"), ds["t"].values
    )
    np.testing.assert_array_equal(ds["F_target"].values, expected)


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "--solver-n", "0"], "--solver-n: expected an integer in [1, 1024]"),
        (["run", "--solver-n", "-3"], "--solver-n: expected an integer in [1, 1024]"),
        (["run", "--solver-n", "100000"], "--solver-n: expected an integer in [1, 1024]"),
        (["run", "--sigma0", "inf"], "--sigma0: expected a finite positive step"),
        (["run", "--target-loss", "nan"], "--target-loss: expected a finite value >= 0"),
        (["run", "--scheduler", "bogus"], "--scheduler 'bogus': expected an address"),
        (
            ["run", "--target", "synthetic:noise=-1"],
            "--target synthetic: noise=-1; expected a number >= 0",
        ),
        (["run", "--target", "synthetic:N=0"], "--target synthetic: N=0; expected an integer >= 1"),
        (
            ["run", "--target", "synthetic:seed=-1"],
            "--target synthetic: seed=-1; expected an integer >= 0",
        ),
        (
            ["run", "--target", "synthetic:closure=exponential,amplitude=abc"],
            "--target synthetic: amplitude='abc'",
        ),
        (["run", "--target", "mlp"], "--target mlp: expected model=DIR"),
        (["run", "--target", "mlp:model={missing}"], "--target mlp:model="),
        (
            ["compare", "--closures", ",,"],
            "--closures ',,': expected a comma list of one or more names",
        ),
        (
            ["compare", "--optimizers", ","],
            "--optimizers ',': expected a comma list of one or more names",
        ),
        (["compare", "--closures", "exponential,exponential"], "exponential given more than once"),
        (["compare", "--budget", "-1"], "--budget: expected a positive number"),
        (["experiment", "nexp-scan", "--n-exp", ","], "--n-exp ',': expected a comma list"),
        (["experiment", "nexp-scan", "--n-exp", "1,1"], "--n-exp '1,1': 1 given more than once"),
    ],
)
def test_bad_input_exits_2_with_one_line(ds_file, tmp_path, capsys, args, message):
    args = [a.replace("{missing}", str(tmp_path / "no-model")) for a in args]
    cmd = args[:2] if args[0] == "experiment" else args[:1]
    base = [
        *cmd,
        "--dataset",
        ds_file,
        "--state",
        state(),
        "--out",
        tmp_path / "out",
        "--budget",
        "8",
        "--solver-n",
        "8",
    ]
    code, cap = run_cli(base + args[len(cmd) :], capsys)  # later options win
    assert code == 2, cap.err
    err = cap.err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error:") and message in err, err
    assert "Traceback" not in cap.err + cap.out
