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

import math
from typing import Any

import numpy as np

from . import _diff  # the rounding of steps itself is the kernels' (one copy, in C)
from ._validation import EPS64, check_step

__all__ = ["first_derivative_steps", "hessian_steps", "directional_step", "representable",
           "half_steps", "adaptive_steps", "one_coordinate_steps", "hessian_at_bound",
           "bounded_plan", "complex_steps", "STENCIL_ORDER", "STENCIL_WSUM",
           "STENCIL_TRUNCATION", "HESSIAN_ORDER", "hessian_error", "hessian_rounding"]


def _stencil_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Accuracy order p, sum of |weights| and truncation constant of every stencil of the
    kernels, derived from their offsets and weights (``_diff.STENCIL_OFFSETS/_WEIGHTS``).

    A first-derivative stencil sum_j w_j f(x + o_j h) / h has the Taylor expansion
    f' + sum_k (sum_j w_j o_j**k / k!) f^(k) h**(k-1): its order p is the first k - 1 > 0
    whose moment is not 0, and that moment |sum_j w_j o_j**(p+1)| / (p+1)! is the
    constant C of the truncation error C |f^(p+1)| h**p.  Rounding errors of f's values
    add up to at most EPS |f| sum_j |w_j| / h.
    """
    orders, wsums, consts = [], [], []
    for offs, ws in zip(_diff.STENCIL_OFFSETS, _diff.STENCIL_WEIGHTS):
        o, w = np.asarray(offs, dtype=np.float64), np.asarray(ws, dtype=np.float64)
        scale = float(np.sum(np.abs(w * o)))
        k = 2
        while abs(float(np.sum(w * o**k))) <= 1e-12 * scale * float(np.max(np.abs(o))) ** k:
            k += 1
        orders.append(k - 1)
        wsums.append(float(np.sum(np.abs(w))))
        consts.append(abs(float(np.sum(w * o**k))) / math.factorial(k))
    return np.array(orders), np.array(wsums), np.array(consts)


#: By stencil id: accuracy order, sum of |weights| (rounding) and truncation constant.
STENCIL_ORDER, STENCIL_WSUM, STENCIL_TRUNCATION = _stencil_tables()

#: Exponent of EPS in the default relative step, by (derivative, accuracy order).
_EXPONENT = {
    ("first", 1): 1 / 2,   # forward / backward differences
    ("first", 2): 1 / 3,   # central, order 2 (and one-sided order 2 near bounds)
    ("first", 4): 1 / 5,
    ("first", 6): 1 / 7,
    ("second", 2): 1 / 4,  # Hessian from f alone
}


def step_scale(x: np.ndarray) -> np.ndarray:
    """max(1, |x_i|): relative steps are taken relative to this."""
    return np.maximum(1.0, np.abs(x))


def relative_step(eps: float, derivative: str, order: int) -> float:
    """EPS**exponent for the given derivative and accuracy order."""
    return float(eps) ** _EXPONENT[(derivative, order)]


def representable(x: np.ndarray, h: np.ndarray | None = None, rel: float = 0.0) -> np.ndarray:
    """(x + h) - x, with steps that vanish in floating point enlarged to one ulp of x.

    h None: the relative steps ``rel * step_scale(x)``, computed in C by the code that
    the compiled default gradient uses too."""
    actual = _diff.representable(
        x, None if h is None else np.ascontiguousarray(h, dtype=np.float64), rel)
    if actual is None:
        hv = rel * step_scale(x) if h is None else h
        with np.errstate(over="ignore", invalid="ignore"):
            bad = ~np.isfinite((x + hv) - x)
        raise ValueError(
            "`h` is too large for x: x + h overflows at indices "
            f"{np.flatnonzero(bad)[:10].tolist()}")
    return actual


def first_derivative_steps(x: np.ndarray, h: Any, eps: float, order: int) -> np.ndarray:
    """Representable per-coordinate steps for first derivatives.

    ``order`` is the accuracy order of the stencil: 1 for forward/backward differences,
    2, 4 or 6 for central ones.  ``h`` given by the user is an absolute step.  The
    default is ``REL_STEP * step_scale(x)``, the steps of ``numerical_gradient``'s
    compiled default call.
    """
    if h is None:
        rel = (REL_STEP[(eps, order)] if (eps, order) in REL_STEP
               else relative_step(eps, "first", order))
        return representable(x, rel=rel)
    return representable(x, check_step(h, x.shape[0]))


#: EPS**exponent for first derivatives, by (EPS, accuracy order), computed once.
REL_STEP = {(float(np.finfo(t).eps), p): relative_step(float(np.finfo(t).eps), "first", p)
        for t in (np.float16, np.float32, np.float64) for p in (1, 2, 4, 6)}


def one_coordinate_steps(h: Any, n: int, coord: int) -> np.ndarray | None:
    """A user's step h for coordinate `coord` alone, as the length-n steps array
    ``first_derivative_steps`` takes (the other entries are never used); None for None."""
    if h is None:
        return None
    steps = np.ones(n)
    steps[coord] = check_step(h, 1)[0]
    return steps


def half_steps(x: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """The representable halves of `steps`: the second run of an error estimate
    (Richardson: the change between h and h/2 estimates the truncation error)."""
    return representable(x, steps / 2)


#: ``h="adaptive"``: start at ADAPTIVE_START * EPS**(1/7) * max(1, |x|), shrink by
#: ADAPTIVE_RATIO per level, at most ADAPTIVE_LEVELS levels after the first.
ADAPTIVE_START, ADAPTIVE_RATIO, ADAPTIVE_LEVELS = 8.0, 4.0, 10


def adaptive_steps(x: np.ndarray, eps: float, level: int) -> np.ndarray:
    """Representable steps of level `level` (0, 1, ...) of ``h="adaptive"`` (order 6)."""
    base = ADAPTIVE_START * relative_step(eps, "first", 6) * step_scale(x)
    return representable(x, base / ADAPTIVE_RATIO ** level)


def hessian_steps(x: np.ndarray, h: Any, eps: float) -> np.ndarray:
    """Representable per-coordinate steps for the second differences of a Hessian."""
    if h is None:
        h = relative_step(eps, "second", 2) * step_scale(x)
    else:
        h = check_step(h, x.shape[0])
    # second differences divide by h_i * h_j: keep that product a normal number
    return representable(x, np.maximum(h, _MIN_SECOND_STEP))


_MIN_SECOND_STEP = float(np.sqrt(np.finfo(np.float64).tiny)) * 2.0

#: The second differences of a Hessian from f (the 3-point diagonal and the 4-point
#: cross stencil over h_i h_j) have an error series in h**2, and the rounding of f's
#: values adds at most HESSIAN_ROUNDING * EPS * |f| / (h_i h_j) (sum of |weights| 4 of
#: the diagonal stencil, times the factor 4 the first-derivative rule uses for the
#: rounding of x + h itself).
HESSIAN_ORDER = 2
HESSIAN_ROUNDING = 16.0


def hessian_rounding(eps: float, f_scale: Any, hihj: Any) -> Any:
    """Rounding error of second differences of f over steps whose product is ``hihj``."""
    return HESSIAN_ROUNDING * eps * f_scale / hihj


def hessian_error(H: Any, H_half: Any, eps: float, f_scale: float, hihj: Any) -> Any:
    """Error estimate of second differences ``H`` from the same entries at half the steps:
    twice the Richardson truncation estimate (order ``HESSIAN_ORDER``, halved steps) plus
    the rounding of f's values over h_i h_j."""
    factor = 2.0 ** HESSIAN_ORDER / (2.0 ** HESSIAN_ORDER - 1.0)
    return 2.0 * np.abs(H - H_half) * factor + hessian_rounding(eps, f_scale, hihj)


def directional_step(x: np.ndarray, direction: np.ndarray, h: Any, eps: float,
                     order: int) -> float:
    """The step t along `direction` (x + t * direction) for a directional derivative.

    Default: ``EPS**(1/3) * max(1, max |x_i|)`` over the coordinates the direction moves,
    divided by the largest |direction_i| so that no coordinate moves more than it would
    in a central-difference gradient.
    """
    moved = direction != 0
    if h is None:
        big = float(np.max(step_scale(x[moved]))) if np.any(moved) else 1.0
        t = relative_step(eps, "first", order) * big / float(np.max(np.abs(direction)))
    else:
        t = float(check_step(h, 1)[0])
    # Enlarge a step below the resolution of x: every coordinate the direction moves
    # must actually move.  Then make it the step floating point takes along the
    # largest component of the direction.
    xm, um = x[moved], np.abs(direction[moved])
    t = max(t, float(np.max(np.spacing(np.abs(xm)) / um)))
    k = int(np.argmax(np.abs(direction)))
    with np.errstate(over="ignore", invalid="ignore"):
        actual = ((x[k] + t * direction[k]) - x[k]) / direction[k]
    return float(actual) if np.isfinite(actual) and actual > 0 else t


def estimated_error(sid: np.ndarray, h: np.ndarray, x: np.ndarray, eps: float) -> np.ndarray:
    """Estimated total error of stencils `sid` with steps h at x, relative to |f|.

    Truncation ``C h**p |f^(p+1)|`` plus rounding ``EPS sum|w| |f| / h``, with the model
    ``|f^(p+1)| ~ |f| / s**(p+1)``, ``s = max(1, |x|)``: the model for which the default
    steps ``EPS**(1/(p+1)) * s`` balance the two.
    """
    s = step_scale(x)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        return (STENCIL_TRUNCATION[sid] * (h / s) ** STENCIL_ORDER[sid] / s
                + eps * STENCIL_WSUM[sid] / h)


def bounded_plan(x: np.ndarray, steps: np.ndarray, sid: np.ndarray, lb: np.ndarray,
                 ub: np.ndarray, fallback: np.ndarray | None = None,
                 eps: float = EPS64
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Adapt stencils and steps so that no point leaves [lb, ub].

    A coordinate whose stencil fits keeps it.  Otherwise a central stencil turns into
    the one-sided second-order one towards the side with more room (a forward or
    backward one-sided stencil turns around), with the step ``fallback`` (the order-2
    step; default: the same steps), shrunk to the room there when it must.  When it
    must, both sides are short: the central order-2 stencil shrunk to the room on the
    nearer side is taken instead if its estimated total error (``estimated_error``,
    eps the machine epsilon of x's dtype) is smaller.  Raises ValueError when a
    coordinate has no room on either side.
    """
    d = _diff
    offs = d.STENCIL_OFFSETS
    steps = steps.copy()
    sid = sid.copy()

    def fits(s: np.ndarray, h: np.ndarray) -> np.ndarray:
        lo = np.array([min(offs[k]) for k in s])
        hi = np.array([max(offs[k]) for k in s])
        with np.errstate(invalid="ignore", over="ignore"):
            return (x + lo * h >= lb) & (x + hi * h <= ub)

    bad = ~fits(sid, steps)
    if not np.any(bad):
        return steps, sid
    room_up, room_dn = ub - x, x - lb
    zero = bad & (room_up <= 0) & (room_dn <= 0)
    if np.any(zero):
        raise ValueError("`bounds` leave no room to differentiate at coordinates "
                         f"{np.flatnonzero(zero)[:10].tolist()} (lb == ub)")
    one_sided = np.isin(sid, [d.ST["forward1"], d.ST["backward1"]])
    up = room_up >= room_dn
    new_sid = np.where(one_sided,
                       np.where(up, d.ST["forward1"], d.ST["backward1"]),
                       np.where(up, d.ST["forward2"], d.ST["backward2"])).astype(np.int8)
    reach = np.array([max(abs(o) for o in offs[k]) for k in new_sid])  # steps it spans
    room = np.where(up, room_up, room_dn)
    sid = np.where(bad, new_sid, sid).astype(np.int8)
    base = steps if fallback is None else np.where(one_sided, steps, fallback)
    steps = np.where(bad, np.minimum(base, room / reach), steps)
    both_short = bad & ~one_sided & (room / reach < base)
    if np.any(both_short):
        central = np.full_like(sid, d.ST["central2"])
        h_central = np.minimum(base, np.minimum(room_up, room_dn))
        better = both_short & (h_central > 0) & (
            estimated_error(central, h_central, x, eps) < estimated_error(sid, steps, x, eps))
        sid = np.where(better, central, sid).astype(np.int8)
        steps = np.where(better, h_central, steps)
    steps = representable(x, steps)
    for _ in range(60):  # rounding can push x + k h one ulp past the bound
        over = ~fits(sid, steps)
        if not np.any(over):
            break
        steps = np.where(over, steps * (1 - 2.0 ** -20), steps)
        steps = representable(x, steps)
    return steps, sid


def hessian_at_bound(x: np.ndarray, h: Any, eps: float, lb: np.ndarray,
                     ub: np.ndarray) -> np.ndarray | None:
    """None when the central second differences x +- h of ``hessian_steps`` stay in
    [lb, ub].  Otherwise the Hessian is the Jacobian of the bounded gradient (one-sided
    where needed; shrinking h to a tiny room near a bound would divide rounding noise by
    h**2), and this returns the steps of that outer Jacobian: the second-difference
    steps, since each of its entries is again a difference of differences."""
    steps = hessian_steps(x, h, eps)
    if np.all(x - steps >= lb) and np.all(x + steps <= ub):
        return None
    return steps


def complex_steps(x: np.ndarray, h: Any) -> np.ndarray:
    """Steps of the complex-step derivative: 1e-20 * max(1, |x_i|) by default.

    The complex step has no subtractive cancellation, so the step can be tiny and the
    truncation error O(h**2) vanishes below the rounding error of f itself.
    """
    if h is None:
        return 1e-20 * step_scale(x)
    return check_step(h, x.shape[0])


#: Adaptive Hessian from f: the cross stencil at steps h_l = HESS_ADAPTIVE_START *
#: max(1, |x_i|) / HESS_ADAPTIVE_RATIO**l, l < HESS_ADAPTIVE_LEVELS, then Richardson
#: extrapolation across levels (the stencil's error is a series in h**2).
HESS_ADAPTIVE_START, HESS_ADAPTIVE_RATIO, HESS_ADAPTIVE_LEVELS = 0.1, 2.0, 14


def adaptive_hessian_steps(x: np.ndarray, level: int,
                           bounds: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Representable steps of level ``level`` of the adaptive Hessian.  With bounds the
    first level is shrunk to the room on the narrower side (x +- h must stay inside);
    ValueError when a coordinate has no room at all."""
    h0 = HESS_ADAPTIVE_START * np.maximum(1.0, np.abs(x))
    if bounds is not None:
        room = np.minimum(bounds[1] - x, x - bounds[0])
        if np.any(room <= 0):
            raise ValueError("`h='adaptive'` needs room on both sides of x within `bounds`; "
                             "none at coordinates "
                             f"{np.flatnonzero(room <= 0)[:10].tolist()}")
        h0 = np.minimum(h0, 0.5 * room)
    return representable(x, h0 / HESS_ADAPTIVE_RATIO ** level)
