"""The ``mct`` fit target: F_s^mct(k_peak, t), the MCT solution of a state (paper SI, Figs. S5-S6)."""

from __future__ import annotations

import numpy as np

from memplug.errors import InputError
from memplug.fit import Target, _state_info, mct_memory, target_provider
from memplug.interfaces import Context


@target_provider("mct")
def mct_target(ds, state: str, context: Context) -> Target:
    """F_s^mct(k_peak, t) of the state (paper SI, Figs. S5-S6): the solution of Eq. 5 with the
    MCT memory M_mct, so a fit of this target should recover M_mct. Needs the ``mct`` closure."""
    from memplug.data import dynamics_for

    t, _ = dynamics_for(ds, state)
    out = mct_memory(context, t)
    if out is None:
        raise InputError("--target mct: no MCT closure ('mct' with self_memory) is installed")
    F = np.diagonal(out[1], axis1=1, axis2=2).copy()
    if not np.all(np.isfinite(F)):
        raise InputError(f"--target mct: the MCT solution of state {state} is not finite")
    return Target(state, t, F, context, "mct", _state_info(ds, state) | {"kernel": "mct"})
