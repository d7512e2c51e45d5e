"""What a fit reproduces, and what it is compared with: fit targets and reference memories.

A **target** is F^{αα}(k_peak, t_i) of one state with the state's statics (`Target`); plugins
provide them by name (``--target NAME[:key=value,...]``) through the ``register_targets`` hook
with `target_provider`. A **reference memory** is a known M(t) of a state with the F(t) it gives
(``--init NAME`` starts a fit from it; results are compared with it), registered through the
``register_references`` hook with `reference_provider` — e.g. the MCT plugin's M_mct.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from memplug.constants import t_mct
from memplug.errors import InputError
from memplug.interfaces import Context


@dataclass(frozen=True, eq=False)
class Target:
    """What a fit reproduces: F^{αα}(t_i) of one state, with the state's statics.

    Attributes:
        name: the state id (``"LJ-rho1.20-T0.800"``).
        t: lag times, shape ``(n_t,)``, increasing, > 0.
        F: F_s^{αα}(k_peak, t_i), shape ``(n_t, n_species)``.
        context: the statics (Ω², k_peak, T, ...).
        source: where F comes from (``"data"``, ``"synthetic:..."``, ``"mlp"``, ...).
        info: extra facts (``potential``, ``rho``, ``T``, ``T_mct``, ``theta_true`` for synthetic
            targets, ...).
    """

    name: str
    t: np.ndarray
    F: np.ndarray
    context: Context
    source: str = "data"
    info: dict[str, Any] = field(default_factory=dict)

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for a in (self.t, self.F, self.context.omega2_matrix()):
            h.update(np.ascontiguousarray(a, dtype=float).tobytes())
        h.update(self.name.encode())
        return h.hexdigest()[:16]


#: A target provider: ``(dataset, state, context, **options) -> Target``, with a ``name``.
TargetProvider = Callable[..., Target]


def target_provider(name: str) -> Callable[[TargetProvider], TargetProvider]:
    """Name a target provider (``--target NAME[:key=value,...]``) for the ``register_targets`` hook.

    A provider gets the loaded dataset, the state id, the state's `Context` and the options, and
    returns a `Target`; a plugin registers it in its ``register_targets`` hook implementation
    (``register(provider)``), like closures and optimizers.
    """

    def deco(fn: TargetProvider) -> TargetProvider:
        fn.name = name  # type: ignore[attr-defined]
        fn.description = (fn.__doc__ or "").strip().split("\n")[0]  # type: ignore[attr-defined]
        return fn

    return deco


def state_info(ds, state: str) -> dict[str, Any]:
    """What a target records about its state: potential, ρ, T, T_mct (Table I) and τ_α."""
    one = ds.sel(state=state)
    potential, rho = str(one["potential"].values), float(one["rho"])
    return {
        "potential": potential,
        "rho": rho,
        "T": float(one["T"]),
        "T_mct": t_mct(potential, rho, source="paper", interpolation="none"),
        "tau_alpha": float(one["tau_alpha"]),
    }


def make_target(spec: str, ds, state: str, context: Context | None = None) -> Target:
    """The target ``spec`` (``data``, ``synthetic:closure=double-stretched,noise=1e-3``, ...) for a
    state; without ``context``, the state's statics with overdamped dynamics (as always here)."""
    from memplug.data import context_for

    provider, options = target_for(spec)
    context = context if context is not None else context_for(ds, state, dynamics="overdamped")
    return provider(ds, state, context, **options)


def target_for(spec: str) -> tuple[TargetProvider, dict[str, Any]]:
    """The registered provider of ``--target`` ``spec`` and its checked options (InputError
    naming ``--target`` for an unknown name or option): callable before any fit starts."""
    import inspect

    from memplug.registry import get_registry, parse_spec

    name, options = parse_spec(spec)
    try:
        provider = get_registry().get("targets", name)
    except InputError as exc:
        raise InputError(f"--target: {exc}") from None
    sig = inspect.signature(provider)
    has_var = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    unknown = sorted(set(options) - set(sig.parameters)) if not has_var else []
    if unknown:
        valid = [p for p in sig.parameters if p not in ("ds", "state", "context")]
        raise InputError(f"--target {name}: unknown option(s) {unknown}; valid: {valid}")
    return provider, options


#: A reference-memory provider: ``(context, t) -> (M(t), F(t))``, each ``(n_t, s, s)``, with a ``name``.
ReferenceProvider = Callable[..., tuple[np.ndarray, np.ndarray]]


def reference_provider(name: str) -> Callable[[ReferenceProvider], ReferenceProvider]:
    """Name a reference memory (``--init NAME``, the reference curve of a fit) for the
    ``register_references`` hook: a callable ``(context, t) -> (M(t), F(t))`` of the state at
    k_peak, each ``(n_t, s, s)`` — e.g. the MCT plugin's M_mct and the F it gives."""
    return target_provider(name)


def reference_names() -> list[str]:
    """Names of the registered reference memories."""
    from memplug.registry import get_registry

    return get_registry().names("references")


def reference_solution(
    context: Context, t: np.ndarray, name: str
) -> tuple[np.ndarray, np.ndarray] | None:
    """(M(t), F(t)) of the reference memory ``name``, each ``(n_t, s, s)``; None if no plugin
    registers it."""
    from memplug.registry import get_registry

    if name not in reference_names():
        return None
    M, F = get_registry().get("references", name)(context, np.asarray(t, float))
    s = context.n_species
    return np.asarray(M, float).reshape(len(t), s, s), np.asarray(F, float).reshape(len(t), s, s)


def reference_memory(context: Context, t: np.ndarray, name: str) -> np.ndarray | None:
    """M(t) of the reference memory ``name``, shape ``(n_t, s, s)``, or None (`reference_solution`)."""
    out = reference_solution(context, t, name)
    return None if out is None else out[0]
