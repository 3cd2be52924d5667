"""Section 1: gradient of a Python callable (scipy.optimize.rosen) by central differences.

fastgrad makes 2n calls of f; its overhead is whatever it costs beyond those calls.
Baselines: the bare cost of calling f 2n times in a Python loop at the same point (no
perturbation, no array copies: a floor no implementation can beat), and scipy's
``approx_derivative(f, x, method="3-point")``, which makes the same 2n calls.
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
    timed_row,
)

TITLE = "Python callable: central-difference gradient of rosen"
DESCRIPTION = (
    "`fastgrad.numerical_gradient(rosen, x)` (central differences, 2n calls of the Python "
    "`scipy.optimize.rosen`) against the bare cost of calling `rosen(x)` 2n times in a "
    "Python `for` loop, and against `scipy.optimize._numdiff.approx_derivative(rosen, x, "
    "method=\"3-point\")`. Targets: fastgrad / bare loop ≤ 1.10 at every n; ≥ 2x faster "
    "than scipy at n = 10 and 100 (n = 1000 is reported). The *ceiling* rows give the "
    "speed-up of the bare loop itself over scipy: the most any implementation making "
    "2n calls of f can reach. Error columns: max abs error against the exact `rosen_der`."
)

NS = (10, 100, 1000)
QUICK_NS = (10, 100)


def bare_loop(f, x, calls: int) -> None:
    for _ in range(calls):
        f(x)


def count_calls(grad, f) -> int:
    calls = 0

    def counted(v):
        nonlocal calls
        calls += 1
        return f(v)

    grad(counted)
    return calls


def _case(ctx: Context, n: int) -> list[Row]:
    from scipy.optimize import rosen, rosen_der

    import fastgrad as fg

    x = rosen_point(n)
    exact = rosen_der(x)
    calls = count_calls(lambda f: fg.numerical_gradient(f, x), rosen)
    if calls != 2 * n:
        ctx.note(f"fastgrad called f {calls} times at n = {n} (expected 2n = {2 * n}).")
    err_fg = max_abs_err(fg.numerical_gradient(rosen, x), exact)
    funcs = {
        "fastgrad": lambda: fg.numerical_gradient(rosen, x),
        "bare": lambda: bare_loop(rosen, x, 2 * n),
    }
    try:
        from scipy.optimize._numdiff import approx_derivative
    except ImportError:  # private module: may move in a future scipy
        approx_derivative = None
        ctx.note("`scipy.optimize._numdiff.approx_derivative` could not be imported; "
                 "the scipy comparison is skipped.")
    err_sp = None
    if approx_derivative is not None:
        funcs["scipy"] = lambda: approx_derivative(rosen, x, method="3-point")
        err_sp = max_abs_err(approx_derivative(rosen, x, method="3-point"), exact)
    t = ctx.measure(funcs)
    case = f"n={n}"
    rows = [timed_row(case, "numerical_gradient", f"bare loop, {2 * n} calls of f",
                      t["fastgrad"], t["bare"], form="ratio", target=at_most(1.10),
                      extra={"fastgrad err": fmt_err(err_fg), "baseline err": "—"})]
    target = at_least(2.0) if n in (10, 100) else None
    rows.append(timed_row(case, "numerical_gradient", "scipy approx_derivative 3-point",
                          t["fastgrad"], t.get("scipy"), target=target,
                          note="" if approx_derivative else "scipy approx_derivative missing",
                          extra={"fastgrad err": fmt_err(err_fg),
                                 "baseline err": fmt_err(err_sp)}))
    # The ceiling: no implementation that calls f 2n times beats the bare loop, so
    # scipy time / bare-loop time bounds the speed-up over scipy any such one can reach.
    rows.append(timed_row(case, "bare loop (ceiling)", "scipy approx_derivative 3-point",
                          t["bare"], t.get("scipy"),
                          note="best speed-up over scipy reachable with 2n calls of f",
                          extra={"fastgrad err": "—", "baseline err": fmt_err(err_sp)}))
    mark_out_of_reach(rows[1], rows[2], f"the {2 * n} bare calls of f")
    return rows


def cases(ctx: Context) -> list[Case]:
    return [Case(f"rosen n={n}", lambda n=n: _case(ctx, n))
            for n in (QUICK_NS if ctx.quick else NS)]
