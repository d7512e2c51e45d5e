"""The ``mlp`` surrogate's configuration and network: `MLPConfig` (the hyper-parameters), the
network a config builds (`_network`) and its forward pass (`_forward`), and the helpers that
turn a dataset or a Context into the surrogate's input (`as_table`, `statics_of`, `data_hash`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import numpy as np

from memplug.errors import InputError
from memplug.interfaces import Context
from memplug.io import atomic_write_with

from .features import N_INPUTS, StateTable, Statics, check_statics, state_table
from .network import (
    ACTIVATIONS,
    LOSSES,
    MLP,
    OUTPUTS,
    SHORT_TIME,
    ballistic_linear_output,
    ballistic_output,
)

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
            raise InputError(
                f"mlp option output={self.output}: not with short_time=ballistic, whose "
                "F = exp(-w exp(w z)) is in (0, 1] already; use output=none (or short_time=ballistic_linear)"
            )

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
        types = {
            "lasso": float,
            "lr": float,
            "val_fraction": float,
            "batch_size": int,
            "epochs": int,
            "patience": int,
            "seed": int,
            "checkpoint_every": int,
            "min_steps_per_epoch": int,
        }
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
            raise InputError(
                "context: S: missing; the mlp surrogate needs S^{αβ}(k) on the 100-point grid"
            )
        S = np.asarray(obj.S, float)
        if S.ndim != 3 or S.shape[1:] != (2, 2):
            raise InputError(f"context: S: expected shape (100, 2, 2) (two species), got {S.shape}")
        S3 = np.stack([S[:, 0, 0], S[:, 0, 1], S[:, 1, 1]])
        check_statics("context", obj.k, S3, obj.T, obj.rho, pot)
        kp = None if obj.k_peak is None else float(obj.k_peak)
        return Statics(
            S3, float(obj.T), float(obj.rho), str(pot), str(obj.extra.get("state", "context")), kp
        )
    raise InputError(
        f"mlp: cannot read statics from a {type(obj).__name__}; give Statics or a Context"
    )


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


@eqx.filter_jit
def _forward(model: MLP, X, U, short_time: str, output: str):
    return _apply(model, X, U, short_time, output)
