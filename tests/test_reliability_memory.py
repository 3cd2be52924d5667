"""Reliability, guarantee 6: no leaks.

* Repeated small calls of every public function leave the resident set size (RSS) and
  the tracemalloc total flat after a warm-up: growth < 1 MiB.  Call counts, to keep
  the suite fast on a 2-core CI machine: 100000 calls in all for the nine cheapest
  functions (about 11000 each), 5000 each for the five costlier ones (they take
  2-5x longer per call) and 2500 for each variant, measured on RSS; tracemalloc (which makes every call about 3x
  slower) watches 500 calls of each with a bound scaled to the same per-call budget
  (1 MiB per 100000 calls, i.e. about 10 bytes per call: one leaked float or array per
  call shows at once).  Variants that create a fresh callable (or a fresh native
  LowLevelCallable) for every call check that nothing is cached per callable.
* 1000 fits leave RSS and tracemalloc flat (< 1 MiB).
* Exceptions raised from user callbacks leak no reference: ``sys.getrefcount`` of x,
  of the extra arguments, of f and grad is the same before and after many failing calls
  (with the garbage collector disabled, so a reference cycle counts as a leak too).

Each test can fail: keeping the last exception on a module-level object (its traceback
holds f's frame, x and args) raises the refcounts; a cache keyed by f (a plain dict)
grows with every fresh lambda; a missing ``free`` of a kernel's scratch buffer or a
memoryview that is never released grows RSS.
"""
from __future__ import annotations

import gc
import os
import sys
import tracemalloc
import warnings

import numpy as np
import pytest

import fastgrad as fg

MiB = 1 << 20
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss() -> int:
    """Current resident set size in bytes (Linux /proc; else the peak from getrusage)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * PAGE
    except OSError:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def f(v, *args):
    return float(v[0] * v[0] + 3.0 * v[1] + (args[0] if args else 0.0))


def g(v, *args):
    return np.array([2.0 * v[0], 3.0])


X2 = np.array([1.0, 2.0])
XM = np.array([[1.0, 2.0], [3.0, 4.0], [0.5, 0.1]])
YM = np.array([1.0, 0.0, 1.0])
WM = np.array([0.1, 0.2])

_NATIVE = {}


def native_cfunc():
    if "cfunc" not in _NATIVE:
        numba = pytest.importorskip("numba")

        @numba.cfunc(numba.types.float64(numba.types.intc, numba.types.CPointer(numba.types.float64)))
        def fn(n, x):
            t = 0.0
            for i in range(n):
                t += x[i] * x[i]
            return t
        _NATIVE["cfunc"] = fn
    return _NATIVE["cfunc"]


def fresh_native(x):
    """A new LowLevelCallable around the same compiled function, every call."""
    from scipy import LowLevelCallable
    return fg.numerical_gradient(LowLevelCallable(native_cfunc().ctypes), x)


# name: (call, number of calls for the RSS loop)
CHEAP, COSTLY, VARIANT = 11_000, 5_000, 2_500
CALLS = {
    "numerical_gradient": (lambda: fg.numerical_gradient(f, X2), CHEAP),
    "partial_derivative": (lambda: fg.partial_derivative(f, X2, 1), CHEAP),
    "hessian": (lambda: fg.hessian(f, X2), CHEAP),
    "mse_loss": (lambda: fg.mse_loss(XM, YM, WM, 0.1), CHEAP),
    "mse_gradient": (lambda: fg.mse_gradient(XM, YM, WM, 0.1), CHEAP),
    "logistic_loss": (lambda: fg.logistic_loss(XM, YM, WM, 0.1), CHEAP),
    "logistic_gradient": (lambda: fg.logistic_gradient(XM, YM, WM, 0.1), CHEAP),
    "fit_linear_regression": (lambda: fg.fit_linear_regression(XM, YM, lr=0.01, epochs=5), CHEAP),
    "fit_logistic_regression": (lambda: fg.fit_logistic_regression(XM, YM, lr=0.01, epochs=5), CHEAP),
    "directional_derivative": (lambda: fg.directional_derivative(f, X2, [1.0, 1.0]), COSTLY),
    "jacobian": (lambda: fg.jacobian(g, X2), COSTLY),
    "check_gradient": (lambda: fg.check_gradient(f, g, X2), COSTLY),
    "clip_by_norm": (lambda: fg.clip_by_norm((WM, 0.5), 0.1), COSTLY),
    "gradient_descent": (lambda: fg.gradient_descent(f, X2, grad=g, lr=0.01, epochs=3), COSTLY),
    # a fresh callable and fresh arrays every call: nothing may be cached per callable
    "numerical_gradient-fresh-lambda": (
        lambda: fg.numerical_gradient(lambda v: float(v @ v), np.array([1.0, 2.0])), VARIANT),
    "numerical_gradient-with-args": (lambda: fg.numerical_gradient(f, X2, args=(0.5,)), VARIANT),
    "numerical_gradient-native-fresh-callable": (lambda: fresh_native(X2), VARIANT),
    "numerical_gradient-nan-warning": (lambda: _nan_call(), VARIANT),
}


def _nan_call():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fg.numerical_gradient(lambda v: float("nan") if v[1] > 2.0 else f(v), X2)


def traced_growth(call, n: int, warmup: int = 200) -> int:
    """Traced growth over n calls: the smaller of two consecutive windows of n calls.

    A leak of c bytes per call grows both windows by about c * n; a one-off allocation
    that happens to land in one window (a cache or free list of the interpreter or of
    NumPy growing once, as other tests ran before) grows only that one.
    """
    for _ in range(warmup):
        call()
    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(100):
            call()
        growths = []
        for _window in range(2):
            gc.collect()
            before = tracemalloc.get_traced_memory()[0]
            for _ in range(n):
                call()
            gc.collect()
            growths.append(tracemalloc.get_traced_memory()[0] - before)
        return min(growths)
    finally:
        tracemalloc.stop()


def both_growths(call, n: int, warmup: int = 50) -> tuple[int, int]:
    """(tracemalloc growth, RSS growth) over the same n calls, after a warm-up."""
    for _ in range(warmup):
        call()
    gc.collect()
    tracemalloc.start()
    try:
        call()
        gc.collect()
        traced0, rss0 = tracemalloc.get_traced_memory()[0], rss()
        for _ in range(n):
            call()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - traced0, rss() - rss0
    finally:
        tracemalloc.stop()


def rss_growth(call, n: int, warmup: int = 500) -> int:
    for _ in range(warmup):
        call()
    gc.collect()
    before = rss()
    for _ in range(n):
        call()
    gc.collect()
    return rss() - before


class TestRepeatedCalls:
    @pytest.mark.parametrize("name", list(CALLS))
    def test_tracemalloc_flat(self, name):
        call, _ = CALLS[name]
        n = 500
        growth = traced_growth(call, n)
        budget = MiB * n // 100_000          # ~10 bytes per call
        assert growth < budget, f"{name}: tracemalloc grew by {growth} bytes over {n} calls"

    @pytest.mark.parametrize("name", list(CALLS))
    def test_rss_flat(self, name):
        call, n = CALLS[name]
        growth = rss_growth(call, n)
        assert growth < MiB, f"{name}: RSS grew by {growth / MiB:.2f} MiB over {n} calls"


class TestFits:
    @pytest.mark.parametrize("fit", [fg.fit_linear_regression, fg.fit_logistic_regression],
                             ids=["linear", "logistic"])
    def test_thousand_fits(self, fit):
        r = np.random.default_rng(1)
        X = r.normal(size=(200, 5))
        y = (r.uniform(size=200) > 0.5).astype(float)

        def call():
            return fit(X, y, lr=0.05, epochs=30, max_norm=1.0, tol=1e-12)

        traced, resident = both_growths(call, 1000)
        assert traced < MiB and resident < MiB, (traced, resident)

    def test_thousand_fits_with_callback_and_divergence(self):
        r = np.random.default_rng(2)
        X = r.normal(size=(100, 4)) * 10
        y = r.normal(size=100)

        def call():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                fg.fit_linear_regression(X, y, lr=5.0, epochs=200,
                                         callback=lambda e, loss, w: False, callback_every=7)

        traced, resident = both_growths(call, 1000)
        assert traced < MiB and resident < MiB, (traced, resident)


class Boom(Exception):
    pass


def boom(v, *args):
    raise Boom("boom")


def boom_later():
    calls = [0]

    def fn(v, *args):
        calls[0] += 1
        if calls[0] % 3 == 0:
            raise Boom("later")
        return f(v)
    return fn


def returns_none(v, *args):
    return None


RAISING = {
    "numerical_gradient": lambda F, x, a: fg.numerical_gradient(F, x, args=a),
    "partial_derivative": lambda F, x, a: fg.partial_derivative(F, x, 0, args=a),
    "directional_derivative": lambda F, x, a: fg.directional_derivative(F, x, [1.0, 1.0], args=a),
    "jacobian": lambda F, x, a: fg.jacobian(F, x, args=a),
    "hessian": lambda F, x, a: fg.hessian(F, x, args=a),
    "hessian-grad": lambda F, x, a: fg.hessian(f, x, grad=F, args=a),
    "check_gradient-f": lambda F, x, a: fg.check_gradient(F, g, x, args=a),
    "check_gradient-grad": lambda F, x, a: fg.check_gradient(f, F, x, args=a),
    "gradient_descent-f": lambda F, x, a: fg.gradient_descent(F, x, grad=g, args=a, epochs=3),
    "gradient_descent-grad": lambda F, x, a: fg.gradient_descent(f, x, grad=F, args=a, epochs=3),
    "gradient_descent-callback": lambda F, x, a: fg.gradient_descent(
        f, x, grad=g, args=a, epochs=3, callback=lambda z: F(z, *a)),
}


class TestNoReferenceLeaks:
    @pytest.mark.parametrize("make_f", [lambda: boom, boom_later, lambda: returns_none],
                             ids=["raises", "raises-midway", "returns-None"])
    @pytest.mark.parametrize("name", list(RAISING))
    def test_refcounts_unchanged_after_failing_calls(self, name, make_f):
        run = RAISING[name]
        F = make_f()
        x = np.array([1.0, 2.0])
        extra = np.array([0.25])
        a = (extra,)
        for _ in range(5):          # warm-up: first-call caches, interned strings
            self._fail(run, F, x, a)
        gc.collect()
        gc.disable()
        try:
            before = (sys.getrefcount(x), sys.getrefcount(extra), sys.getrefcount(a),
                      sys.getrefcount(F))
            for _ in range(50):
                self._fail(run, F, x, a)
            after = (sys.getrefcount(x), sys.getrefcount(extra), sys.getrefcount(a),
                     sys.getrefcount(F))
        finally:
            gc.enable()
        assert after == before, (f"{name}: refcounts of (x, args[0], args, f) went from "
                                 f"{before} to {after} after 50 failing calls")

    @staticmethod
    def _fail(run, F, x, a) -> None:
        try:
            run(F, x, a)
        except (Boom, TypeError, ValueError):
            pass
        else:   # boom_later may not fire in every call; that is fine
            pass

    @pytest.mark.parametrize("fit", [fg.fit_linear_regression, fg.fit_logistic_regression],
                             ids=["linear", "logistic"])
    def test_fit_callback_raising_leaks_nothing(self, fit):
        X = np.random.default_rng(3).normal(size=(30, 2))
        y = (X[:, 0] > 0).astype(float)
        w0 = np.array([0.1, 0.2])

        def cb(epoch, loss, w):
            raise Boom("stop")

        for _ in range(5):
            try:
                fit(X, y, w0=w0, epochs=10, callback=cb)
            except Boom:
                pass
        gc.collect()
        gc.disable()
        try:
            before = tuple(sys.getrefcount(o) for o in (X, y, w0, cb))
            for _ in range(50):
                try:
                    fit(X, y, w0=w0, epochs=10, callback=cb)
                except Boom:
                    pass
            after = tuple(sys.getrefcount(o) for o in (X, y, w0, cb))
        finally:
            gc.enable()
        assert after == before, f"refcounts of (X, y, w0, callback): {before} -> {after}"
