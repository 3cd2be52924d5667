"""Section 11: sparse and accurate derivatives.

- Hessian of the chained Rosenbrock function (tridiagonal) with ``sparsity=``: from a
  Python f (the cross stencil on the pattern, 1 + 2n + 2(n - 1) calls), from a Python
  grad (star colouring, 6 calls of grad), from a native f (numba cfunc, no GIL), beside
  the bare cost of the same calls, the dense native Hessian and the estimated cost of the
  2n² + 1 calls a dense Hessian from the Python f would make.
- Jacobian of a banded F: R^n -> R^n at n = 10000 with ``sparsity=`` against
  ``scipy.optimize.approx_derivative(F, x, sparsity=S, method="3-point")``.
- ``hessian(rosen, x, h="adaptive")`` against ``numdifftools.Hessian(rosen)(x)`` at n = 20.
"""
from __future__ import annotations

import time

from ._common import (
    Case,
    Context,
    Row,
    at_least,
    at_most,
    fmt_err,
    mark_out_of_reach,
    rosen_point,
    skipped_row,
    timed_row,
)
from .s1_python import bare_loop, count_calls

TITLE = "Sparse and accurate: sparse Hessians and Jacobians, adaptive Hessian"
DESCRIPTION = (
    "Chained Rosenbrock Hessian (tridiagonal) with `hessian(..., sparsity=S)`: from the "
    "Python `rosen` (1 + 2n + 2(n - 1) calls; target ≤ 1.2x the bare cost of those calls), "
    "from the Python `rosen_der` (star colouring: 6 calls), from a numba cfunc rosen "
    "(target at n = 1000: ≥ 100x faster than the dense native `hessian`, 2n² + 1 calls). "
    "The dense Hessian from the Python f is not run: its cost is estimated as 2n² + 1 bare "
    "calls (from the measured time of one call). Banded Jacobian at n = 10000: "
    "`jacobian(F, x, sparsity=S)` against `approx_derivative(F, x, sparsity=S, "
    "method=\"3-point\")` (target ≥ 1.5x faster, no more calls). Adaptive Hessian of rosen "
    "at n = 20 against `numdifftools.Hessian` (target ≥ 10x faster, relative error ≤ 1e-10)."
)

SIZES = (1000, 10000)
QUICK_SIZES = (1000,)
JAC_N, QUICK_JAC_N = 10000, 2000


def _rosen_cfunc(numba):
    from numba import carray, cfunc, types

    @cfunc(types.float64(types.intc, types.CPointer(types.float64)))
    def rosen_cfunc(n, xp):
        x = carray(xp, (n,))
        s = 0.0
        for i in range(n - 1):
            a = x[i + 1] - x[i] * x[i]
            b = 1.0 - x[i]
            s += 100.0 * a * a + b * b
        return s

    return rosen_cfunc


def _tridiagonal(n: int):
    import numpy as np
    import scipy.sparse as sp

    return sp.diags_array([np.ones(n - 1), np.ones(n), np.ones(n - 1)], offsets=[-1, 0, 1],
                          format="csr", dtype=bool)


def _rel(H, exact) -> float:
    import numpy as np

    d = (H - exact).toarray() if hasattr(H, "toarray") else H - exact
    e = exact.toarray() if hasattr(exact, "toarray") else exact
    return float(np.max(np.abs(d)) / np.max(np.abs(e)))


def _hessian_case(ctx: Context, n: int) -> list[Row]:
    import scipy.sparse as sp
    from scipy.optimize import rosen, rosen_der

    import fastgrad as fg

    case = f"rosen n={n}"
    x = rosen_point(n)
    S = _tridiagonal(n)
    exact = sp.csr_array(_exact_rosen_hess(x))
    calls_f = count_calls(lambda f: fg.hessian(f, x, sparsity=S), rosen)
    calls_g = count_calls(lambda g: fg.hessian(rosen, x, grad=g, sparsity=S), rosen_der)
    err_f = _rel(fg.hessian(rosen, x, sparsity=S), exact)
    err_g = _rel(fg.hessian(rosen, x, grad=rosen_der, sparsity=S), exact)
    funcs = {
        "sparse f": lambda: fg.hessian(rosen, x, sparsity=S),
        "floor f": lambda: bare_loop(rosen, x, calls_f),
        "sparse grad": lambda: fg.hessian(rosen, x, grad=rosen_der, sparsity=S),
        "floor grad": lambda: bare_loop(rosen_der, x, calls_g),
    }
    t = ctx.measure(funcs)
    rows = [
        timed_row(case, "hessian(rosen, sparsity=S)", f"floor: {calls_f} bare calls of rosen",
                  t["sparse f"], t["floor f"], form="ratio", target=at_most(1.2),
                  extra={"calls": calls_f, "rel err": fmt_err(err_f)}),
        timed_row(case, "hessian(rosen, grad=rosen_der, sparsity=S)",
                  f"floor: {calls_g} bare calls of rosen_der", t["sparse grad"],
                  t["floor grad"], form="ratio", note="star colouring (no target)",
                  extra={"calls": calls_g, "rel err": fmt_err(err_g)}),
    ]
    one = t["floor f"].median / calls_f
    dense_calls = 2 * n * n + 1
    rows.append(Row(case, "dense hessian(rosen) (estimated, not run)",
                    f"{dense_calls} calls x {one * 1e6:.1f} µs", t_subject=one * dense_calls,
                    note=f"estimated {one * dense_calls:.3g} s against "
                         f"{t['sparse f'].median:.3g} s sparse",
                    extra={"calls": dense_calls}).judge())
    numba = ctx.optional("numba")
    if numba is None:
        rows.append(skipped_row(case, "hessian(cfunc, sparsity=S)", "dense hessian(cfunc)",
                                ctx.missing_note("numba"), at_least(100.0)))
        return rows
    from scipy import LowLevelCallable

    llc = LowLevelCallable(_rosen_cfunc(numba).ctypes)
    err_n = _rel(fg.hessian(llc, x, sparsity=S), exact)
    if n == SIZES[0]:   # the dense native Hessian only at the first size: at n = 10000
        # it makes 2 * 10**8 calls of an O(n) f, hours of work (its cost is estimated above)
        nd_dense = n if not ctx.quick else 300
        xd = rosen_point(nd_dense)
        Sd = _tridiagonal(nd_dense)
        tn = ctx.measure({"sparse native": lambda: fg.hessian(llc, xd, sparsity=Sd),
                          "dense native": lambda: fg.hessian(llc, xd)})
        rows.append(timed_row(f"rosen n={nd_dense}", "hessian(cfunc, sparsity=S)",
                              "dense hessian(cfunc)", tn["sparse native"], tn["dense native"],
                              target=at_least(100.0),
                              note="" if nd_dense == n else "quick run: smaller n",
                              extra={"calls": 1 + 2 * nd_dense + 2 * (nd_dense - 1)}))
    tf = ctx.measure({"sparse native": lambda: fg.hessian(llc, x, sparsity=S),
                      "sparse f": lambda: fg.hessian(rosen, x, sparsity=S)})
    rows.append(timed_row(case, "hessian(cfunc, sparsity=S)", "hessian(rosen, sparsity=S)",
                          tf["sparse native"], tf["sparse f"],
                          note="native against Python f (no target)",
                          extra={"calls": calls_f, "rel err": fmt_err(err_n)}))
    return rows


def _exact_rosen_hess(x):
    import numpy as np
    import scipy.sparse as sp

    d = np.zeros(x.shape[0])
    d[:-1] += 1200 * x[:-1] ** 2 - 400 * x[1:] + 2
    d[1:] += 200
    off = -400 * x[:-1]
    return sp.diags_array([off, d, off], offsets=[-1, 0, 1], format="csr")


def banded_F(v):
    import numpy as np

    left = np.concatenate([[0.0], v[:-1]])
    right = np.concatenate([v[1:], [0.0]])
    return v ** 3 - 2 * left + np.sin(right) * v


def _jacobian_case(ctx: Context) -> list[Row]:
    from scipy.optimize._numdiff import approx_derivative

    import fastgrad as fg

    n = QUICK_JAC_N if ctx.quick else JAC_N
    case = f"banded F n={n}"
    x = rosen_point(n)
    S = _tridiagonal(n)
    calls_fg = count_calls(lambda f: fg.jacobian(f, x, sparsity=S), banded_F)
    calls_sc = count_calls(lambda f: approx_derivative(f, x, sparsity=S, method="3-point"),
                           banded_F)
    a = fg.jacobian(banded_F, x, sparsity=S)
    b = approx_derivative(banded_F, x, sparsity=S, method="3-point")
    t = ctx.measure({"fastgrad": lambda: fg.jacobian(banded_F, x, sparsity=S),
                     "scipy": lambda: approx_derivative(banded_F, x, sparsity=S,
                                                        method="3-point")})
    return [timed_row(case, "jacobian(F, sparsity=S)",
                      "approx_derivative(F, sparsity=S, method='3-point')", t["fastgrad"],
                      t["scipy"], target=at_least(1.5),
                      note="" if calls_fg <= calls_sc else "MORE calls than scipy",
                      extra={"calls": f"{calls_fg} vs {calls_sc}",
                             "max diff": fmt_err(float(abs(a - b).max()))})]


def _adaptive_case(ctx: Context) -> list[Row]:
    from scipy.optimize import rosen, rosen_hess

    import fastgrad as fg

    n = 20
    case = f"rosen n={n}"
    x = rosen_point(n)
    exact = rosen_hess(x)
    err_fg = _rel(fg.hessian(rosen, x, h="adaptive"), exact)
    nd = ctx.optional("numdifftools")
    if nd is None:
        return [skipped_row(case, "hessian(h='adaptive')", "numdifftools.Hessian",
                            ctx.missing_note("numdifftools"), at_least(10.0))]
    err_nd = _rel(nd.Hessian(rosen)(x), exact)
    t = ctx.measure({"fastgrad": lambda: fg.hessian(rosen, x, h="adaptive"),
                     "numdifftools": lambda: nd.Hessian(rosen)(x)})
    row = timed_row(case, "hessian(rosen, h='adaptive')", "numdifftools.Hessian(rosen)",
                    t["fastgrad"], t["numdifftools"], target=at_least(10.0),
                    note="" if err_fg <= 1e-10 else "relative error above 1e-10",
                    extra={"fastgrad err": fmt_err(err_fg), "baseline err": fmt_err(err_nd),
                           "calls": count_calls(lambda f: fg.hessian(f, x, h="adaptive"),
                                                rosen)})
    calls = row.extra["calls"]
    start = time.perf_counter()
    bare_loop(rosen, x, calls)
    floor = Row(case, f"floor: {calls} bare calls of rosen", "numdifftools.Hessian(rosen)",
                t_subject=time.perf_counter() - start, t_baseline=t["numdifftools"].median)
    floor.value = floor.t_baseline / floor.t_subject
    floor.speedup = floor.value
    floor.note = "best speed-up reachable doing the same calls"
    floor.judge()
    mark_out_of_reach(row, floor, f"the {calls} bare calls of rosen")
    return [row, floor]


def cases(ctx: Context) -> list[Case]:
    sizes = QUICK_SIZES if ctx.quick else SIZES
    out = [Case(f"sparse hessian rosen n={n}", lambda n=n: _hessian_case(ctx, n))
           for n in sizes]
    out.append(Case("sparse jacobian banded", lambda: _jacobian_case(ctx)))
    out.append(Case("adaptive hessian rosen n=20", lambda: _adaptive_case(ctx)))
    return out
