"""A trained MLP as a target generator for closure fits (``memplug run --target mlp``).

The fitting pipeline needs F_s^{αα}(k_p, t_i) for a state; for a state *not* in the dataset (only its
statics are known) the MLP predicts it::

    from memplug.plugins.surrogate.target import mlp_target

    F = mlp_target("runs/mlp", context, t)            # (n_t, 2): F_s^AA, F_s^BB

``context`` is a :class:`memplug.interfaces.Context` with ``k`` (the 100-point grid), ``S`` of shape
``(100, 2, 2)``, ``T``, ``rho`` and the potential in ``context.extra["potential"]`` (or passed as
``potential=``), as :func:`memplug.data.context_for` builds it.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import numpy as np

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
        model: saved model directory (``memplug mlp train --out DIR``) or an :class:`MLPSurrogate`.
        context: statics of the state (:class:`memplug.interfaces.Context` or
            :class:`~memplug.plugins.surrogate.features.Statics`).
        t: positive lag times, shape ``(n_t,)``.
        potential: ``"LJ"`` or ``"WCA"`` when the context does not carry ``extra["potential"]``.

    Raises:
        memplug.InputError: wrong k grid, missing S/T/ρ/potential, NaN, or non-positive times.
    """
    return load_model(model).predict(context, t, potential=potential)
