"""memplug: memory-equation dynamics of supercooled liquids with pluggable memory-kernel closures.

Importing memplug enables float64 in JAX: every solver works in double precision.
"""

from __future__ import annotations

import jax

jax.config.update("jax_enable_x64", True)

from memplug.equation import MemoryEquation  # noqa: E402
from memplug.errors import InputError, MemplugError  # noqa: E402
from memplug.kernels import (  # noqa: E402
    ExplicitKernel,
    ExponentialSumKernel,
    FunctionalKernel,
    MemoryKernel,
    SchematicF1Kernel,
    SchematicF2Kernel,
    SchematicF12Kernel,
)
from memplug.model import closure_solver, solve_closure  # noqa: E402
from memplug.solution import Solution  # noqa: E402
from memplug.solvers import (  # noqa: E402
    DiffraxSolver,
    TimeDoublingSolver,
    nonergodicity_parameter,
    solve,
)

__version__ = "0.1.0"

__all__ = [
    "DiffraxSolver",
    "ExplicitKernel",
    "ExponentialSumKernel",
    "FunctionalKernel",
    "InputError",
    "MemoryEquation",
    "MemoryKernel",
    "MemplugError",
    "SchematicF1Kernel",
    "SchematicF12Kernel",
    "SchematicF2Kernel",
    "Solution",
    "TimeDoublingSolver",
    "closure_solver",
    "nonergodicity_parameter",
    "solve",
    "solve_closure",
    "__version__",
]
