"""Section 5: analytic MSE and logistic gradients against the plain NumPy expression,
and the rate at which fastgrad streams X compared with ``np.sum(X)``.

The public functions are timed, input checks included.  The NumPy baseline is what a
reasonable user writes: ``r = X @ w + b - y; 2 * X.T @ r / n`` (BLAS dgemv twice, with
temporaries).  The streaming rate is X.nbytes divided by the time of one call: the
gradient reads X once, and ``np.sum(X)`` reads the same bytes once.
"""
from __future__ import annotations

from ._common import Case, Context, Row, at_least, fmt_num, max_abs_err, timed_row

TITLE = "Analytic loss gradients: mse_gradient and logistic_gradient, float64"
DESCRIPTION = (
    "`fastgrad.mse_gradient(X, y, w, b)` and `fastgrad.logistic_gradient(X, y, w, b)` "
    "(public functions, input checks included) against the NumPy expression a user "
    "writes (`r = X @ w + b - y; dw = 2 * (X.T @ r) / n; db = 2 * r.mean()`, and "
    "`p = 1 / (1 + np.exp(-(X @ w + b)))` for the logistic loss). Target: ≥ 1.5x faster "
    "at every size. Streaming: GB/s = X.nbytes / time of one call, against `np.sum(X)` "
    "over the same array in the same run; target at 1000000x20: fastgrad's rate ≥ 70% "
    "of np.sum's."
)

SIZES = ((1000, 10), (100_000, 10), (100_000, 100), (1_000_000, 20))
QUICK_SIZES = ((1000, 10), (100_000, 10))
STREAM_TARGET_SIZE = (1_000_000, 20)


def numpy_mse_gradient(X, y, w, b):
    r = X @ w + b - y
    return 2.0 * (X.T @ r) / X.shape[0], 2.0 * float(r.mean())


def numpy_logistic_gradient(X, y, w, b):
    import numpy as np

    p = 1.0 / (1.0 + np.exp(-(X @ w + b)))
    e = p - y
    return (X.T @ e) / X.shape[0], float(e.mean())


def make_data(n: int, d: int, seed: int = 0):
    """Standardised features, a linear target with noise, labels, and a nonzero w."""
    import numpy as np

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w_true = rng.standard_normal(d) / np.sqrt(d)
    y = X @ w_true + 0.3 + 0.1 * rng.standard_normal(n)
    labels = (y + 0.5 * rng.standard_normal(n) > 0.3).astype(np.float64)
    w = 0.5 * w_true
    return X, y, labels, w, 0.1


def _case(ctx: Context, n: int, d: int) -> list[Row]:
    import numpy as np

    import fastgrad as fg

    X, y, labels, w, b = make_data(n, d)
    gb = X.nbytes / 1e9
    case = f"{n}x{d}"
    rows: list[Row] = []
    for kind, fgf, npf, target_y in (("mse", fg.mse_gradient, numpy_mse_gradient, y),
                                     ("logistic", fg.logistic_gradient,
                                      numpy_logistic_gradient, labels)):
        dw_fg, db_fg = fgf(X, target_y, w, b)
        dw_np, db_np = npf(X, target_y, w, b)
        err = max(max_abs_err(dw_fg, dw_np), abs(db_fg - db_np))
        t = ctx.measure({"fastgrad": lambda: fgf(X, target_y, w, b),
                         "numpy": lambda: npf(X, target_y, w, b),
                         "np.sum": lambda: np.sum(X)})
        rate = {k: gb / t[k].median for k in t}
        name = f"{kind}_gradient"
        rows.append(timed_row(f"{case} {kind}", name, "NumPy expression", t["fastgrad"],
                              t["numpy"], target=at_least(1.5),
                              extra={"fastgrad GB/s": fmt_num(rate["fastgrad"]),
                                     "baseline GB/s": fmt_num(rate["numpy"]),
                                     "|Δ| vs NumPy": f"{err:.1e}"}))
        stream_target = at_least(0.70, "≥ 0.70") if (n, d) == STREAM_TARGET_SIZE else None
        row = timed_row(f"{case} {kind}", f"{name} rate", "np.sum(X) rate", t["fastgrad"],
                        t["np.sum"], target=stream_target,
                        extra={"fastgrad GB/s": fmt_num(rate["fastgrad"]),
                               "baseline GB/s": fmt_num(rate["np.sum"]),
                               "|Δ| vs NumPy": "—"})
        row.value_label = "rate / np.sum rate"   # = np.sum time / fastgrad time
        rows.append(row)
    return rows


def cases(ctx: Context) -> list[Case]:
    sizes = QUICK_SIZES if ctx.quick else SIZES
    return [Case(f"loss gradients {n}x{d}", lambda n=n, d=d: _case(ctx, n, d))
            for n, d in sizes]
