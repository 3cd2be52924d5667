"""Step sizes: the one place where fastgrad chooses how far to perturb x.

Defaults follow the usual balance of truncation against rounding error (as in
``scipy.optimize._numdiff``): for a stencil of accuracy order p for the k-th derivative
the step is ``EPS**(1/(p + k)) * max(1, |x_i|)``, where EPS is the machine epsilon of
x's dtype.  That gives ``EPS**(1/3)`` for central differences, ``EPS**(1/2)`` for
forward/backward ones and ``EPS**(1/4)`` for the second differences of a Hessian.

Every step is then made *representable*: the kernels divide by ``(x + h) - x``, the
distance actually travelled in floating point, not by the h that was asked for.  A step
so small that ``x + h == x`` is enlarged to one unit in the last place of x instead of
being divided by.
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["first_derivative_steps", "hessian_steps", "directional_step", "representable"]

#: Exponent of EPS in the default relative step, by (derivative, accuracy order).
_EXPONENT = {
    ("first", 1): 1 / 2,   # forward / backward differences
    ("first", 2): 1 / 3,   # central, order 2 (and one-sided order 2 near bounds)
    ("first", 4): 1 / 5,
    ("first", 6): 1 / 7,
    ("second", 2): 1 / 4,  # Hessian from f alone
}


def relative_step(eps: float, derivative: str, order: int) -> float:
    """EPS**exponent for the given derivative and accuracy order."""
    return float(eps) ** _EXPONENT[(derivative, order)]


def representable(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """(x + h) - x, with steps that vanish in floating point enlarged to one ulp of x."""
    with np.errstate(over="ignore", invalid="ignore"):
        actual = (x + h) - x
    tiny = actual == 0
    if np.any(tiny):
        actual = np.where(tiny, np.spacing(np.abs(x)), actual)
        actual = np.where(actual == 0, np.finfo(np.float64).smallest_subnormal, actual)
    bad = ~np.isfinite(actual)
    if np.any(bad):
        raise ValueError(
            f"`h` is too large for x: x + h overflows at indices {np.flatnonzero(bad)[:10].tolist()}")
    return actual


def _check_user_step(h: Any, n: int) -> np.ndarray:
    """A user's absolute step: a positive finite scalar or a length-n array of them."""
    if isinstance(h, (str, bytes)) or isinstance(h, (bool, np.bool_)):
        raise TypeError(f"`h` must be a positive number or array, got {type(h).__name__}")
    try:
        arr = np.asarray(h, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"`h` must be a positive number or array, got {type(h).__name__}") from None
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    elif arr.shape != (n,):
        raise ValueError(f"`h` must be a scalar or have shape ({n},), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("`h` must be finite")
    if np.any(arr <= 0):
        raise ValueError("`h` must be > 0")
    return arr


def first_derivative_steps(x: np.ndarray, h: Any, eps: float, order: int) -> np.ndarray:
    """Representable per-coordinate steps for first derivatives.

    ``order`` is the accuracy order of the stencil: 1 for forward/backward differences,
    2, 4 or 6 for central ones.  ``h`` given by the user is an absolute step.
    """
    if h is None:
        h = relative_step(eps, "first", order) * np.maximum(1.0, np.abs(x))
    else:
        h = _check_user_step(h, x.shape[0])
    return representable(x, h)


def hessian_steps(x: np.ndarray, h: Any, eps: float) -> np.ndarray:
    """Representable per-coordinate steps for the second differences of a Hessian."""
    if h is None:
        h = relative_step(eps, "second", 2) * np.maximum(1.0, np.abs(x))
    else:
        h = _check_user_step(h, x.shape[0])
    return representable(x, h)


def directional_step(x: np.ndarray, direction: np.ndarray, h: Any, eps: float,
                     order: int) -> float:
    """The step t along `direction` (x + t * direction) for a directional derivative.

    Default: ``EPS**(1/3) * max(1, max |x_i|)`` over the coordinates the direction moves,
    divided by the largest |direction_i| so that no coordinate moves more than it would
    in a central-difference gradient.
    """
    moved = direction != 0
    if h is None:
        scale = max(1.0, float(np.max(np.abs(x[moved])))) if np.any(moved) else 1.0
        t = relative_step(eps, "first", order) * scale / float(np.max(np.abs(direction)))
    else:
        arr = _check_user_step(h, 1)
        t = float(arr[0])
    return t
