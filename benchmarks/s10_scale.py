"""Section 10: data at scale, Dask arrays and memory-mapped X.

Each part runs in a fresh interpreter (``CHILD_DASK``, ``CHILD_MEMMAP``), so that a
cluster, the page cache of a file and the resident set of earlier sections do not mix:

- Dask: a ``LocalCluster(n_workers=2, threads_per_worker=1)``; X (4000000x20 float64,
  640 MB, in 8 row chunks) is generated on the workers and persisted there, y too.  Time
  per epoch of ``fit_linear_regression`` on the dask arrays, against the hand-written
  ``dask.array`` loop (``r = X @ w + b - y``; ``X.T @ r`` and ``r.sum()``, one
  ``da.compute`` per epoch), against dask-glm's ``gradient_descent`` (Normal family,
  where dask-glm is installed and runs), and against fastgrad in memory on the same data
  (gathered to the client once): the ratio is the scheduler's cost per epoch.
  Rounds of the competitors are interleaved; medians of the rounds are reported.
- memmap: a float64 file of 2 GB (13421773x20), read-only; a 5-epoch fit on it, time per
  epoch and the growth of the process's anonymous memory (``RssAnon``, sampled at every
  epoch from the callback) as % of X, beside the same fit on X in RAM.  The file was
  just written, so its pages are in the page cache: this is the page-cache speed, the
  README says what to expect from disk.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile

from ._common import (
    FAIL,
    Case,
    Context,
    Row,
    at_least,
    at_most,
    fmt_num,
    mark_out_of_reach,
    skipped_row,
)

TITLE = "Data at scale: Dask arrays and memory-mapped X, float64"
DESCRIPTION = (
    "Dask: `LocalCluster(n_workers=2, threads_per_worker=1)`, X 4000000x20 float64 "
    "(640 MB) in 8 row chunks generated and persisted on the workers; time per epoch of "
    "`fit_linear_regression` on the dask arrays against the hand-written `dask.array` "
    "loop (`X.T @ (X @ w + b - y)`, `da.compute` once per epoch; target ≥ 5x faster), "
    "against dask-glm's `gradient_descent` (where it installs and runs; time per "
    "iteration) and against fastgrad in memory on the same data (the ratio is the "
    "scheduler's cost per epoch). memmap: a 5-epoch fit on a read-only float64 memmap of "
    "2 GB (page cache warm): time per epoch beside the same fit in RAM, and the growth of "
    "anonymous memory (`RssAnon`) during the fit (target ≤ 1% of X)."
)

DASK_SIZE, DASK_CHUNKS, DASK_EPOCHS, DASK_ROUNDS, GLM_ITERS = (4_000_000, 20), 8, 10, 3, 3
QUICK_DASK_SIZE, QUICK_DASK_EPOCHS, QUICK_DASK_ROUNDS, QUICK_GLM_ITERS = (200_000, 20), 5, 1, 1
MEMMAP_SIZE, QUICK_MEMMAP_SIZE, MEMMAP_EPOCHS = (13_421_773, 20), (500_000, 20), 5

CHILD_DASK = r'''
import json, statistics, sys, time
import numpy as np
import dask, dask.array as da
from dask.distributed import Client, LocalCluster
import fastgrad as fg

cfg = json.loads(sys.argv[1])
n, d, nchunks, epochs, rounds, glm_iters = (
    cfg[k] for k in ("n", "d", "chunks", "epochs", "rounds", "glm_iters"))
out = {}
if __name__ == "__main__":
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    client = Client(cluster)
    rs = da.random.RandomState(0)
    X = rs.standard_normal((n, d), chunks=(-(-n // nchunks), d))
    y = X @ np.linspace(-1.0, 1.0, d) + 0.5 + 0.1 * rs.standard_normal(n, chunks=X.chunks[0])
    X, y = dask.persist(X, y)
    dask.distributed.wait([X, y])
    lr = 0.1

    def fastgrad_dask():
        fg.fit_linear_regression(X, y, lr=lr, epochs=epochs)

    def hand_loop():
        w = np.zeros(d); b = 0.0
        for _ in range(epochs):
            r = X @ w + b - y
            gw, gb = da.compute(X.T @ r * (2.0 / n), r.sum() * (2.0 / n))
            w = w - lr * gw; b = b - lr * gb

    runs = {"fastgrad_dask": fastgrad_dask, "hand_loop": hand_loop}
    try:
        from dask_glm.algorithms import gradient_descent
        from dask_glm.families import Normal

        def dask_glm():
            gradient_descent(X, y, max_iter=glm_iters, tol=0.0, family=Normal)
        runs["dask_glm"] = dask_glm
    except Exception as exc:
        out["dask_glm_missing"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]

    # the same data in the client's memory, for fastgrad's in-memory fit
    Xm, ym = X.compute(), y.compute()
    runs["fastgrad_memory"] = lambda: fg.fit_linear_regression(Xm, ym, lr=lr, epochs=epochs)

    per = {k: glm_iters if k == "dask_glm" else epochs for k in runs}
    times = {k: [] for k in runs}
    for k, f in runs.items():
        if k != "dask_glm":                               # warm-up (imports, pools)
            f()
    for _ in range(rounds):
        for k, f in runs.items():
            t = time.perf_counter(); f(); times[k].append((time.perf_counter() - t) / per[k])
    out["per_epoch"] = {k: statistics.median(v) for k, v in times.items()}
    out["spread"] = {k: (max(v) - min(v)) / statistics.median(v) for k, v in times.items()}
    # tasks the scheduler runs per epoch (per iteration), from its task stream
    from dask.distributed import get_task_stream
    tasks = {}
    for k, f in runs.items():
        if k != "fastgrad_memory":
            with get_task_stream(client) as ts:
                f()
            tasks[k] = len(ts.data) / per[k]
    out["tasks_per_epoch"] = tasks
    out.update(n=n, d=d, chunks=nchunks, epochs=epochs, x_bytes=int(n * d * 8),
               workers=len(client.scheduler_info()["workers"]))
    client.close(); cluster.close()
    print(json.dumps(out))
'''

CHILD_MEMMAP = r'''
import json, os, sys, tempfile, time
import numpy as np
import fastgrad as fg

def rss_anon():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    return -1

n, d, epochs = (int(a) for a in sys.argv[1:4])
folder = tempfile.mkdtemp(prefix="fastgrad-s10-")
path = os.path.join(folder, "X.dat")
try:
    rng = np.random.default_rng(0)
    w_true = np.linspace(-1.0, 1.0, d)
    mm = np.memmap(path, dtype=np.float64, mode="w+", shape=(n, d))
    y = np.empty(n)
    step = 200_000
    for r0 in range(0, n, step):
        blk = rng.standard_normal((min(step, n - r0), d))
        mm[r0:r0 + blk.shape[0]] = blk
        y[r0:r0 + blk.shape[0]] = blk @ w_true + 0.5
    mm.flush(); del mm, blk
    X = np.memmap(path, dtype=np.float64, mode="r", shape=(n, d))
    kw = dict(lr=0.1, epochs=epochs)
    fg.fit_linear_regression(X[:20_000], y[:20_000], **kw)          # warm-up
    samples = []
    before = rss_anon()
    t = time.perf_counter()
    fit_mm = fg.fit_linear_regression(X, y, callback=lambda *a: samples.append(rss_anon()), **kw)
    t_mm = (time.perf_counter() - t) / epochs
    growth = max(samples) - before
    Xr = np.empty((n, d))
    for r0 in range(0, n, step):
        Xr[r0:r0 + step] = X[r0:r0 + step]
    t = time.perf_counter()
    fit_ram = fg.fit_linear_regression(Xr, y, **kw)
    t_ram = (time.perf_counter() - t) / epochs
    same = bool(np.array_equal(fit_mm.w, fit_ram.w) and fit_mm.b == fit_ram.b)
    print(json.dumps({"n": n, "d": d, "x_bytes": int(X.nbytes), "t_memmap": t_mm,
                      "t_ram": t_ram, "anon_growth": int(growth), "bitwise_equal": same}))
finally:
    try:
        os.remove(path)
    finally:
        os.rmdir(folder)
'''


def _run(args: list[str], timeout: int) -> tuple[dict | None, str]:
    """A child ``python -c`` run from the temporary folder: from the checkout's root, its
    uncompiled ``fastgrad/`` source folder would be imported instead of the installed
    package."""
    proc = subprocess.run([sys.executable, "-c", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=tempfile.gettempdir())
    if proc.returncode != 0:
        return None, (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return json.loads(proc.stdout.strip().splitlines()[-1]), ""


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def _dask_case(ctx: Context) -> list[Row]:
    (n, d), epochs, rounds, glm_iters = (
        (QUICK_DASK_SIZE, QUICK_DASK_EPOCHS, QUICK_DASK_ROUNDS, QUICK_GLM_ITERS) if ctx.quick
        else (DASK_SIZE, DASK_EPOCHS, DASK_ROUNDS, GLM_ITERS))
    case = f"dask {n}x{d}, {DASK_CHUNKS} chunks"
    target = at_least(5.0, "≥ 5x faster")
    cfg = json.dumps({"n": n, "d": d, "chunks": DASK_CHUNKS, "epochs": epochs,
                      "rounds": rounds, "glm_iters": glm_iters})
    res, why = _run([CHILD_DASK, cfg], timeout=1800)
    if res is None:
        ctx.note(f"The Dask measurement failed: {why}")
        row = skipped_row(case, "fit_linear_regression (dask)", "dask.array loop", why, target)
        row.status = FAIL
        return [row]
    t = res["per_epoch"]
    spread = res["spread"]
    fast = t["fastgrad_dask"]

    def row(baseline_key: str, label: str, tgt=None, note: str = "") -> Row:
        tb = t[baseline_key]
        r = Row(case, "fit_linear_regression (dask), per epoch", label, t_subject=fast,
                t_baseline=tb, value=tb / fast, speedup=tb / fast, target=tgt, note=note,
                noise=max(spread["fastgrad_dask"], spread[baseline_key]),
                extra={"fastgrad": _ms(fast), "baseline": _ms(tb)})
        r.chart_target = tgt.value if tgt is not None else None
        return r.judge()

    tasks = res["tasks_per_epoch"]
    mem = t["fastgrad_memory"]
    # the ceiling: no scheduler can make an epoch on the workers faster than fastgrad's
    # in-memory epoch on this machine (the same one pass over X, no round trip)
    ceiling = Row(case, "fastgrad in memory", "dask.array loop", value=t["hand_loop"] / mem)
    rows = [mark_out_of_reach(
        row("hand_loop", "dask.array loop, per epoch", target,
            note=f"tasks per epoch: {tasks['fastgrad_dask']:.0f} vs {tasks['hand_loop']:.0f}"),
        ceiling, "fastgrad's in-memory epochs (one pass over X at this machine's memory "
                 "bandwidth, no scheduler)")]
    if "dask_glm" in t:
        rows.append(row("dask_glm", "dask-glm gradient_descent, per iteration",
                        note=f"Normal family, backtracking line search; tasks per "
                             f"iteration: {tasks['dask_glm']:.0f}"))
    else:
        ctx.note(f"dask-glm is not available ({res.get('dask_glm_missing', 'not installed')}): "
                 "its comparison is skipped (`pip install dask-glm`).")
    rows.append(Row(case, "fit_linear_regression (dask), per epoch",
                    "fastgrad in memory, per epoch", t_subject=fast, t_baseline=mem,
                    value=fast / mem, value_label="fastgrad / baseline",
                    extra={"dask": _ms(fast), "in memory": _ms(mem),
                           "scheduler cost per epoch": _ms(fast - mem)}).judge())
    ctx.note(f"Dask: {res['workers']} worker processes, {epochs} epochs per timed fit "
             f"({glm_iters} iterations of dask-glm), "
             f"median of {rounds} interleaved rounds; X = {res['x_bytes'] / 1e6:.0f} MB "
             "persisted on the workers before timing. Per epoch: fastgrad "
             f"{_ms(fast)}, dask.array loop {_ms(t['hand_loop'])}"
             + (f", dask-glm {_ms(t['dask_glm'])}" if "dask_glm" in t else "")
             + f", fastgrad in memory {_ms(mem)} (ratio {fmt_num(fast / mem)}).")
    return rows


def _memmap_case(ctx: Context) -> list[Row]:
    n, d = QUICK_MEMMAP_SIZE if ctx.quick else MEMMAP_SIZE
    case = f"memmap {n}x{d} ({n * d * 8 / 1e9:.2f} GB)"
    target = at_most(1.0, "≤ 1%")
    res, why = _run([CHILD_MEMMAP, str(n), str(d), str(MEMMAP_EPOCHS)], timeout=1800)
    if res is None:
        ctx.note(f"The memmap measurement failed: {why}")
        row = skipped_row(case, "fit on a memmap", "X's size", why, target)
        row.status = FAIL
        return [row]
    xb = res["x_bytes"]
    rows = [
        Row(case, "fit_linear_regression on a read-only memmap", "RssAnon growth",
            value=100.0 * res["anon_growth"] / xb, value_label="% of X", target=target,
            extra={"growth": f"{res['anon_growth'] / 1e6:.2f} MB",
                   "X": f"{xb / 1e9:.2f} GB"}).judge(),
        Row(case, "fit_linear_regression on a memmap, per epoch", "the same fit in RAM",
            t_subject=res["t_memmap"], t_baseline=res["t_ram"],
            value=res["t_memmap"] / res["t_ram"], value_label="fastgrad / baseline",
            extra={"memmap": _ms(res["t_memmap"]), "RAM": _ms(res["t_ram"]),
                   "bitwise equal": str(res["bitwise_equal"])}).judge(),
    ]
    ctx.note(f"memmap: {MEMMAP_EPOCHS}-epoch fit, page cache warm (the file was just "
             f"written); per epoch {_ms(res['t_memmap'])} on the memmap, {_ms(res['t_ram'])} "
             f"in RAM; results bitwise equal: {res['bitwise_equal']}.")
    return rows


def cases(ctx: Context) -> list[Case]:
    return [Case("Dask arrays on a LocalCluster", lambda: _dask_case(ctx)),
            Case("memory-mapped X", lambda: _memmap_case(ctx))]
