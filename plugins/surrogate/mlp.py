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

import json
from pathlib import Path
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from memplug.errors import InputError
from memplug.interfaces import Surrogate
from memplug.io import atomic_write_text
from memplug.provenance import versions

from .config import (  # noqa: F401 - MLPConfig, data_hash, as_table, _network: public here too
    FORMAT,
    PAPER_HIDDEN,
    MLPConfig,
    _forward,
    _network,
    _serialise,
    as_table,
    data_hash,
    statics_of,
)
from .features import K_GRID, N_INPUTS, N_K, Standardizer, StateTable, ballistic_u
from .network import MLP
from .splits import Split
from .training import TrainResult, fit_network


def train(
    dataset: Any, config: MLPConfig | None = None, **options: Any
) -> tuple[MLPSurrogate, TrainResult]:
    """Train the MLP on a dataset (xarray Dataset, `StateTable`, or a dataset name/path); the
    options below are keyword-only (`memplug.plugins.surrogate.training.fit_network` runs it).

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
    model, std, record, result = fit_network(dataset, cfg, **options)
    out = options.get("out")
    sur = MLPSurrogate(**cfg.to_dict())
    sur.model, sur.standardizer, sur.record = model, std, record
    if out is not None:
        sur.save(out)
        atomic_write_text(
            Path(out) / "history.csv",
            "epoch,train_loss,val_loss\n"
            + "".join(
                f"{h['epoch']},{h['train_loss']:.8e},{h['val_loss']:.8e}\n" for h in result.history
            ),
        )
    return sur, result


class MLPSurrogate(Surrogate):
    """Paper's MLP: (S^{AA}, S^{AB}, S^{BB} on 100 k, T, ρ, potential, log t) → (F_s^{AA}, F_s^{BB}).

    Options are the fields of `MLPConfig`. Use `fit` (or `train` for checkpoints and
    splits), `predict` for one state, `predict_table` for many, `save`/`load`.
    """

    name: ClassVar[str] = "mlp"
    description: ClassVar[str] = (
        "MLP from partial S(k), T, ρ, potential and log t to F_s^AA, F_s^BB at k_peak (paper sec. II A)"
    )

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
        return self._evaluate(
            X, ballistic_u(np.array([kp]), np.array([st.T]), t[None, :]).reshape(-1)
        )

    def predict_table(self, table: StateTable) -> np.ndarray:
        """Predictions on every state's own times: ``(n, n_t, 2)``."""
        self._require()
        X = self.standardizer.rows(table.static, table.time).astype(np.float32)
        out = self._evaluate(X, ballistic_u(table.k_peak, table.T, table.time).reshape(-1))
        return out.reshape(len(table), table.time.shape[1], 2)

    def _evaluate(self, X: np.ndarray, U: np.ndarray) -> np.ndarray:
        """Network (float32) on rows ``X``; the short-time gate in float64 with ``U = k_p² T t²/2``."""
        cfg = self.config
        out = _forward(
            self.model,
            jnp.asarray(X),
            jnp.asarray(U, dtype=jnp.float64),
            cfg.short_time,
            cfg.output,
        )
        return np.asarray(out, dtype=float)

    def save(self, path: Any) -> None:
        """Directory ``path`` with ``model.eqx`` (serialised leaves) and ``model.json`` (everything else)."""
        self._require()
        path = Path(path)
        _serialise(path / "model.eqx", self.model)
        record = {
            "format": FORMAT,
            "surrogate": self.name,
            "config": self.config.to_dict(),
            "n_inputs": N_INPUTS,
            "k_grid": {"n": N_K, "first": float(K_GRID[0]), "last": float(K_GRID[-1])},
            "inputs": "S_AA(k_1..k_100), S_AB(...), S_BB(...), T, rho, potential (LJ=0, WCA=1), log10 t",
            "outputs": ["Fs_A", "Fs_B"],
            "short_time": {
                "ballistic": "F = exp(-w exp(w z)), w = 1 - exp(-k_peak^2 T t^2 / 2), z = network output",
                "ballistic_linear": "F = 1 - w + w^2 z (output none) or 1 - w/(1 + w e^z) (sigmoid), "
                "w = 1 - exp(-k_peak^2 T t^2 / 2), z = network output",
                "none": "F = network output",
            }[self.config.short_time],
            "standardizer": self.standardizer.to_dict(),
            "seed": self.config.seed,
            "versions": versions("equinox", "optax"),
            **self.record,
        }
        atomic_write_text(path / "model.json", json.dumps(record, indent=1))

    @classmethod
    def load(cls, path: Any) -> MLPSurrogate:
        path = Path(path)
        if path.is_file() and path.name in ("model.json", "model.eqx"):
            path = path.parent
        meta_file, leaves = path / "model.json", path / "model.eqx"
        if not meta_file.exists() or not leaves.exists():
            raise InputError(
                f"{path}: not a saved mlp model (expected model.json and model.eqx in it)"
            )
        try:
            meta = json.loads(meta_file.read_text())
        except json.JSONDecodeError as exc:
            raise InputError(f"{meta_file}: not valid JSON: {exc}") from None
        if meta.get("format") != FORMAT:
            raise InputError(
                f"{meta_file}: format: expected {FORMAT!r}, got {meta.get('format')!r}"
            )
        # models saved before the short_time option existed were trained without the gate
        sur = cls(**{"short_time": "none", **meta["config"]})
        like = _network(sur.config, jax.random.PRNGKey(0))
        sur.model = eqx.tree_deserialise_leaves(leaves, like)
        sur.standardizer = Standardizer.from_dict(meta["standardizer"])
        sur.record = {
            k: v
            for k, v in meta.items()
            if k not in ("format", "surrogate", "config", "standardizer", "short_time")
        }
        return sur

    @property
    def split(self) -> Split | None:
        return Split.from_dict(self.record["split"]) if "split" in self.record else None

    def default_times(self, points: int = 150) -> np.ndarray:
        lo, hi = self.record.get("t_range", [5e-3, 1e4])
        return np.geomspace(lo, hi, points)
