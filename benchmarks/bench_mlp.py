"""Benchmark of the mlp surrogate: wall time to train (paper architecture) and predictions per second.

    python benchmarks/bench_mlp.py                          # synthetic dataset, 120 states × 150 times
    python benchmarks/bench_mlp.py --dataset default        # the embedded default dataset
    python benchmarks/bench_mlp.py --states 60 --epochs 100 --json bench-mlp.json

The paper trains the same network "for 1000 iterations, taking approximately 1 hour on a standard
Intel i7 CPU" (sec. IV B). Reported: seconds per epoch, total training wall time (first epoch
includes compilation), test R² / RMSE (paper Eqs. 2-4, S1), rows (state, t) per second and states
(150 times each) per second in prediction.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from _timing import repeat, timed

import memplug  # noqa: F401
from memplug.io import atomic_write_json
from memplug.plugins.surrogate import metrics
from memplug.plugins.surrogate.features import state_table
from memplug.plugins.surrogate.mlp import MLPConfig, as_table, train
from memplug.plugins.surrogate.synthetic import synthetic_dataset


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--dataset", default="synthetic", help="'synthetic' or a dataset name/path")
    ap.add_argument("--states", type=int, default=120, help="states of the synthetic dataset")
    ap.add_argument("--epochs", type=int, default=150)
    ap.add_argument("--patience", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--hidden", default="500-400-400-300-200")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="write the numbers to this JSON file")
    args = ap.parse_args()

    if args.dataset == "synthetic":
        table = state_table(synthetic_dataset(n_states=args.states, seed=args.seed))
        source = f"synthetic ({args.states} states)"
    else:
        table = as_table(args.dataset)
        source = args.dataset
    cfg = MLPConfig(
        hidden=args.hidden.split("-"),
        epochs=args.epochs,
        patience=args.patience,
        batch_size=args.batch_size,
        seed=args.seed,
    )
    epoch_times: list[float] = []
    last = [time.perf_counter()]

    def tick(epoch, history):
        now = time.perf_counter()
        epoch_times.append(now - last[0])
        last[0] = now
        return False

    (sur, res), wall, cpu = timed(lambda: train(table, cfg, split="random", callback=tick))
    test = table.subset([table.index(s) for s in sur.split.test])
    pred = sur.predict_table(test)
    sc = metrics.per_state(pred, test.Fs)

    sur.predict_table(table)  # warm-up (compilation for this shape)
    dt = statistics.mean(repeat(lambda: sur.predict_table(table), 5).wall)
    rows = table.time.size
    st = table.statics(0)
    tt = table.time[0]
    single = statistics.mean(repeat(lambda: sur.predict(st, tt), 20, warmup=True).wall)

    out = {
        "dataset": source,
        "states": len(table),
        "train_states": len(sur.split.train),
        "val_states": len(sur.split.val),
        "test_states": len(sur.split.test),
        "times_per_state": int(table.time.shape[1]),
        "hidden": list(cfg.hidden),
        "batch_size": cfg.batch_size,
        "epochs_run": len(res.history),
        "best_epoch": res.best_epoch,
        "stopped_early": res.stopped_early,
        "train_wall_s": round(wall, 2),
        "train_cpu_s": round(cpu, 2),
        "first_epoch_s": round(epoch_times[0], 2),
        "median_epoch_s": round(float(np.median(epoch_times[1:] or epoch_times)), 3),
        "test_r2_median": float(np.nanmedian(sc["r2"])),
        "test_r2_mean": float(np.nanmean(sc["r2"])),
        "test_r2_min": float(np.nanmin(sc["r2"])),
        "test_rmse_mean": float(np.nanmean(sc["rmse"])),
        "predict_rows_per_s": round(rows / dt),
        "predict_states_per_s": round(len(table) / dt, 1),
        "predict_one_state_ms": round(1e3 * single, 2),
        "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    for k, v in out.items():
        print(f"{k:>22}: {v}")
    if args.json:
        atomic_write_json(args.json, out, indent=1)


if __name__ == "__main__":
    main()
