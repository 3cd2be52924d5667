"""Section 2: gradient of a native objective (rosen compiled by numba as a C function).

fastgrad receives ``scipy.LowLevelCallable(cfunc.ctypes)`` for a numba
``@cfunc("float64(intc, CPointer(float64))")`` rosen and calls it from its kernel
without the GIL.  Baselines: a hand-written numba ``@njit`` central-difference loop
over the same rosen (same steps, same division by the representable step; numba may
inline f into the loop, fastgrad calls it through a pointer), and scipy's
``approx_derivative`` on the Python rosen at n = 10.
"""
from __future__ import annotations

from ._common import (
    Case,
    Context,
    Row,
    at_least,
    at_most,
    fmt_err,
    max_abs_err,
    rosen_point,
    skipped_row,
    timed_row,
)

TITLE = "Native callable: rosen as a numba cfunc through LowLevelCallable"
DESCRIPTION = (
    "`fastgrad.numerical_gradient(LowLevelCallable(rosen_cfunc.ctypes), x)` with a numba "
    "`@cfunc(\"float64(intc, CPointer(float64))\")` rosen, against a hand-written numba "
    "`@njit` central-difference loop over an `@njit` rosen with the same code (called "
    "from Python, so both include one call from the interpreter), and against "
    "`approx_derivative(rosen, x, method=\"3-point\")` on the Python rosen. Targets: "
    "fastgrad / numba loop ≤ 3 at n = 10 (fixed cost of one call dominates), ≤ 1.3 at "
    "n = 100 and 1000; ≥ 100x faster than scipy at n = 10."
)

NS = (10, 100, 1000)
_BUILT: dict = {}


def _build(numba):
    """Compile the cfunc, the @njit rosen and the @njit central-difference loop once."""
    if _BUILT:
        return _BUILT
    import numpy as np
    from numba import cfunc, njit, types
    from scipy import LowLevelCallable

    @cfunc(types.float64(types.intc, types.CPointer(types.float64)))
    def rosen_cfunc(n, x):
        s = 0.0
        for i in range(n - 1):
            a = x[i + 1] - x[i] * x[i]
            b = 1.0 - x[i]
            s += 100.0 * a * a + b * b
        return s

    @njit(cache=False)
    def rosen_nb(x):
        s = 0.0
        for i in range(x.shape[0] - 1):
            a = x[i + 1] - x[i] * x[i]
            b = 1.0 - x[i]
            s += 100.0 * a * a + b * b
        return s

    @njit(cache=False)
    def central_gradient_nb(x0):
        x = x0.copy()
        n = x.shape[0]
        g = np.empty(n)
        c = np.finfo(np.float64).eps ** (1.0 / 3.0)
        for i in range(n):
            xi = x[i]
            h = c * max(1.0, abs(xi))
            xp = xi + h
            xm = xi - h
            x[i] = xp
            fp = rosen_nb(x)
            x[i] = xm
            fm = rosen_nb(x)
            x[i] = xi
            g[i] = (fp - fm) / (xp - xm)
        return g

    _BUILT.update(llc=LowLevelCallable(rosen_cfunc.ctypes), cfunc=rosen_cfunc,
                  grad_nb=central_gradient_nb)
    return _BUILT


def _case(ctx: Context, n: int) -> list[Row]:
    case = f"n={n}"
    numba = ctx.optional("numba")
    target = at_most(3.0) if n == 10 else at_most(1.3)
    if numba is None:
        why = ctx.missing_note("numba")
        rows = [skipped_row(case, "numerical_gradient (cfunc)", "numba @njit loop", why, target)]
        if n == 10:
            rows.append(skipped_row(case, "numerical_gradient (cfunc)",
                                    "scipy approx_derivative (Python rosen)", why,
                                    at_least(100.0)))
        return rows
    from scipy.optimize import rosen, rosen_der

    import fastgrad as fg

    b = _build(numba)
    llc, grad_nb = b["llc"], b["grad_nb"]
    x = rosen_point(n)
    exact = rosen_der(x)
    g_fg = fg.numerical_gradient(llc, x)
    err_fg, err_nb = max_abs_err(g_fg, exact), max_abs_err(grad_nb(x), exact)
    funcs = {"fastgrad": lambda: fg.numerical_gradient(llc, x), "numba": lambda: grad_nb(x)}
    approx_derivative = None
    if n == 10:
        try:
            from scipy.optimize._numdiff import approx_derivative
        except ImportError:
            ctx.note("`scipy.optimize._numdiff.approx_derivative` could not be imported.")
        if approx_derivative is not None:
            funcs["scipy"] = lambda: approx_derivative(rosen, x, method="3-point")
    t = ctx.measure(funcs)
    rows = [timed_row(case, "numerical_gradient (cfunc)", "numba @njit central-difference loop",
                      t["fastgrad"], t["numba"], form="ratio", target=target,
                      extra={"fastgrad err": fmt_err(err_fg), "baseline err": fmt_err(err_nb)})]
    if n == 10:
        err_sp = (max_abs_err(approx_derivative(rosen, x, method="3-point"), exact)
                  if approx_derivative else None)
        rows.append(timed_row(case, "numerical_gradient (cfunc)",
                              "scipy approx_derivative (Python rosen)", t["fastgrad"],
                              t.get("scipy"), target=at_least(100.0),
                              extra={"fastgrad err": fmt_err(err_fg),
                                     "baseline err": fmt_err(err_sp)}))
    return rows


def cases(ctx: Context) -> list[Case]:
    return [Case(f"cfunc rosen n={n}", lambda n=n: _case(ctx, n)) for n in NS]
