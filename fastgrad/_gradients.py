"""Numerical derivatives: gradients, partial and directional derivatives, Jacobians,
Hessians and gradient checks.

Each function checks its inputs once (``fastgrad._validation``), takes its steps from
``fastgrad._steps``, wraps f (``fastgrad._objectives``) and calls one kernel of
``fastgrad._diff``.  No loop over coordinates runs in Python.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np

from . import _diff, _steps
from ._objectives import make_objective
from ._results import GradientCheck
from ._validation import (as_point, as_vector, check_args, check_callable, check_method,
                          check_nonnegative)

__all__ = ["numerical_gradient", "partial_derivative", "directional_derivative",
           "jacobian", "hessian", "check_gradient"]

ArrayLike = Any

_STENCIL = {("central", 2): _diff.ST["central2"], ("central", 4): _diff.ST["central4"],
            ("central", 6): _diff.ST["central6"], ("forward", 2): _diff.ST["forward1"],
            ("backward", 2): _diff.ST["backward1"]}


def _accuracy_order(method: str, order: int) -> int:
    return order if method == "central" else 1


def _warn_nonfinite(values: np.ndarray, what: str) -> None:
    """RuntimeWarning naming the coordinates where f gave non-finite values."""
    bad = ~np.isfinite(values)
    if np.any(bad):
        idx = np.argwhere(bad)
        where = idx[:, -1] if values.ndim > 1 else idx[:, 0]
        coords = sorted(set(int(i) for i in where))
        warnings.warn(f"f returned non-finite values: the {what} is not finite at "
                      f"coordinates {coords[:20]}{' ...' if len(coords) > 20 else ''}",
                      RuntimeWarning, stacklevel=3)


def _first_derivatives(f: Any, x: np.ndarray, eps: float, h: Any, method: str, order: int,
                       args: tuple, coords: np.ndarray, out_shape: tuple,
                       name: str = "f", f0: np.ndarray | None = None) -> np.ndarray:
    """Shared by the gradient, partial-derivative and Jacobian entry points."""
    steps = _steps.first_derivative_steps(x, h, eps, _accuracy_order(method, order))
    obj = make_objective(f, args, x.shape[0], out_shape, name=name,
                         allow_native=out_shape == ())
    sid = np.full(x.shape[0], _STENCIL[(method, order)], dtype=np.int8)
    if f0 is None and _diff.STENCIL_USES_CENTER[sid[0]]:
        f0 = _diff.evaluate_at(obj, x)
    return _diff.finite_differences(obj, x, steps, coords, sid, f0)


def numerical_gradient(f: Callable[..., float], x: ArrayLike, h: ArrayLike | None = None, *,
                       method: str = "central", order: int = 2, args: tuple = ()) -> np.ndarray:
    """Gradient of a scalar function by finite differences.

    Parameters
    ----------
    f : callable or native function
        ``f(x, *args) -> float`` with ``x`` a 1-D float64 array of shape (n,); or a
        native C function ``double f(int n, double *x[, void *user_data])`` given as a
        ``scipy.LowLevelCallable``, a numba ``cfunc`` or a ctypes function pointer, which
        is then evaluated in C without the GIL.  f receives a fresh array at every call.
    x : array_like, shape (n,)
        Point at which to differentiate; finite, real.
    h : float or array_like of shape (n,), optional
        Absolute step.  Default: ``EPS**(1/3) * max(1, |x_i|)`` for central differences
        (``EPS**(1/5)``, ``EPS**(1/7)`` for order 4, 6), ``sqrt(EPS) * max(1, |x_i|)``
        for forward/backward ones, EPS the machine epsilon of x's dtype.  The derivative
        is divided by the representable step ``(x + h) - x``.
    method : {"central", "forward", "backward"}
        Central differences cost 2n evaluations (order 2), 4n (order 4) or 6n (order 6);
        forward/backward ones n + 1 (f(x) once).
    order : {2, 4, 6}
        Accuracy order of the central stencil (3-, 5- or 7-point).
    args : tuple
        Extra positional arguments for f.

    Returns
    -------
    ndarray of float64, shape (n,)

    Raises
    ------
    TypeError, ValueError
        For a non-callable f, bad x, h, method or order, or f returning something that
        is not a real scalar.  An exception raised by f propagates unchanged.

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
    """
    x, eps = as_point(x)
    method, order = check_method(method, order)
    args = check_args(args)
    coords = np.arange(x.shape[0], dtype=np.intp)
    grad = _first_derivatives(f, x, eps, h, method, order, args, coords, ())[:, 0]
    _warn_nonfinite(grad, "gradient")
    return grad


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
    method : {"central", "forward", "backward"}
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
    method, order = check_method(method, 2)
    args = check_args(args)
    n = x.shape[0]
    if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)):
        raise TypeError(f"`i` must be an integer coordinate index, got {type(i).__name__}")
    if not -n <= int(i) < n:
        raise ValueError(f"`i` must be in [{-n}, {n}), got {i}")
    coord = int(i) % n
    if h is not None:
        h_arr = np.full(n, 1.0)  # only coordinate `coord` is used
        h_arr[coord] = _steps._check_user_step(h, 1)[0]
        h = h_arr
    value = _first_derivatives(f, x, eps, h, method, order, args,
                               np.array([coord], dtype=np.intp), ())[0, 0]
    _warn_nonfinite(np.array([value]), "partial derivative")
    return float(value)


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
    u = as_vector(direction, "direction", x.shape[0])
    args = check_args(args)
    norm = float(np.linalg.norm(u))
    if norm == 0:
        raise ValueError("`direction` must be non-zero")
    if normalize:
        u = u / norm
    t = _steps.directional_step(x, u, h, eps, 2)
    obj = make_objective(f, args, x.shape[0])
    value = _diff.directional(obj, x, u, t, _diff.ST["central2"])
    _warn_nonfinite(np.array([value]), "directional derivative")
    return float(value)


def jacobian(f: Callable[..., Any], x: ArrayLike, h: ArrayLike | None = None, *,
             method: str = "central", args: tuple = ()) -> np.ndarray:
    """Jacobian of a vector-valued function by finite differences.

    Parameters
    ----------
    f : callable
        ``f(x, *args) -> array_like of shape (m,)`` (or a scalar).
    x : array_like, shape (n,)
    h : float or array_like of shape (n,), optional
        As in :func:`numerical_gradient`.
    method : {"central", "forward", "backward"}
    args : tuple

    Returns
    -------
    ndarray, shape (m, n)
        ``J[k, i] = d f_k / d x_i``.  For a scalar f the shape is (n,), as in
        ``scipy.optimize.approx_derivative``.

    Notes
    -----
    f is evaluated once at x to learn m, then 2n times (central) or n times
    (forward/backward, reusing f(x)).

    Examples
    --------
    >>> import numpy as np
    >>> from fastgrad import jacobian
    >>> J = jacobian(lambda v: np.array([v[0] * v[1], v[0] + 3 * v[1]]), [2.0, 5.0])
    >>> np.allclose(J, [[5.0, 2.0], [1.0, 3.0]])
    True
    """
    x, eps = as_point(x)
    method, order = check_method(method, 2)
    args = check_args(args)
    check_callable(f, "f")
    probe = _diff.make_python_objective(f, args, x.shape[0], ())
    f0, out_shape = _diff.evaluate_shape(probe, x)
    coords = np.arange(x.shape[0], dtype=np.intp)
    J = _first_derivatives(f, x, eps, h, method, order, args, coords, out_shape,
                           f0=f0)
    _warn_nonfinite(J, "Jacobian")
    return J[:, 0].copy() if out_shape == () else np.ascontiguousarray(J.T)


def hessian(f: Callable[..., float], x: ArrayLike, h: ArrayLike | None = None, *,
            grad: Callable[..., Any] | None = None, args: tuple = ()) -> np.ndarray:
    """Hessian of a scalar function; the result is exactly symmetric.

    Parameters
    ----------
    f : callable or native function
        As in :func:`numerical_gradient`.  Not evaluated when ``grad`` is given.
    x : array_like, shape (n,)
    h : float or array_like of shape (n,), optional
        Absolute step.  Default ``EPS**(1/4) * max(1, |x_i|)`` from f alone (second
        differences), ``EPS**(1/3) * max(1, |x_i|)`` with ``grad``.
    grad : callable, optional
        ``grad(x, *args) -> array of shape (n,)``.  When given, the Hessian is the
        central-difference Jacobian of grad, symmetrised: 2n calls of grad.
    args : tuple

    Returns
    -------
    ndarray, shape (n, n)

    Notes
    -----
    From f alone: ``(f(x+h_i) - 2 f(x) + f(x-h_i)) / h_i**2`` on the diagonal and the
    four-point cross stencil off it, upper triangle only: 2n**2 + 1 evaluations.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgrad import hessian
    >>> H = hessian(lambda v: v[0]**2 + v[0] * v[1] + v[1]**2, [1.0, 2.0])
    >>> np.allclose(H, [[2.0, 1.0], [1.0, 2.0]])
    True
    """
    x, eps = as_point(x)
    args = check_args(args)
    n = x.shape[0]
    if grad is not None:
        check_callable(grad, "grad")
        steps = _steps.first_derivative_steps(x, h, eps, 2)
        obj = make_objective(grad, args, n, (n,), name="grad", allow_native=False)
        sid = np.full(n, _diff.ST["central2"], dtype=np.int8)
        J = _diff.finite_differences(obj, x, steps, np.arange(n, dtype=np.intp), sid)
        H = 0.5 * (J + J.T)
    else:
        steps = _steps.hessian_steps(x, h, eps)
        obj = make_objective(f, args, n)
        f0 = float(_diff.evaluate_at(obj, x)[0])
        H = _diff.hessian_from_f(obj, x, steps, f0)
    _warn_nonfinite(H, "Hessian")
    return H


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
    obj = make_objective(grad, args, xc.shape[0], (xc.shape[0],), name="grad",
                         allow_native=False)
    analytic = _diff.evaluate_at(obj, xc)
    err = np.abs(analytic - numeric)
    allowed = atol + rtol * np.abs(numeric)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = err / np.maximum(np.abs(numeric), np.finfo(np.float64).tiny)
        excess = np.where(np.isfinite(err), err / np.where(allowed > 0, allowed, 1.0), np.inf)
    ok = bool(np.all(err <= allowed))
    return GradientCheck(ok=ok, max_abs_error=float(np.max(err)),
                         max_rel_error=float(np.max(rel)), worst_index=int(np.argmax(excess)),
                         analytic=analytic, numeric=numeric)
