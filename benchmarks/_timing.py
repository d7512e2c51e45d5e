"""Timing helpers shared by the benchmark scripts: wall-clock and process-CPU time.

The CPU time (``time.process_time``, all threads of this process) is the steadier figure on a
shared machine: it does not count waiting for a core. The scripts import this module by name
(``from _timing import ...``), which works because Python puts a script's own directory on
``sys.path``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class Timer:
    """Context manager: ``with Timer() as t: ...`` then ``t.wall``, ``t.cpu`` in seconds."""

    wall: float = float("nan")
    cpu: float = float("nan")

    def __enter__(self) -> Timer:
        self._w0, self._c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._w0
        self.cpu = time.process_time() - self._c0


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Call ``fn`` once; return its result, the wall time and the CPU time (seconds)."""
    with Timer() as t:
        out = fn()
    return out, t.wall, t.cpu


@dataclass(frozen=True)
class Repeats:
    """Wall and CPU times (seconds) of repeated calls."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def best(self) -> tuple[float, float]:
        """(best wall, best CPU)."""
        return self.best_wall, self.best_cpu

    @property
    def best_wall(self) -> float:
        return min(self.wall)

    @property
    def median_wall(self) -> float:
        return statistics.median(self.wall)

    @property
    def best_cpu(self) -> float:
        return min(self.cpu)

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpu)


def repeat(fn: Callable[[], Any], n: int, *, warmup: bool = False) -> Repeats:
    """Call ``fn`` ``n`` times (after one untimed call if ``warmup``: compilation) and time each."""
    if n < 1:
        raise ValueError(f"repeat: n must be at least 1, got {n}")
    if warmup:
        fn()
    r = Repeats()
    for _ in range(n):
        _, wall, cpu = timed(fn)
        r.wall.append(wall)
        r.cpu.append(cpu)
    return r


def report(out: dict[str, Any], json_path: str | None = None) -> None:
    """Print ``key  value`` lines (floats to 4 significant digits) and write them as JSON if asked."""
    import json

    width = max(map(len, out))
    for key, val in out.items():
        print(f"{key:<{width}}  {val:.4g}" if isinstance(val, float) else f"{key:<{width}}  {val}")
    if json_path:
        with open(json_path, "w") as fh:
            json.dump(out, fh, indent=2)
