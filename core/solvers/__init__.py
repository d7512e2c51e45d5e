"""Solvers of the memory equation: one module per solver."""

from __future__ import annotations

from memplug.equation import MemoryEquation
from memplug.solution import Solution
from memplug.solvers.embedding import DiffraxSolver
from memplug.solvers.steady_state import SteadyState, nonergodicity_parameter
from memplug.solvers.time_doubling import TimeDoublingSolver


def solve(eq: MemoryEquation, solver: TimeDoublingSolver | DiffraxSolver | None = None) -> Solution:
    """Solve ``eq`` (default: the time-doubling solver with default settings)."""
    return (solver or TimeDoublingSolver()).solve(eq)


__all__ = ["DiffraxSolver", "SteadyState", "TimeDoublingSolver", "nonergodicity_parameter", "solve"]
