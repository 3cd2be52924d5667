"""Section 3: the vectorized evaluation mode against the per-point path.

With ``vectorized=True`` fastgrad hands f all the stencil points at once as a (k, n)
array and f returns (k,) values, so a NumPy-vectorised f is called once instead of 2n
times.  Versions of fastgrad without the keyword raise TypeError: the row then says
"not available".
"""
from __future__ import annotations

from ._common import (
    NA,
    Case,
    Context,
    Row,
    at_least,
    fmt_err,
    max_abs_err,
    rosen_point,
    skipped_row,
    timed_row,
)

TITLE = "Vectorized evaluation: rosen on a (k, n) batch"
DESCRIPTION = (
    "`fastgrad.numerical_gradient(rosen_rows, x, vectorized=True)`, where `rosen_rows` "
    "takes a (k, n) array and returns the k values, against the per-point path "
    "`numerical_gradient(rosen, x)` (2n calls of the Python rosen). Target: ≥ 10x faster "
    "at n = 100. The info row times one call of `rosen_rows` on all 2n stencil points, "
    "the floor for any vectorized implementation."
)

N = 100


def rosen_rows(X):
    """Rosenbrock function of every row of X, shape (k, n) -> (k,)."""
    import numpy as np

    X = np.asarray(X)
    a = X[..., 1:] - X[..., :-1] ** 2
    return np.sum(100.0 * a * a + (1.0 - X[..., :-1]) ** 2, axis=-1)


def _case(ctx: Context) -> list[Row]:
    import numpy as np
    from scipy.optimize import rosen, rosen_der

    import fastgrad as fg

    case = f"n={N}"
    x = rosen_point(N)
    exact = rosen_der(x)
    target = at_least(10.0)
    try:
        g_vec = fg.numerical_gradient(rosen_rows, x, vectorized=True)
    except TypeError as exc:
        ctx.note(f"`numerical_gradient(..., vectorized=True)` is not available in this "
                 f"fastgrad ({exc}); the target cannot be checked yet.")
        rows = [skipped_row(case, "numerical_gradient(vectorized=True)",
                            "per-point numerical_gradient", "keyword not available",
                            target, status=NA)]
        batch = None
    else:
        rows = []
        batch = g_vec
    # The floor: one call of rosen_rows on the 2n stencil points.
    h = np.finfo(float).eps ** (1 / 3) * np.maximum(1.0, np.abs(x))
    pts = np.repeat(x[None, :], 2 * N, axis=0)
    pts[np.arange(N), np.arange(N)] += h
    pts[N + np.arange(N), np.arange(N)] -= h
    funcs = {"per-point": lambda: fg.numerical_gradient(rosen, x),
             "one batch call": lambda: rosen_rows(pts)}
    if batch is not None:
        funcs["vectorized"] = lambda: fg.numerical_gradient(rosen_rows, x, vectorized=True)
    t = ctx.measure(funcs)
    err_pp = max_abs_err(fg.numerical_gradient(rosen, x), exact)
    if batch is not None:
        rows.append(timed_row(case, "numerical_gradient(vectorized=True)",
                              "per-point numerical_gradient", t["vectorized"], t["per-point"],
                              target=target,
                              extra={"fastgrad err": fmt_err(max_abs_err(batch, exact)),
                                     "baseline err": fmt_err(err_pp)}))
    rows.append(timed_row(case, f"one call of rosen_rows on ({2 * N}, {N})",
                          "per-point numerical_gradient", t["one batch call"], t["per-point"],
                          note="floor for the vectorized mode (no target)",
                          extra={"fastgrad err": "—", "baseline err": fmt_err(err_pp)}))
    return rows


def cases(ctx: Context) -> list[Case]:
    return [Case(f"vectorized rosen n={N}", lambda: _case(ctx))]
