"""fastgrad's derivatives for optimizers: ``gradient_of`` and ``hessian_of`` turn a scalar
function into the ``jac=`` and ``hess=`` callables that ``scipy.optimize.minimize`` takes,
and ``newton`` is Newton's method with a backtracking line search that uses them.

``gradient_of`` / ``hessian_of`` check their options once, then each call is one call of
:func:`fastgrad.numerical_gradient` / :func:`fastgrad.hessian`.  ``newton`` evaluates f
through the same wrapper the kernels use (``fastgrad._modes``), so f's errors and wrong
return values are reported as everywhere else in fastgrad.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve

from ._gradients import _METHODS, hessian, numerical_gradient
from ._modes import Evaluator
from ._objectives import is_native
from ._results import _short
from ._update_rules import global_norm
from ._validation import (
    as_point,
    check_args,
    check_callable,
    check_epochs,
    check_method,
    check_nonnegative,
    check_positive,
    check_returned,
    check_step_option,
)

__all__ = ["NewtonResult", "gradient_of", "hessian_of", "newton"]

ArrayLike = Any

#: Armijo sufficient-decrease constant and backtracking factor of newton's line search.
ARMIJO_C1, BACKTRACK = 1e-4, 0.5
#: At most this many halvings of the step before the line search gives up.
MAX_BACKTRACKS = 60
#: Accuracy order of newton's numerical gradient (4n evaluations of f): the stopping test
#: compares the gradient norm with tol, so the gradient must be accurate well below tol.
NEWTON_GRADIENT_ORDER = 4


def _check_f(f: Any) -> Any:
    """f as numerical_gradient accepts it: a Python callable or a native C function."""
    if not is_native(f):
        check_callable(f, "f")
    return f


def _name(f: Any) -> str:
    return getattr(f, "__name__", type(f).__name__)


class _Gradient:
    """``jac(x, *args)``: the numerical gradient of f (made by :func:`gradient_of`)."""

    def __init__(self, f: Any, method: str, order: int, h: Any, args: tuple) -> None:
        self.f, self.method, self.order, self.h, self.args = f, method, order, h, args

    def __call__(self, x: ArrayLike, *args: Any) -> np.ndarray:
        return numerical_gradient(self.f, x, self.h, method=self.method, order=self.order,
                                  args=args if args else self.args)

    def __repr__(self) -> str:
        return f"gradient_of({_name(self.f)}, method={self.method!r}, order={self.order})"


class _Hessian:
    """``hess(x, *args)``: the numerical Hessian of f (made by :func:`hessian_of`)."""

    def __init__(self, f: Any, grad: Any, h: Any, args: tuple) -> None:
        self.f, self.grad, self.h, self.args = f, grad, h, args

    def __call__(self, x: ArrayLike, *args: Any) -> np.ndarray:
        return hessian(self.f, x, self.h, grad=self.grad, args=args if args else self.args)

    def __repr__(self) -> str:
        via = "" if self.grad is None else f", grad={_name(self.grad)}"
        return f"hessian_of({_name(self.f)}{via})"


def gradient_of(f: Callable[..., float], *, method: str = "central", order: int = 2,
                h: ArrayLike | str | None = None, args: tuple = ()) -> Callable[..., np.ndarray]:
    """The gradient of f as a function, ready for ``scipy.optimize.minimize(jac=...)``.

    Parameters
    ----------
    f : callable or native function
        ``f(x, *args) -> float``, or a native C function, as in
        :func:`fastgrad.numerical_gradient`.
    method : {"central", "forward", "backward", "complex"}
        Finite-difference method, as in :func:`fastgrad.numerical_gradient`.
    order : {2, 4, 6}
        Accuracy order of the central stencil.
    h : float, array_like of shape (n,), or "adaptive", optional
        Step, as in :func:`fastgrad.numerical_gradient` (default: chosen from x's dtype).
    args : tuple
        Extra arguments for f, used when ``jac`` is called without any.  When
        ``minimize(..., args=...)`` passes its own, those are used instead.

    Returns
    -------
    callable
        ``jac(x, *args) -> ndarray of shape (n,)``, equal to
        ``numerical_gradient(f, x, h, method=method, order=order, args=args)``.

    Raises
    ------
    TypeError, ValueError
        For a non-callable f or a bad method, order or h, naming the argument.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.optimize import minimize, rosen
    >>> from fastgrad import gradient_of
    >>> res = minimize(rosen, [-1.2, 1.0], jac=gradient_of(rosen), method="BFGS")
    >>> res.success, np.allclose(res.x, [1.0, 1.0], atol=1e-5)
    (True, True)
    >>> jac = gradient_of(lambda v, a: a * v @ v)
    >>> jac(np.array([1.0, 2.0]), 3.0).round(6).tolist()
    [6.0, 12.0]
    """
    _check_f(f)
    method, order = check_method(method, order, _METHODS)
    return _Gradient(f, method, order, check_step_option(h), check_args(args))


def hessian_of(f: Callable[..., float], *, grad: Callable[..., Any] | None = None,
               h: ArrayLike | None = None, args: tuple = ()) -> Callable[..., np.ndarray]:
    """The Hessian of f as a function, ready for ``scipy.optimize.minimize(hess=...)``.

    Parameters
    ----------
    f : callable or native function
        ``f(x, *args) -> float``, as in :func:`fastgrad.hessian`.  Not evaluated when
        ``grad`` is given.
    grad : callable, optional
        ``grad(x, *args) -> array of shape (n,)``.  When given, the Hessian is its
        symmetrised central-difference Jacobian (2n calls of grad); otherwise it comes
        from second differences of f (2n**2 + 1 calls).
    h : float or array_like of shape (n,), optional
        Absolute step, as in :func:`fastgrad.hessian`.
    args : tuple
        Extra arguments for f and grad, used when ``hess`` is called without any.

    Returns
    -------
    callable
        ``hess(x, *args) -> ndarray of shape (n, n)``, exactly symmetric, equal to
        ``hessian(f, x, h, grad=grad, args=args)``.

    Raises
    ------
    TypeError, ValueError
        For a non-callable f or grad, or a bad h, naming the argument.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.optimize import minimize, rosen, rosen_der
    >>> from fastgrad import hessian_of
    >>> res = minimize(rosen, [-1.2, 1.0], jac=rosen_der, hess=hessian_of(rosen),
    ...                method="Newton-CG")
    >>> res.success, np.allclose(res.x, [1.0, 1.0], atol=1e-5)
    (True, True)
    >>> hessian_of(rosen, grad=rosen_der)(np.array([1.0, 1.0])).round(4).tolist()
    [[802.0, -400.0], [-400.0, 200.0]]
    """
    _check_f(f)
    if grad is not None:
        check_callable(grad, "grad")
    if h is not None and np.ndim(h) == 0:
        h = check_positive(h, "h")
    return _Hessian(f, grad, h, check_args(args))


# --------------------------------------------------------------------------- newton
@dataclass(frozen=True, repr=False)
class NewtonResult:
    """Outcome of :func:`fastgrad.newton`; the fields read like ``scipy.optimize.OptimizeResult``.

    Attributes
    ----------
    x : ndarray of shape (n,)
        The final point.
    fun : float
        f at x.
    jac : ndarray of shape (n,)
        The gradient at x (numerical unless ``grad`` was given).
    hess : ndarray of shape (n, n)
        The Hessian at x (numerical unless ``hess`` was given), as computed: not
        modified to be positive definite.  NaN when the gradient is not finite.
    nit : int
        Number of Newton steps taken.
    nfev : int
        Number of calls of f, including those made by finite differences.
    njev : int
        Number of calls of ``grad`` (0 when none was given), including those made to
        difference it into a Hessian.
    nhev : int
        Number of calls of ``hess`` (0 when none was given).
    success : bool
        True when the gradient norm reached ``tol``.
    status : int
        0 converged, 1 maximum number of iterations reached, 2 the line search could not
        decrease f (usually: x is as good as f's precision allows), 3 the gradient or
        the Hessian is not finite.
    message : str
        What happened, in words.

    Examples
    --------
    >>> from scipy.optimize import rosen
    >>> from fastgrad import newton
    >>> res = newton(rosen, [-1.2, 1.0])
    >>> res.success, res.status, res.grad_norm <= 1e-8
    (True, 0, True)
    >>> res.x.round(6).tolist(), res.hess.shape
    ([1.0, 1.0], (2, 2))
    """

    x: np.ndarray
    fun: float
    jac: np.ndarray
    hess: np.ndarray
    nit: int
    nfev: int
    njev: int
    nhev: int
    success: bool
    status: int
    message: str

    @property
    def grad_norm(self) -> float:
        """L2 norm of ``jac``, the quantity compared with ``tol``."""
        return global_norm([self.jac])

    def __repr__(self) -> str:
        return (f"NewtonResult(success={self.success}, status={self.status}, nit={self.nit}, "
                f"nfev={self.nfev}, fun={self.fun:.6g}, grad_norm={self.grad_norm:.3g}, "
                f"x={_short(self.x)}, message={self.message!r})")


class _Counted:
    """f, grad and hess at a point for newton, counting the calls each costs."""

    def __init__(self, f: Any, grad: Any, hess: Any, args: tuple, n: int) -> None:
        self.f, self.grad, self.hess, self.args, self.n = f, grad, hess, args, n
        self.fev = Evaluator(f, args, n)
        self.gev = None if grad is None else Evaluator(grad, args, n, (n,), name="grad",
                                                       allow_native=False)
        self.nfev = self.njev = self.nhev = 0

    def fun(self, x: np.ndarray) -> float:
        self.nfev += 1
        return float(self.fev.at(x)[0])

    def gradient(self, x: np.ndarray) -> np.ndarray:
        if self.gev is None:
            self.nfev += NEWTON_GRADIENT_ORDER * self.n  # central, order p: p points per coordinate
            return numerical_gradient(self.f, x, order=NEWTON_GRADIENT_ORDER, args=self.args)
        self.njev += 1
        return self.gev.at(x)

    def hessian(self, x: np.ndarray) -> np.ndarray:
        n = self.n
        if self.hess is None:
            if self.grad is None:
                self.nfev += 2 * n * n + 1
            else:
                self.njev += 2 * n
            return hessian(self.f, x, grad=self.grad, args=self.args)
        self.nhev += 1
        H = check_returned(self.hess(x.copy(), *self.args), (n, n), "hess")
        return 0.5 * (H + H.T)


def _descent_direction(H: np.ndarray, g: np.ndarray) -> np.ndarray:
    """-(H + tau I)^-1 g, for the first tau of 0 (if diag(H) > 0), then beta - min diag(H),
    doubling, that makes H + tau I positive definite (Nocedal & Wright, Algorithm 3.3);
    -g if none of 64 does.  beta is 1e-3 times the largest |H_ij|."""
    scale = float(np.max(np.abs(H)))
    beta = 1e-3 * scale if scale > 0 else 1.0
    dmin = float(np.min(np.diag(H)))
    tau = 0.0 if dmin > 0 else beta - dmin
    eye = np.eye(H.shape[0])
    for _ in range(64):
        try:
            factor = cho_factor(H + tau * eye, check_finite=False)
        except LinAlgError:
            tau = max(2.0 * tau, beta)
            continue
        p = -cho_solve(factor, g, check_finite=False)
        if np.all(np.isfinite(p)) and float(g @ p) < 0:
            return p
        tau = max(2.0 * tau, beta)
    return -g


def _line_search(fc: _Counted, x: np.ndarray, fx: float, g: np.ndarray,
                 p: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Backtracking (Armijo) from the full step; (x_new, f(x_new)) or None if it fails.

    The decrease must also be strict: where f's rounding hides the Armijo term
    (``fx + 1e-4 a g.p == fx``), an unchanged f is not progress.
    """
    slope = float(g @ p)
    alpha = 1.0
    for _ in range(MAX_BACKTRACKS):
        x_new = x + alpha * p
        if np.all(np.isfinite(x_new)):
            f_new = fc.fun(x_new)
            if math.isfinite(f_new) and f_new <= fx + ARMIJO_C1 * alpha * slope and f_new < fx:
                return x_new, f_new
        alpha *= BACKTRACK
    return None


def newton(f: Callable[..., float], x0: ArrayLike, *, grad: Callable[..., Any] | None = None,
           hess: Callable[..., Any] | None = None, tol: float = 1e-8, maxiter: int = 100,
           args: tuple = ()) -> NewtonResult:
    """Minimise f by Newton's method with a backtracking (Armijo) line search.

    Each iteration solves ``H p = -g`` for the step, with g and H the gradient and
    Hessian at x, and halves the step from ``p`` until f decreases enough
    (``f(x + a p) <= f(x) + 1e-4 a g.p``).  Where H is not positive definite, a multiple
    of the identity is added until it is (Levenberg-style); where that fails, the step
    is the steepest-descent one, ``-g``.  Near a minimum the steps are full Newton steps
    and convergence is quadratic.

    Parameters
    ----------
    f : callable or native function
        ``f(x, *args) -> float``, or a native C function as in
        :func:`fastgrad.numerical_gradient`.
    x0 : array_like, shape (n,)
        Starting point (not modified).
    grad : callable, optional
        ``grad(x, *args) -> array of shape (n,)``.  Default: order-4 central differences
        of f (4n calls of f), accurate enough for a ``tol`` near 1e-8 on well-scaled f.
    hess : callable, optional
        ``hess(x, *args) -> array of shape (n, n)`` (symmetrised before use).  Default:
        :func:`fastgrad.hessian`, from ``grad`` when it is given (2n calls of grad), else
        from second differences of f (2n**2 + 1 calls of f).
    tol : float
        Stop (success) when the L2 norm of the gradient is <= tol.
    maxiter : int
        Maximum number of Newton steps.
    args : tuple
        Extra arguments for f, grad and hess.

    Returns
    -------
    NewtonResult
        ``x``, ``fun``, ``jac``, ``hess`` (at x), ``nit``, ``nfev``, ``njev``, ``nhev``,
        ``success``, ``status`` and ``message``, named as in scipy's ``OptimizeResult``.

    Raises
    ------
    TypeError, ValueError
        For bad input, naming the argument, and when f is not finite at x0.  An
        exception raised by f, grad or hess propagates unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.optimize import rosen
    >>> from fastgrad import newton
    >>> res = newton(rosen, [-1.2, 1.0])
    >>> res.success, res.nit < 50, np.allclose(res.x, [1.0, 1.0], rtol=0, atol=1e-8)
    (True, True, True)

    A convex quadratic is minimised by one full Newton step:

    >>> A = np.array([[3.0, 1.0], [1.0, 2.0]]); b = np.array([1.0, -1.0])
    >>> res = newton(lambda x: 0.5 * x @ A @ x - b @ x, [5.0, 5.0],
    ...              grad=lambda x: A @ x - b, hess=lambda x: A)
    >>> res.nit, np.allclose(res.x, np.linalg.solve(A, b))
    (1, True)
    """
    x, _ = as_point(x0, "x0")
    _check_f(f)
    if grad is not None:
        check_callable(grad, "grad")
    if hess is not None:
        check_callable(hess, "hess")
    tol = check_nonnegative(tol, "tol")
    maxiter = check_epochs(maxiter, "maxiter")
    args = check_args(args)
    fc = _Counted(f, grad, hess, args, x.shape[0])

    fx = fc.fun(x)
    if not math.isfinite(fx):
        raise ValueError(f"`f` must be finite at `x0`, got f(x0) = {fx}")
    H: np.ndarray | None = None
    nit = 0
    while True:
        g = fc.gradient(x)
        gnorm = global_norm([g])
        if not math.isfinite(gnorm):
            status, message = 3, "the gradient is not finite at x"
            break
        if gnorm <= tol:
            status, message = 0, f"converged: gradient norm {gnorm:.3g} <= tol"
            break
        if nit >= maxiter:
            status = 1
            message = f"maximum number of iterations ({maxiter}) reached; gradient norm {gnorm:.3g}"
            break
        H = fc.hessian(x)
        if not np.all(np.isfinite(H)):
            status, message = 3, "the Hessian is not finite at x"
            break
        p = _descent_direction(H, g)
        step = _line_search(fc, x, fx, g, p)
        if step is None and not np.array_equal(p, -g):
            step = _line_search(fc, x, fx, g, -g)
        if step is None:
            status = 2
            message = (f"the line search could not decrease f (precision loss); gradient "
                       f"norm {gnorm:.3g} > tol")
            break
        x, fx = step
        H = None
        nit += 1
    if H is None:
        H = fc.hessian(x) if status != 3 else np.full((x.shape[0],) * 2, np.nan)
    return NewtonResult(x=x, fun=fx, jac=g, hess=H, nit=nit, nfev=fc.nfev, njev=fc.njev,
                        nhev=fc.nhev, success=status == 0, status=status, message=message)
