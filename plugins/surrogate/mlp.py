"""The ``mlp`` surrogate: F_s^{AA}(k_p, t), F_s^{BB}(k_p, t) from S^{αβ}(k), T, ρ, potential (paper sec. II A).

Training (`train`) works on rows (state, t_i): the 303 static features of the state plus
``log10 t_i``, standardised with statistics of the training states only. With ``short_time="ballistic"``
(the default) the network output passes through `.network.ballistic_output`, which builds in
F_s(0) = 1 and the free-particle decay 1 − F_s ≈ k_p² T t² / 2 at short times; the loss is on F_s. Every epoch is one jitted
call that shuffles the rows and runs Adam over all minibatches in a ``lax.scan``; the validation
loss (L1 on validation states) drives early stopping, and the best model is kept. Checkpoints
(model, optimiser state, history) are written atomically every ``checkpoint_every`` epochs and a run
resumes from them bit-for-bit (the shuffling key of epoch e is ``fold_in(seed, e)``).

A saved model is a directory with ``model.eqx`` (``equinox.tree_serialise_leaves``) and
``model.json`` (hyper-parameters, standardisation, seed, split, data hash, versions, metrics).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from memplug.errors import InputError
from memplug.interfaces import Context, Surrogate
from memplug.io import atomic_write_text, atomic_write_with
from memplug.provenance import versions

from .features import (
    K_GRID,
    N_INPUTS,
    N_K,
    Standardizer,
    StateTable,
    Statics,
    ballistic_u,
    check_statics,
    state_table,
)
from .network import (
    ACTIVATIONS,
    LOSSES,
    MLP,
    OUTPUTS,
    SHORT_TIME,
    ballistic_linear_output,
    ballistic_output,
    data_loss,
    weight_l1,
)
from .splits import Split, make_split

FORMAT = "memplug-mlp/1"
PAPER_HIDDEN = (500, 400, 400, 300, 200)


@dataclass
class MLPConfig:
    """Hyper-parameters (all configurable from the command line as ``--option key=value``).

    Attributes:
        hidden: hidden layer widths (paper: 500-400-400-300-200).
        activation: hidden activation (paper: relu).
        output: output activation, ``none`` (paper) or ``sigmoid``.
        short_time: ``ballistic``: F_s(0) = 1 and the exact free-particle t² decay by construction,
            F = exp(−w e^{w z}) (`.network.ballistic_output`); ``ballistic_linear``: the same
            limit with F = 1 − w + w² z (`.network.ballistic_linear_output`); ``none``: the
            plain network output (paper; models saved before this option existed load as ``none``).
        loss: ``l1`` (paper), ``l2`` or ``huber``.
        lasso: λ of the L1 weight penalty λ Σ|W| added to the loss (paper: Lasso, value not given).
        lr: Adam learning rate; ``schedule`` ``constant`` or ``cosine`` (decay to lr/100 over ``epochs``).
        batch_size: rows (state, t) per minibatch.
        epochs: maximum number of epochs; ``patience``: early-stopping patience in epochs.
        val_fraction: fraction of the training states held out for validation.
        seed: initialisation, split and shuffling seed.
        checkpoint_every: epochs between checkpoints (0: never).
        min_steps_per_epoch: Adam steps per epoch at least (small datasets: several passes per epoch,
            so that early stopping and the schedule see enough updates).
    """

    hidden: tuple[int, ...] = PAPER_HIDDEN
    activation: str = "relu"
    output: str = "none"
    short_time: str = "ballistic"
    loss: str = "l1"
    lasso: float = 1e-7
    lr: float = 1e-3
    schedule: str = "cosine"
    batch_size: int = 256
    epochs: int = 300
    patience: int = 40
    val_fraction: float = 0.1
    seed: int = 0
    checkpoint_every: int = 10
    min_steps_per_epoch: int = 50

    def __post_init__(self):
        self.hidden = tuple(int(h) for h in self.hidden)
        checks = [
            (all(h > 0 for h in self.hidden), "hidden", "positive layer widths"),
            (self.activation in ACTIVATIONS, "activation", f"one of {', '.join(ACTIVATIONS)}"),
            (self.output in OUTPUTS, "output", f"one of {', '.join(OUTPUTS)}"),
            (self.short_time in SHORT_TIME, "short_time", f"one of {', '.join(SHORT_TIME)}"),
            (self.loss in LOSSES, "loss", f"one of {', '.join(LOSSES)}"),
            (self.lasso >= 0, "lasso", "λ ≥ 0"),
            (self.lr > 0, "lr", "a positive learning rate"),
            (self.schedule in ("constant", "cosine"), "schedule", "constant or cosine"),
            (self.batch_size >= 1, "batch_size", "≥ 1"),
            (self.epochs >= 1, "epochs", "≥ 1"),
            (self.patience >= 1, "patience", "≥ 1"),
            (0 <= self.val_fraction < 1, "val_fraction", "in [0, 1)"),
            (self.checkpoint_every >= 0, "checkpoint_every", "≥ 0"),
            (self.min_steps_per_epoch >= 1, "min_steps_per_epoch", "≥ 1"),
        ]
        for ok, name, expected in checks:
            if not ok:
                raise InputError(f"mlp option {name}={getattr(self, name)!r}: expected {expected}")
        if self.short_time == "ballistic" and self.output != "none":
            raise InputError(f"mlp option output={self.output}: not with short_time=ballistic, whose "
                             "F = exp(-w exp(w z)) is in (0, 1] already; use output=none (or short_time=ballistic_linear)")

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> MLPConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            valid = ", ".join(f"{f.name}={f.default!r}" for f in dataclasses.fields(cls))
            raise InputError(f"mlp: unknown option(s) {', '.join(unknown)}; valid options: {valid}")
        opts = dict(options)
        if isinstance(opts.get("hidden"), str):
            opts["hidden"] = tuple(int(h) for h in opts["hidden"].replace("-", ",").split(",") if h)
        if isinstance(opts.get("hidden"), int):
            opts["hidden"] = (opts["hidden"],)
        types = {"lasso": float, "lr": float, "val_fraction": float, "batch_size": int, "epochs": int,
                 "patience": int, "seed": int, "checkpoint_every": int, "min_steps_per_epoch": int}
        try:
            for k, typ in types.items():
                if k in opts:
                    opts[k] = typ(opts[k])
        except (TypeError, ValueError) as exc:
            raise InputError(f"mlp: bad option value: {exc}") from None
        return cls(**opts)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        return d


# ------------------------------------------------------------------------------------------------
# small helpers
# ------------------------------------------------------------------------------------------------


def _serialise(path: Path, tree: Any) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            eqx.tree_serialise_leaves(fh, tree)

    atomic_write_with(path, write)


def data_hash(table: StateTable, short_time: str = "none") -> str:
    """sha256 of the arrays a model is trained on (ids, static features, times, targets, and k_p
    when the ``short_time`` gate uses it)."""
    h = hashlib.sha256()
    arrays = [table.ids.astype("U"), table.static, table.time, table.Fs]
    if short_time != "none":
        arrays.append(np.asarray(table.k_peak, float))
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return "sha256:" + h.hexdigest()


def as_table(dataset: Any, source: str = "dataset") -> StateTable:
    """A `StateTable` from a table, an xarray Dataset, or a dataset name/path."""
    if isinstance(dataset, StateTable):
        return dataset
    if isinstance(dataset, str | os.PathLike):
        from memplug.data import load_dataset

        return state_table(load_dataset(str(dataset)), str(dataset))
    return state_table(dataset, source)


def statics_of(obj: Any, potential: str | None = None) -> Statics:
    """`Statics` from a `Statics` or a `memplug.interfaces.Context`.

    A Context carries S as ``(n_k, 2, 2)`` on its k grid (which must be the 100-point grid); the
    potential comes from the argument or ``context.extra["potential"]``.
    """
    if isinstance(obj, Statics):
        return obj
    if isinstance(obj, Context):
        pot = potential or obj.extra.get("potential")
        if obj.S is None:
            raise InputError("context: S: missing; the mlp surrogate needs S^{αβ}(k) on the 100-point grid")
        S = np.asarray(obj.S, float)
        if S.ndim != 3 or S.shape[1:] != (2, 2):
            raise InputError(f"context: S: expected shape (100, 2, 2) (two species), got {S.shape}")
        S3 = np.stack([S[:, 0, 0], S[:, 0, 1], S[:, 1, 1]])
        check_statics("context", obj.k, S3, obj.T, obj.rho, pot)
        kp = None if obj.k_peak is None else float(obj.k_peak)
        return Statics(S3, float(obj.T), float(obj.rho), str(pot), str(obj.extra.get("state", "context")), kp)
    raise InputError(f"mlp: cannot read statics from a {type(obj).__name__}; give Statics or a Context")


# ------------------------------------------------------------------------------------------------
# training
# ------------------------------------------------------------------------------------------------


def _network(cfg: MLPConfig, key: jax.Array) -> MLP:
    """The network of ``cfg``; with the ballistic gate its last layer is linear (the gate applies ``output``)."""
    output = "none" if cfg.short_time != "none" else cfg.output
    return MLP(N_INPUTS, cfg.hidden, 2, key=key, activation=cfg.activation, output=output)


def _apply(model: MLP, X, U, short_time: str, output: str):
    """F_s for input rows ``X`` ``(rows, 304)`` with ballistic arguments ``U = k_p² T t²/2`` ``(rows,)``."""
    z = model.batch(X)
    if short_time == "ballistic":
        return ballistic_output(z.astype(U.dtype), U)
    if short_time == "ballistic_linear":
        return ballistic_linear_output(z.astype(U.dtype), U, output)
    return z


def _rows(table: StateTable, std: Standardizer) -> tuple[np.ndarray, ...]:
    """Standardised inputs (float32), ballistic arguments u = k_p² T t²/2 (float32), targets (NaN → 0)
    and weights (0 where a target is missing)."""
    X = std.rows(table.static, table.time).astype(np.float32)
    U = ballistic_u(table.k_peak, table.T, table.time).reshape(-1)
    Y = table.Fs.reshape(-1, 2)
    W = np.all(np.isfinite(Y), axis=1) & np.all(np.isfinite(X), axis=1) & np.isfinite(U)
    return (np.where(np.isfinite(X), X, 0).astype(np.float32), np.where(W, U, 0).astype(np.float32),
            np.where(W[:, None], Y, 0).astype(np.float32), W.astype(np.float32))


def _make_optimizer(cfg: MLPConfig, steps_per_epoch: int) -> optax.GradientTransformation:
    if cfg.schedule == "cosine":
        lr = optax.cosine_decay_schedule(cfg.lr, decay_steps=cfg.epochs * steps_per_epoch, alpha=0.01)
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
            (_, dl), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, static, X[idx], U[idx], Y[idx], W[idx])
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


@eqx.filter_jit
def _forward(model: MLP, X, U, short_time: str, output: str):
    return _apply(model, X, U, short_time, output)


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
        TextColumn("[bold]mlp[/] epoch"), MofNCompleteColumn(), BarColumn(),
        TextColumn("{task.fields[info]}"), TimeElapsedColumn(), disable=not enabled, transient=False,
    )


def train(
    dataset: Any,
    config: MLPConfig | None = None,
    *,
    split: Split | str = "random",
    out: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = False,
    callback: Callable[[int, list[dict]], bool] | None = None,
) -> tuple[MLPSurrogate, TrainResult]:
    """Train the MLP on a dataset (xarray Dataset, `StateTable`, or a dataset name/path).

    Args:
        config: hyper-parameters (defaults: the paper's architecture).
        split: a `Split` or a split specification (see `.splits`), seeded by ``config.seed``.
        out: directory for checkpoints (``out/checkpoint``) and, at the end, the model; ``None``:
            keep everything in memory.
        resume: continue from ``out/checkpoint`` (same config, split and data, else InputError).
        progress: show a rich progress bar with epoch, train and validation loss.
        callback: called after every epoch as ``callback(epoch, history)``; returning True stops the
            run there (a checkpoint is written first when ``out`` is given), e.g. a time limit.
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
    sur = MLPSurrogate(**cfg.to_dict())
    sur.standardizer = std
    sur.record = {"split": split.to_dict(), "data_hash": dhash, "t_range": [float(np.nanmin(table.time)), float(np.nanmax(table.time))]}

    result = TrainResult()
    best, best_val, bad, start = model, np.inf, 0, 0
    ckpt = Path(out) / "checkpoint" if out is not None else None
    if resume:
        if ckpt is None or not (ckpt / "state.json").exists():
            raise InputError(f"--resume: no checkpoint in {ckpt}; train without --resume first")
        meta = json.loads((ckpt / "state.json").read_text())
        if meta["config"] != cfg.to_dict() or meta["data_hash"] != dhash or meta["split"] != split.to_dict():
            raise InputError(f"--resume: {ckpt} was written with another config, split or dataset")
        model, opt_state, best = eqx.tree_deserialise_leaves(ckpt / "state.eqx", (model, opt_state, model))
        result.history = meta["history"]
        best_val, bad, start = meta["best_val"], meta["bad_epochs"], meta["epoch"]
        result.best_epoch = meta["best_epoch"]
        result.resumed_from = start
    Xtr_j, Utr_j, Ytr_j, Wtr_j = jnp.asarray(Xtr), jnp.asarray(Utr), jnp.asarray(Ytr), jnp.asarray(Wtr)
    has_val = Xva.shape[0] > 0
    t0 = _time.perf_counter()
    with _progress(progress) as bar:
        task = bar.add_task("train", total=cfg.epochs, completed=start, info="")
        for epoch in range(start, cfg.epochs):
            if bad >= cfg.patience:
                result.stopped_early = True
                break
            model, opt_state, tl = epoch_fn(model, opt_state, Xtr_j, Utr_j, Ytr_j, Wtr_j, jax.random.fold_in(key, 1000 + epoch))
            tl = float(tl)
            vl = _eval_loss(model, cfg, Xva, Uva, Yva, Wva) if has_val else tl
            if not np.isfinite(tl):
                raise InputError(f"mlp: training diverged at epoch {epoch + 1} (loss {tl}); lower lr")
            if vl < best_val:
                best, best_val, bad, result.best_epoch = model, vl, 0, epoch + 1
            else:
                bad += 1
            result.history.append({"epoch": epoch + 1, "train_loss": tl, "val_loss": vl})
            bar.update(task, completed=epoch + 1, info=f"train {tl:.3e}  val {vl:.3e}  best {best_val:.3e}@{result.best_epoch}")
            stop = bool(callback(epoch + 1, result.history)) if callback is not None else False
            if ckpt is not None and cfg.checkpoint_every and ((epoch + 1) % cfg.checkpoint_every == 0 or stop or epoch + 1 == cfg.epochs):
                _serialise(ckpt / "state.eqx", (model, opt_state, best))
                atomic_write_text(ckpt / "state.json", json.dumps({
                    "epoch": epoch + 1, "best_val": best_val, "best_epoch": result.best_epoch,
                    "bad_epochs": bad, "history": result.history, "config": cfg.to_dict(),
                    "data_hash": dhash, "split": split.to_dict()}))
            if stop:
                break
        else:
            result.stopped_early = bad >= cfg.patience
    result.seconds = _time.perf_counter() - t0
    sur.model = best
    sur.record.update({"best_epoch": result.best_epoch, "epochs_run": len(result.history),
                       "best_val_loss": float(best_val), "train_seconds": result.seconds,
                       "stopped_early": result.stopped_early})
    if out is not None:
        sur.save(out)
        atomic_write_text(Path(out) / "history.csv", "epoch,train_loss,val_loss\n" + "".join(
            f"{h['epoch']},{h['train_loss']:.8e},{h['val_loss']:.8e}\n" for h in result.history))
    return sur, result


# ------------------------------------------------------------------------------------------------
# the surrogate
# ------------------------------------------------------------------------------------------------


class MLPSurrogate(Surrogate):
    """Paper's MLP: (S^{AA}, S^{AB}, S^{BB} on 100 k, T, ρ, potential, log t) → (F_s^{AA}, F_s^{BB}).

    Options are the fields of `MLPConfig`. Use `fit` (or `train` for checkpoints and
    splits), `predict` for one state, `predict_table` for many, `save`/`load`.
    """

    name: ClassVar[str] = "mlp"
    description: ClassVar[str] = "MLP from partial S(k), T, ρ, potential and log t to F_s^AA, F_s^BB at k_peak (paper sec. II A)"

    def __init__(self, **options: Any):
        self.config = MLPConfig.from_options(options)
        self.model: MLP | None = None
        self.standardizer: Standardizer | None = None
        self.record: dict[str, Any] = {}

    # -- Surrogate interface ----------------------------------------------------------------------
    def fit(self, dataset: Any, **options: Any) -> TrainResult:
        """Train on ``dataset`` (options: ``split``, ``out``, ``resume``, ``progress``)."""
        sur, result = train(dataset, self.config, **options)
        self.model, self.standardizer, self.record = sur.model, sur.standardizer, sur.record
        return result

    def _require(self) -> None:
        if self.model is None or self.standardizer is None:
            raise InputError("mlp: the model is not trained; train it or load a saved one")

    def predict(self, statics: Any, t: Any, potential: str | None = None) -> np.ndarray:
        """F_s^{AA}, F_s^{BB} at times ``t`` (shape ``(n_t,)``) → array ``(n_t, 2)``.

        ``statics``: `Statics` or a `Context` (potential from ``potential`` or
        ``context.extra["potential"]``).
        """
        self._require()
        st = statics_of(statics, potential)
        t = np.atleast_1d(np.asarray(t, float))
        if t.ndim != 1 or np.any(~np.isfinite(t)) or np.any(t <= 0):
            raise InputError("mlp: t: expected positive finite lag times")
        X = self.standardizer.rows(st.features()[None, :], t[None, :]).astype(np.float32)
        kp = st.peak() if self.config.short_time != "none" else np.nan
        return self._evaluate(X, ballistic_u(np.array([kp]), np.array([st.T]), t[None, :]).reshape(-1))

    def predict_table(self, table: StateTable) -> np.ndarray:
        """Predictions on every state's own times: ``(n, n_t, 2)``."""
        self._require()
        X = self.standardizer.rows(table.static, table.time).astype(np.float32)
        out = self._evaluate(X, ballistic_u(table.k_peak, table.T, table.time).reshape(-1))
        return out.reshape(len(table), table.time.shape[1], 2)

    def _evaluate(self, X: np.ndarray, U: np.ndarray) -> np.ndarray:
        """Network (float32) on rows ``X``; the short-time gate in float64 with ``U = k_p² T t²/2``."""
        cfg = self.config
        out = _forward(self.model, jnp.asarray(X), jnp.asarray(U, dtype=jnp.float64), cfg.short_time, cfg.output)
        return np.asarray(out, dtype=float)

    def save(self, path: Any) -> None:
        """Directory ``path`` with ``model.eqx`` (serialised leaves) and ``model.json`` (everything else)."""
        self._require()
        path = Path(path)
        _serialise(path / "model.eqx", self.model)
        record = {
            "format": FORMAT, "surrogate": self.name, "config": self.config.to_dict(),
            "n_inputs": N_INPUTS, "k_grid": {"n": N_K, "first": float(K_GRID[0]), "last": float(K_GRID[-1])},
            "inputs": "S_AA(k_1..k_100), S_AB(...), S_BB(...), T, rho, potential (LJ=0, WCA=1), log10 t",
            "outputs": ["Fs_A", "Fs_B"],
            "short_time": {"ballistic": "F = exp(-w exp(w z)), w = 1 - exp(-k_peak^2 T t^2 / 2), z = network output",
                           "ballistic_linear": "F = 1 - w + w^2 z (output none) or 1 - w/(1 + w e^z) (sigmoid), "
                                               "w = 1 - exp(-k_peak^2 T t^2 / 2), z = network output",
                           "none": "F = network output"}[self.config.short_time],
            "standardizer": self.standardizer.to_dict(),
            "seed": self.config.seed, "versions": versions("equinox", "optax"), **self.record,
        }
        atomic_write_text(path / "model.json", json.dumps(record, indent=1))

    @classmethod
    def load(cls, path: Any) -> MLPSurrogate:
        path = Path(path)
        if path.is_file() and path.name in ("model.json", "model.eqx"):
            path = path.parent
        meta_file, leaves = path / "model.json", path / "model.eqx"
        if not meta_file.exists() or not leaves.exists():
            raise InputError(f"{path}: not a saved mlp model (expected model.json and model.eqx in it)")
        try:
            meta = json.loads(meta_file.read_text())
        except json.JSONDecodeError as exc:
            raise InputError(f"{meta_file}: not valid JSON: {exc}") from None
        if meta.get("format") != FORMAT:
            raise InputError(f"{meta_file}: format: expected {FORMAT!r}, got {meta.get('format')!r}")
        # models saved before the short_time option existed were trained without the gate
        sur = cls(**{"short_time": "none", **meta["config"]})
        like = _network(sur.config, jax.random.PRNGKey(0))
        sur.model = eqx.tree_deserialise_leaves(leaves, like)
        sur.standardizer = Standardizer.from_dict(meta["standardizer"])
        sur.record = {k: v for k, v in meta.items()
                      if k not in ("format", "surrogate", "config", "standardizer", "short_time")}
        return sur

    @property
    def split(self) -> Split | None:
        return Split.from_dict(self.record["split"]) if "split" in self.record else None

    def default_times(self, points: int = 150) -> np.ndarray:
        lo, hi = self.record.get("t_range", [5e-3, 1e4])
        return np.geomspace(lo, hi, points)
