"""The closures memplug ships, shared by the closure tests (not a test module)."""

#: Every closure registered by the core distribution itself (plugins/closures/).
BUILTIN_CLOSURES = [
    "exponential",
    "stretched",
    "double-stretched",
    "schematic-f1",
    "schematic-f2",
    "schematic-f12",
    "neural",
]
