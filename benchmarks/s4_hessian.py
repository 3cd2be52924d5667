"""Section 4: Hessian of the Python rosen at n = 20, with the accuracy of each method.

fastgrad: second differences from f alone (2n² + 1 calls).  numdifftools.Hessian:
central differences with Richardson extrapolation.  scipy.differentiate.hessian
(scipy >= 1.15): an iterative, error-controlled method that calls f on whole batches
of points; it needs f "vectorized" in its convention, f(xi) with xi of shape (n, ...)
returning shape (...).  ``scipy.optimize.rosen`` already sums over axis 0 and so works
unchanged; ``rosen_axis0`` below spells that adaptation out.
"""
from __future__ import annotations

from ._common import (
    Case,
    Context,
    Row,
    at_least,
    fmt_err,
    mark_out_of_reach,
    max_abs_err,
    rosen_point,
    timed_row,
)
from .s1_python import bare_loop
from .s3_vectorized import rosen_rows

TITLE = "Hessian of the Python rosen, n = 20"
DESCRIPTION = (
    "`fastgrad.hessian(rosen, x)` (2n² + 1 = 801 calls of the Python rosen) against "
    "`numdifftools.Hessian(rosen)(x)` and `scipy.differentiate.hessian(rosen_axis0, x).ddf` "
    "(f batched along axis 0, as scipy.differentiate requires). Target: ≥ 10x faster than "
    "each. Since scipy.differentiate gets a vectorized f, fastgrad's vectorized mode "
    "`hessian(rosen_rows, x, vectorized=True)` (f on a (k, n) batch) is shown against both "
    "as well; the *floor* row is the bare cost of 801 calls of rosen, which the per-point "
    "path cannot beat. Accuracy: max abs error against the exact `scipy.optimize.rosen_hess(x)`."
)

N = 20


def rosen_axis0(xi):
    """rosen for scipy.differentiate: xi has shape (n, ...) and the result shape (...)."""
    import numpy as np

    xi = np.asarray(xi)
    return np.sum(100.0 * (xi[1:] - xi[:-1] ** 2) ** 2 + (1.0 - xi[:-1]) ** 2, axis=0)


def _case(ctx: Context) -> list[Row]:
    from scipy.optimize import rosen, rosen_hess

    import fastgrad as fg

    case = f"n={N}"
    x = rosen_point(N)
    exact = rosen_hess(x)
    err = {"fastgrad": max_abs_err(fg.hessian(rosen, x), exact)}
    funcs = {"fastgrad": lambda: fg.hessian(rosen, x)}
    nd = ctx.optional("numdifftools")
    if nd is not None:
        funcs["numdifftools"] = lambda: nd.Hessian(rosen)(x)
        err["numdifftools"] = max_abs_err(nd.Hessian(rosen)(x), exact)
    else:
        ctx.missing_note("numdifftools")
    sd = ctx.optional("scipy.differentiate")
    if sd is not None and hasattr(sd, "hessian"):
        funcs["scipy"] = lambda: sd.hessian(rosen_axis0, x).ddf
        res = sd.hessian(rosen_axis0, x)
        err["scipy"] = max_abs_err(res.ddf, exact)
        if not bool(res.success.all()):
            ctx.note("scipy.differentiate.hessian reported success=False for some entries.")
    else:
        ctx.note("`scipy.differentiate.hessian` needs scipy >= 1.15; that comparison is skipped.")
    calls = 2 * N * N + 1
    funcs["floor"] = lambda: bare_loop(rosen, x, calls)
    try:
        err["vectorized"] = max_abs_err(fg.hessian(rosen_rows, x, vectorized=True), exact)
    except TypeError as exc:
        ctx.note(f"`hessian(..., vectorized=True)` is not available in this fastgrad ({exc}).")
    else:
        funcs["vectorized"] = lambda: fg.hessian(rosen_rows, x, vectorized=True)
    t = ctx.measure(funcs)
    rows = []
    for subject, key_fg in (("hessian", "fastgrad"), ("hessian(vectorized=True)", "vectorized")):
        if key_fg not in t:
            continue
        for key, label in (("numdifftools", "numdifftools.Hessian"),
                           ("scipy", "scipy.differentiate.hessian")):
            rows.append(timed_row(case, subject, label, t[key_fg], t.get(key),
                                  target=at_least(10.0),
                                  note="" if key in t else f"{label} not available",
                                  extra={"fastgrad err": fmt_err(err[key_fg]),
                                         "baseline err": fmt_err(err.get(key))}))
    if "scipy" in t:
        floor = timed_row(case, f"floor: {calls} bare calls of rosen",
                          "scipy.differentiate.hessian", t["floor"], t["scipy"],
                          note="best speed-up reachable by the per-point path",
                          extra={"fastgrad err": "—", "baseline err": fmt_err(err["scipy"])})
        for r in rows:
            if r.subject == "hessian" and r.baseline == "scipy.differentiate.hessian":
                mark_out_of_reach(r, floor, f"the {calls} bare calls of rosen")
        rows.append(floor)
    rows.append(timed_row(case, "hessian", f"floor: {calls} bare calls of rosen", t["fastgrad"],
                          t["floor"], form="ratio",
                          note="per-point overhead over the calls themselves (no target)",
                          extra={"fastgrad err": fmt_err(err["fastgrad"]), "baseline err": "—"}))
    return rows


def cases(ctx: Context) -> list[Case]:
    return [Case(f"hessian rosen n={N}", lambda: _case(ctx))]
