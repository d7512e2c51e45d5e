"""Start a fit from a known memory: the paper's evolutionary strategy starts from M = M_mct."""

from __future__ import annotations

from typing import Any

from memplug.interfaces import Context
from memplug.model import fit_memory


class MemoryInitial:
    """Mixin for explicit closures: ``initial(context)`` fits the closure to
    ``context.extra["memory"] = (t, M)`` when present (`memplug.model.fit_memory`), and
    returns the parameters' defaults otherwise."""

    def initial(self, context: Context) -> dict[str, Any]:
        memory = context.extra.get("memory")
        if memory is None:
            return super().initial(context)  # type: ignore[misc]
        t, M = memory
        return fit_memory(self, context, t, M)  # type: ignore[arg-type]
