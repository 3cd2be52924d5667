"""Numerical derivatives: gradients, partial and directional derivatives, Jacobians,
Hessians and gradient checks.

Each function checks its inputs once (``fastgrad._validation``), takes its steps from
``fastgrad._steps``, wraps f in the evaluation mode asked for (``fastgrad._modes``:
Python, native C, vectorized, threads, processes, cluster executors) and runs one
kernel of ``fastgrad._diff``.  No loop over coordinates runs in Python.

With ``sparsity=``, ``jacobian`` and ``hessian`` take a colouring (``fastgrad._sparse``,
compiled in ``fastgrad._coloring``), run the same stencil kernel on perturbation groups
(one group per colour) and recover the pattern's entries into a csr_array.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _diff, _sparse, _steps
from ._modes import Evaluator
from ._objectives import cached_native
from ._results import DerivativeResult, GradientCheck
from ._validation import (
    EPS64,
    as_bounds,
    as_direction,
    as_pattern,
    as_point,
    check_args,
    check_callable,
    check_index,
    check_method,
    check_nonnegative,
    check_returned,
    check_step_option,
)

__all__ = ["numerical_gradient", "partial_derivative", "directional_derivative",
           "jacobian", "hessian", "check_gradient"]

ArrayLike = Any

_STENCIL = {("central", 2): _diff.ST["central2"], ("central", 4): _diff.ST["central4"],
            ("central", 6): _diff.ST["central6"], ("forward", 2): _diff.ST["forward1"],
            ("backward", 2): _diff.ST["backward1"]}
_METHODS = ("central", "forward", "backward", "complex")


def _warn_nonfinite(values: np.ndarray, what: str) -> None:
    """RuntimeWarning naming the coordinates where f gave non-finite values."""
    if math.isfinite(values.sum()):
        return
    bad = ~np.isfinite(values)
    if np.any(bad):
        idx = np.argwhere(bad)
        where = idx[:, -1] if values.ndim > 1 else idx[:, 0]
        coords = sorted(set(int(i) for i in where))
        warnings.warn(f"f returned non-finite values: the {what} is not finite at "
                      f"coordinates {coords[:20]}{' ...' if len(coords) > 20 else ''}",
                      RuntimeWarning, stacklevel=3)


def _complex(ev: Evaluator, x: np.ndarray, h: Any, coords: np.ndarray) -> tuple:
    """Complex-step derivatives Im f(x + i h e_k) / h, one evaluation per coordinate."""
    if ev.native:
        raise ValueError("method='complex' needs a Python `f` that accepts complex x")
    steps = _steps.complex_steps(x, h)
    k = coords.shape[0]
    points = np.repeat(x[None, :].astype(np.complex128), k, axis=0)
    points[np.arange(k), coords] += 1j * steps[coords]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", np.exceptions.ComplexWarning)
            results = ev.raw(points)
    except (TypeError, np.exceptions.ComplexWarning) as exc:
        raise TypeError("`f` does not accept complex input, which method='complex' needs "
                        f"(f must be analytic and written with complex-safe operations): {exc}"
                        ) from exc
    out = np.empty((k, ev.m))
    for j, r in enumerate(results):
        a = np.asarray(r)
        if a.dtype.kind != "c":  # the complex step's own rule: f must stay complex
            raise TypeError("`f` returned a real value at a complex point; method='complex' "
                            "needs f to keep the imaginary part (no abs, real casts or "
                            "real-only functions)")
        out[j] = check_returned(a.imag, ev.out_shape, ev.name).reshape(-1) / steps[coords[j]]
    return out, None, k, steps


def _adaptive(ev: Evaluator, x: np.ndarray, eps: float, coords: np.ndarray,
              bounds: tuple[np.ndarray, np.ndarray] | None) -> tuple:
    """Order-6 central differences on a shrinking sequence of steps, per coordinate.

    Level l uses h_l = h_0 / ADAPTIVE_RATIO**l.  The change between consecutive levels
    estimates the error; a coordinate stops when that change grows again (rounding has
    taken over) or at the last level, and keeps the value with the smallest change.
    The error estimate is twice that change plus the rounding error of f's values
    divided by the step.
    """
    sid = np.full(x.shape[0], _diff.ST["central6"], dtype=np.int8)
    f0 = ev.at(x)  # for one-sided stencils at bounds, and the rounding estimate

    def level(lev: int, idx: np.ndarray) -> tuple:
        st = _steps.adaptive_steps(x, eps, lev)
        if bounds is not None:
            st, s = _steps.bounded_plan(x, st, sid, *bounds, eps=eps)
        else:
            s = sid
        sub = coords[idx]
        return ev.run(lambda obj, nt: _diff.finite_differences(obj, x, st, sub, s, f0, nt),
                      count=True), st

    (prev, nfev), steps = level(0, np.arange(coords.shape[0]))
    nfev += 1
    k = coords.shape[0]
    best = prev.copy()
    best_err = np.full(k, np.inf)
    best_step = steps[coords].copy()
    last_err = np.full(k, np.inf)
    active = np.arange(k)
    for lev in range(1, _steps.ADAPTIVE_LEVELS + 1):
        if active.size == 0:
            break
        (cur, nf), steps = level(lev, active)
        nfev += nf
        err = np.max(np.abs(cur - prev[active]), axis=1)
        better = err < best_err[active]
        upd = active[better]
        best[upd] = cur[better]
        best_err[upd] = err[better]
        best_step[upd] = steps[coords[upd]]
        prev[active] = cur
        grown = err > last_err[active]
        last_err[active] = err
        tiny = err <= 4 * eps * np.max(np.abs(cur), axis=1)
        active = active[~(grown | tiny)]
    wsum = _steps.STENCIL_WSUM[_diff.ST["central6"]]
    rounding = eps * wsum * np.abs(f0)[None, :] / best_step[:, None]
    error = 2.0 * best_err[:, None] + 4.0 * rounding
    return best, error, nfev, best_step


def _first(ev: Evaluator, x: np.ndarray, eps: float, h: Any, method: str, order: int,
           coords: np.ndarray, bounds: tuple[np.ndarray, np.ndarray] | None, full_output: bool,
           f0: np.ndarray | None = None) -> tuple:
    """First derivatives along `coords`, shape (len(coords), m).

    Returns (values, error or None, nfev, steps).
    """
    if method == "complex" and not isinstance(h, str):
        return _complex(ev, x, h, coords)
    if isinstance(h, str):
        check_step_option(h, method)
        return _adaptive(ev, x, eps, coords, bounds)
    steps = _steps.first_derivative_steps(x, h, eps, order if method == "central" else 1)
    base = _STENCIL[(method, order)]
    sid = np.full(x.shape[0], base, dtype=np.int8)
    if bounds is not None:
        fallback = None
        if h is None and method == "central" and order != 2:
            fallback = _steps.first_derivative_steps(x, None, eps, 2)
        steps, sid = _steps.bounded_plan(x, steps, sid, *bounds, fallback=fallback, eps=eps)
        uses_center = bool(np.any(_diff.STENCIL_USES_CENTER[sid[coords]]))
    else:
        uses_center = bool(_diff.STENCIL_USES_CENTER[base])
    nfev = 0
    if f0 is None and (uses_center or full_output):
        f0 = ev.at(x)
        nfev = 1

    def kernel(st: np.ndarray) -> Callable[[Any, int], np.ndarray]:
        return lambda obj, nt: _diff.finite_differences(
            obj, x, st, coords, sid, f0 if uses_center else None, nt)

    if not full_output:
        return ev.run(kernel(steps)), None, None, steps
    values, n1 = ev.run(kernel(steps), count=True)
    values2, n2 = ev.run(kernel(_steps.half_steps(x, steps)), count=True)
    assert f0 is not None  # evaluated above when full_output
    s = sid[coords][:, None]
    error = _error_estimate(values, values2, s, np.abs(f0)[None, :], steps[coords][:, None],
                            eps)
    return values, error, nfev + n1 + n2, steps


def _error_estimate(v: np.ndarray, v_half: np.ndarray, sid: np.ndarray, f_scale: Any,
                    steps: np.ndarray, eps: float) -> np.ndarray:
    """Error estimate of first differences ``v`` (stencils ``sid``) from the same stencils
    at half the steps: twice the Richardson truncation estimate plus f's rounding error
    over the step (the stencil's sum of |weights| times 8 eps |f|)."""
    p = _steps.STENCIL_ORDER[sid].astype(float)
    trunc = np.abs(v - v_half) * (2.0 ** p / (2.0 ** p - 1.0))
    rounding = 8 * eps * _steps.STENCIL_WSUM[sid] * f_scale / steps
    return 2.0 * trunc + rounding


def _finish(values: np.ndarray, extra: tuple, full_output: bool, what: str) -> Any:
    _warn_nonfinite(values, what)
    if not full_output:
        return values
    error, nfev, steps = extra
    return DerivativeResult(value=values, error=error, nfev=int(nfev), step=steps)


def numerical_gradient(f: Callable[..., float], x: ArrayLike, h: ArrayLike | str | None = None,
                       *, method: str = "central", order: int = 2, args: tuple = (),
                       vectorized: bool = False, workers: Any = None, bounds: Any = None,
                       full_output: bool = False) -> Any:
    """Gradient of a scalar function by finite differences.

    Parameters
    ----------
    f : callable or native function
        ``f(x, *args) -> float`` with ``x`` a 1-D float64 array of shape (n,) holding
        the point.  f may keep that array or write to it: an array is passed to f again
        only when f kept no reference to it, and it is refilled first.  Or a native C function
        ``double f(int n, double *x[, void *user_data])`` given as a
        ``scipy.LowLevelCallable``, a numba ``cfunc`` or a ctypes function pointer: it is
        then evaluated in C without the GIL.
    x : array_like, shape (n,)
        Point at which to differentiate; finite, real.
    h : float, array_like of shape (n,), or "adaptive", optional
        Absolute step.  Default: ``EPS**(1/3) * max(1, |x_i|)`` for central differences
        (``EPS**(1/5)``, ``EPS**(1/7)`` for order 4, 6), ``sqrt(EPS) * max(1, |x_i|)``
        for forward/backward ones, ``1e-20 * max(1, |x_i|)`` for the complex step; EPS is
        the machine epsilon of x's dtype.  The derivative is divided by the representable
        step ``(x + h) - x``.  ``"adaptive"``: order-6 central differences on a
        shrinking sequence of steps per coordinate, keeping the one whose Richardson
        change is smallest (relative error near 1e-13 on smooth functions).
    method : {"central", "forward", "backward", "complex"}
        Central differences cost 2n evaluations (order 2), 4n (order 4) or 6n (order 6);
        forward/backward ones n + 1 (f(x) once); the complex step n evaluations at complex
        points (f must accept complex x), with relative error near machine precision.
    order : {2, 4, 6}
        Accuracy order of the central stencil (3-, 5- or 7-point).
    args : tuple
        Extra positional arguments for f.
    vectorized : bool
        f takes a 2-D array of shape (k, n), one point per row, and returns shape (k,).
        All points are evaluated in as few calls as possible, in chunks of at most
        16 MiB of points.
    workers : int or map-like callable, optional
        None or 1: serial (default; the cost of f is unknown, so no count is guessed).
        An int > 1 (or -1 for all CPUs), used as given: OpenMP threads for a native f,
        processes for a Python f (which must then be picklable; the pool of that size is
        kept and reused by later calls, and shut down at exit).  A map-like callable
        ``map(fun, iterable)`` (``multiprocessing.Pool.map``, ``Executor.map``, a Dask
        ``Client.get_executor().map``) is used as given.  Results are bitwise identical to
        serial evaluation.
    bounds : (lb, ub), optional
        Scalars or arrays of shape (n,).  f is never evaluated outside [lb, ub]: near a
        bound the stencil turns one-sided and, if needed, the step shrinks.  When both
        sides are shorter than the step, the central stencil shrunk to the nearer bound
        is used instead where its estimated truncation plus rounding error is smaller.
    full_output : bool
        Return a :class:`DerivativeResult` with the value, a per-entry error estimate,
        ``nfev`` and the steps used.

    Returns
    -------
    ndarray of float64, shape (n,), or DerivativeResult when ``full_output=True``

    Raises
    ------
    TypeError, ValueError
        For a non-callable f, bad x, h, method, order, bounds or workers, or f returning
        something that is not a real scalar.  An exception raised by f propagates unchanged.

    Warns
    -----
    RuntimeWarning
        When f returned NaN or inf; the affected coordinates are named.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgrad import numerical_gradient
    >>> g = numerical_gradient(lambda v: v[0]**2 + v[1]**2, [3.0, 4.0])
    >>> np.allclose(g, [6.0, 8.0])
    True
    >>> numerical_gradient(lambda v: np.sin(v[0]) * v[1], [0.0, 2.0], method="complex").tolist()
    [2.0, 0.0]
    """
    if (h is None and not vectorized and bounds is None and not full_output
            and workers is None and method == "central" and order in (2, 4, 6)
            and type(args) is tuple):
        # The compiled fast path of the default call: checks, steps and stencil in C.
        native = cached_native(f)
        res = None
        if native is not None and not args:
            res = _diff.default_gradient(native, (), x, _STENCIL[("central", order)],
                                         _steps.REL_STEP[(EPS64, order)])
        elif native is None and callable(f):
            res = _diff.default_gradient(f, args, x, _STENCIL[("central", order)],
                                         _steps.REL_STEP[(EPS64, order)])
        if res is not None:
            if not res[1]:
                _warn_nonfinite(res[0], "gradient")
            return res[0]
    x, eps = as_point(x)
    method, order = check_method(method, order, _METHODS)
    args = check_args(args)
    bounds = as_bounds(bounds, x)
    ev = Evaluator(f, args, x.shape[0], vectorized=vectorized, workers=workers)
    coords = np.arange(x.shape[0], dtype=np.intp)
    values, err, nfev, steps = _first(ev, x, eps, h, method, order, coords, bounds, full_output)
    grad = values[:, 0]
    return _finish(grad, (None if err is None else err[:, 0], nfev, steps), full_output, "gradient")


def partial_derivative(f: Callable[..., float], x: ArrayLike, i: int, h: float | None = None, *,
                       method: str = "central", args: tuple = ()) -> float:
    """Partial derivative of f along coordinate ``i`` (2 evaluations for central).

    Parameters
    ----------
    f : callable or native function
        As in :func:`numerical_gradient`.
    x : array_like, shape (n,)
    i : int
        Coordinate index, ``-n <= i < n``.
    h : float, optional
        Absolute step; the default is chosen as in :func:`numerical_gradient`.
    method : {"central", "forward", "backward", "complex"}
    args : tuple

    Returns
    -------
    float

    Examples
    --------
    >>> from fastgrad import partial_derivative
    >>> round(partial_derivative(lambda v: v[0]**2 - v[1]**2, [1.0, 2.0], 1), 8)
    -4.0
    """
    x, eps = as_point(x)
    method, order = check_method(method, 2, _METHODS)
    args = check_args(args)
    n = x.shape[0]
    coord = check_index(i, n, "i")
    h_arr = _steps.one_coordinate_steps(h, n, coord)
    ev = Evaluator(f, args, n)
    values = _first(ev, x, eps, h_arr, method, order, np.array([coord], dtype=np.intp),
                    None, False)[0]
    _warn_nonfinite(values[0], "partial derivative")
    return float(values[0, 0])


def directional_derivative(f: Callable[..., float], x: ArrayLike, direction: ArrayLike,
                           h: float | None = None, *, normalize: bool = True,
                           args: tuple = ()) -> float:
    """Derivative of f at x along ``direction``: two evaluations, no full gradient.

    Computes ``(f(x + t u) - f(x - t u)) / (2 t)`` with ``u = direction / ||direction||``
    (or ``u = direction`` when ``normalize=False``), which approximates ``grad f(x) . u``.

    Parameters
    ----------
    f : callable or native function
        As in :func:`numerical_gradient`.
    x : array_like, shape (n,)
    direction : array_like, shape (n,)
        Non-zero, finite.
    h : float, optional
        Absolute step t along u.  Default ``EPS**(1/3) * max(1, max |x_i|)`` over the
        coordinates u moves, divided by ``max |u_i|``.
    normalize : bool
        Normalise the direction to unit length (the textbook directional derivative).
    args : tuple

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from fastgrad import directional_derivative
    >>> d = directional_derivative(lambda v: v[0]**2 + v[1]**2, [2.0, 3.0], [1.0, 1.0])
    >>> bool(np.isclose(d, 10 / np.sqrt(2)))
    True
    """
    x, eps = as_point(x)
    u = as_direction(direction, x.shape[0])
    args = check_args(args)
    big = float(np.max(np.abs(u)))
    if normalize:  # scaled first, so that neither huge nor tiny directions over/underflow
        u = u / big
        u = u / float(np.linalg.norm(u))
    t = _steps.directional_step(x, u, h, eps, 2)
    if not (np.isfinite(t) and t > 0 and np.all(np.isfinite(x + t * u))):
        raise ValueError("`direction` is too small or too large to take a finite step along "
                         "it; normalize it or give `h`")
    ev = Evaluator(f, args, x.shape[0])
    value = _diff.directional(ev.obj, x, u, t, _diff.ST["central2"])[0]
    _warn_nonfinite(np.array([value]), "directional derivative")
    return float(value)


def jacobian(f: Callable[..., Any], x: ArrayLike, h: ArrayLike | str | None = None, *,
             method: str = "central", args: tuple = (), vectorized: bool = False,
             workers: Any = None, bounds: Any = None, full_output: bool = False,
             sparsity: Any = None) -> Any:
    """Jacobian of a vector-valued function by finite differences.

    Parameters
    ----------
    f : callable
        ``f(x, *args) -> array_like of shape (m,)`` (or a scalar).  With
        ``vectorized=True``, f takes (k, n) and returns (k, m).
    x : array_like, shape (n,)
    h : float, array_like of shape (n,), or "adaptive", optional
        As in :func:`numerical_gradient`.
    method : {"central", "forward", "backward", "complex"}
    args : tuple
    vectorized, workers, bounds, full_output
        As in :func:`numerical_gradient`.
    sparsity : array_like of bool (m, n), scipy.sparse matrix or Coloring, optional
        The entries of J that may be nonzero (or a :func:`coloring` of them, reusable
        across calls).  Columns that share no row are then perturbed together: 2 calls
        of f per colour (central) or 1 per colour plus f(x) (forward/backward), and the
        result is a ``scipy.sparse.csr_array`` (m, n) holding the pattern's entries
        (an entry outside the pattern is taken to be zero; if it is not, it spills into
        the entries of its row that share its colour).

    Returns
    -------
    ndarray, shape (m, n), csr_array with ``sparsity``, or DerivativeResult when
    ``full_output=True``
        ``J[k, i] = d f_k / d x_i``.  For a scalar f the shape is (n,), as in
        ``scipy.optimize.approx_derivative`` ((1, n) with ``sparsity``).

    Notes
    -----
    f is evaluated once at x to learn m, then 2n times (central) or n times
    (forward/backward, reusing f(x)); with ``sparsity``, 2 or 1 times per colour.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgrad import jacobian
    >>> J = jacobian(lambda v: np.array([v[0] * v[1], v[0] + 3 * v[1]]), [2.0, 5.0])
    >>> np.allclose(J, [[5.0, 2.0], [1.0, 3.0]])
    True

    A banded Jacobian from 3 colours (6 calls of f besides f(x)) instead of 2n:

    >>> F = lambda v: v**2 + np.concatenate([[0.0], v[:-1]])
    >>> S = np.eye(50, dtype=bool) | np.eye(50, k=-1, dtype=bool)
    >>> Js = jacobian(F, np.linspace(0, 1, 50), sparsity=S)
    >>> type(Js).__name__, Js.nnz
    ('csr_array', 99)
    """
    x, eps = as_point(x)
    method, order = check_method(method, 2, _METHODS)
    args = check_args(args)
    bounds = as_bounds(bounds, x)
    check_callable(f, "f")
    if sparsity is not None and (method == "complex" or isinstance(h, str)):
        raise ValueError("`sparsity` works with method 'central', 'forward' or "
                         "'backward' and a numeric `h`")
    n = x.shape[0]
    probe = Evaluator(f, args, n, (), vectorized=vectorized, allow_native=False)
    if vectorized:
        r = check_returned(f(x[None, :].copy(), *args), None, "f", " for a (1, n) input")
        if r.ndim not in (1, 2) or r.shape[0] != 1:
            raise ValueError("a vectorized `f` must return real numbers of shape (k,) or "
                             f"(k, m) for a (k, n) input; got shape {r.shape} for k = 1")
        out_shape = r.shape[1:]
        f0 = r.reshape(-1)
    else:
        f0, out_shape = _diff.evaluate_shape(probe.obj, x)
    ev = Evaluator(f, args, n, tuple(out_shape), vectorized=vectorized, workers=workers,
                   allow_native=False)
    if sparsity is not None:
        col = _sparse.as_coloring(sparsity, "jacobian", (f0.shape[0], n))
        J, E, nfev, steps = _sparse_first(ev, x, eps, h, method, col, bounds, full_output,
                                          f0)
        return _finish_sparse(J, (E, nfev + 1, steps), full_output, "Jacobian")
    coords = np.arange(n, dtype=np.intp)
    values, err, nfev, steps = _first(ev, x, eps, h, method, order, coords, bounds,
                                      full_output, f0=f0)
    if out_shape == ():
        J, E = values[:, 0].copy(), None if err is None else err[:, 0].copy()
    else:
        J, E = np.ascontiguousarray(values.T), None if err is None else np.ascontiguousarray(err.T)
    return _finish(J, (E, None if nfev is None else nfev + 1, steps), full_output, "Jacobian")


def _sparse_first(ev: Evaluator, x: np.ndarray, eps: float, h: Any, method: str,
                  col: _sparse.Coloring, bounds: tuple[np.ndarray, np.ndarray] | None,
                  full_output: bool, f0: np.ndarray | None) -> tuple:
    """A sparse Jacobian (of f, or of grad for a Hessian) from its colouring: one
    perturbation group per colour and stencil, the stencil kernel on the groups, then
    the compiled recovery.  Returns (csr, error csr or None, nfev, steps)."""
    steps = _steps.first_derivative_steps(x, h, eps, 2 if method == "central" else 1)
    base = _STENCIL[(method, 2)]
    sid = np.full(x.shape[0], base, dtype=np.int8)
    if bounds is not None:
        steps, sid = _steps.bounded_plan(x, steps, sid, *bounds)
    uses_center = bool(np.any(_diff.STENCIL_USES_CENTER[sid]))
    nfev = 0
    if f0 is None and (uses_center or full_output):
        f0 = ev.at(x)
        nfev = 1
    group, members, gptr = _sparse.groups(col.colors, sid)

    def kernel(st: np.ndarray) -> Callable[[Any, int], np.ndarray]:
        return lambda obj, nt: _diff.finite_differences(
            obj, x, st, members, sid, f0 if uses_center else None, nt, gptr)

    D, n1 = ev.run(kernel(steps), count=True)
    J = _sparse.recover(col, D, group, steps)
    if not full_output:
        return J, None, nfev + n1, steps
    half = _steps.half_steps(x, steps)
    D2, n2 = ev.run(kernel(half), count=True)
    J2 = _sparse.recover(col, D2, group, half)
    assert f0 is not None
    ptr = np.asarray(J.indptr)
    cols = np.asarray(J.indices)
    rows = np.repeat(np.arange(J.shape[0]), np.diff(ptr))
    scale = np.abs(f0)[rows] if f0.shape[0] == J.shape[0] else np.abs(f0[0])
    E = J.copy()
    E.data = _error_estimate(J.data, J2.data, sid[cols], scale, steps[cols], eps)
    return J, E, nfev + n1 + n2, steps


def _finish_sparse(values: Any, extra: tuple, full_output: bool, what: str) -> Any:
    data = values.data
    if not math.isfinite(data.sum()):
        bad = ~np.isfinite(data)
        cols = sorted(set(int(i) for i in np.asarray(values.indices)[bad]))
        if cols:
            warnings.warn(f"f returned non-finite values: the {what} is not finite in "
                          f"columns {cols[:20]}{' ...' if len(cols) > 20 else ''}",
                          RuntimeWarning, stacklevel=3)
    if not full_output:
        return values
    error, nfev, steps = extra
    return DerivativeResult(value=values, error=error, nfev=int(nfev), step=steps)


def hessian(f: Callable[..., float], x: ArrayLike, h: ArrayLike | str | None = None, *,
            grad: Callable[..., Any] | None = None, args: tuple = (),
            vectorized: bool = False, workers: Any = None, bounds: Any = None,
            full_output: bool = False, sparsity: Any = None) -> Any:
    """Hessian of a scalar function; the result is exactly symmetric.

    Parameters
    ----------
    f : callable or native function
        As in :func:`numerical_gradient`.  Not evaluated when ``grad`` is given.
    x : array_like, shape (n,)
    h : float, array_like of shape (n,), or "adaptive", optional
        Absolute step.  Default ``EPS**(1/4) * max(1, |x_i|)`` from f alone (second
        differences), ``EPS**(1/3) * max(1, |x_i|)`` with ``grad``.  ``"adaptive"``:
        high accuracy (relative error near 1e-12 on smooth functions).  From f, the
        cross stencil on a sequence of steps halving from ``0.1 * max(1, |x_i|)``,
        Richardson-extrapolated per entry (the error is a series in h**2), keeping the
        level whose extrapolation changed least; with ``grad``, the adaptive Jacobian of
        grad (as ``numerical_gradient(h="adaptive")``).  ``full_output=True`` gives a
        per-entry error estimate.  Dense or with ``sparsity`` (from f).
    grad : callable, optional
        ``grad(x, *args) -> array of shape (n,)``.  When given, the Hessian is the
        central-difference Jacobian of grad, symmetrised: 2n calls of grad.
    args : tuple
    vectorized, workers, bounds, full_output
        As in :func:`numerical_gradient` (they apply to grad when it is given).
    sparsity : array_like of bool (n, n), scipy.sparse matrix or Coloring, optional
        The entries of the Hessian that may be nonzero (the union of the pattern, its
        transpose and the diagonal is used), or a :func:`coloring` of kind "hessian".
        The result is then a ``scipy.sparse.csr_array``, exactly symmetric, and no dense
        n x n array is formed.  With ``grad``: a star colouring (the default; entries
        read directly) or an acyclic one (``coloring(pattern, kind="hessian",
        method="acyclic")``: fewer colours, entries by substitution), 2 calls of grad
        per colour.  From f alone: the cross stencil on the pattern's entries only,
        sharing the 2n points along the axes, at most 1 + 2n + 2 * (entries above the
        diagonal) calls.  An entry missing from the pattern is taken to be zero; if it
        is not, its value leaks into the entries recovered from the same compressed
        column (with grad) or is simply lost (from f).

    Returns
    -------
    ndarray, shape (n, n), csr_array with ``sparsity``, or DerivativeResult when
    ``full_output=True``

    Notes
    -----
    From f alone: ``(f(x+h_i) - 2 f(x) + f(x-h_i)) / h_i**2`` on the diagonal and the
    four-point cross stencil off it, upper triangle only: 2n**2 + 1 evaluations.  With
    bounds, the steps shrink to fit; if x sits on a bound, the Hessian is computed as
    the (one-sided) Jacobian of the bounded numerical gradient instead.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgrad import hessian
    >>> H = hessian(lambda v: v[0]**2 + v[0] * v[1] + v[1]**2, [1.0, 2.0])
    >>> np.allclose(H, [[2.0, 1.0], [1.0, 2.0]])
    True

    A tridiagonal Hessian of the chained Rosenbrock function from its gradient: with
    an acyclic colouring, 2 colours, so 4 calls of grad whatever n is:

    >>> from scipy.optimize import rosen, rosen_der
    >>> from fastgrad import coloring
    >>> n = 1000
    >>> tri = np.eye(n, dtype=bool) | np.eye(n, k=1, dtype=bool)
    >>> col = coloring(tri, kind="hessian", method="acyclic")
    >>> Hs = hessian(rosen, np.full(n, 0.5), grad=rosen_der, sparsity=col)
    >>> Hs.shape, Hs.nnz, col.n_colors
    ((1000, 1000), 2998, 2)
    """
    x, eps = as_point(x)
    args = check_args(args)
    bounds = as_bounds(bounds, x)
    n = x.shape[0]
    if isinstance(h, str):
        if h != "adaptive":
            raise ValueError(f"`h` must be a number, an array or 'adaptive', got {h!r}")
        return _adaptive_hessian(f, x, eps, grad, args, vectorized, workers, bounds,
                                 full_output, sparsity)
    if sparsity is not None:
        if isinstance(sparsity, _sparse.Coloring):
            _sparse.as_coloring(sparsity, "hessian", (n, n))
        else:  # checked once here, coloured only if a gradient is differentiated
            sparsity = _sparse.symmetric_pattern(as_pattern(sparsity, "sparsity", (n, n)))
    coords = np.arange(n, dtype=np.intp)
    fallback = False
    if grad is None and bounds is not None:
        outer = _steps.hessian_at_bound(x, h, eps, *bounds)
        if outer is not None:
            # No room for central second differences: differentiate the bounded gradient
            # (one-sided where needed) instead.
            native = cached_native(f) is not None
            if not native:
                check_callable(f, "f")
            grad = _BoundedGradient(f, bounds, vectorized, workers if native else None)
            workers = None if native else workers
            h = outer
            vectorized = False
            fallback = True
    if grad is not None:
        check_callable(grad, "grad")
        ev = Evaluator(grad, args, n, (n,), vectorized=vectorized, workers=workers,
                       name="f" if fallback else "grad", allow_native=False)
        if sparsity is not None:
            col = _sparse.as_coloring(sparsity, "hessian", (n, n))
            Hs, Es, nfev, steps = _sparse_first(ev, x, eps, h, "central", col, bounds,
                                                full_output, None)
            if Es is not None:  # the error of the mean of both ends
                Es = 0.5 * (Es + Es.T)
            return _finish_sparse(Hs, (Es, nfev, steps), full_output, "Hessian")
        J, err, nfev, steps = _first(ev, x, eps, h, "central", 2, coords, bounds, full_output)
        H = 0.5 * (J + J.T)
        E = None if err is None else 0.5 * (err + err.T)
        return _finish(H, (E, nfev, steps), full_output, "Hessian")
    ev = Evaluator(f, args, n, vectorized=vectorized, workers=workers)
    steps = _steps.hessian_steps(x, h, eps)
    f0 = float(ev.at(x)[0])
    if sparsity is not None:
        return _sparse_hessian_f(ev, x, eps, steps, f0, sparsity, full_output)

    def kernel(st: np.ndarray) -> Callable[[Any, int], np.ndarray]:
        return lambda obj, nt: _diff.hessian_from_f(obj, x, st, f0, nt)

    H, nfev = ev.run(kernel(steps), count=True)
    if not full_output:
        return _finish(H, (None, nfev + 1, steps), False, "Hessian")
    H2, n2 = ev.run(kernel(_steps.half_steps(x, steps)), count=True)
    E = _steps.hessian_error(H, H2, eps, abs(f0), np.outer(steps, steps))
    return _finish(H, (E, nfev + n2 + 1, steps), True, "Hessian")


def _adaptive_hessian(f: Any, x: np.ndarray, eps: float, grad: Any, args: tuple,
                      vectorized: bool, workers: Any,
                      bounds: tuple[np.ndarray, np.ndarray] | None, full_output: bool,
                      sparsity: Any) -> Any:
    """``hessian(h="adaptive")``.

    With grad (dense only): the adaptive Jacobian of grad (``_adaptive``), symmetrised.
    From f: the cross stencil on a shrinking sequence of steps (``_steps``), a Richardson
    tableau per entry (the stencil's error is a series in h**2), and per entry the level
    whose extrapolated value changed least from the previous level's; the error estimate
    is twice that change plus the rounding error of f's values over h_i h_j.
    """
    n = x.shape[0]
    if grad is not None:
        if sparsity is not None:
            raise ValueError("`h='adaptive'` with `sparsity` needs the Hessian from f; "
                             "drop `grad` or `sparsity`")
        check_callable(grad, "grad")
        ev = Evaluator(grad, args, n, (n,), vectorized=vectorized, workers=workers,
                       name="grad", allow_native=False)
        J, err, nfev, steps = _adaptive(ev, x, eps, np.arange(n, dtype=np.intp), bounds)
        H = 0.5 * (J + J.T)
        E = 0.5 * (err + err.T)
        return _finish(H, (E, nfev, steps), full_output, "Hessian")
    if sparsity is None:
        sym = _sp_full(n)
        dense = True
    else:
        dense = False
        if isinstance(sparsity, _sparse.Coloring):
            sym = _sparse.as_coloring(sparsity, "hessian", (n, n)).pattern
        else:
            sym = _sparse.symmetric_pattern(as_pattern(sparsity, "sparsity", (n, n)))
    ev = Evaluator(f, args, n, vectorized=vectorized, workers=workers)
    f0 = float(ev.at(x)[0])
    nfev = 1
    pi, pj = _sparse.pairs_of(sym)
    ratio2 = _steps.HESS_ADAPTIVE_RATIO ** 2
    rows = np.repeat(np.arange(n), np.diff(np.asarray(sym.indptr)))
    cols = np.asarray(sym.indices)
    tableau: list[np.ndarray] = []      # the last row of the Richardson tableau
    prev_best = None
    best = best_err = best_round = None
    steps0 = _steps.adaptive_hessian_steps(x, 0, bounds)
    for lev in range(_steps.HESS_ADAPTIVE_LEVELS):
        st = _steps.adaptive_hessian_steps(x, lev, bounds)
        V, nf = ev.run(_pairs_kernel(x, st, pi, pj), count=True)
        nfev += nf
        row = [_sparse.hessian_from_pairs(sym, V, f0, st).data]
        for k in range(1, min(lev, 3) + 1):     # eliminate h**2, h**4 and h**6
            factor = ratio2 ** k - 1.0
            row.append(row[k - 1] + (row[k - 1] - tableau[k - 1]) / factor)
        tableau = row
        top = row[-1]
        rounding = _steps.hessian_rounding(eps, abs(f0) + np.abs(V).max(),
                                           st[rows] * st[cols])
        if prev_best is not None and lev >= 2:
            change = np.abs(top - prev_best)
            err = 2.0 * change + rounding
            if best is None:
                best, best_err, best_round = top.copy(), err, rounding
            else:
                better = err < best_err
                best = np.where(better, top, best)
                best_err = np.where(better, err, best_err)
                best_round = np.where(better, rounding, best_round)
            # stop once rounding dominates every entry's error: smaller steps only add
            # noise (or the extrapolations agree to rounding already)
            assert best_err is not None and best_round is not None
            if lev >= 2 and (np.all(rounding > 4 * best_err)
                             or np.all(best_err <= 4 * best_round)):
                break
        prev_best = top
    assert best is not None and best_err is not None
    import scipy.sparse as sp

    H = sp.csr_array((best, cols.copy(), np.asarray(sym.indptr).copy()), shape=(n, n))
    E = sp.csr_array((best_err, cols.copy(), np.asarray(sym.indptr).copy()), shape=(n, n))
    if dense:
        H, E = H.toarray(), E.toarray()
        return _finish(H, (E, nfev, steps0), full_output, "Hessian")
    return _finish_sparse(H, (E, nfev, steps0), full_output, "Hessian")


def _sp_full(n: int) -> Any:
    """The full n x n pattern as a csr_array (the dense adaptive Hessian)."""
    import scipy.sparse as sp

    return sp.csr_array((np.ones(n * n, dtype=bool), np.tile(np.arange(n, dtype=np.intp), n),
                         np.arange(0, n * n + 1, n, dtype=np.intp)), shape=(n, n))


def _pairs_kernel(x: np.ndarray, st: np.ndarray, pi: np.ndarray,
                  pj: np.ndarray) -> Callable[[Any, int], np.ndarray]:
    return lambda obj, nt: _diff.pair_values(obj, x, st, pi, pj, nt)


def _sparse_hessian_f(ev: Evaluator, x: np.ndarray, eps: float, steps: np.ndarray,
                      f0: float, sparsity: Any, full_output: bool) -> Any:
    """The sparse Hessian from f alone: f at x +- (h_i e_i) and x +- (h_i e_i + h_j e_j)
    for the pattern's entries above the diagonal (``_diff.pair_values``)."""
    sym = sparsity.pattern if isinstance(sparsity, _sparse.Coloring) else sparsity
    pi, pj = _sparse.pairs_of(sym)

    def kernel(st: np.ndarray) -> Callable[[Any, int], np.ndarray]:
        return lambda obj, nt: _diff.pair_values(obj, x, st, pi, pj, nt)

    V = ev.run(kernel(steps))
    nfev = 2 * pi.shape[0]          # two points per pair, known without a counting pass
    H = _sparse.hessian_from_pairs(sym, V, f0, steps)
    if not full_output:
        return _finish_sparse(H, (None, nfev + 1, steps), False, "Hessian")
    half = _steps.representable(x, steps / 2)
    V2, n2 = ev.run(kernel(half)), 2 * pi.shape[0]
    H2 = _sparse.hessian_from_pairs(sym, V2, f0, half)
    rows = np.repeat(np.arange(sym.shape[0]), np.diff(np.asarray(H.indptr)))
    E = H.copy()
    E.data = _steps.hessian_error(H.data, H2.data, eps, abs(f0),
                                  steps[rows] * steps[np.asarray(H.indices)])
    return _finish_sparse(H, (E, nfev + n2 + 1, steps), True, "Hessian")


class _BoundedGradient:
    """The bounded numerical gradient of f, as a picklable callable (for the one-sided
    Hessian at a bound, which may run on a process pool or cluster)."""

    def __init__(self, f: Any, bounds: tuple, vectorized: bool, workers: Any) -> None:
        self.f, self.bounds, self.vectorized, self.workers = f, bounds, vectorized, workers

    def __call__(self, z: np.ndarray, *args: Any) -> np.ndarray:
        # z is the kernel's fresh float64 point and the bounds were checked once by
        # hessian: the stencil runs directly, without the public function's checks
        z = np.ascontiguousarray(z, dtype=np.float64)
        n = z.shape[0]
        ev = Evaluator(self.f, args, n, vectorized=self.vectorized, workers=self.workers)
        values = _first(ev, z, EPS64, None, "central", 2, np.arange(n, dtype=np.intp),
                        self.bounds, False)[0]
        grad = values[:, 0]
        _warn_nonfinite(grad, "gradient")
        return grad


def check_gradient(f: Callable[..., float], grad: Callable[..., Any], x: ArrayLike, *,
                   h: ArrayLike | None = None, rtol: float = 1e-5, atol: float = 1e-6,
                   args: tuple = ()) -> GradientCheck:
    """Compare an analytic gradient with a central-difference one.

    A coordinate passes when ``|analytic - numeric| <= atol + rtol * |numeric|``.

    Parameters
    ----------
    f : callable
        ``f(x, *args) -> float``.
    grad : callable
        ``grad(x, *args) -> array of shape (n,)``, the gradient to check.
    x : array_like, shape (n,)
    h : float or array_like, optional
        Step of the numerical gradient (see :func:`numerical_gradient`).
    rtol, atol : float
        Tolerances, >= 0.
    args : tuple

    Returns
    -------
    GradientCheck
        ``bool(result)`` is ``result.ok``; ``repr`` names the worst coordinate.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgrad import check_gradient
    >>> f = lambda v: v[0]**2 * v[1] + np.exp(v[0] * v[1])
    >>> g = lambda v: np.array([2*v[0]*v[1] + v[1]*np.exp(v[0]*v[1]),
    ...                         v[0]**2 + v[0]*np.exp(v[0]*v[1])])
    >>> bool(check_gradient(f, g, [1.0, 2.0]))
    True
    """
    check_callable(grad, "grad")
    rtol = check_nonnegative(rtol, "rtol")
    atol = check_nonnegative(atol, "atol")
    numeric = numerical_gradient(f, x, h, args=args)
    xc, _ = as_point(x)
    args = check_args(args)
    ev = Evaluator(grad, args, xc.shape[0], (xc.shape[0],), name="grad", allow_native=False)
    analytic = ev.at(xc)
    err = np.abs(analytic - numeric)
    allowed = atol + rtol * np.abs(numeric)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rel = err / np.maximum(np.abs(numeric), np.finfo(np.float64).tiny)
        excess = np.where(np.isfinite(err), err / np.where(allowed > 0, allowed, 1.0), np.inf)
    ok = bool(np.all(err <= allowed))
    return GradientCheck(ok=ok, max_abs_error=float(np.max(err)),
                         max_rel_error=float(np.max(rel)), worst_index=int(np.argmax(excess)),
                         analytic=analytic, numeric=numeric)
