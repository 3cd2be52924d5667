"""Reliability, guarantee 2: fastgrad never damages the caller's data.

* No input array is modified, ever: not on success, not when f (or grad, or a callback)
  raises midway, not when a fit diverges.  Inputs are checked bitwise, and strided views
  are cut out of a larger guard buffer whose every byte is checked, so a kernel that
  writes through a view as if it were contiguous (or past its end) is caught too.
* The arrays handed to user code (f, grad, callbacks) belong to the user: f may keep
  them (as a cache or a log does) and they still hold the point f was called at after
  the call returns; f may scribble on them without changing fastgrad's result.
* Results do not alias inputs, and a later call does not overwrite an earlier result.

Each test can fail: a kernel that perturbs x in place and forgets to restore it when f
raises (no try/finally) fails ``TestFRaisesMidway``; handing f a view of the kernel's
work buffer instead of a fresh array fails ``TestArraysGivenToUserCode`` (the kept
arrays change after f returns) and the scribbling tests; returning ``w0`` itself as the
fitted weights fails ``TestResultsDoNotAlias``.
"""
from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import fastgrad as fg

RNG = np.random.default_rng(7)
A_ARG = np.array([1.0, -0.5, 2.0])  # extra argument of f through `args`


def f(v, a=None):
    """A smooth scalar function of any length that also reads its extra argument."""
    s = float(np.sum(np.sin(v) * (1.0 + 0.1 * np.arange(v.shape[-1])) + 0.5 * v * v))
    return s + (0.0 if a is None else 0.01 * float(np.sum(a)))


def g(v, a=None):
    return np.cos(v) * (1.0 + 0.1 * np.arange(v.shape[-1])) + v


def fv(v, a=None):
    return np.array([f(v, a), float(np.sum(v * v))])


# ------------------------------------------------------------------ guarded inputs
class Guard:
    """Input arrays in three layouts, and a bitwise record of every byte they live in."""

    def __init__(self, layout: str) -> None:
        self.layout = layout
        self._records: list[tuple[np.ndarray, np.ndarray]] = []

    def __call__(self, values) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        if self.layout == "f64":
            a = values.copy()
            base = a
        elif self.layout == "f32":
            a = values.astype(np.float32)
            base = a
        else:  # a strided view inside a buffer of sentinels
            shape = values.shape[:-1] + (2 * values.shape[-1] + 3,)
            base = np.full(shape, -7.25e11)
            a = base[..., 1:1 + 2 * values.shape[-1]:2]
            a[...] = values
        self._records.append((base, base.copy()))
        return a

    def assert_unchanged(self) -> None:
        for k, (base, before) in enumerate(self._records):
            assert base.tobytes() == before.tobytes(), (
                f"input #{k} ({self.layout}) was modified: {before.ravel()[:8]} -> "
                f"{base.ravel()[:8]}")


LAYOUTS = ["f64", "f32", "strided"]


def call_all(G: Guard) -> list:
    """Every public function once, all array inputs from G (callables are well behaved)."""
    x = G([0.3, -1.2, 2.0])
    X = G(RNG.normal(size=(30, 3)))
    y = G((RNG.uniform(size=30) > 0.5).astype(float))
    w = G([0.2, -0.1, 0.4])
    sw = G(RNG.uniform(0.5, 2.0, size=30))
    h = G([1e-3, 2e-3, 1e-3])
    d = G([1.0, 2.0, -1.0])
    a = G(A_ARG)
    lb, ub = G([-5.0, -5.0, -5.0]), G([5.0, 5.0, 5.0])
    grads = G([3.0, 4.0, 12.0])
    out = [
        fg.numerical_gradient(f, x, h, args=(a,)),
        fg.numerical_gradient(f, x, method="forward", args=(a,)),
        fg.partial_derivative(f, x, 1, args=(a,)),
        fg.directional_derivative(f, x, d, args=(a,)),
        fg.jacobian(fv, x, h, args=(a,)),
        fg.hessian(f, x, h, args=(a,)),
        fg.hessian(f, x, grad=g, args=(a,)),
        fg.check_gradient(f, g, x, h=h, args=(a,)),
        fg.mse_loss(X, y, w, 0.1, sample_weight=sw, l2=0.1),
        fg.mse_gradient(X, y, w, 0.1, sample_weight=sw, l2=0.1),
        fg.logistic_loss(X, y, w, 0.1, sample_weight=sw),
        fg.logistic_gradient(X, y, w, 0.1, sample_weight=sw),
        fg.clip_by_norm(grads, 1.0),
        fg.clip_by_norm((grads, 2.0), 1.0),
        fg.clip_by_norm([grads, w], 100.0),
        fg.fit_linear_regression(X, y, lr=0.05, epochs=20, max_norm=1.0, sample_weight=sw, w0=w),
        fg.fit_logistic_regression(X, y, lr=0.05, epochs=20, l2=0.1, sample_weight=sw, w0=w),
        fg.gradient_descent(f, x, grad=g, lr=0.1, epochs=5, args=(a,)),
        fg.gradient_descent(f, x, lr=0.1, epochs=3, args=(a,), callback=lambda z: False),
    ]
    if "bounds" in inspect.signature(fg.numerical_gradient).parameters:
        out.append(fg.numerical_gradient(f, x, args=(a,), bounds=(lb, ub)))
        out.append(fg.hessian(f, x, args=(a,), bounds=(lb, ub)))
    return out


class TestNoInputModified:
    @pytest.mark.parametrize("layout", LAYOUTS)
    def test_every_public_function_leaves_its_inputs_alone(self, layout):
        G = Guard(layout)
        call_all(G)
        G.assert_unchanged()

    @pytest.mark.parametrize("layout", LAYOUTS)
    def test_big_inputs_on_the_threaded_path(self, layout):
        # X large enough for the multi-threaded fused pass
        G = Guard(layout)
        X = G(RNG.normal(size=(20000, 8)))
        y = G(RNG.normal(size=20000))
        w0 = G(np.zeros(8))
        sw = G(RNG.uniform(0.5, 1.5, size=20000))
        fg.mse_gradient(X, y, w0, sample_weight=sw)
        fg.fit_linear_regression(X, y, lr=0.01, epochs=5, w0=w0, sample_weight=sw)
        G.assert_unchanged()

    def test_diverging_fit_leaves_inputs_alone(self):
        for layout in LAYOUTS:
            G = Guard(layout)
            X = G(RNG.normal(size=(40, 3)) * 10)
            y = G(RNG.normal(size=40))
            w0 = G([0.5, 0.5, 0.5])
            sw = G(np.ones(40))
            with pytest.warns(RuntimeWarning):
                r = fg.fit_linear_regression(X, y, lr=1e3, epochs=500, w0=w0, sample_weight=sw)
            assert r.status == "diverged"
            G.assert_unchanged()

    def test_diverging_gradient_descent_leaves_x0_alone(self):
        G = Guard("f64")
        x0 = G([1.0, 2.0])
        with pytest.warns(RuntimeWarning):
            r = fg.gradient_descent(lambda v: float(np.sum(v**4)), x0,
                                    grad=lambda v: 4 * v**3, lr=10.0, epochs=50)
        assert r.status == "diverged"
        G.assert_unchanged()


class Boom(Exception):
    pass


def raising_after(k, fun, exc=Boom):
    """fun, but the k-th call (1-based) scribbles on its argument and raises."""
    calls = [0]

    def wrapped(v, *args):
        calls[0] += 1
        if calls[0] >= k:
            v[...] = 1e300   # the user's function damages the array it was given
            raise exc("boom")
        return fun(v, *args)
    return wrapped


MIDWAY = [
    ("numerical_gradient", lambda F, x, a: fg.numerical_gradient(F, x, args=(a,))),
    ("numerical_gradient-order6", lambda F, x, a: fg.numerical_gradient(F, x, order=6, args=(a,))),
    ("numerical_gradient-forward", lambda F, x, a: fg.numerical_gradient(F, x, method="forward", args=(a,))),
    ("partial_derivative", lambda F, x, a: fg.partial_derivative(F, x, 2, args=(a,))),
    ("directional_derivative", lambda F, x, a: fg.directional_derivative(F, x, [1.0, 1.0, 1.0], args=(a,))),
    ("jacobian", lambda F, x, a: fg.jacobian(lambda v, a: np.array([F(v, a), 1.0]), x, args=(a,))),
    ("hessian", lambda F, x, a: fg.hessian(F, x, args=(a,))),
    ("hessian-grad", lambda F, x, a: fg.hessian(f, x, grad=lambda v, a: g(v) + 0 * F(v, a), args=(a,))),
    ("check_gradient-f", lambda F, x, a: fg.check_gradient(F, g, x, args=(a,))),
    ("check_gradient-grad", lambda F, x, a: fg.check_gradient(f, lambda v, a: g(v) + 0 * F(v, a), x, args=(a,))),
    ("gradient_descent-f", lambda F, x, a: fg.gradient_descent(F, x, lr=0.1, epochs=10, args=(a,))),
    ("gradient_descent-grad", lambda F, x, a: fg.gradient_descent(f, x, grad=lambda v, a: g(v) + 0 * F(v, a), lr=0.1, epochs=10, args=(a,))),
    ("gradient_descent-callback", lambda F, x, a: fg.gradient_descent(f, x, grad=g, lr=0.1, epochs=10, args=(a,), callback=lambda z: F(z, a) and False)),
]
if "vectorized" in inspect.signature(fg.numerical_gradient).parameters:
    MIDWAY += [
        ("numerical_gradient-vectorized", lambda F, x, a: fg.numerical_gradient(
            lambda P, a: np.array([F(p, a) for p in P]), x, args=(a,), vectorized=True)),
        ("numerical_gradient-workers-map", lambda F, x, a: fg.numerical_gradient(
            F, x, args=(a,), workers=map)),
        ("hessian-vectorized", lambda F, x, a: fg.hessian(
            lambda P, a: np.array([F(p, a) for p in P]), x, args=(a,), vectorized=True)),
    ]


class TestFRaisesMidway:
    """The user's code raises after some calls (and damaged the array it was handed)."""

    @pytest.mark.parametrize("when", ["first", "second", "last"])
    @pytest.mark.parametrize("name,run", MIDWAY, ids=[m[0] for m in MIDWAY])
    @pytest.mark.parametrize("exc", [Boom, KeyboardInterrupt], ids=["Exception", "KeyboardInterrupt"])
    def test_inputs_intact_after_an_exception(self, name, run, when, exc):
        calls = [0]

        def counting(v, *args):
            calls[0] += 1
            return f(v, *args)

        run(counting, np.array([0.3, -1.2, 2.0]), A_ARG.copy())
        k = {"first": 1, "second": min(2, calls[0]), "last": calls[0]}[when]
        for layout in ("f64", "strided"):
            G = Guard(layout)
            x = G([0.3, -1.2, 2.0])
            a = G(A_ARG)
            with pytest.raises(exc):
                run(raising_after(k, f, exc), x, a)
            G.assert_unchanged()

    @pytest.mark.parametrize("fit", [fg.fit_linear_regression, fg.fit_logistic_regression],
                             ids=["linear", "logistic"])
    @pytest.mark.parametrize("exc", [Boom, KeyboardInterrupt], ids=["Exception", "KeyboardInterrupt"])
    def test_fit_callback_raising_midway(self, fit, exc):
        for layout in LAYOUTS:
            G = Guard(layout)
            X = G(RNG.normal(size=(50, 3)))
            y = G((RNG.uniform(size=50) > 0.5).astype(float))
            w0 = G([0.1, 0.2, 0.3])
            sw = G(np.ones(50))
            def callback(epoch, loss, w, calls=[0]):  # noqa: B006 - a per-fit counter
                calls[0] += 1
                w[...] = np.nan          # damage the array handed to the callback
                if calls[0] == 3:
                    raise exc("stop")
                return False

            with pytest.raises(exc):
                fit(X, y, lr=0.1, epochs=100, w0=w0, sample_weight=sw, callback=callback)
            G.assert_unchanged()


# ------------------------------------------------------------------ arrays given to user code
class Keeper:
    """A function that keeps every array it is handed, with a copy taken at call time."""

    def __init__(self, fun) -> None:
        self.fun = fun
        self.kept: list[tuple[np.ndarray, np.ndarray]] = []

    def __call__(self, v, *args):
        self.kept.append((v, np.array(v, copy=True)))
        return self.fun(v, *args)

    def assert_kept_arrays_unchanged(self) -> None:
        assert self.kept, "never called"
        for k, (arr, at_call) in enumerate(self.kept):
            assert np.array_equal(arr, at_call, equal_nan=True), (
                f"array #{k} of {len(self.kept)} handed to user code changed after the call "
                f"returned: {at_call} -> {arr}")


def _vec(fun):
    """fun as a vectorized function: rows of a (k, n) array."""
    return lambda P, *a: np.array([fun(p, *a) for p in P])


CALLS = [
    ("numerical_gradient", lambda F, x: fg.numerical_gradient(F, x)),
    ("numerical_gradient-order4", lambda F, x: fg.numerical_gradient(F, x, order=4)),
    ("numerical_gradient-backward", lambda F, x: fg.numerical_gradient(F, x, method="backward")),
    ("partial_derivative", lambda F, x: fg.partial_derivative(F, x, 0)),
    ("directional_derivative", lambda F, x: fg.directional_derivative(F, x, [1.0, -1.0, 0.5])),
    ("jacobian", lambda F, x: fg.jacobian(lambda v: np.array([1.0, 2.0]) * F(v), x)),
    ("hessian", lambda F, x: fg.hessian(F, x)),
    ("hessian-grad", lambda F, x: fg.hessian(f, x, grad=lambda v: g(v) + 0 * F(v))),
    ("check_gradient", lambda F, x: fg.check_gradient(F, lambda v: g(v) + 0 * F(v), x)),
    ("gradient_descent", lambda F, x: fg.gradient_descent(F, x, lr=0.1, epochs=3)),
    ("gradient_descent-grad-callback", lambda F, x: fg.gradient_descent(
        F, x, grad=lambda v: g(v) + 0 * F(v), lr=0.1, epochs=3, callback=lambda z: F(z) and False)),
]
_params = inspect.signature(fg.numerical_gradient).parameters
if "vectorized" in _params:
    CALLS += [
        ("numerical_gradient-vectorized", lambda F, x: fg.numerical_gradient(_vec(F), x, vectorized=True)),
        ("numerical_gradient-workers-map", lambda F, x: fg.numerical_gradient(F, x, workers=map)),
        ("jacobian-workers-map", lambda F, x: fg.jacobian(lambda v: np.array([F(v), 1.0]), x, workers=map)),
        ("hessian-vectorized", lambda F, x: fg.hessian(_vec(F), x, vectorized=True)),
        ("numerical_gradient-bounds", lambda F, x: fg.numerical_gradient(F, x, bounds=(x - 1e-4, 10.0))),
        ("numerical_gradient-full_output", lambda F, x: fg.numerical_gradient(F, x, full_output=True)),
        ("numerical_gradient-adaptive", lambda F, x: fg.numerical_gradient(F, x, h="adaptive")),
        ("numerical_gradient-complex", lambda F, x: fg.numerical_gradient(F, x, method="complex")),
    ]


def fc(v):
    """f written with complex-safe operations (for the complex-step mode)."""
    return np.sum(np.sin(v) * (1.0 + 0.1 * np.arange(v.shape[-1])) + 0.5 * v * v)


class TestArraysGivenToUserCode:
    @pytest.mark.parametrize("name,run", CALLS, ids=[c[0] for c in CALLS])
    def test_kept_arrays_still_hold_the_point(self, name, run):
        keeper = Keeper(fc if "complex" in name else f)
        run(keeper, np.array([0.3, -1.2, 2.0]))
        keeper.assert_kept_arrays_unchanged()

    @pytest.mark.parametrize("name,run", CALLS, ids=[c[0] for c in CALLS])
    def test_scribbling_on_the_argument_changes_nothing(self, name, run):
        base = fc if "complex" in name else f

        def scribbler(v, *args):
            value = base(v, *args)
            v[...] = -9e9        # the user's f overwrites the array it was given
            return value

        x = np.array([0.3, -1.2, 2.0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            clean = run(base, x)
            dirty = run(scribbler, x)
        assert_same_result(clean, dirty)

    @pytest.mark.parametrize("fit", [fg.fit_linear_regression, fg.fit_logistic_regression],
                             ids=["linear", "logistic"])
    def test_fit_callback_keeps_and_scribbles(self, fit):
        X = RNG.normal(size=(60, 3))
        y = (RNG.uniform(size=60) > 0.5).astype(float)
        kept = []

        def callback(epoch, loss, w):
            kept.append((w, w.copy()))
            w[...] = 123.0          # must not leak into the fit
            return False

        clean = fit(X, y, lr=0.1, epochs=30)
        dirty = fit(X, y, lr=0.1, epochs=30, callback=callback)
        assert len(kept) == 30
        assert_same_result(clean, dirty)
        # every kept w was scribbled by the callback itself; the copies taken at call
        # time are the successive iterates: all different, the last one the result's
        snaps = np.array([c for _, c in kept])
        assert len({tuple(s) for s in snaps}) == len(snaps)
        for arr, _ in kept:
            assert np.all(arr == 123.0), "fastgrad wrote into an array it had handed out"


class TestArgumentBufferReuse:
    """f's argument array is reused for the next call only when nobody else can see it.

    fastgrad hands f one array and, when f kept no reference to it (and left it a plain
    1-D float64 array), fills the same array for the next call instead of allocating a
    new one.  These tests pin down the cases where reuse would be visible to the user:
    a kept weak reference, and an argument f reshaped, resized, re-typed or froze.
    """

    def test_weakly_referenced_arguments_are_never_refilled(self):
        import weakref
        seen: list[tuple[weakref.ref, np.ndarray]] = []

        def fun(v):
            for k, (ref, at_call) in enumerate(seen):
                arr = ref()
                if arr is not None:
                    assert np.array_equal(arr, at_call), f"argument #{k} was refilled"
            seen.append((weakref.ref(v), v.copy()))
            return f(v)

        x = np.array([0.3, -1.2, 2.0])
        np.testing.assert_array_equal(fg.numerical_gradient(fun, x),
                                      fg.numerical_gradient(f, x))
        assert len(seen) == 6

    @pytest.mark.parametrize("damage", ["reshape", "resize", "dtype", "readonly"])
    def test_an_argument_f_altered_is_not_handed_out_again(self, damage):
        shapes = []

        def fun(v):
            shapes.append((v.shape, v.dtype, v.flags.writeable))
            value = f(v)
            if damage == "reshape":
                v.shape = (1, v.size)
            elif damage == "resize":
                v.resize(2 * v.size, refcheck=False)
            elif damage == "dtype":
                v.dtype = np.int64
            else:
                v.flags.writeable = False
            return value

        x = np.array([0.3, -1.2, 2.0])
        np.testing.assert_array_equal(fg.numerical_gradient(fun, x),
                                      fg.numerical_gradient(f, x))
        assert shapes == [((3,), np.dtype(np.float64), True)] * 6

    def test_reused_argument_holds_each_new_point(self):
        points = []
        x = np.array([0.3, -1.2, 2.0])

        def fun(v):
            points.append(v.tolist())   # values only: the array itself may be reused
            return f(v)

        fg.numerical_gradient(fun, x)
        h = np.array([(np.array([p]) - x).ravel() for p in points])
        # central differences: coordinate i moved by -h_i then +h_i, the others exact
        for k, row in enumerate(h):
            i = k // 2
            assert np.count_nonzero(row) == 1 and row[i] != 0.0
            assert (row[i] > 0) == (k % 2 == 1)


def assert_same_result(a, b) -> None:
    if isinstance(a, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b)
        for p, q in zip(a, b):
            assert_same_result(p, q)
    elif hasattr(a, "__dataclass_fields__"):
        for k in a.__dataclass_fields__:
            assert_same_result(getattr(a, k), getattr(b, k))
    elif isinstance(a, (np.ndarray, float, np.floating)):
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b


# ------------------------------------------------------------------ results vs inputs
class TestResultsDoNotAlias:
    def test_results_own_their_memory(self):
        x = np.array([0.3, -1.2, 2.0])
        X = RNG.normal(size=(30, 3))
        y = RNG.normal(size=30)
        w0 = np.array([0.1, 0.2, 0.3])
        small = np.array([0.1, 0.2])          # below max_norm: returned unscaled
        pairs = [
            (fg.numerical_gradient(f, x), (x,)),
            (fg.jacobian(fv, x), (x,)),
            (fg.hessian(f, x), (x,)),
            (fg.mse_gradient(X, y, w0)[0], (X, y, w0)),
            (fg.logistic_gradient(X, (y > 0).astype(float), w0)[0], (X, w0)),
            (fg.clip_by_norm(small, 1.0)[0], (small,)),
            (fg.clip_by_norm((small, 0.5), 1.0)[0][0], (small,)),
            (fg.clip_by_norm([small], 1.0)[0][0], (small,)),
            (fg.fit_linear_regression(X, y, epochs=0, w0=w0).w, (X, y, w0)),
            (fg.fit_linear_regression(X, y, epochs=5, w0=w0).w, (X, y, w0)),
            (fg.gradient_descent(f, x, epochs=0).x, (x,)),
            (fg.gradient_descent(f, x, grad=g, epochs=3).x, (x,)),
        ]
        for k, (out, inputs) in enumerate(pairs):
            for inp in inputs:
                assert not np.shares_memory(out, inp), f"result #{k} shares memory with an input"

    def test_a_later_call_does_not_overwrite_an_earlier_result(self):
        x1, x2 = np.array([0.3, -1.2, 2.0]), np.array([5.0, 6.0, 7.0])
        X = RNG.normal(size=(30, 3))
        y = RNG.normal(size=30)
        makers = [
            lambda x: fg.numerical_gradient(f, x),
            lambda x: fg.hessian(f, x),
            lambda x: fg.jacobian(fv, x),
            lambda x: fg.mse_gradient(X, y, x)[0],
            lambda x: fg.logistic_gradient(X, (y > 0).astype(float), x)[0],
            lambda x: fg.clip_by_norm(x, 1.0)[0],
            lambda x: fg.fit_linear_regression(X, y, epochs=3, w0=x).w,
            lambda x: fg.gradient_descent(f, x, grad=g, epochs=2).x,
        ]
        for k, make in enumerate(makers):
            first = make(x1)
            saved = first.copy()
            make(x2)
            np.testing.assert_array_equal(first, saved, err_msg=f"maker #{k}")
