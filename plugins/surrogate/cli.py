"""``memplug mlp train | evaluate | predict | figures``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import typer

from memplug.errors import InputError

mlp_app = typer.Typer(
    name="mlp",
    help="The statics → dynamics MLP (paper sec. II A): train, evaluate, predict, paper figures.",
    no_args_is_help=True,
)

OPTION_HELP = (
    "Hyper-parameter key=value (repeatable): hidden=500-400-400-300-200, activation, output, short_time (ballistic|none), "
    "loss, lasso, lr, schedule, batch_size, epochs, patience, val_fraction, seed, checkpoint_every, min_steps_per_epoch."
)


def _console():
    from memplug.cli.app import console

    return console


def load_table(dataset: str):
    """The dataset (name or path) as a StateTable, validated by ``memplug.data.load_dataset``."""
    from .features import state_table

    try:
        from memplug.data import load_dataset
    except ImportError:  # the dataset module is optional for reading a plain netCDF path
        import xarray as xr

        if not Path(dataset).exists():
            raise InputError(
                f"--dataset {dataset!r}: no such file (and memplug.data is not installed)"
            ) from None
        return state_table(xr.load_dataset(dataset), dataset)
    return state_table(load_dataset(dataset), dataset)


def _options(option: list[str] | None, **direct) -> dict:
    from memplug.registry import parse_spec

    opts = {}
    for item in option or []:
        if "=" not in item:
            raise InputError(f"--option {item!r}: expected key=value")
        opts.update(parse_spec("x:" + item)[1])
    opts.update({k: v for k, v in direct.items() if v is not None})
    return opts


def _score_table(title: str, table, sc: dict, limit: int = 40):
    from rich.table import Table

    t = Table(title=title)
    for col in ("state", "T/T_mct", "R² A", "R² B", "R²", "RMSE"):
        t.add_column(col, justify="right" if col != "state" else "left")
    order = np.argsort(table.T / table.tmct)
    for i in order[:limit]:
        t.add_row(
            table.ids[i],
            f"{table.T[i] / table.tmct[i]:.3f}",
            f"{sc['r2_A'][i]:.4f}",
            f"{sc['r2_B'][i]:.4f}",
            f"{sc['r2'][i]:.4f}",
            f"{sc['rmse'][i]:.4f}",
        )
    if len(order) > limit:
        t.caption = f"first {limit} of {len(order)} states (all in the CSV)"
    return t


def _show(table) -> None:
    """A score table on the command line, never cut (`memplug.cli.tables.show`); the per-state
    rows are also in the command's CSV."""
    from memplug.cli.tables import show

    show(table, console=_console())


def _summary(sc: dict) -> str:
    return (
        f"median R² {np.nanmedian(sc['r2']):.4f}, mean R² {np.nanmean(sc['r2']):.4f}, "
        f"min R² {np.nanmin(sc['r2']):.4f}, mean RMSE {np.nanmean(sc['rmse']):.4f}"
    )


def _evaluate_and_save(sur, table, ids, out: Path | None, title: str):
    from . import metrics
    from .figures import _score_csv

    if not ids:
        _console().print(f"{title}: no states")
        return None
    sub = table.subset([table.index(s) for s in ids])
    pred = sur.predict_table(sub)
    sc = metrics.per_state(pred, sub.Fs)
    _show(_score_table(title, sub, sc))
    _console().print(f"{title}: {len(ids)} states, {_summary(sc)}")
    _console().print(
        f"{title}: short times (short_time={sur.config.short_time}): max |F_MLP − F_sim| at t < 0.1 "
        f"{metrics.short_time_error(pred, sub.Fs, sub.time):.4f}, max F_MLP {np.nanmax(pred):.4f}"
    )
    if out is not None:
        _score_csv(out, sub, sc)
    return sc


@mlp_app.command("train")
def train_command(
    dataset: str = typer.Option("default", "--dataset", "-d", help="Dataset name or netCDF path."),
    out: Path = typer.Option(
        Path("mlp-model"),
        "--out",
        "-o",
        help="Directory for the model, checkpoints, history, metrics.",
    ),
    split: str = typer.Option(
        "random",
        "--split",
        help="random[:test=0.1] | temperature:cut=1.0[,absolute=True] | potential:train=LJ",
    ),
    option: list[str] = typer.Option(None, "--option", "-O", help=OPTION_HELP),
    epochs: int = typer.Option(None, "--epochs", help="Maximum epochs (shortcut for -O epochs=N)."),
    seed: int = typer.Option(None, "--seed", help="Seed (shortcut for -O seed=N)."),
    hidden: str = typer.Option(None, "--hidden", help="Hidden widths, e.g. 500-400-400-300-200."),
    resume: bool = typer.Option(False, "--resume", help="Continue from OUT/checkpoint."),
    max_minutes: float = typer.Option(
        None,
        "--max-minutes",
        help="Stop (with a checkpoint) after this wall time; --resume continues.",
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the progress bar."),
) -> None:
    """Train the MLP with a state-wise split; save the model, history.csv and test metrics."""
    import time

    from .mlp import MLPConfig, train

    cfg = MLPConfig.from_options(_options(option, epochs=epochs, seed=seed, hidden=hidden))
    table = load_table(dataset)
    if max_minutes is not None and max_minutes <= 0:
        raise InputError("--max-minutes: expected a positive number")
    deadline = None if max_minutes is None else time.monotonic() + 60 * max_minutes
    callback = None if deadline is None else (lambda epoch, history: time.monotonic() > deadline)
    sur, res = train(
        table, cfg, split=split, out=out, resume=resume, progress=progress, callback=callback
    )
    s = sur.split
    _console().print(
        f"trained {len(res.history)} epochs in {res.seconds:.1f} s (best epoch {res.best_epoch}, "
        f"{'early stop' if res.stopped_early else 'epoch limit'}); states: {len(s.train)} train, "
        f"{len(s.val)} val, {len(s.test)} test; model in {out}"
    )
    _evaluate_and_save(sur, table, list(s.test), out / "metrics_test.csv", "test states")


@mlp_app.command("evaluate")
def evaluate_command(
    model: Path = typer.Option(..., "--model", "-m", help="Directory of a saved model."),
    dataset: str = typer.Option("default", "--dataset", "-d", help="Dataset name or netCDF path."),
    states: str = typer.Option(
        "test", "--states", help="test | val | train | all (parts of the model's split)."
    ),
    out: Path = typer.Option(None, "--out", "-o", help="CSV of per-state R² and RMSE."),
) -> None:
    """R² (paper Eq. 2-4) and RMSE per state and species on a part of the split."""
    from .mlp import MLPSurrogate, data_hash

    sur = MLPSurrogate.load(model)
    table = load_table(dataset)
    split = sur.split
    if states == "all":
        ids = list(table.ids)
    elif states in ("test", "val", "train"):
        if split is None:
            raise InputError(f"--states {states}: the model records no split; use --states all")
        ids = list(getattr(split, states))
        missing = [s for s in ids if s not in set(table.ids)]
        if missing:
            raise InputError(
                f"--dataset {dataset}: lacks {len(missing)} state(s) of the model's {states} part, e.g. {missing[0]}"
            )
    else:
        raise InputError(f"--states {states!r}: expected test, val, train or all")
    if sur.record.get("data_hash") not in (None, data_hash(table, sur.config.short_time)):
        _console().print(
            "[yellow]note:[/] the dataset differs from the one the model was trained on"
        )
    _evaluate_and_save(sur, table, ids, out, f"{states} states")


@mlp_app.command("predict")
def predict_command(
    model: Path = typer.Option(..., "--model", "-m", help="Directory of a saved model."),
    state: str = typer.Option(
        None, "--state", help="A state id of --dataset (or of a multi-state --input netCDF)."
    ),
    dataset: str = typer.Option("default", "--dataset", "-d", help="Dataset for --state."),
    input: Path = typer.Option(
        None, "--input", "-i", help="User file with S(k): .csv, .json or .nc (see docs)."
    ),
    T: float = typer.Option(None, "--T", help="Temperature (for --input; overrides the file)."),
    rho: float = typer.Option(None, "--rho", help="Density (for --input; overrides the file)."),
    potential: str = typer.Option(
        None, "--potential", help="LJ or WCA (for --input; overrides the file)."
    ),
    t_min: float = typer.Option(None, "--t-min", help="First time (default: training range)."),
    t_max: float = typer.Option(None, "--t-max", help="Last time (default: training range)."),
    points: int = typer.Option(150, "--points", help="Number of log-spaced times."),
    out: Path = typer.Option(
        Path("mlp-prediction.csv"),
        "--out",
        "-o",
        help="Output .csv or .nc; the plot goes next to it as .png.",
    ),
) -> None:
    """Predict F_s^{AA}(k_p, t), F_s^{BB}(k_p, t) for a dataset state or a user file; write them and a plot."""
    from memplug.io import atomic_write_netcdf, atomic_write_text

    from .figures import _plt, save_figure
    from .mlp import MLPSurrogate
    from .userfile import read_statics

    if state is None and input is None:
        raise InputError("predict: give either --state (a dataset state) or --input FILE")
    if out.suffix.lower() not in (".csv", ".nc"):
        raise InputError(f"--out {out}: expected a .csv or .nc file name")
    if points < 2:
        raise InputError("--points: expected at least 2")
    sur = MLPSurrogate.load(model)
    truth = None
    if input is not None:
        statics = read_statics(input, T=T, rho=rho, potential=potential, state=state)
    else:
        table = load_table(dataset)
        i = table.index(state)
        statics = table.statics(i)
        truth = (table.time[i], table.Fs[i])
    lo, hi = (truth[0][0], truth[0][-1]) if truth is not None else sur.default_times(2)
    lo, hi = t_min or lo, t_max or hi
    if not (0 < lo < hi):
        raise InputError(f"--t-min/--t-max: expected 0 < t_min < t_max, got {lo}, {hi}")
    # on a dataset state without a requested range: the state's own times, so data and MLP align
    t = (
        truth[0]
        if truth is not None and t_min is None and t_max is None
        else np.geomspace(lo, hi, points)
    )
    F = sur.predict(statics, t)
    if out.suffix.lower() == ".csv":
        atomic_write_text(
            out,
            "t,Fs_A,Fs_B\n"
            + "".join(
                f"{a:.8g},{b:.8g},{c:.8g}\n" for a, b, c in zip(t, F[:, 0], F[:, 1], strict=True)
            ),
        )
    else:
        import xarray as xr

        ds = xr.Dataset(
            {"Fs": (("t", "species"), F)},
            coords={"t": t, "species": ["A", "B"]},
            attrs={
                "state": statics.name,
                "T": statics.T,
                "rho": statics.rho,
                "potential": statics.potential,
                "model": str(model),
                "source": "memplug mlp predict",
            },
        )
        atomic_write_netcdf(out, ds)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for a, (sp, col) in enumerate((("AA", "tab:red"), ("BB", "tab:blue"))):
        ax.semilogx(t, F[:, a], "-.", color=col, label=f"MLP $F_s^{{{sp}}}$")
        if truth is not None:
            ax.semilogx(
                truth[0], truth[1][:, a], "-", color=col, lw=1, label=f"data $F_s^{{{sp}}}$"
            )
    ax.set_xlabel("t")
    ax.set_ylabel("$F_s(k_p, t)$")
    ax.set_title(
        f"{statics.name}: {statics.potential}, ρ={statics.rho:g}, T={statics.T:g}", fontsize=9
    )
    ax.legend(fontsize=8)
    save_figure(fig, out.with_suffix(".png"))
    msg = f"wrote {out} and {out.with_suffix('.png')}"
    if truth is not None:
        from . import metrics

        msg += f"; R² vs data {metrics.r2(F, truth[1]):.4f}, RMSE {metrics.rmse(F, truth[1]):.4f}"
    _console().print(msg)


def _train_or_reuse(table, cfg, split: str, out: Path, progress: bool):
    """Train a model for ``split`` into ``out`` unless one with the same config, split and data is there."""
    from .mlp import MLPSurrogate, data_hash, train

    if (out / "model.json").exists():
        meta = json.loads((out / "model.json").read_text())
        if (
            meta.get("config") == cfg.to_dict()
            and meta.get("data_hash") == data_hash(table, cfg.short_time)
            and meta.get("split", {}).get("spec") == split
        ):
            return MLPSurrogate.load(out)
    return train(table, cfg, split=split, out=out, progress=progress)[0]


@mlp_app.command("figures")
def figures_command(
    model: Path = typer.Option(
        ..., "--model", "-m", help="Model trained with a random split (Figs. 2, 3, S1)."
    ),
    dataset: str = typer.Option("default", "--dataset", "-d", help="Dataset name or netCDF path."),
    out: Path = typer.Option(Path("mlp-figures"), "--out", "-o", help="Directory for PNG + CSV."),
    which: str = typer.Option(
        "fig2,fig3,s1,fig4,fig5", "--which", help="Comma list of fig2, fig3, s1, fig4, fig5."
    ),
    cuts: str = typer.Option(
        "1.5,1.2,1.0,0.8", "--cuts", help="T/T_mct cuts for Fig. 4 (one model each)."
    ),
    option: list[str] = typer.Option(
        None,
        "--option",
        "-O",
        help="Override hyper-parameters of the Fig. 4/5 models. " + OPTION_HELP,
    ),
    width: float = typer.Option(0.1, "--bin-width", help="Width of the T/T_mct bins."),
    mct: bool = typer.Option(
        False,
        "--mct",
        help="Add mode-coupling theory to Fig. 2 (mct closure; ~20 s CPU per state).",
    ),
    mct_dynamics: str = typer.Option(
        "newtonian", "--mct-dynamics", help="newtonian (as the MD) or overdamped."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """The paper's figures. Figs. 4 and 5 train extra models (saved under OUT/fig4, OUT/fig5, reused)."""
    from . import figures
    from .mlp import MLPConfig, MLPSurrogate

    wanted = {w.strip().lower() for w in which.split(",") if w.strip()}
    unknown = wanted - {"fig2", "fig3", "s1", "fig4", "fig5"}
    if unknown:
        raise InputError(
            f"--which: unknown {', '.join(sorted(unknown))}; expected fig2, fig3, s1, fig4, fig5"
        )
    try:
        cut_values = [float(c) for c in cuts.split(",") if c.strip()]
    except ValueError:
        raise InputError(f"--cuts {cuts!r}: expected comma-separated numbers") from None
    sur = MLPSurrogate.load(model)
    table = load_table(dataset)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if wanted & {"fig2", "fig3", "s1"}:
        if sur.split is None or not sur.split.test:
            raise InputError(
                f"--model {model}: records no test states; train it with --split random"
            )
        missing = [s for s in sur.split.test if s not in set(table.ids)]
        if missing:
            raise InputError(f"--dataset {dataset}: lacks the model's test state {missing[0]}")
        test = table.subset([table.index(s) for s in sur.split.test])
        if "fig2" in wanted:
            curves = None
            if mct:
                if mct_dynamics not in ("newtonian", "overdamped"):
                    raise InputError(
                        f"--mct-dynamics {mct_dynamics!r}: expected newtonian or overdamped"
                    )
                from memplug.data import load_dataset

                pick = figures.fig2_states(test)
                curves = figures.mct_curves(
                    load_dataset(dataset), test.ids[pick], test.time[pick], mct_dynamics
                )
            figures.fig2(sur, test, out, mct=curves)
            written.append("fig2")
        if wanted & {"fig3", "s1"}:
            figures.fig3_s1(sur, test, out, width)
            written += ["fig3", "figS1"]
    cfg = MLPConfig.from_options({**sur.config.to_dict(), **_options(option)})
    if "fig4" in wanted:
        models = {}
        for cut in cut_values:
            try:
                models[cut] = _train_or_reuse(
                    table, cfg, f"temperature:cut={cut}", out / "fig4" / f"cut-{cut:g}", progress
                )
            except InputError as exc:
                _console().print(f"[yellow]fig4: skipping cut {cut:g}:[/] {exc}")
        if models:
            figures.fig4(models, table, out)
            written.append("fig4")
    if "fig5" in wanted:
        models = {}
        for pot in ("LJ", "WCA"):
            try:
                models[pot] = _train_or_reuse(
                    table, cfg, f"potential:train={pot}", out / "fig5" / f"train-{pot}", progress
                )
            except InputError as exc:
                _console().print(f"[yellow]fig5: skipping training on {pot}:[/] {exc}")
        if models:
            figures.fig5(models, table, out)
            written.append("fig5")
    _console().print(f"wrote {', '.join(written) or 'nothing'} (PNG + CSV) to {out}")


@mlp_app.command("crossval")
def crossval_command(
    dataset: str = typer.Option("default", "--dataset", "-d", help="Dataset name or netCDF path."),
    out: Path = typer.Option(
        Path("mlp-crossval"), "--out", "-o", help="Directory: one model per fold, CSV, Fig. 3/S1."
    ),
    folds: int = typer.Option(5, "--folds", help="Number of folds (states are split, never rows)."),
    option: list[str] = typer.Option(None, "--option", "-O", help=OPTION_HELP),
    epochs: int = typer.Option(None, "--epochs", help="Maximum epochs (shortcut for -O epochs=N)."),
    hidden: str = typer.Option(None, "--hidden", help="Hidden widths, e.g. 500-400-400-300-200."),
    width: float = typer.Option(0.1, "--bin-width", help="Width of the T/T_mct bins."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """k-fold cross-validation by state: every state predicted by a model that never saw it (Fig. 3/S1 on all states)."""
    from . import figures, metrics
    from .mlp import MLPConfig

    cfg = MLPConfig.from_options(_options(option, epochs=epochs, hidden=hidden))
    table = load_table(dataset)
    pred = np.full(table.Fs.shape, np.nan)
    fold_of = np.full(len(table), -1)
    for f in range(folds):
        sur = _train_or_reuse(
            table, cfg, f"kfold:folds={folds},fold={f}", out / f"fold-{f}", progress
        )
        idx = [table.index(s) for s in sur.split.test]
        pred[idx] = sur.predict_table(table.subset(idx))
        fold_of[idx] = f
    sc = metrics.per_state(pred, table.Fs)
    figures._score_csv(out / "crossval_states.csv", table, sc, {"fold": fold_of})
    figures.fig3_s1(None, table, out, width, pred=pred)
    _show(_score_table(f"{folds}-fold cross-validation (out-of-fold predictions)", table, sc))
    _console().print(
        f"all {len(table)} states out of fold: {_summary(sc)}; wrote {out}/crossval_states.csv, fig3.png, figS1.png"
    )
