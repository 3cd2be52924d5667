"""Section 8: the interleaved pipeline, fastgrad called between NumPy calls.

Every configuration (size x ``workers``) runs in a fresh interpreter, since thread pools
and their settings are read when the libraries load.  In that child, after one warm-up
of each step, rounds of four loops are timed in turn (so that a change of machine load
hits all four alike), each for wall and CPU time (CPU time shows threads that spin):

(a) ``mse_gradient(X, y, w, b, workers=...)`` alone;
(b) the NumPy expression ``r = X @ w + b - y; 2 * X.T @ r / n`` alone;

("alone": each timed loop of (a) and (b) starts once no other thread of the process
runs, ``fastgrad._threads.busy_threads() == 0``, waiting at most 0.5 s: OpenBLAS's
workers spin for about 0.1 s after a NumPy call, which would make the loop a pipeline)
(c) the two strictly alternating (each call also timed on its own: fastgrad's speed-up
    over NumPy *inside* the pipeline, where each call follows a call of the other);
(d) ``fit_linear_regression`` (a few epochs) with one NumPy ``X @ w`` between fits.

Medians of the rounds are reported.  Run ``python -m benchmarks.s8_threads --calibrate``
to measure the work per thread at which a second thread starts to pay
(``fastgrad._threads.MIN_WORK_PER_THREAD``).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

from ._common import Case, Context, Row, at_least, at_most, fmt_num

TITLE = "Interleaved pipeline: fastgrad between NumPy calls, float64"
DESCRIPTION = (
    "Each configuration in a fresh interpreter. (a) `mse_gradient` alone, (b) the NumPy "
    "expression `X.T @ (X @ w + b - y)` alone (each timed loop of (a) and (b) starts once "
    "no other thread of the process runs: OpenBLAS's workers spin ~0.1 s after a NumPy "
    "call), (c) the two strictly alternating, (d) "
    "`fit_linear_regression` (5 epochs) with one NumPy `X @ w` between fits; fastgrad "
    "with `workers` = 1, 2 and None (the default). Wall and CPU time per call (per pair "
    "in (c), per fit + product in (d)), medians of interleaved rounds. Targets, with "
    "`workers=None`: (c) ≤ 1.15x ((a) + (b)); (a) and (c) within 10% of the best fixed "
    "count; inside the pipeline, fastgrad's gradient ≥ 1.5x faster than the NumPy "
    "expression (the section-5 target, each call timed right after a NumPy call)."
)

SIZES = ((10_000, 10), (100_000, 10), (100_000, 100), (1_000_000, 20))
WORKERS = (1, 2, None)
#: Settings for pipelines, measured with workers=None: OpenBLAS's workers sleep at once
#: after a call (2**4 cycles of spinning), and with them libgomp's.
BLAS_ENV = {"OPENBLAS_THREAD_TIMEOUT": "4"}
TUNED_ENV = {"OMP_WAIT_POLICY": "PASSIVE", **BLAS_ENV}
#: (label, workers, extra environment) of the configurations, each in a fresh interpreter.
CONFIGS = tuple((str(w), w, {}) for w in WORKERS) + (
    ("None, OPENBLAS_THREAD_TIMEOUT=4", None, BLAS_ENV),
    ("None, tuned env", None, TUNED_ENV))
FIT_EPOCHS = 5

#: The children's wait for an "alone" loop (needs ``fg``, ``time`` and ``pc``).
SETTLE = '''def settle(limit=0.5):
    """Wait (at most ``limit`` s) until no other thread of this process runs."""
    t0 = pc()
    while fg._threads.busy_threads() and pc() - t0 < limit:
        time.sleep(0.01)'''

CHILD = r'''
import json, sys, time
import numpy as np
import fastgrad as fg
import threadpoolctl

cfg = json.loads(sys.argv[1])
n, d, workers, rounds, min_time = (cfg[k] for k in ("n", "d", "workers", "rounds", "min_time"))
rng = np.random.default_rng(0)
X = rng.standard_normal((n, d))
w = rng.standard_normal(d) / np.sqrt(d)
y = X @ w + 0.3 + 0.1 * rng.standard_normal(n)
w = 0.5 * w
b = 0.1
pc, cpu = time.perf_counter, time.process_time

def fast():
    return fg.mse_gradient(X, y, w, b, workers=workers)

def numpy_expr():
    r = X @ w + b - y
    return 2.0 * (X.T @ r) / n, 2.0 * float(r.mean())

split = {"fastgrad": 0.0, "numpy": 0.0}

def pair():
    t0 = pc(); fast(); t1 = pc(); numpy_expr(); t2 = pc()
    split["fastgrad"] += t1 - t0
    split["numpy"] += t2 - t1

SETTLE

def fit_then_product():
    r = fg.fit_linear_regression(X, y, lr=0.01, epochs=cfg["epochs"], workers=workers)
    return X @ r.w

steps = {"a": fast, "b": numpy_expr, "c": pair, "d": fit_then_product}
for f in steps.values():
    f()
number = {}
for k, f in steps.items():
    m = 1
    while True:
        t0 = pc()
        for _ in range(m):
            f()
        if pc() - t0 >= min_time or m >= 10**6:
            break
        m *= 2
    number[k] = m
out = {k: {"wall": [], "cpu": []} for k in steps}
pipe = {"fastgrad": [], "numpy": []}
order = list(steps)
for r in range(rounds):
    for k in order[r % 4:] + order[:r % 4]:
        f, m = steps[k], number[k]
        if k in "ab":
            settle()
        split["fastgrad"] = split["numpy"] = 0.0
        w0, c0 = pc(), cpu()
        for _ in range(m):
            f()
        out[k]["cpu"].append((cpu() - c0) / m)
        out[k]["wall"].append((pc() - w0) / m)
        if k == "c":
            pipe["fastgrad"].append(split["fastgrad"] / m)
            pipe["numpy"].append(split["numpy"] / m)
med = lambda v: float(np.median(v))
res = {k: {"wall": med(v["wall"]), "cpu": med(v["cpu"]),
           "spread": (max(v["wall"]) - min(v["wall"])) / med(v["wall"])} for k, v in out.items()}
res["pipe"] = {k: med(v) for k, v in pipe.items()}
res["pools"] = [{"api": i.get("internal_api"), "lib": i.get("prefix"),
                 "threads": i.get("num_threads"), "version": i.get("version")}
                for i in threadpoolctl.threadpool_info()]
print(json.dumps(res))
'''.replace("SETTLE", SETTLE)


def run_child(n: int, d: int, workers: int | None, rounds: int, min_time: float,
              extra_env: dict | None = None) -> dict:
    """One configuration in a fresh interpreter; its JSON result."""
    cfg = json.dumps({"n": n, "d": d, "workers": workers, "rounds": rounds,
                      "min_time": min_time, "epochs": FIT_EPOCHS})
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "OMP_NUM_THREADS", *TUNED_ENV)}
    env.update(extra_env or {})
    proc = subprocess.run([sys.executable, "-c", CHILD, cfg], capture_output=True, text=True,
                          env=env, cwd=os.path.dirname(root) or "/", timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"child failed: {proc.stderr[-1500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _ms(seconds: float) -> str:
    return fmt_num(seconds * 1e3) + " ms"


def _median_of(results: list[dict]) -> dict:
    """Field by field median of the children's results (the first one's pools)."""
    import numpy as np

    out: dict = {"pools": results[0]["pools"]}
    for key in ("a", "b", "c", "d", "pipe"):
        out[key] = {f: float(np.median([r[key][f] for r in results])) for f in results[0][key]}
    return out


def _case(ctx: Context, n: int, d: int) -> list[Row]:
    rounds = 5 if ctx.quick else 9
    min_time = 0.02 if ctx.quick else 0.1
    children = 1 if ctx.quick else 3     # interpreters per configuration, run in turn
    runs: dict[str, list[dict]] = {label: [] for label, _, _ in CONFIGS}
    for k in range(children):
        for label, wk, env in CONFIGS[k % len(CONFIGS):] + CONFIGS[:k % len(CONFIGS)]:
            runs[label].append(run_child(n, d, wk, rounds, min_time, env))
    res = {label: _median_of(v) for label, v in runs.items()}
    case = f"{n}x{d}"
    rows: list[Row] = []
    for label, wk, env in CONFIGS:
        r = res[label]
        graded = wk is None and not env
        a, b, c, dd = r["a"], r["b"], r["c"], r["d"]
        extra = {"(a) wall / CPU": f"{_ms(a['wall'])} / {_ms(a['cpu'])}",
                 "(b) wall / CPU": f"{_ms(b['wall'])} / {_ms(b['cpu'])}",
                 "(c) wall / CPU": f"{_ms(c['wall'])} / {_ms(c['cpu'])}",
                 "(d) wall / CPU": f"{_ms(dd['wall'])} / {_ms(dd['cpu'])}"}
        row = Row(case, f"(c) pipeline, workers={label}", "(a) + (b)",
                  t_subject=c["wall"], t_baseline=a["wall"] + b["wall"],
                  value=c["wall"] / (a["wall"] + b["wall"]), value_label="(c) / ((a) + (b))",
                  target=at_most(1.15) if graded else None, extra=extra,
                  noise=max(a["spread"], b["spread"], c["spread"]))
        rows.append(row.judge())
        pf, pn = r["pipe"]["fastgrad"], r["pipe"]["numpy"]
        row = Row(case, f"mse_gradient in the pipeline, workers={label}",
                  "NumPy expression in the pipeline", t_subject=pf, t_baseline=pn,
                  value=pn / pf, speedup=pn / pf, target=at_least(1.5) if graded else None,
                  extra={"(a) wall / CPU": f"{_ms(pf)} / —", "(b) wall / CPU": f"{_ms(pn)} / —"})
        rows.append(row.judge())
    for step, what in (("a", "(a) alone"), ("c", "(c) pipeline")):
        best = min(res["1"][step]["wall"], res["2"][step]["wall"])
        t_none = res["None"][step]["wall"]
        rows.append(Row(case, f"{what}, workers=None", "best of workers=1, 2",
                        t_subject=t_none, t_baseline=best, value=t_none / best,
                        value_label="None / best fixed", target=at_most(1.10),
                        extra={"(a) wall / CPU": "—"}).judge())
    pools = "; ".join(f"{p['api']} {p['lib']} {p['version'] or '?'} x{p['threads']}"
                      for p in sorted(res["None"]["pools"],
                                     key=lambda p: (str(p["lib"]), str(p["version"]))))
    ctx.note(f"threadpoolctl in the children: {pools}.")
    ctx.note("`workers=None, OPENBLAS_THREAD_TIMEOUT=4` and `workers=None, tuned env`: the "
             "child runs with that variable, or with " + ", ".join(
                 f"{k}={v}" for k, v in TUNED_ENV.items()) + " (informative rows).")
    return rows


def cases(ctx: Context) -> list[Case]:
    return [Case(f"pipeline {n}x{d}", lambda n=n, d=d: _case(ctx, n, d)) for n, d in SIZES]


# --------------------------------------------------------------------------- calibration
CALIBRATE = r'''
import json, sys, time
import numpy as np
import fastgrad as fg

d, sizes, rounds = json.loads(sys.argv[1])
pc = time.perf_counter

SETTLE

out = {}
for size in sizes:
    n = max(1, size // d)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d)); y = rng.standard_normal(n); w = rng.standard_normal(d)
    calls = max(10, int(2e7 // size))
    ratios = {"alone": [], "pipeline": []}
    for r in range(rounds):
        for mode in ("alone", "pipeline"):
            t = {}
            for wk in ((1, 2) if r % 2 == 0 else (2, 1)):   # interleaved, alternating order
                fg.mse_gradient(X, y, w, workers=wk)
                if mode == "alone":
                    settle()                                # no BLAS worker spinning
                spent = 0.0
                for _ in range(calls):
                    if mode == "pipeline":
                        X.T @ (X @ w - y)                   # NumPy (BLAS) right before
                    t0 = pc()
                    fg.mse_gradient(X, y, w, workers=wk)
                    spent += pc() - t0
                t[wk] = spent / calls
            ratios[mode].append(t[2] / t[1])
    out[size] = {m: [float(np.median(v)), float(np.percentile(v, 75))] for m, v in ratios.items()}
print(json.dumps(out))
'''.replace("SETTLE", SETTLE)


def calibrate(rounds: int = 9, d: int = 20, sizes: list[int] | None = None) -> dict:
    """Median and 75th percentile of time(2 threads) / time(1 thread) of mse_gradient by
    total elements of X, alone (no other thread of the process running) and right after
    a NumPy ``X.T @ (X @ w - y)`` (as in a pipeline), in a fresh interpreter."""
    sizes = sizes or [1 << k for k in range(14, 25)]
    proc = subprocess.run([sys.executable, "-c", CALIBRATE, json.dumps([d, sizes, rounds])],
                          capture_output=True, text=True, check=True, cwd="/")
    return json.loads(proc.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    if "--calibrate" in sys.argv:
        d_arg = [a for a in sys.argv if a.startswith("--d=")]
        for size, modes in calibrate(d=int(d_arg[0][4:]) if d_arg else 20).items():
            print(f"n*d=2**{int(size).bit_length() - 1} (work/thread {int(size) // 2:8d}): "
                  + ", ".join(f"t(2)/t(1) {m}: median {v[0]:.2f}, 75th pct {v[1]:.2f}"
                              for m, v in modes.items()))
