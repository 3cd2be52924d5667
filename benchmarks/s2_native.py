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
    mark_out_of_reach,
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
    "n = 100 and 1000; ≥ 100x faster than scipy at n = 10. numba inlines the @njit rosen "
    "into its loop; the info rows time the same numba loop calling the cfunc through its "
    "address, which is what any caller of a function pointer (fastgrad included) can do."
)

NS = (10, 100, 1000)
_BUILT: dict = {}


def _build(numba):
    """Compile the cfunc, the @njit rosen and the two @njit central-difference loops
    (over the inlinable @njit rosen, and over the cfunc called by pointer) once."""
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
    def rosen_by_pointer(x):
        # numba may inline this wrapper, but not the cfunc: it is called by its address
        return rosen_cfunc(np.int32(x.shape[0]), x.ctypes)

    def central_gradient(f):
        """A numba @njit central-difference loop over f, fastgrad's steps and formula."""
        @njit(cache=False)
        def loop(x0):
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
                fp = f(x)
                x[i] = xm
                fm = f(x)
                x[i] = xi
                g[i] = (fp - fm) / (xp - xm)
            return g
        return loop

    _BUILT.update(llc=LowLevelCallable(rosen_cfunc.ctypes), cfunc=rosen_cfunc,
                  grad_nb=central_gradient(rosen_nb),
                  grad_ptr=central_gradient(rosen_by_pointer))
    return _BUILT


def _pointer_rows(case: str, main: Row, t: dict, err_ptr: float, err_fg: float) -> list[Row]:
    """numba's loop calling the cfunc by pointer, against the inlined loop (the floor for
    any caller of a function pointer) and against fastgrad (fastgrad's own overhead)."""
    floor = timed_row(case, "numba loop calling the cfunc by pointer",
                      "numba @njit central-difference loop", t["pointer"], t["numba"],
                      form="ratio",
                      note="the same numba loop without inlining f: what any caller of a "
                           "function pointer can reach (no target)",
                      extra={"fastgrad err": "—",
                             "baseline err": fmt_err(err_ptr)})
    mark_out_of_reach(main, floor, "the 2n calls of the cfunc by pointer from numba's loop")
    return [floor, timed_row(case, "numerical_gradient (cfunc)",
                             "numba @njit loop calling the cfunc by pointer", t["fastgrad"],
                             t["pointer"], form="ratio", note="fastgrad's own overhead (no target)",
                             extra={"fastgrad err": fmt_err(err_fg), "baseline err": "—"})]


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
    grad_ptr = b["grad_ptr"]
    funcs = {"fastgrad": lambda: fg.numerical_gradient(llc, x), "numba": lambda: grad_nb(x)}
    if n != 10:  # the pointer loop is the reference for the <= 1.3 targets
        funcs["pointer"] = lambda: grad_ptr(x)
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
    if "pointer" in t:
        rows += _pointer_rows(case, rows[0], t, max_abs_err(grad_ptr(x), exact), err_fg)
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
