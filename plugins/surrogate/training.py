"""Training the ``mlp`` surrogate (paper sec. IV B): rows (state, t_i), Adam over minibatches in
one jitted epoch, early stopping on the validation loss, atomic checkpoints that resume
bit-for-bit (see `memplug.plugins.surrogate.mlp` for the whole story).
"""

from __future__ import annotations

import json
import os
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from memplug.errors import InputError
from memplug.io import atomic_write_text

from .config import MLPConfig, _apply, _forward, _network, _serialise, as_table, data_hash
from .features import Standardizer, StateTable, ballistic_u
from .network import MLP, data_loss, weight_l1
from .splits import Split, make_split


def _rows(table: StateTable, std: Standardizer) -> tuple[np.ndarray, ...]:
    """Standardised inputs (float32), ballistic arguments u = k_p² T t²/2 (float32), targets (NaN → 0)
    and weights (0 where a target is missing)."""
    X = std.rows(table.static, table.time).astype(np.float32)
    U = ballistic_u(table.k_peak, table.T, table.time).reshape(-1)
    Y = table.Fs.reshape(-1, 2)
    W = np.all(np.isfinite(Y), axis=1) & np.all(np.isfinite(X), axis=1) & np.isfinite(U)
    return (
        np.where(np.isfinite(X), X, 0).astype(np.float32),
        np.where(W, U, 0).astype(np.float32),
        np.where(W[:, None], Y, 0).astype(np.float32),
        W.astype(np.float32),
    )


def _make_optimizer(cfg: MLPConfig, steps_per_epoch: int) -> optax.GradientTransformation:
    if cfg.schedule == "cosine":
        lr = optax.cosine_decay_schedule(
            cfg.lr, decay_steps=cfg.epochs * steps_per_epoch, alpha=0.01
        )
    else:
        lr = cfg.lr
    return optax.adam(lr)


def _epoch_fn(optimizer, cfg: MLPConfig, n_batches: int, batch_size: int):
    """One jitted epoch: shuffle rows, scan Adam over ``n_batches`` minibatches.

    Rows are drawn without replacement from as many shuffled passes over the training rows as
    ``n_batches * batch_size`` needs (one pass, last partial batch dropped, unless the dataset is
    smaller than ``min_steps_per_epoch`` batches).
    """

    def loss_fn(params, static, x, u, y, w):
        model = eqx.combine(params, static)
        dl = data_loss(cfg.loss, _apply(model, x, u, cfg.short_time, cfg.output), y, w)
        return dl + cfg.lasso * weight_l1(model), dl

    @eqx.filter_jit
    def epoch(model, opt_state, X, U, Y, W, key):
        n = X.shape[0]
        passes = -(-n_batches * batch_size // n)
        perms = jax.vmap(lambda k: jax.random.permutation(k, n))(jax.random.split(key, passes))
        perm = perms.reshape(-1)[: n_batches * batch_size].reshape(n_batches, batch_size)
        params, static = eqx.partition(model, eqx.is_array)

        def step(carry, idx):
            params, opt_state = carry
            (_, dl), grads = jax.value_and_grad(loss_fn, has_aux=True)(
                params, static, X[idx], U[idx], Y[idx], W[idx]
            )
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), dl

        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), perm)
        return eqx.combine(params, static), opt_state, jnp.mean(losses)

    return epoch


_COMPILED: dict[tuple, tuple] = {}


def _compiled(cfg: MLPConfig, n_batches: int, batch_size: int):
    """Optimiser and jitted epoch function, reused across `train` calls with the same shapes."""
    key = (json.dumps(cfg.to_dict(), sort_keys=True), n_batches, batch_size)
    if key not in _COMPILED:
        if len(_COMPILED) > 16:
            _COMPILED.clear()
        optimizer = _make_optimizer(cfg, n_batches)
        _COMPILED[key] = (optimizer, _epoch_fn(optimizer, cfg, n_batches, batch_size))
    return _COMPILED[key]


def _eval_loss(model: MLP, cfg: MLPConfig, X, U, Y, W) -> float:
    if X.shape[0] == 0:
        return float("nan")
    pred = _forward(model, jnp.asarray(X), jnp.asarray(U), cfg.short_time, cfg.output)
    return float(data_loss(cfg.loss, pred, jnp.asarray(Y), jnp.asarray(W)))


@dataclass
class TrainResult:
    """What `train` returns besides the surrogate."""

    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    seconds: float = 0.0
    resumed_from: int = 0


def _progress(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[bold]mlp[/] epoch"),
        MofNCompleteColumn(),
        BarColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        disable=not enabled,
        transient=False,
    )


def fit_network(
    dataset: Any,
    config: MLPConfig | None = None,
    *,
    split: Split | str = "random",
    out: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = False,
    callback: Callable[[int, list[dict]], bool] | None = None,
) -> tuple[MLP, Standardizer, dict[str, Any], TrainResult]:
    """Train the network on a dataset (xarray Dataset, `StateTable`, or a dataset name/path):
    the best model, the standardisation, the record a saved model keeps, and the run's history.
    `memplug.plugins.surrogate.mlp.train` (whose docstring lists the arguments) wraps it into
    an `MLPSurrogate` and saves it.
    """
    cfg = config or MLPConfig()
    table = as_table(dataset)
    if isinstance(split, str):
        split = make_split(table, split, seed=cfg.seed, val_fraction=cfg.val_fraction)
    idx = {s: i for i, s in enumerate(table.ids)}
    train_t = table.subset([idx[s] for s in split.train])
    val_t = table.subset([idx[s] for s in split.val])
    std = Standardizer.fit(train_t.static, train_t.time)
    Xtr, Utr, Ytr, Wtr = _rows(train_t, std)
    Xva, Uva, Yva, Wva = _rows(val_t, std)
    batch_size = min(cfg.batch_size, Xtr.shape[0])
    n_batches = max(1, Xtr.shape[0] // batch_size, cfg.min_steps_per_epoch)
    optimizer, epoch_fn = _compiled(cfg, n_batches, batch_size)
    key = jax.random.PRNGKey(cfg.seed)
    model = _network(cfg, jax.random.fold_in(key, 1))
    opt_state = optimizer.init(eqx.filter(model, eqx.is_array))
    dhash = data_hash(table, cfg.short_time)
    record = {
        "split": split.to_dict(),
        "data_hash": dhash,
        "t_range": [float(np.nanmin(table.time)), float(np.nanmax(table.time))],
    }

    result = TrainResult()
    best, best_val, bad, start = model, np.inf, 0, 0
    ckpt = Path(out) / "checkpoint" if out is not None else None
    if resume:
        if ckpt is None or not (ckpt / "state.json").exists():
            raise InputError(f"--resume: no checkpoint in {ckpt}; train without --resume first")
        meta = json.loads((ckpt / "state.json").read_text())
        if (
            meta["config"] != cfg.to_dict()
            or meta["data_hash"] != dhash
            or meta["split"] != split.to_dict()
        ):
            raise InputError(f"--resume: {ckpt} was written with another config, split or dataset")
        model, opt_state, best = eqx.tree_deserialise_leaves(
            ckpt / "state.eqx", (model, opt_state, model)
        )
        result.history = meta["history"]
        best_val, bad, start = meta["best_val"], meta["bad_epochs"], meta["epoch"]
        result.best_epoch = meta["best_epoch"]
        result.resumed_from = start
    Xtr_j, Utr_j, Ytr_j, Wtr_j = (
        jnp.asarray(Xtr),
        jnp.asarray(Utr),
        jnp.asarray(Ytr),
        jnp.asarray(Wtr),
    )
    has_val = Xva.shape[0] > 0
    t0 = _time.perf_counter()
    with _progress(progress) as bar:
        task = bar.add_task("train", total=cfg.epochs, completed=start, info="")
        for epoch in range(start, cfg.epochs):
            if bad >= cfg.patience:
                result.stopped_early = True
                break
            model, opt_state, tl = epoch_fn(
                model, opt_state, Xtr_j, Utr_j, Ytr_j, Wtr_j, jax.random.fold_in(key, 1000 + epoch)
            )
            tl = float(tl)
            vl = _eval_loss(model, cfg, Xva, Uva, Yva, Wva) if has_val else tl
            if not np.isfinite(tl):
                raise InputError(
                    f"mlp: training diverged at epoch {epoch + 1} (loss {tl}); lower lr"
                )
            if vl < best_val:
                best, best_val, bad, result.best_epoch = model, vl, 0, epoch + 1
            else:
                bad += 1
            result.history.append({"epoch": epoch + 1, "train_loss": tl, "val_loss": vl})
            bar.update(
                task,
                completed=epoch + 1,
                info=f"train {tl:.3e}  val {vl:.3e}  best {best_val:.3e}@{result.best_epoch}",
            )
            stop = bool(callback(epoch + 1, result.history)) if callback is not None else False
            if (
                ckpt is not None
                and cfg.checkpoint_every
                and ((epoch + 1) % cfg.checkpoint_every == 0 or stop or epoch + 1 == cfg.epochs)
            ):
                _serialise(ckpt / "state.eqx", (model, opt_state, best))
                atomic_write_text(
                    ckpt / "state.json",
                    json.dumps(
                        {
                            "epoch": epoch + 1,
                            "best_val": best_val,
                            "best_epoch": result.best_epoch,
                            "bad_epochs": bad,
                            "history": result.history,
                            "config": cfg.to_dict(),
                            "data_hash": dhash,
                            "split": split.to_dict(),
                        }
                    ),
                )
            if stop:
                break
        else:
            result.stopped_early = bad >= cfg.patience
    result.seconds = _time.perf_counter() - t0
    record.update(
        {
            "best_epoch": result.best_epoch,
            "epochs_run": len(result.history),
            "best_val_loss": float(best_val),
            "train_seconds": result.seconds,
            "stopped_early": result.stopped_early,
        }
    )
    return best, std, record, result
