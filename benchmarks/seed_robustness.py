"""Start-independence of the default fitting strategy on real data.

Fits Eq. 6 (``stretched``) and Eq. 8 (``double-stretched``) to the README main job's three states
with seeds 0, 1, 2 (IPOP-CMA-ES from the closure's default start, then the L-BFGS polish and the
Laplace band), and compares each seed's M^{αα}(t) with seed 0's 95 % band where M^{αα} carries
weight (M > 1e-3 M(0)). Resumable: finished fits in OUT are reused.

    python benchmarks/seed_robustness.py OUT          # ~18 fits, ~15 CPU-minutes on 2 cores
"""

from __future__ import annotations

import json
import sys

import numpy as np

from memplug.data import load_dataset
from memplug.fit_results import load_result
from memplug.plugins.fitting.cli import MAIN_STATES
from memplug.plugins.fitting.jobs import FitJob, run_job

CLOSURES = ("stretched", "double-stretched")
SEEDS = (0, 1, 2)


def main(out: str) -> None:
    ds = load_dataset("default", states=MAIN_STATES)
    rows = []
    for closure in CLOSURES:
        for state in MAIN_STATES:
            runs = []
            for seed in SEEDS:
                job = FitJob(state=state, closure=closure, seed=seed, out=f"{out}/{closure}/seed{seed}",
                             plot=False, resume=True)  # fmt: skip
                summary = run_job(job, ds=ds)
                runs.append((summary, load_result(summary["files"]["netcdf"])))
            (s0, r0) = runs[0]
            M0, lo, hi = (r0[v].values for v in ("M_fit", "M_fit_lo", "M_fit_hi"))
            for seed, (s, r) in zip(SEEDS[1:], runs[1:], strict=True):
                M = r["M_fit"].values
                inside, rel = [], []
                for a in range(M.shape[-1]):
                    keep = M0[:, a, a] > 1e-3 * np.max(M0[:, a, a])
                    inside.append(
                        np.mean(
                            (M[keep, a, a] >= lo[keep, a, a]) & (M[keep, a, a] <= hi[keep, a, a])
                        )
                    )
                    rel.append(np.abs(M[keep, a, a] / M0[keep, a, a] - 1.0))
                row = {"closure": closure, "state": state, "seed": seed, "loss": s["loss"], "loss_seed0": s0["loss"],
                       "inside_seed0_band": float(np.mean(inside)),
                       "median_rel_diff": float(max(np.median(x) for x in rel)),
                       "max_rel_diff": float(max(np.max(x) for x in rel))}  # fmt: skip
                rows.append(row)
                print(json.dumps(row), flush=True)
    with open(f"{out}/summary.json", "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "results/seed-robustness")
