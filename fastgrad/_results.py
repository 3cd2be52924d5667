"""Result objects returned by fastgrad: small frozen dataclasses with readable reprs.

Their fields read like ``scipy.optimize.OptimizeResult`` where the meaning is the same
(``x``, ``fun``, ``nit``-like counts, ``status``), and they are returned by
``check_gradient``, the ``fit_*`` functions and ``gradient_descent``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["GradientCheck", "FitResult", "DescentResult", "DerivativeResult"]


def _short(a: np.ndarray, k: int = 4) -> str:
    a = np.asarray(a)
    body = ", ".join(f"{v:.6g}" for v in a.ravel()[:k])
    return f"[{body}{', ...' if a.size > k else ''}]"


@dataclass(frozen=True, repr=False)
class GradientCheck:
    """Outcome of :func:`fastgrad.check_gradient`.

    Attributes
    ----------
    ok : bool
        True when every coordinate satisfies ``|analytic - numeric| <= atol + rtol * |numeric|``.
    max_abs_error : float
        Largest absolute difference between the analytic and numerical gradient.
    max_rel_error : float
        Largest ``|analytic - numeric| / max(|numeric|, tiny)``.
    worst_index : int
        Coordinate with the largest violation of the tolerance (the largest absolute
        error scaled by the tolerance).
    analytic, numeric : ndarray
        The two gradients compared.

    Examples
    --------
    >>> from fastgrad import check_gradient
    >>> good = check_gradient(lambda v: v @ v, lambda v: 2 * v, [1.0, 2.0])
    >>> bool(good), good.max_abs_error < 1e-8
    (True, True)
    >>> bad = check_gradient(lambda v: v @ v, lambda v: 3 * v, [1.0, 2.0])
    >>> bool(bad), bad.worst_index, bad.analytic.tolist()
    (False, 1, [3.0, 6.0])
    """

    ok: bool
    max_abs_error: float
    max_rel_error: float
    worst_index: int
    analytic: np.ndarray = field(compare=False)
    numeric: np.ndarray = field(compare=False)

    def __bool__(self) -> bool:
        return bool(self.ok)

    def __repr__(self) -> str:
        i = self.worst_index
        return (f"GradientCheck(ok={self.ok}, worst coordinate {i}: analytic="
                f"{self.analytic[i]:.10g} numeric={self.numeric[i]:.10g}, "
                f"max_abs_error={self.max_abs_error:.3g}, max_rel_error={self.max_rel_error:.3g})")


@dataclass(frozen=True, repr=False)
class FitResult:
    """Outcome of :func:`fastgrad.fit_linear_regression`, :func:`fastgrad.fit_logistic_regression`
    and :func:`fastgrad.fit_softmax_regression`.

    Attributes
    ----------
    w : ndarray of shape (n_features,), or (n_features, n_classes) for the softmax fit
        Fitted weights (X's dtype).
    b : float, or ndarray of shape (n_classes,) for the softmax fit
        Fitted intercept(s) (0.0, or ``b0``, when ``fit_intercept=False``).
    loss_history : ndarray of shape (n_epochs,)
        The loss before each update.
    n_epochs : int
        Number of updates made.
    converged : bool
        True when the unclipped gradient norm fell below ``tol``.
    grad_norm : float
        The unclipped gradient norm at the last evaluated parameters.
    status : str
        "converged", "max_epochs", "diverged" (the loss or the parameters became
        non-finite; the last finite parameters are returned) or "stopped" (a callback
        asked to stop).

    Examples
    --------
    >>> from fastgrad import fit_linear_regression
    >>> r = fit_linear_regression([[2.0]], [4.0], lr=0.1, epochs=10)
    >>> r.status, r.converged, r.n_epochs, r.loss_history.shape
    ('max_epochs', False, 10, (10,))
    >>> float(r.loss_history[0]), r.loss == float(r.loss_history[-1])
    (16.0, True)
    """

    w: np.ndarray
    b: float | np.ndarray
    loss_history: np.ndarray
    n_epochs: int
    converged: bool
    grad_norm: float
    status: str

    @property
    def loss(self) -> float:
        """The last recorded loss (nan when no epoch ran)."""
        return float(self.loss_history[-1]) if self.loss_history.size else float("nan")

    def __repr__(self) -> str:
        return (f"FitResult(status={self.status!r}, converged={self.converged}, "
                f"n_epochs={self.n_epochs}, loss={self.loss:.6g}, grad_norm={self.grad_norm:.3g}, "
                f"w={_short(self.w)}, "
                f"b={_short(self.b) if isinstance(self.b, np.ndarray) else format(self.b, '.6g')})")


@dataclass(frozen=True, repr=False)
class DescentResult:
    """Outcome of :func:`fastgrad.gradient_descent`.

    Attributes
    ----------
    x : ndarray
        Final point.
    fun : float
        f at the final point.
    n_iter : int
        Number of updates made.
    converged : bool
        True when the unclipped gradient norm fell below ``tol``.
    grad_norm : float
        Unclipped gradient norm at the last evaluated point.
    loss_history : ndarray
        f before each update.
    status : str
        "converged", "max_epochs", "diverged" or "stopped" (the callback returned True).

    Examples
    --------
    >>> from fastgrad import gradient_descent
    >>> r = gradient_descent(lambda v: (v[0] - 3.0) ** 2, [0.0], lr=0.1, epochs=500, tol=1e-8)
    >>> r.status, r.success, r.nit == r.n_iter == len(r.loss_history)
    ('converged', True, True)
    >>> round(float(r.x[0]), 6), r.fun < 1e-12
    (3.0, True)
    """

    x: np.ndarray
    fun: float
    n_iter: int
    converged: bool
    grad_norm: float
    loss_history: np.ndarray
    status: str = "max_epochs"

    @property
    def nit(self) -> int:
        """Alias of ``n_iter`` with scipy's name."""
        return self.n_iter

    @property
    def success(self) -> bool:
        """Alias of ``converged`` with scipy's name."""
        return self.converged

    def __repr__(self) -> str:
        return (f"DescentResult(status={self.status!r}, converged={self.converged}, "
                f"n_iter={self.n_iter}, fun={self.fun:.6g}, grad_norm={self.grad_norm:.3g}, "
                f"x={_short(self.x)})")


@dataclass(frozen=True, repr=False)
class DerivativeResult:
    """A derivative with its error estimate, returned when ``full_output=True``.

    Attributes
    ----------
    value : ndarray
        The derivative (gradient (n,), Jacobian (m, n) or Hessian (n, n)), the same array
        the call without ``full_output`` returns.
    error : ndarray
        Per-entry estimate of ``|value - exact|``: the Richardson difference between the
        same stencil at h and h/2, scaled to the stencil's order, plus the rounding error
        of f's values divided by the step.
    nfev : int
        Number of evaluations of f (or of grad) made.
    step : ndarray
        The steps used, per coordinate.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgrad import numerical_gradient
    >>> r = numerical_gradient(lambda v: v @ v, [1.0, 2.0], full_output=True)
    >>> r.value.round(6).tolist(), r.nfev, bool(np.all(r.error < 1e-6))
    ([2.0, 4.0], 9, True)
    """

    value: np.ndarray
    error: np.ndarray
    nfev: int
    step: np.ndarray

    def __repr__(self) -> str:
        return (f"DerivativeResult(value={_short(self.value)}, "
                f"max_error={float(np.max(self.error)):.3g}, "
                f"nfev={self.nfev}, shape={self.value.shape})")
