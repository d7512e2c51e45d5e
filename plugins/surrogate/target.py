"""A trained MLP as a target generator for closure fits (``memplug run --target mlp``).

The fitting pipeline needs F_s^{αα}(k_p, t_i) for a state; for a state *not* in the dataset (only its
statics are known) the MLP predicts it::

    from memplug.plugins.surrogate.target import mlp_target

    F = mlp_target("runs/mlp", context, t)            # (n_t, 2): F_s^AA, F_s^BB

``context`` is a `memplug.interfaces.Context` with ``k`` (the 100-point grid), ``S`` of shape
``(100, 2, 2)``, ``T``, ``rho`` and the potential in ``context.extra["potential"]`` (or passed as
``potential=``), as `memplug.data.context_for` builds it.

On the command line the same prediction is the fit target ``--target mlp:model=DIR``
(`mlp_fit_target`, registered through the plugin's ``register_targets`` hook).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path
from typing import Any

import numpy as np

from memplug.errors import InputError
from memplug.plugins.targets.builtin import data_target
from memplug.targets import Target, target_provider

from .mlp import MLPSurrogate


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> MLPSurrogate:
    return MLPSurrogate.load(path)


def load_model(model: str | os.PathLike | MLPSurrogate) -> MLPSurrogate:
    """A saved model directory (cached per path and modification time) or an in-memory model."""
    if isinstance(model, MLPSurrogate):
        return model
    p = Path(model)
    stamp = (p / "model.eqx").stat().st_mtime if (p / "model.eqx").exists() else 0.0
    return _load(str(p), stamp)


def mlp_target(
    model: str | os.PathLike | MLPSurrogate,
    context: Any,
    t: Any,
    *,
    potential: str | None = None,
) -> np.ndarray:
    """F_s^{AA}(k_p, t), F_s^{BB}(k_p, t) predicted by a trained MLP, shape ``(len(t), 2)``, float64.

    Args:
        model: saved model directory (``memplug mlp train --out DIR``) or an `MLPSurrogate`.
        context: statics of the state (`memplug.interfaces.Context` or
            `Statics`).
        t: positive lag times, shape ``(n_t,)``.
        potential: ``"LJ"`` or ``"WCA"`` when the context does not carry ``extra["potential"]``.

    Raises:
        memplug.InputError: wrong k grid, missing S/T/ρ/potential, NaN, or non-positive times.
    """
    return load_model(model).predict(context, t, potential=potential)


@target_provider("mlp")
def mlp_fit_target(ds: Any, state: str, context: Any, model: str | None = None) -> Target:
    """``--target mlp:model=DIR``: the MLP's F_s^{AA}, F_s^{BB}(k_p, t_i) for the state's statics.

    The times t_i, the state's facts (T, ρ, T_mct, ...) and the context are those of the ``data``
    target of the same state; only F, shape ``(n_t, 2)``, is the model's prediction, so a closure is
    fitted to what the MLP says the dynamics of these statics are.

    Args:
        ds: the loaded dataset.
        state: the state id.
        context: its statics (`memplug.data.context_for`).
        model: directory written by ``memplug mlp train --out DIR``.

    Raises:
        memplug.InputError: no ``model=``, not a saved model, or statics the model cannot read.
    """
    if model is None or not str(model).strip():
        raise InputError(
            "--target mlp: expected model=DIR, a directory written by `memplug mlp train --out DIR`"
        )
    try:
        surrogate = load_model(str(model))
    except InputError as exc:
        raise InputError(f"--target mlp:model={model}: {exc}") from None
    except Exception as exc:  # a truncated or foreign model.eqx
        why = f"{type(exc).__name__}: {exc}"
        raise InputError(f"--target mlp:model={model}: cannot load the model ({why})") from None
    base = data_target(ds, state, context)
    try:
        F = surrogate.predict(context, base.t)
    except InputError as exc:
        raise InputError(f"--target mlp:model={model}: state {state}: {exc}") from None
    if F.shape != base.F.shape or not np.all(np.isfinite(F)):
        raise InputError(
            f"--target mlp:model={model}: state {state}: expected a finite prediction of shape "
            f"{base.F.shape}, got shape {F.shape}"
        )
    info = base.info | {"model": str(model)}
    return dataclasses.replace(base, F=np.asarray(F, float), source=f"mlp:{model}", info=info)
