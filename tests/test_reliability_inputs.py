"""Reliability, guarantee 1: bad input never crashes fastgrad and never gives a silently
wrong number.

Every public function is called with arrays of every dtype (bool, signed and unsigned
integers, float16/32/64 in both byte orders, complex, object, unicode and byte strings,
datetimes), ndim 0-3, empty, non-contiguous, Fortran-ordered, read-only, zero-stride
(broadcast) and reversed views, with NaN and inf, and with lengths that disagree between
X, y, w, sample_weight, h, direction and bounds.  Each call must either

* return the correct result: compared with a NumPy reference computed from the float64
  values the documentation says fastgrad uses (real dtypes are converted; float32 X is
  used as float32), or
* raise TypeError/ValueError whose message names the argument (`` `x` ``, `` `y` `` ...).

Anything else fails: another exception type, a message that does not name the argument,
a wrong or non-finite value returned without a warning.  An oracle (``expect_*``)
decides from the arguments alone what the documented outcome is; where the
documentation leaves room (bool and object arrays, 0-d arrays and numpy scalars where a
number is expected) either outcome is accepted, but a returned value must still be
correct.

The same battery runs twice: as hypothesis property tests in this process, and as a
deterministic sweep over a fixed list of nasty arrays in a subprocess, so that a
segfault or abort fails one test instead of killing the whole run.

Each test here can fail: e.g. dropping the ``ndim`` check in ``as_point`` lets a (3, 2)
x reach the kernel (an IndexError/garbage, not a named ValueError); a non-``const``
memoryview makes read-only arrays raise "buffer source array is read-only" (does not
name the argument); accepting complex with ``np.asarray(h, dtype=float)`` raises
ComplexWarning (an error under this project's pytest settings) or drops the imaginary
part (wrong value).
"""
from __future__ import annotations

import importlib.util
import json
import math
import numbers
import operator
import os
import subprocess
import sys
import textwrap
import warnings
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastgrad as fg

# Derandomized so CI runs the same examples every time; no shrinking, so a failure costs
# no extra minutes (the falsifying example is printed as found).
SETTINGS = settings(max_examples=20, deadline=None, derandomize=True, database=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large])

N = 3          # default length of x
NS, D = 5, 2   # default shape of X


# ============================================================================ oracle
class Expect(Exception):
    """The oracle's verdict: the call must raise TypeError/ValueError naming one of `names`."""

    def __init__(self, *names: str) -> None:
        super().__init__(names)
        self.names = names


class Lenient:
    """Collects the arguments for which the documentation allows an error *or* a value."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        #: a step outside [1e-4, 1] was asked for: the value is the user's business, but
        #: a non-finite one must still come with a warning.
        self.loose = False


BAD_KINDS = "cV"   # complex, void (strings, datetimes: see canon)


def canon(value, name, lenient, *, ndim, length=None, other=(), allow_empty=False,
          finite=True, nan_only=False):
    """The float64 values fastgrad documents it uses for an array argument, or Expect.

    ``other``: names of arguments whose length must agree with this one (an error may
    name either).  ``nan_only``: inf is allowed, NaN is not (bounds).
    """
    if value is None or isinstance(value, (str, bytes)):
        raise Expect(name)
    try:
        a = np.asarray(value)
    except (TypeError, ValueError):
        raise Expect(name) from None
    if a.dtype.kind in BAD_KINDS:
        raise Expect(name)
    if a.dtype.kind in "ObUSMm":
        lenient.names.add(name)
    if a.dtype.kind in "OUSMm":   # numbers as objects, text or datetimes: error or values
        try:
            a = a.astype(np.float64)
        except (TypeError, ValueError):
            raise Expect(name) from None
    a = a.astype(np.float64)
    if ndim is not None and a.ndim != ndim:
        raise Expect(name)
    if not allow_empty and a.size == 0:
        raise Expect(name)
    if length is not None and a.shape[0] != length:
        raise Expect(name, *other)
    if nan_only:
        if np.any(np.isnan(a)):
            raise Expect(name)
    elif finite and not np.all(np.isfinite(a)):
        raise Expect(name)
    return a


def canon_real(value, name, lenient, *, check=None):
    """A real scalar argument (b, l2, lr, tol ...): float, or Expect(name).

    Strict: Python int/float and numpy integer/floating scalars are numbers; None, bools,
    strings, complex, datetimes and arbitrary objects are not.  Lenient (error or value):
    0-d and one-element arrays or sequences, Fraction, Decimal.
    """
    if isinstance(value, (bool, np.bool_)) or value is None or isinstance(value, (str, bytes)):
        raise Expect(name)
    if isinstance(value, (list, tuple, np.ndarray)):
        try:
            a = np.asarray(value)
        except (TypeError, ValueError):
            raise Expect(name) from None
        if a.size != 1 or a.ndim > 1 or a.dtype.kind in "bcUSVMm":
            raise Expect(name)
        lenient.names.add(name)
        try:
            value = float(a.reshape(()).item())
        except (TypeError, ValueError):
            raise Expect(name) from None
    elif isinstance(value, (np.integer, np.floating, int, float)):
        pass
    elif isinstance(value, (np.datetime64, np.timedelta64)):
        lenient.names.add(name)
        value = float(np.asarray(value).astype(np.float64))
    elif isinstance(value, (numbers.Real, Decimal)):  # Fraction, Decimal
        lenient.names.add(name)
    else:                                             # complex, datetimes, objects
        raise Expect(name)
    try:
        out = float(value)
    except (OverflowError, ValueError):
        raise Expect(name) from None
    if not math.isfinite(out):
        raise Expect(name)
    if check is not None and not check(out):
        raise Expect(name)
    return out


def canon_int(value, name, lenient, *, check=None):
    """An integer argument (epochs, i, order): int, or Expect(name)."""
    if isinstance(value, (bool, np.bool_)):
        raise Expect(name)
    if isinstance(value, np.ndarray):
        lenient.names.add(name)
    try:
        out = operator.index(value)
    except TypeError:
        raise Expect(name) from None
    if check is not None and not check(out):
        raise Expect(name)
    return out


def names_argument(msg: str, names) -> bool:
    """The message names one of `names` in backticks (`x`, `grad[1]`, `bounds (lb)`)."""
    return any(f"`{n}`" in msg or f"`{n}[" in msg or f"`{n} " in msg for n in names)


class Failure(AssertionError):
    pass


def run_case(fn_name: str, raw: dict) -> None:
    """Call fastgrad's `fn_name` with `raw` arguments and judge the outcome (Failure)."""
    spec = SPECS[fn_name]
    lenient = Lenient()
    must_raise = None
    try:
        expected = spec.expect(raw, lenient)
    except Expect as e:
        must_raise, expected = e.names, None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("error", np.exceptions.ComplexWarning)
        try:
            got = spec.call(raw)
        except (TypeError, ValueError) as exc:
            allowed = tuple(must_raise or ()) + tuple(lenient.names)
            if not allowed:
                raise Failure(f"{fn_name}: valid input raised {type(exc).__name__}: {exc}") from exc
            if not names_argument(str(exc), allowed):
                raise Failure(f"{fn_name}: {type(exc).__name__} does not name any of "
                              f"{allowed}: {exc!r}") from exc
            return
        except Exception as exc:  # any other type breaks the contract
            raise Failure(f"{fn_name}: raised {type(exc).__name__} (not TypeError/ValueError"
                          f" naming the argument): {exc!r}") from exc
    if must_raise is not None:
        raise Failure(f"{fn_name}: returned {got!r} where an error naming one of "
                      f"{must_raise} was due")
    warned = any(issubclass(w.category, RuntimeWarning) for w in caught)
    if lenient.loose:
        if isinstance(got, fg.FitResult):
            vals = np.concatenate([got.w.astype(np.float64), [got.b], got.loss_history])
            if not np.all(np.isfinite(vals)):
                raise Failure(f"{fn_name}: non-finite parameters or losses in {got!r}")
            return
        vals = np.asarray(got, dtype=np.float64)
        if not (np.all(np.isfinite(vals)) or warned):
            raise Failure(f"{fn_name}: non-finite {got!r} returned without a RuntimeWarning")
        return
    try:
        spec.compare(got, expected, warned)
    except AssertionError as exc:
        raise Failure(f"{fn_name}: wrong result: {exc}") from exc


def close(got, ref, rtol, atol, warned, what="value"):
    """assert got == ref within tolerance; non-finite entries only where the reference has
    them and only with a RuntimeWarning (never a silently non-finite number)."""
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert got.shape == ref.shape, f"{what}: shape {got.shape} != {ref.shape}"
    bad_ref = ~np.isfinite(ref)
    bad_got = ~np.isfinite(got)
    if np.any(bad_got):
        assert warned, f"{what}: non-finite {got} returned without a RuntimeWarning"
        assert np.all(bad_ref[bad_got]), f"{what}: non-finite {got}, reference {ref}"
    ok = ~bad_ref & ~bad_got
    np.testing.assert_allclose(got[ok], ref[ok], rtol=rtol, atol=atol, err_msg=what)
    assert np.array_equal(bad_got, bad_ref) or warned, f"{what}: {got} vs {ref}"


# ============================================================================ references
def coef(n):
    return 1.0 + 0.25 * np.arange(n), 0.5 - 0.3 * np.arange(n)


def fquad(v, *args):
    """sum(c v**2) + sum(d v): central differences of it are exact up to rounding."""
    c, d = coef(v.shape[-1])
    return float(np.sum(c * v * v) + np.sum(d * v))


def gquad(v, *args):
    c, d = coef(v.shape[-1])
    return 2 * c * v + d


def fvec(v, *args):
    return np.array([fquad(v), float(np.sum(v))])


HAS_NUMBA = importlib.util.find_spec("numba") is not None
_NATIVE: dict = {}


def native_fquad():
    """fquad as a native C function (numba cfunc as a LowLevelCallable): the compiled
    fast paths check x themselves, so they get the same battery."""
    if "f" not in _NATIVE:
        import numba
        from scipy import LowLevelCallable

        sig = numba.types.float64(numba.types.intc, numba.types.CPointer(numba.types.float64))

        @numba.cfunc(sig)
        def fn(n, v):
            s = 0.0
            for i in range(n):
                s += (1.0 + 0.25 * i) * v[i] * v[i] + (0.5 - 0.3 * i) * v[i]
            return s
        _NATIVE["f"] = LowLevelCallable(fn.ctypes)
    return _NATIVE["f"]


def ref_loss_grad(kind, X, y, w, b, sw, l2):
    with np.errstate(all="ignore"):
        return _ref_loss_grad(kind, X, y, w, b, sw, l2)


def _ref_loss_grad(kind, X, y, w, b, sw, l2):
    z = X @ w + b
    if kind == "mse":
        loss_i, dz = (z - y) ** 2, 2 * (z - y)
    else:
        loss_i, dz = np.logaddexp(0.0, z) - y * z, 0.5 * (1 + np.tanh(z / 2)) - y
    sw = np.ones_like(y) if sw is None else sw
    s = np.sum(sw)
    loss = np.sum(sw * loss_i) / s + float(np.sum((l2 * w) * w))   # 0 * huge w is 0
    return loss, X.T @ (sw * dz) / s + 2 * l2 * w, float(np.sum(sw * dz) / s)


def ref_fit(kind, X, y, *, lr, epochs, max_norm, tol, l2, sw, w0, b0, fit_intercept, dtype):
    w = np.zeros(X.shape[1]) if w0 is None else w0.astype(np.float64)
    w = w.astype(dtype).astype(np.float64)
    b = b0
    hist, status, gnorm = [], "max_epochs", float("nan")
    with np.errstate(all="ignore"):
        for _ in range(epochs):
            loss, gw, gb = ref_loss_grad(kind, X, y, w, b, sw, l2)
            gnorm = math.sqrt(float(gw @ gw) + (gb * gb if fit_intercept else 0.0))
            if not (math.isfinite(loss) and math.isfinite(gnorm)):
                status = "diverged"
                break
            if tol is not None and gnorm < tol:
                status = "converged"
                break
            hist.append(loss)
            scale = lr * (max_norm / gnorm) if max_norm is not None and gnorm > max_norm else lr
            nw = w - scale * gw
            nb = b - scale * gb if fit_intercept else b
            if not (np.all(np.isfinite(nw)) and math.isfinite(nb)):
                status = "diverged"
                break
            w, b = nw.astype(dtype).astype(np.float64), nb
    return w, b, np.array(hist), status


# ============================================================================ specs
class Spec:
    def __init__(self, call, expect, compare, defaults):
        self.call, self.expect, self.compare, self.defaults = call, expect, compare, defaults


def x_default():
    return np.array([0.5, -1.25, 2.0])


def _x(raw, lenient, name="x"):
    return canon(raw[name], name, lenient, ndim=1)


def _h(raw, lenient, n, x):
    """h: None, a positive scalar or a positive array of length n."""
    h = raw.get("h")
    if h is None:
        return None
    if isinstance(h, (bool, np.bool_, str, bytes)):
        raise Expect("h")
    hh = canon(h, "h", lenient, ndim=None)
    if hh.ndim == 0:
        hh = np.full(n, float(hh))
    elif hh.shape != (n,):
        raise Expect("h", "x")
    if np.any(hh <= 0):
        raise Expect("h")
    if np.any(hh < 1e-4) or np.any(hh > 1.0):  # out of the correctness window
        lenient.loose = True
    return hh


def _bounds(raw, lenient, x):
    b = raw.get("bounds")
    if b is None:
        return None
    n = x.shape[0]
    out = []
    for part in b:
        a = canon(part, "bounds", lenient, ndim=None, nan_only=True, allow_empty=True)
        if a.ndim == 0:
            a = np.full(n, float(a))
        if a.shape != (n,):
            raise Expect("bounds", "x")
        out.append(a)
    lb, ub = out
    if np.any(lb > ub):
        raise Expect("bounds")
    if np.any((x < lb) | (x > ub)):
        raise Expect("x", "bounds")
    if np.any(lb == ub):
        raise Expect("bounds", "x")
    return lb, ub


def grad_like(call_kw):
    """Spec for numerical_gradient / jacobian / hessian / check_gradient."""
    def expect(raw, lenient):
        x = _x(raw, lenient)
        names, out = [], []
        for check in (lambda: _h(raw, lenient, x.shape[0], x), lambda: _bounds(raw, lenient, x)):
            try:
                out.append(check())
            except Expect as e:           # several bad arguments: an error may name any
                names.extend(e.names)
        if names:
            raise Expect(*names)
        return (x, *out)
    return expect


def _tol_h(raw):
    x = np.asarray(raw["x"])
    return 1e-5 if x.dtype.kind == "f" and x.dtype.itemsize <= 4 else 1e-6


# --- numerical_gradient
def ng_call(raw):
    kw = {k: raw[k] for k in ("bounds",) if raw.get(k) is not None}
    return fg.numerical_gradient(fquad, raw["x"], raw.get("h"), **kw)


def ng_expect(raw, lenient):
    x = grad_like(None)(raw, lenient)[0]
    return gquad(x)


def cmp_vec(rtol=1e-6, atol=1e-6):
    def compare(got, ref, warned):
        assert isinstance(got, np.ndarray) and got.dtype == np.float64, f"type {type(got)}"
        close(got, ref, rtol, atol, warned)
    return compare


# --- partial_derivative
def pd_call(raw):
    return fg.partial_derivative(fquad, raw["x"], raw["i"], raw.get("h"))


def pd_expect(raw, lenient):
    x = _x(raw, lenient)
    n = x.shape[0]
    i = canon_int(raw["i"], "i", lenient, check=lambda v: -n <= v < n)
    h = raw.get("h")
    if h is not None:
        if isinstance(h, np.ndarray) and h.ndim > 0 and h.shape != (1,):
            raise Expect("h")
        if isinstance(h, np.ndarray) and h.shape == (1,):
            lenient.names.add("h")
        hv = canon_real(h if not (isinstance(h, np.ndarray) and h.shape == (1,)) else h[0],
                        "h", lenient, check=lambda v: v > 0)
        if not 1e-4 <= hv <= 1:
            lenient.loose = True
    return gquad(x)[i]


def cmp_float(rtol=1e-6, atol=1e-6):
    def compare(got, ref, warned):
        assert isinstance(got, float), f"type {type(got)}"
        close(got, ref, rtol, atol, warned)
    return compare


# --- directional_derivative
def dd_call(raw):
    return fg.directional_derivative(fquad, raw["x"], raw["direction"], raw.get("h"),
                                     normalize=raw.get("normalize", True))


def dd_expect(raw, lenient):
    x = _x(raw, lenient)
    u = canon(raw["direction"], "direction", lenient, ndim=1, length=x.shape[0], other=("x",))
    norm = float(np.linalg.norm(u))
    if norm == 0:
        raise Expect("direction")
    if raw.get("normalize", True):
        u = u / norm
    if raw.get("h") is not None:
        hv = canon_real(raw["h"], "h", lenient, check=lambda v: v > 0)
        if not 1e-4 <= hv <= 1:
            lenient.loose = True
    return float(gquad(x) @ u)


# --- jacobian
def jac_call(raw):
    kw = {k: raw[k] for k in ("bounds",) if raw.get(k) is not None}
    return fg.jacobian(fvec, raw["x"], raw.get("h"), **kw)


def jac_expect(raw, lenient):
    x = grad_like(None)(raw, lenient)[0]
    return np.vstack([gquad(x), np.ones_like(x)])


# --- hessian
def hess_call(raw):
    kw = {k: raw[k] for k in ("bounds", "grad") if raw.get(k) is not None}
    return fg.hessian(fquad, raw["x"], raw.get("h"), **kw)


def hess_expect(raw, lenient):
    x = grad_like(None)(raw, lenient)[0]
    return np.diag(2 * coef(x.shape[0])[0])


# --- check_gradient
def cg_call(raw):
    return fg.check_gradient(fquad, gquad, raw["x"], h=raw.get("h"),
                             rtol=raw.get("rtol", 1e-5), atol=raw.get("atol", 1e-6))


def cg_expect(raw, lenient):
    x = grad_like(None)(raw, lenient)[0]
    canon_real(raw.get("rtol", 1e-5), "rtol", lenient, check=lambda v: v >= 0)
    canon_real(raw.get("atol", 1e-6), "atol", lenient, check=lambda v: v >= 0)
    return x


def cg_compare(got, x, warned):
    assert isinstance(got, fg.GradientCheck), type(got)
    close(got.analytic, gquad(x), 1e-12, 1e-12, warned, "analytic")
    close(got.numeric, gquad(x), 1e-5, 1e-5, warned, "numeric")
    np.testing.assert_allclose(got.max_abs_error, np.max(np.abs(got.analytic - got.numeric)))


# --- losses
def loss_spec(kind, want_grad):
    fn = getattr(fg, f"{kind}_{'gradient' if want_grad else 'loss'}")

    def call(raw):
        return fn(raw["X"], raw["y"], raw["w"], raw.get("b", 0.0),
                  sample_weight=raw.get("sample_weight"), l2=raw.get("l2", 0.0))

    def expect(raw, lenient):
        X, y, w, b, sw, l2, dt = prepare(raw, lenient, kind == "logistic", "w", "b")
        loss, dw, db = ref_loss_grad("mse" if kind == "mse" else "logistic", X, y, w, b, sw, l2)
        return (loss, dw, db, dt)

    def compare(got, ref, warned):
        loss, dw, db, dt = ref
        rtol = 1e-5 if dt == np.float32 else 1e-9
        if want_grad:
            assert isinstance(got, tuple) and len(got) == 2, type(got)
            assert isinstance(got[0], np.ndarray) and got[0].dtype == dt, \
                f"dw dtype {getattr(got[0], 'dtype', None)}, X's dtype {dt}"
            assert isinstance(got[1], float), type(got[1])
            close(got[0], dw, rtol, 1e-9, warned, "dw")
            close(got[1], db, rtol, 1e-9, warned, "db")
        else:
            assert isinstance(got, float), type(got)
            close(got, loss, rtol, 1e-9, warned, "loss")
    return Spec(call, expect, compare, None)


def x_dtype(raw):
    """The dtype fastgrad computes in: X's when it is native float32/float64, else float64."""
    try:
        dt = np.asarray(raw["X"]).dtype
    except (TypeError, ValueError):
        return np.float64
    return np.float32 if dt == np.float32 else np.float64


def prepare(raw, lenient, logistic, w_name, b_name):
    X = canon(raw["X"], "X", lenient, ndim=2, finite=False)  # checked last, as documented
    n, d = X.shape
    dt = x_dtype(raw)
    y = canon(raw["y"], "y", lenient, ndim=1, length=n, other=("X",))
    if logistic and np.any((y < 0) | (y > 1)):
        raise Expect("y")
    w = raw.get(w_name)
    if w is not None:
        w = canon(w, w_name, lenient, ndim=1, length=d, other=("X",))
    b = canon_real(raw.get(b_name, 0.0), b_name, lenient)
    sw = raw.get("sample_weight")
    if sw is not None:
        sw = canon(sw, "sample_weight", lenient, ndim=1, length=n, other=("X",))
        if np.any(sw < 0) or not np.sum(sw) > 0:
            raise Expect("sample_weight")
    l2 = canon_real(raw.get("l2", 0.0), "l2", lenient, check=lambda v: v >= 0)
    if dt == np.float32:   # y, w, sample_weight are converted to X's dtype
        with np.errstate(over="ignore"):
            for name, a in (("y", y), (w_name, w), ("sample_weight", sw)):
                if a is not None and not np.all(np.isfinite(a.astype(np.float32))):
                    raise Expect(name)
        y = y.astype(np.float32).astype(np.float64)
        w = None if w is None else w.astype(np.float32).astype(np.float64)
        sw = None if sw is None else sw.astype(np.float32).astype(np.float64)
        X = X.astype(np.float32).astype(np.float64)
    if not np.all(np.isfinite(X)):
        raise Expect("X")
    return X, y, w, b, sw, l2, dt


# --- clip_by_norm
def clip_call(raw):
    return fg.clip_by_norm(raw["grad"], raw.get("max_norm", 1.0))


def clip_expect(raw, lenient):
    max_norm = canon_real(raw.get("max_norm", 1.0), "max_norm", lenient, check=lambda v: v > 0)
    g = raw["grad"]
    structured = isinstance(g, (tuple, list))
    items = list(g) if structured else [g]
    if structured and not items:
        raise Expect("grad")
    parts = [canon(it, "grad", lenient, ndim=None, allow_empty=True) for it in items]
    norm = math.sqrt(sum(float(np.sum(p * p)) for p in parts))
    scale = max_norm / norm if norm > max_norm else 1.0
    return structured, items, [p * scale for p in parts], norm


def clip_compare(got, ref, warned):
    structured, items, scaled, norm = ref
    assert isinstance(got, tuple) and len(got) == 2, type(got)
    out, gnorm = got
    low = any(np.asarray(it).dtype == np.float16 for it in items)
    rtol = 2e-3 if low else 1e-6
    close(gnorm, norm, rtol, 1e-12, warned, "norm")
    outs = list(out) if structured else [out]
    assert len(outs) == len(scaled)
    for o, s, it in zip(outs, scaled, items):
        close(o, s, rtol, 1e-12, warned, "clipped")
        if isinstance(it, np.ndarray) and it.ndim > 0 and it.dtype.kind == "f":
            assert (o.dtype.kind, o.dtype.itemsize) == (it.dtype.kind, it.dtype.itemsize), \
                f"clipped dtype {o.dtype} != {it.dtype}"


# --- fits
def fit_spec(kind):
    fn = fg.fit_linear_regression if kind == "mse" else fg.fit_logistic_regression
    keys = ("lr", "epochs", "max_norm", "tol", "l2", "sample_weight", "w0", "b0")

    def call(raw):
        kw = {k: raw[k] for k in keys if k in raw}
        return fn(raw["X"], raw["y"], **kw)

    def expect(raw, lenient):
        X, y, w0, b0, sw, l2, dt = prepare(raw, lenient, kind == "logistic", "w0", "b0")
        lr = canon_real(raw.get("lr", 0.01), "lr", lenient, check=lambda v: v > 0)
        if lr > 1e3:
            # absurd steps: z = X @ w + b is a difference of numbers ~lr whose rounding
            # (summation order) decides which side of a saturated sigmoid it falls; only
            # finiteness is comparable
            lenient.loose = True
        epochs = canon_int(raw.get("epochs", 1000), "epochs", lenient, check=lambda v: v >= 0)
        mn = raw.get("max_norm")
        mn = None if mn is None else canon_real(mn, "max_norm", lenient, check=lambda v: v > 0)
        tol = raw.get("tol")
        tol = None if tol is None else canon_real(tol, "tol", lenient, check=lambda v: v >= 0)
        return ref_fit(kind, X, y, lr=lr, epochs=epochs, max_norm=mn, tol=tol, l2=l2, sw=sw,
                       w0=w0, b0=b0, fit_intercept=True, dtype=dt) + (dt,)

    def compare(got, ref, warned):
        w, b, hist, status, dt = ref
        rtol = 1e-4 if dt == np.float32 else 1e-8
        assert isinstance(got, fg.FitResult), type(got)
        assert got.status == status, f"status {got.status!r}, reference {status!r}"
        assert got.w.dtype == dt, f"w dtype {got.w.dtype}"
        assert np.all(np.isfinite(got.w)) and math.isfinite(got.b), f"non-finite {got}"
        close(got.w, w, rtol, 1e-9, False, "w")
        close(got.b, b, rtol, 1e-9, False, "b")
        close(got.loss_history, hist, rtol, 1e-9, False, "loss_history")
    return Spec(call, expect, compare, None)


# --- gradient_descent
def gd_call(raw):
    kw = {k: raw[k] for k in ("lr", "epochs", "max_norm", "tol") if k in raw}
    return fg.gradient_descent(fquad, raw["x0"], grad=gquad, **kw)


def gd_expect(raw, lenient):
    x = canon(raw["x0"], "x0", lenient, ndim=1)
    lr = canon_real(raw.get("lr", 0.01), "lr", lenient, check=lambda v: v > 0)
    epochs = canon_int(raw.get("epochs", 100), "epochs", lenient, check=lambda v: v >= 0)
    mn = raw.get("max_norm")
    mn = None if mn is None else canon_real(mn, "max_norm", lenient, check=lambda v: v > 0)
    tol = raw.get("tol")
    tol = None if tol is None else canon_real(tol, "tol", lenient, check=lambda v: v >= 0)
    hist, status = [], "max_epochs"
    with np.errstate(all="ignore"):
        for _ in range(epochs):
            fx, g = fquad(x), gquad(x)
            gn = float(np.linalg.norm(g))
            if not (math.isfinite(fx) and math.isfinite(gn)):
                status = "diverged"
                break
            if tol is not None and gn < tol:
                status = "converged"
                break
            hist.append(fx)
            scale = mn / gn if mn is not None and gn > mn else 1.0
            xn = x - (lr * scale) * g
            if not np.all(np.isfinite(xn)):
                status = "diverged"
                break
            x = xn
    return x, np.array(hist), status


def gd_compare(got, ref, warned):
    x, hist, status = ref
    assert isinstance(got, fg.DescentResult), type(got)
    assert got.status == status, f"status {got.status!r}, reference {status!r}"
    close(got.x, x, 1e-9, 1e-12, False, "x")
    close(got.loss_history, hist, 1e-9, 1e-12, False, "loss_history")


def default_args(fn_name):
    """Valid arguments for fn_name (fresh arrays every time)."""
    fn_name = fn_name.removesuffix("-native")
    X = np.array([[1.0, 2.0], [0.5, -1.0], [2.0, 0.0], [-1.0, 1.0], [0.25, 0.75]])
    y = np.array([1.0, 0.0, 1.0, 0.0, 1.0])
    if fn_name in ("numerical_gradient", "jacobian", "hessian", "check_gradient"):
        return {"x": x_default()}
    if fn_name == "partial_derivative":
        return {"x": x_default(), "i": 1}
    if fn_name == "directional_derivative":
        return {"x": x_default(), "direction": np.array([1.0, 2.0, -2.0])}
    if fn_name in LOSSES:
        return {"X": X, "y": y, "w": np.array([0.3, -0.2]), "b": 0.1}
    if fn_name == "clip_by_norm":
        return {"grad": np.array([3.0, 4.0]), "max_norm": 1.0}
    if fn_name in FITS:
        return {"X": X, "y": y, "lr": 0.1, "epochs": 5}
    if fn_name == "gradient_descent":
        return {"x0": x_default(), "lr": 0.1, "epochs": 5}
    raise KeyError(fn_name)


LOSSES = ("mse_loss", "mse_gradient", "logistic_loss", "logistic_gradient")
FITS = ("fit_linear_regression", "fit_logistic_regression")
SPECS = {
    "numerical_gradient": Spec(ng_call, ng_expect, cmp_vec(), None),
    "partial_derivative": Spec(pd_call, pd_expect, cmp_float(), None),
    "directional_derivative": Spec(dd_call, dd_expect, cmp_float(), None),
    "jacobian": Spec(jac_call, jac_expect, cmp_vec(), None),
    "hessian": Spec(hess_call, hess_expect, cmp_vec(1e-4, 1e-3), None),
    "check_gradient": Spec(cg_call, cg_expect, cg_compare, None),
    "mse_loss": loss_spec("mse", False),
    "mse_gradient": loss_spec("mse", True),
    "logistic_loss": loss_spec("logistic", False),
    "logistic_gradient": loss_spec("logistic", True),
    "clip_by_norm": Spec(clip_call, clip_expect, clip_compare, None),
    "fit_linear_regression": fit_spec("mse"),
    "fit_logistic_regression": fit_spec("logistic"),
    "gradient_descent": Spec(gd_call, gd_expect, gd_compare, None),
    "numerical_gradient-native": Spec(
        lambda raw: fg.numerical_gradient(native_fquad(), raw["x"], raw.get("h")),
        ng_expect, cmp_vec(), None),
    "hessian-native": Spec(lambda raw: fg.hessian(native_fquad(), raw["x"], raw.get("h")),
                           hess_expect, cmp_vec(1e-4, 1e-3), None),
    "partial_derivative-native": Spec(
        lambda raw: fg.partial_derivative(native_fquad(), raw["x"], raw["i"], raw.get("h")),
        pd_expect, cmp_float(), None),
    "directional_derivative-native": Spec(
        lambda raw: fg.directional_derivative(native_fquad(), raw["x"], raw["direction"],
                                              raw.get("h")),
        dd_expect, cmp_float(), None),
}

# (function, argument, ndim and length it must have when valid, value range)
ARRAY_SLOTS = [
    ("numerical_gradient", "x"), ("numerical_gradient", "h"),
    ("numerical_gradient", "bounds"),
    ("partial_derivative", "x"), ("directional_derivative", "x"),
    ("directional_derivative", "direction"),
    ("jacobian", "x"), ("jacobian", "h"), ("hessian", "x"), ("hessian", "h"),
    ("check_gradient", "x"), ("check_gradient", "h"),
    *[(fn, a) for fn in LOSSES for a in ("X", "y", "w", "sample_weight")],
    ("clip_by_norm", "grad"), ("clip_by_norm", "grad-structured"),
    *[(fn, a) for fn in FITS for a in ("X", "y", "sample_weight", "w0")],
    ("gradient_descent", "x0"),
]
NATIVE_ARRAY_SLOTS = [
    ("numerical_gradient-native", "x"), ("numerical_gradient-native", "h"),
    ("hessian-native", "x"), ("partial_derivative-native", "x"),
    ("directional_derivative-native", "x"), ("directional_derivative-native", "direction"),
]
if HAS_NUMBA:
    ARRAY_SLOTS += NATIVE_ARRAY_SLOTS

SCALAR_SLOTS = [
    ("partial_derivative", "i", "int"), ("partial_derivative", "h", "real"),
    ("directional_derivative", "h", "real"),
    ("numerical_gradient", "h", "real"), ("hessian", "h", "real"),
    ("check_gradient", "rtol", "real"), ("check_gradient", "atol", "real"),
    ("mse_loss", "b", "real"), ("mse_gradient", "l2", "real"),
    ("logistic_gradient", "b", "real"), ("logistic_loss", "l2", "real"),
    ("clip_by_norm", "max_norm", "real"),
    *[(fn, a, k) for fn in FITS for a, k in (("lr", "real"), ("epochs", "int"),
                                             ("max_norm", "real"), ("tol", "real"),
                                             ("l2", "real"), ("b0", "real"))],
    ("gradient_descent", "lr", "real"), ("gradient_descent", "epochs", "int"),
    ("gradient_descent", "max_norm", "real"), ("gradient_descent", "tol", "real"),
]


def valid_shape(fn_name, slot):
    if slot in ("x", "x0", "h", "direction"):
        return (N,)
    if slot == "X":
        return (NS, D)
    if slot in ("y", "sample_weight"):
        return (NS,)
    if slot in ("w", "w0"):
        return (D,)
    return (N,)


def value_range(fn_name, slot):
    """Values the valid version of the argument takes (others are tried as well)."""
    if slot in ("h",):
        return 2.0**-10, 1.0
    if slot in ("sample_weight",):
        return 0.0, 4.0
    if slot == "y" and "logistic" in fn_name:
        return 0.0, 1.0
    if slot == "bounds":
        return -10.0, 10.0
    return -4.0, 4.0


def place(fn_name, slot, value):
    raw = default_args(fn_name)
    if slot == "bounds":
        raw["bounds"] = (value, np.inf)
    elif slot == "grad-structured":
        raw["grad"] = (value, 0.5)
    else:
        raw[slot] = value
    return raw


# ============================================================================ array maker
ALL_DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
              "float16", "float32", "float64", ">f4", ">f8", ">i4",
              "complex64", "complex128", "object", "object-bad", "U6", "S6",
              "datetime64[s]", "timedelta64[s]"]
LAYOUTS = ["C", "F", "strided", "reversed", "readonly", "broadcast", "list"]


def make_array(base: np.ndarray, dtype: str, layout: str, special: str | None = None):
    """`base` (float64 values) as an array of `dtype` in `layout`; special: nan/inf/-inf."""
    v = np.array(base, dtype=np.float64)
    if special is not None and v.size and dtype in ("float16", "float32", "float64",
                                                    ">f4", ">f8", "object", "complex128"):
        v.flat[v.size // 2] = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf}[special]
    if dtype == "bool":
        a = v > 0
    elif dtype[:3] in ("int", "uin", ">i4"):
        lo = 0 if dtype.startswith("uint") else -100
        a = np.clip(np.round(v), lo, 100).astype(dtype)
    elif dtype in ("complex64", "complex128"):
        a = (v + 0.5j).astype(dtype)
    elif dtype == "object":
        a = np.empty(v.shape, dtype=object)
        a.flat[:] = [float(t) for t in v.flat]
    elif dtype == "object-bad":
        a = np.empty(v.shape, dtype=object)
        a.flat[:] = [None if k == 0 else "x" if k == 1 else float(t) for k, t in enumerate(v.flat)]
    elif dtype in ("U6", "S6"):
        a = np.array([f"{t:.2f}" for t in v.flat], dtype=dtype).reshape(v.shape)
    elif dtype.startswith(("datetime", "timedelta")):
        a = np.round(v).astype(np.int64).astype(dtype)
    else:
        a = v.astype(dtype)
    if layout == "list":
        return a.tolist()
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "strided" and a.ndim:
        big = np.repeat(a, 2, axis=-1)
        return big[..., ::2]
    if layout == "reversed" and a.ndim:
        return np.ascontiguousarray(a[..., ::-1])[..., ::-1]
    if layout == "readonly":
        a = np.array(a)
        a.flags.writeable = False
        return a
    if layout == "broadcast" and a.ndim and a.size:
        # every row the same memory (zero stride), read-only
        return np.broadcast_to(a[:1], a.shape) if a.shape[0] > 0 else a
    return a


@st.composite
def arrays_for(draw, fn_name, slot):
    """An array for `slot`: usually of the valid shape, sometimes not; any dtype/layout."""
    shape = valid_shape(fn_name, slot)
    if draw(st.integers(0, 2)) == 0:     # a wrong shape: ndim 0-3, possibly empty
        shape = tuple(draw(st.lists(st.integers(0, 4), min_size=0, max_size=3)))
    lo, hi = value_range(fn_name, slot)
    base = draw(hnp.arrays(np.float64, shape,
                           elements=st.floats(lo, hi, width=16, allow_subnormal=False)))
    dtype = draw(st.sampled_from(ALL_DTYPES))
    layout = draw(st.sampled_from(LAYOUTS))
    special = draw(st.sampled_from([None, None, None, "nan", "inf", "-inf"]))
    return make_array(base, dtype, layout, special)


SCALAR_VALUES = [None, True, False, np.bool_(True), 0, 1, 2, 3, 4, 6, -1, -3, 7, 2**70,
                 0.0, -0.0, 1e-3, 0.05, 0.5, 2.5, -0.5, 1e308, 5e-324, float("nan"),
                 float("inf"), -float("inf"), 1 + 0j, 1j, "1", b"1", [1.0], (1.0,),
                 np.array(0.5), np.array(2), np.array([0.5]), np.float16(0.5),
                 np.float32(0.25), np.int64(2), np.uint8(3), np.float64("nan"),
                 Fraction(1, 2), Decimal("0.5"), object(), np.array(0.5, dtype=object),
                 np.datetime64(1, "s"), np.complex128(2.0)]


def scalar_strategy(kind):
    extra = (st.floats(allow_nan=True, allow_infinity=True) if kind == "real"
             else st.integers(-10, 10))
    return st.one_of(st.sampled_from(SCALAR_VALUES), extra)


# ============================================================================ tests
class TestArrayArguments:
    """Every array argument of every public function, fuzzed one at a time."""

    @pytest.mark.parametrize("fn_name,slot", ARRAY_SLOTS,
                             ids=[f"{f}-{s}" for f, s in ARRAY_SLOTS])
    @SETTINGS
    @given(data=st.data())
    def test_correct_result_or_named_error(self, fn_name, slot, data):
        value = data.draw(arrays_for(fn_name, slot), label=slot)
        run_case(fn_name, place(fn_name, slot, value))


class TestNativeSlots:
    def test_native_objectives_are_in_the_battery(self):
        pytest.importorskip("numba")
        assert all(slot in ARRAY_SLOTS for slot in NATIVE_ARRAY_SLOTS)


class TestScalarArguments:
    """Every number-like argument with values of every type, in and out of range."""

    @pytest.mark.parametrize("fn_name,slot,kind", SCALAR_SLOTS,
                             ids=[f"{f}-{s}" for f, s, _ in SCALAR_SLOTS])
    @settings(SETTINGS, max_examples=15)
    @given(data=st.data())
    def test_correct_result_or_named_error(self, fn_name, slot, kind, data):
        value = data.draw(scalar_strategy(kind), label=slot)
        if slot == "epochs" and isinstance(value, int) and value > 50:
            value = 50                   # huge epoch counts: see TestHugeEpochs
        run_case(fn_name, place(fn_name, slot, value))


class TestLengths:
    """Lengths that disagree between X, y, w, sample_weight (and x, h, direction, bounds)."""

    @pytest.mark.parametrize("fn_name", LOSSES + FITS)
    @settings(SETTINGS, max_examples=20)
    @given(data=st.data())
    def test_losses_and_fits(self, fn_name, data):
        n = data.draw(st.integers(1, 6), label="n")
        d = data.draw(st.integers(1, 4), label="d")
        ln = st.sampled_from([n, n, n, 0, 1, n + 1, max(n - 1, 0), 2 * n])
        ld = st.sampled_from([d, d, d, 0, 1, d + 1, max(d - 1, 0)])
        rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
        y_len, w_len = data.draw(ln, label="len(y)"), data.draw(ld, label="len(w)")
        sw_len = data.draw(st.sampled_from([None, n, n, 0, n + 1, max(n - 1, 0)]), label="len(sw)")
        raw = {"X": rng.normal(size=(n, d)).round(2),
               "y": rng.uniform(0, 1, size=y_len).round(2)}
        if sw_len is not None:
            raw["sample_weight"] = rng.uniform(0.5, 2, size=sw_len).round(2)
        if fn_name in FITS:
            raw.update(lr=0.1, epochs=3, w0=rng.normal(size=w_len).round(2))
        else:
            raw.update(w=rng.normal(size=w_len).round(2), b=0.25)
        run_case(fn_name, raw)

    @pytest.mark.parametrize("fn_name", ["numerical_gradient", "jacobian", "hessian",
                                         "check_gradient", "directional_derivative"])
    @settings(SETTINGS, max_examples=20)
    @given(data=st.data())
    def test_points_and_steps(self, fn_name, data):
        n = data.draw(st.integers(1, 5), label="n")
        other = st.sampled_from([n, n, 0, 1, n + 1, max(n - 1, 0)])
        rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
        raw = {"x": rng.uniform(-2, 2, size=n).round(2)}
        if fn_name == "directional_derivative":
            raw["direction"] = rng.uniform(0.5, 1, size=data.draw(other, label="len(direction)"))
        else:
            hl = data.draw(st.sampled_from([None, "scalar", n, 0, n + 1, max(n - 1, 0)]), label="h")
            if hl == "scalar":
                raw["h"] = 1e-2
            elif hl is not None:
                raw["h"] = np.full(hl, 1e-2)
            if fn_name in ("numerical_gradient", "jacobian", "hessian"):
                bl = data.draw(st.sampled_from([None, n, 0, n + 1, max(n - 1, 0)]), label="len(lb)")
                if bl is not None:
                    raw["bounds"] = (np.full(bl, -5.0), 5.0)
        run_case(fn_name, raw)


class TestHugeEpochs:
    """An epoch count is a limit, not a promise to run that long: with a tol the fit stops
    when it converges.  A count the fit cannot support must be a ValueError naming
    `epochs`, not an OverflowError/MemoryError from allocating a history that long."""

    @pytest.mark.parametrize("fit", [fg.fit_linear_regression, fg.fit_logistic_regression],
                             ids=["linear", "logistic"])
    @pytest.mark.parametrize("epochs", [10**11, 2**63 - 1, 2**64, 10**30])
    def test_huge_epoch_count_with_tol(self, fit, epochs):
        X = np.array([[1.0], [2.0], [-1.0]])
        y = np.array([1.0, 1.0, 0.0])
        try:
            r = fit(X, y, lr=0.1, epochs=epochs, tol=1e-2)
        except (TypeError, ValueError) as exc:
            assert "`epochs`" in str(exc), f"error does not name `epochs`: {exc!r}"
            return
        assert r.status == "converged" and r.n_epochs < 10**6, r

    @pytest.mark.parametrize("epochs", [10**11, 2**64])
    def test_gradient_descent_huge_epoch_count_with_tol(self, epochs):
        try:
            r = fg.gradient_descent(fquad, [1.0, 2.0], grad=gquad, lr=0.1, epochs=epochs, tol=1e-6)
        except (TypeError, ValueError) as exc:
            assert "`epochs`" in str(exc), f"error does not name `epochs`: {exc!r}"
            return
        assert r.status == "converged", r


class TestDirectionExtremes:
    """Directions whose norm overflows or underflows: a value or a named error."""

    @pytest.mark.parametrize("direction,normalize", [
        ([1e308, 1e308, 0.0], True), ([1e308, -1e308, 1e308], False),
        ([1e-320, 0.0, 0.0], True), ([1e-320, 0.0, 0.0], False),
        ([5e-324, 5e-324, 5e-324], True)])
    def test_direction_norm_extremes(self, direction, normalize):
        x = x_default()
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                got = fg.directional_derivative(fquad, x, direction, normalize=normalize)
        except (TypeError, ValueError) as exc:
            assert names_argument(str(exc), ("direction", "h")), repr(exc)
            return
        u = np.array(direction, dtype=np.float64)
        if normalize:
            u = u / np.max(np.abs(u))
            u = u / np.linalg.norm(u)
        with np.errstate(over="ignore"):
            ref = float(gquad(x) @ u)
        if math.isfinite(ref) and math.isfinite(got):
            assert got == pytest.approx(ref, rel=1e-6, abs=1e-6)
        else:
            assert any(issubclass(w.category, RuntimeWarning) for w in caught), \
                f"non-finite {got} (reference {ref}) without a warning"


# ============================================================================ subprocess
NASTY = [
    ("float64", "C", None), ("float32", "C", None), ("float16", "C", None),
    (">f8", "C", None), (">f4", "C", None), ("int64", "C", None), ("uint8", "C", None),
    ("int8", "F", None), (">i4", "C", None), ("bool", "C", None), ("object", "C", None),
    ("object-bad", "C", None), ("complex128", "C", None), ("complex64", "C", None),
    ("U6", "C", None), ("S6", "C", None), ("datetime64[s]", "C", None),
    ("timedelta64[s]", "C", None),
    ("float64", "F", None), ("float32", "F", None), ("float64", "strided", None),
    ("float32", "strided", None), ("float64", "reversed", None),
    ("float64", "readonly", None), ("float32", "readonly", None),
    ("float64", "broadcast", None), ("float32", "broadcast", None), ("float64", "list", None),
    ("float64", "C", "nan"), ("float32", "C", "inf"), ("float64", "readonly", "-inf"),
    ("object", "C", "nan"),
]


def sweep_shapes(fn_name, slot):
    good = valid_shape(fn_name, slot)
    shapes = [good, (), (0,), (1,), (good[0] + 1,) + good[1:], (2, 2), (2, 3, 1), (0, 3),
              (3, 0), (1, 1, 1)]
    out = []
    for s in shapes:
        if s not in out:
            out.append(s)
    return out


def sweep(limit: int | None = None) -> list:
    """The deterministic battery: every nasty array in every array slot, every scalar in
    every scalar slot.  Returns a list of failure descriptions."""
    failures = []
    rng = np.random.default_rng(12345)
    for fn_name, slot in ARRAY_SLOTS:
        lo, hi = value_range(fn_name, slot)
        for shape in sweep_shapes(fn_name, slot):
            base = np.round(rng.uniform(lo, hi, size=shape), 2)
            if slot in ("h", "sample_weight"):
                base = np.abs(base) + 0.01
            for dtype, layout, special in NASTY:
                value = make_array(base, dtype, layout, special)
                try:
                    run_case(fn_name, place(fn_name, slot, value))
                except Failure as exc:
                    failures.append(f"{fn_name}[{slot}={dtype}/{layout}/{special} shape "
                                    f"{shape}]: {exc}")
    for fn_name, slot, _kind in SCALAR_SLOTS:
        for value in SCALAR_VALUES:
            if slot == "epochs" and type(value) is int and value > 50:
                continue                     # see TestHugeEpochs
            try:
                run_case(fn_name, place(fn_name, slot, value))
            except Failure as exc:
                failures.append(f"{fn_name}[{slot}={value!r}]: {exc}")
    return failures


CHILD = textwrap.dedent("""
    import importlib.util, json, sys, warnings
    import numpy as np
    warnings.simplefilter("error", np.exceptions.ComplexWarning)
    spec = importlib.util.spec_from_file_location("battery", sys.argv[1])
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    failures = mod.sweep()
    print(json.dumps(failures))
""")


class TestBatteryInSubprocess:
    """The sweep in a child interpreter: a crash (segfault, abort) fails this test with the
    signal number instead of killing pytest."""

    def test_sweep_survives_in_a_subprocess(self, tmp_path):
        proc = subprocess.run([sys.executable, "-c", CHILD, os.path.abspath(__file__)],
                              capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False)
        assert proc.returncode == 0, (
            f"the battery child died (returncode {proc.returncode}"
            f"{', signal ' + str(-proc.returncode) if proc.returncode < 0 else ''}):\n"
            f"{proc.stderr[-3000:]}")
        failures = json.loads(proc.stdout.strip().splitlines()[-1])
        assert not failures, f"{len(failures)} failures, first ones:\n" + "\n".join(failures[:15])
