"""Fitting benchmark: wall time to loss < 1e-6 (paper Eq. 7) for Eq. 6 (N_exp = 2, 27 parameters)
and Eq. 8, with CMA-ES and with L-BFGS through the solver, on a noise-free target made from a kernel
fitted to a real state of the default dataset; and the fit of that real state itself.

    python benchmarks/bench_fit.py [--state ID] [--budget 60000] [--json out.json]

Steps, per closure: (1) fit the real state (CMA-ES from the closure's default, σ0 = 0.05, fixed
budget) and report its final loss; (2) make F from the fitted θ with the fit's own solver (noise-free);
(3) from θ_fit perturbed by N(0, 0.1²) in the unconstrained space, time CMA-ES (σ0 = 5e-4, the paper's)
and L-BFGS to loss < 1e-6. Compile time is reported separately. Baselines measured in the same run:
the same loss evaluated one candidate at a time with a jitted single solve (no vmap), and with JAX's
jit disabled (no vmap, no jit); their time to 1e-6 is the CMA-ES evaluation count × their cost per
evaluation. The paper reports "a couple of hours" (~7200 s) per state.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import numpy as np

from memplug.cli.run import default_states
from memplug.data import context_for, load_dataset
from memplug.fit import FitProblem, FitSettings, Target, make_target, run_fit
from memplug.registry import get_registry

PAPER_SECONDS = 7200.0


def timed_fit(prob, spec, x0, budget, sigma0, target_loss, seed=0):
    """(outcome, wall seconds, CPU seconds of this process)."""
    opt = get_registry().create("optimizers", spec)
    t0, c0 = time.perf_counter(), time.process_time()
    out = run_fit(prob, opt, x0, FitSettings(budget=budget, target_loss=target_loss, seed=seed, sigma0=sigma0))
    return out, time.perf_counter() - t0, time.process_time() - c0


def compile_time(prob, P):
    x = prob.initial_vector()
    t0 = time.perf_counter()
    prob.evaluate(np.stack([x] * P))
    t1 = time.perf_counter()
    prob.evaluate_with_grad(x[None])
    return t1 - t0, time.perf_counter() - t1


def per_eval_baselines(prob, x, n_jit=20):
    """CPU seconds per loss evaluation: jitted single candidate (no vmap), and jit disabled."""
    single = jax.jit(prob.loss)
    single(x).block_until_ready()
    c0 = time.process_time()
    for _ in range(n_jit):
        single(x + 1e-6).block_until_ready()
    jit_single = (time.process_time() - c0) / n_jit
    with jax.disable_jit():
        c0 = time.process_time()
        float(prob.loss(x))
        eager = time.process_time() - c0
    return jit_single, eager


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="default")
    ap.add_argument("--state", default=None)
    ap.add_argument("--budget", type=int, default=60000)
    ap.add_argument("--real-budget", type=int, default=20000)
    ap.add_argument("--closures", default="stretched:n_exp=2,double-stretched")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    ds = load_dataset(a.dataset)
    st = a.state or default_states(ds)[0]
    ctx = context_for(ds, st)
    reg = get_registry()
    rows = []
    for spec in a.closures.split(","):
        clo = reg.create("closures", spec)
        real = make_target("data", ds, st, ctx)
        prob = FitProblem(clo, real, N=16)
        popsize = 4 + int(3 * np.log(prob.dim))
        c_pop, c_grad = compile_time(prob, popsize)
        fit_real, t_real, c_real = timed_fit(prob, "cmaes", prob.initial_vector(), a.real_budget, 0.05, 0.0)
        # noise-free target from the fitted kernel, same solver
        F, _, status = prob.outputs(fit_real.x, real.t)
        synth = Target(st, real.t, F, ctx, "synthetic:from-fit", dict(real.info))
        sprob = FitProblem(clo, synth, N=16)
        x0 = fit_real.x + np.random.default_rng(0).normal(0, 0.1, fit_real.x.shape)
        start_loss = float(sprob.evaluate(np.stack([x0] * popsize))[0])
        es, t_es, c_es = timed_fit(sprob, "cmaes", x0, a.budget, 5e-4, 1e-6)
        gr, t_gr, c_gr = timed_fit(sprob, "gradient", x0, 2000, 5e-4, 1e-6)
        jit_single, eager = per_eval_baselines(sprob, x0)
        per_eval_vmap = c_es / max(es.evaluations, 1)
        row = {
            "state": st, "closure": clo.spec(), "params": prob.dim, "popsize": popsize,
            "compile_population_s": c_pop, "compile_gradient_s": c_grad,
            "real_fit_loss": fit_real.loss, "real_fit_s": t_real, "real_fit_cpu_s": c_real,
            "real_fit_evals": fit_real.evaluations,
            "start_loss": start_loss,
            "cmaes_loss": es.loss, "cmaes_s": t_es, "cmaes_cpu_s": c_es, "cmaes_evals": es.evaluations,
            "gradient_loss": gr.loss, "gradient_s": t_gr, "gradient_cpu_s": c_gr, "gradient_evals": gr.evaluations,
            "per_eval_vmap_jit_s": per_eval_vmap, "per_eval_jit_single_s": jit_single, "per_eval_eager_s": eager,
            "baseline_jit_single_s": jit_single * es.evaluations, "baseline_eager_s": eager * es.evaluations,
            "paper_s": PAPER_SECONDS,
        }  # fmt: skip
        rows.append(row)
        print(json.dumps(row, indent=1), flush=True)
    print("\n| closure | params | CMA-ES to 1e-6: wall / CPU | L-BFGS to 1e-6: wall / CPU | real state: loss, wall / CPU "
          "| no vmap, jit (CPU) | no vmap, no jit (CPU) | paper |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['closure']} | {r['params']} | {r['cmaes_s']:.1f} / {r['cmaes_cpu_s']:.1f} s ({r['cmaes_evals']} evals, "
            f"loss {r['cmaes_loss']:.1e}) | {r['gradient_s']:.1f} / {r['gradient_cpu_s']:.1f} s ({r['gradient_evals']} evals, "
            f"loss {r['gradient_loss']:.1e}) | {r['real_fit_loss']:.2e}, {r['real_fit_s']:.0f} / {r['real_fit_cpu_s']:.0f} s "
            f"| {r['baseline_jit_single_s']:.0f} s | {r['baseline_eager_s']:.0f} s | ~{r['paper_s']:.0f} s |"
        )
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
