"""The built-in targets ``data`` and ``synthetic``."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from memplug.errors import InputError
from memplug.fit import solver_for
from memplug.interfaces import Context
from memplug.model import equation_for
from memplug.targets import Target, state_info, target_provider


@jax.jit
def _diagonal_at(sol, t):
    return jnp.diagonal(sol.interpolate(t), axis1=1, axis2=2)


@target_provider("data")
def data_target(ds, state: str, context: Context) -> Target:
    """The measured F_s^{αα}(k_peak, t) of the dataset."""
    from memplug.data import dynamics_for

    t, F = dynamics_for(ds, state)
    keep = np.isfinite(F).all(axis=1) & (t > 0)
    return Target(state, t[keep], F[keep], context, "data", state_info(ds, state))


@target_provider("synthetic")
def synthetic_target(
    ds,
    state: str,
    context: Context,
    closure: str = "double-stretched",
    noise: float = 0.0,
    seed: int = 0,
    N: int = 16,
    params: dict[str, Any] | None = None,
    **values: Any,
) -> Target:
    """F made by a known kernel on the state's times, plus Gaussian noise of standard deviation
    ``noise`` (seeded): a fit must recover it.

    The kernel is ``closure`` at its initial θ, with parameters replaced by ``params`` (a dict) or
    by further keyword options (``synthetic:closure=double-stretched,K_AA=60,mu_AA=0.6``).
    """
    params = dict(params or {}) | values
    from memplug.data import dynamics_for
    from memplug.registry import get_registry

    checks = (("noise", noise, False, 0), ("seed", seed, True, 0), ("N", N, True, 1))
    for key, value, integer, low in checks:
        number = isinstance(value, int | float | np.number) and not isinstance(value, bool)
        if not (
            number
            and math.isfinite(value)
            and value >= low
            and (not integer or value == int(value))
        ):
            kind = "an integer" if integer else "a number"
            raise InputError(f"--target synthetic: {key}={value!r}; expected {kind} >= {low}")
    noise, seed, N = float(noise), int(seed), int(N)
    clo = get_registry().create("closures", closure)
    theta = {k: np.asarray(v) for k, v in clo.initial(context).items()}
    for k, v in (params or {}).items():
        if k not in theta:
            raise InputError(
                f"--target synthetic: params: {clo.name} has no parameter {k!r}; it has {sorted(theta)}"
            )
        try:
            theta[k] = np.broadcast_to(np.asarray(v, float), np.shape(theta[k]))
        except (TypeError, ValueError):
            shape = np.shape(theta[k])
            expected = f"expected numbers of shape {shape}"
            raise InputError(f"--target synthetic: {k}={v!r}; {expected}") from None
    t, _ = dynamics_for(ds, state)
    solver = solver_for(t, context, N=N)
    sol = solver.solve(equation_for(clo, theta, context))
    if int(sol.status) != 0:
        raise InputError(
            f"--target synthetic: the kernel {clo.spec()} gives a failed solve ({sol.describe()})"
        )
    F = np.asarray(_diagonal_at(sol, jnp.asarray(t)))
    if noise:
        F = F + np.random.default_rng(seed).normal(0.0, float(noise), F.shape)
    info = state_info(ds, state) | {
        "theta_true": {k: np.asarray(v).tolist() for k, v in theta.items()},
        "noise": float(noise),
        "kernel": clo.spec(),
    }
    return Target(state, t, F, context, f"synthetic:{clo.spec()}", info)
