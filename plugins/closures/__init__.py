"""Built-in closures, registered through the ``memplug`` entry-point group like any plugin.

One module per closure; this module only registers them, and mounts ``memplug solve``
(`cli_solve`: solve the memory equation with a closure and print F(t)).
"""

from __future__ import annotations

from memplug.hookspecs import hookimpl
from memplug.plugins.closures.double_stretched import DoubleStretchedClosure
from memplug.plugins.closures.exponential import ExponentialClosure
from memplug.plugins.closures.mct import MCTClosure
from memplug.plugins.closures.neural import NeuralClosure
from memplug.plugins.closures.schematic_f1 import SchematicF1Closure
from memplug.plugins.closures.schematic_f2 import SchematicF2Closure
from memplug.plugins.closures.schematic_f12 import SchematicF12Closure
from memplug.plugins.closures.stretched import StretchedClosure
from memplug.plugins.closures.tabulated import TabulatedClosure

BUILTIN_CLOSURES = (
    ExponentialClosure,
    StretchedClosure,
    DoubleStretchedClosure,
    SchematicF1Closure,
    SchematicF2Closure,
    SchematicF12Closure,
    NeuralClosure,
)


@hookimpl
def register_closures(register):
    for closure in BUILTIN_CLOSURES:
        register(closure)
    # mode-coupling theory (its own module, mct.py):
    register(MCTClosure)
    # a memory read from a file, e.g. the model-free inversion (tabulated.py):
    register(TabulatedClosure)


@hookimpl
def register_commands(app):
    from memplug.plugins.closures import cli_closures, cli_solve

    cli_closures.register(app)
    cli_solve.register(app)
