"""Section 7: extra memory of a fit at 1000000x20 float64, as a share of X's size.

Measured in a fresh interpreter per fit (``benchmarks/_memory_child.py``) so that the
resident-set high-water mark starts at the data; see that module for the method.
The NumPy loop of the same algorithm is measured beside it for scale (no target).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

from ._common import FAIL, Case, Context, Row, at_most, skipped_row

TITLE = "Memory: peak extra memory of a fit, float64"
DESCRIPTION = (
    "`fit_linear_regression(X, y, lr=0.1, epochs=50, max_norm=10)` at 1000000x20 float64 "
    "(X = 160 MB), in a fresh interpreter (one per fit) after a warm-up fit: peak of the "
    "memory traced by "
    "`tracemalloc` during the fit (NumPy reports its buffers to tracemalloc, so any copy "
    "of X shows up) and growth of the process's `ru_maxrss` over the fit, each as % of "
    "X.nbytes. Target: ≤ 5% (no copy of X). Memory does not depend on the number of "
    "epochs beyond 8 bytes per epoch of loss history, hence 50. The NumPy loop is shown "
    "for scale."
)

SIZE, EPOCHS = (1_000_000, 20), 50
QUICK_SIZE, QUICK_EPOCHS = (200_000, 20), 20


def _case(ctx: Context) -> list[Row]:
    (n, d), epochs = (QUICK_SIZE, QUICK_EPOCHS) if ctx.quick else (SIZE, EPOCHS)
    case = f"{n}x{d}"
    target = at_most(5.0, "≤ 5%")
    child = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_memory_child.py")
    rows = []
    for who, label, tgt in (("fastgrad", "fit_linear_regression", target),
                            ("numpy", "NumPy loop (for scale)", None)):
        proc = subprocess.run([sys.executable, child, who, str(n), str(d), str(epochs)],
                              capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            ctx.note(f"The memory measurement of {label} failed: {tail}")
            row = skipped_row(case, label, "tracemalloc peak", tail, tgt)
            row.status = FAIL if tgt else row.status
            rows.append(row)
            continue
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        xb = res["x_bytes"]
        for key, what in (("traced_peak", "tracemalloc peak"), ("rss_growth", "ru_maxrss growth")):
            b = res[key]
            row = Row(case, label, what, value=100.0 * b / xb, value_label="% of X",
                      target=tgt, extra={"bytes": f"{b / 1e6:.2f} MB",
                                         "X": f"{xb / 1e6:.0f} MB"})
            rows.append(row.judge())
    return rows


def cases(ctx: Context) -> list[Case]:
    return [Case("memory of a fit", lambda: _case(ctx))]
