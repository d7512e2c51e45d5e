"""The ``mct`` fit target, F_s^mct(k_peak, t) (paper SI, Figs. S5-S6), and the ``mct`` reference
memory, M_mct(t) with its F_s^mct(t) (``--init mct``, the reference curve of fits)."""

from __future__ import annotations

import numpy as np

from memplug.errors import InputError
from memplug.interfaces import Context
from memplug.targets import Target, reference_provider, state_info, target_provider


@reference_provider("mct")
def mct_reference(context: Context, t) -> tuple[np.ndarray, np.ndarray]:
    """Tagged MCT memory M_mct(t) at k_peak and its F_s^mct(t), each (n_t, s, s), from the
    ``mct`` closure with its default options (`memplug.plugins.mct.dynamics.mct_self_memory`)."""
    from memplug.plugins.closures.mct import MCTClosure

    return MCTClosure().self_memory(context, np.asarray(t, float))


@target_provider("mct")
def mct_target(ds, state: str, context: Context) -> Target:
    """F_s^mct(k_peak, t) of the state (paper SI, Figs. S5-S6): the solution of Eq. 5 with the
    MCT memory M_mct, so a fit of this target should recover M_mct. Needs the ``mct`` closure."""
    from memplug.data import dynamics_for

    t, _ = dynamics_for(ds, state)
    s = context.n_species
    F = np.diagonal(
        np.asarray(mct_reference(context, t)[1], float).reshape(len(t), s, s), axis1=1, axis2=2
    ).copy()
    if not np.all(np.isfinite(F)):
        raise InputError(f"--target mct: the MCT solution of state {state} is not finite")
    return Target(state, t, F, context, "mct", state_info(ds, state) | {"kernel": "mct"})
