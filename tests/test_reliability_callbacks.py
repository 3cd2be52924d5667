"""Reliability, guarantee 3: user callables that misbehave.

f (or grad, or a callback) raises any exception type, KeyboardInterrupt and SystemExit
included; returns None, a string, an array, a 0-d array, a Python int, a numpy scalar,
NaN; grad returns the wrong shape.  Each gives the documented result:

* an exception raised by user code propagates unchanged: the very same object, with the
  user's frame still in its traceback;
* a value that is a real number in another type (0-d array, numpy scalar, Python int)
  is used exactly as ``float(value)`` would be (bitwise the same result);
* a value that is not a real scalar is a TypeError/ValueError naming `f` (or `grad`);
* NaN/inf gives non-finite entries exactly where they belong and a RuntimeWarning naming
  the coordinates;

and afterwards fastgrad works as if nothing had happened (bitwise the same results as a
fresh call).

Each test can fail: wrapping f's exception in a new one (``raise RuntimeError(...) from
exc``) fails the identity check; ``except Exception`` in the kernel's callback wrapper
lets KeyboardInterrupt escape from a ``noexcept`` function (printed, then ignored, and
the call returns garbage); iterating user results with ``list(map(...))`` turns a
StopIteration raised by f into a silently short result list; converting f's value with
``float(np.asarray(r))`` accepts a one-element array.
"""
from __future__ import annotations

import functools
import inspect
import math
import warnings

import numpy as np
import pytest

import fastgrad as fg

X0 = np.array([0.3, -1.2, 2.0])
N = X0.shape[0]
RNG = np.random.default_rng(3)
XF = RNG.normal(size=(40, 3))
YF = (RNG.uniform(size=40) > 0.5).astype(float)
HAS_MODES = "vectorized" in inspect.signature(fg.numerical_gradient).parameters


def f(v, *args):
    return float(np.sum(np.sin(v) + 0.5 * v * v * (1.0 + np.arange(v.shape[-1]))))


def g(v, *args):
    return np.cos(v) + v * (1.0 + np.arange(v.shape[-1]))


def vec(fun):
    return lambda P, *a: np.array([fun(p, *a) for p in P])


# Each role: (id, run(U)) where U is the user callable put in that role; the other
# callables are well behaved.  `kind` says what U must return: a scalar, an (n,) array
# (grad), an (m,) array (jacobian) or anything (callbacks).
ROLES = [
    ("numerical_gradient.f", "scalar", lambda U: fg.numerical_gradient(U, X0)),
    ("numerical_gradient.f-forward", "scalar", lambda U: fg.numerical_gradient(U, X0, method="forward")),
    ("numerical_gradient.f-order4", "scalar", lambda U: fg.numerical_gradient(U, X0, order=4)),
    ("partial_derivative.f", "scalar", lambda U: fg.partial_derivative(U, X0, 1)),
    ("directional_derivative.f", "scalar", lambda U: fg.directional_derivative(U, X0, [1.0, 0.5, -1.0])),
    ("jacobian.f", "vector", lambda U: fg.jacobian(U, X0)),
    ("hessian.f", "scalar", lambda U: fg.hessian(U, X0)),
    ("hessian.grad", "grad", lambda U: fg.hessian(f, X0, grad=U)),
    ("check_gradient.f", "scalar", lambda U: fg.check_gradient(U, g, X0)),
    ("check_gradient.grad", "grad", lambda U: fg.check_gradient(f, U, X0)),
    ("gradient_descent.f", "scalar", lambda U: fg.gradient_descent(U, X0, grad=g, lr=0.05, epochs=5)),
    ("gradient_descent.f-numerical", "scalar", lambda U: fg.gradient_descent(U, X0, lr=0.05, epochs=3)),
    ("gradient_descent.grad", "grad", lambda U: fg.gradient_descent(f, X0, grad=U, lr=0.05, epochs=5)),
    ("gradient_descent.callback", "callback", lambda U: fg.gradient_descent(
        f, X0, grad=g, lr=0.05, epochs=5, callback=lambda z: U(z) and False)),
    ("fit_linear_regression.callback", "callback", lambda U: fg.fit_linear_regression(
        XF, YF, lr=0.05, epochs=6, callback=lambda e, loss, w: U(w) and False)),
    ("fit_logistic_regression.callback", "callback", lambda U: fg.fit_logistic_regression(
        XF, YF, lr=0.05, epochs=6, callback=lambda e, loss, w: U(w) and False)),
]
if HAS_MODES:
    ROLES += [
        ("numerical_gradient.f-vectorized", "scalar",
         lambda U: fg.numerical_gradient(vec(U), X0, vectorized=True)),
        ("numerical_gradient.f-workers-map", "scalar", lambda U: fg.numerical_gradient(U, X0, workers=map)),
        ("jacobian.f-workers-map", "vector", lambda U: fg.jacobian(U, X0, workers=map)),
        ("hessian.f-vectorized", "scalar", lambda U: fg.hessian(vec(U), X0, vectorized=True)),
        ("numerical_gradient.f-bounds", "scalar", lambda U: fg.numerical_gradient(U, X0, bounds=(X0 - 1e-5, 9.0))),
        ("numerical_gradient.f-adaptive", "scalar", lambda U: fg.numerical_gradient(U, X0, h="adaptive")),
        ("numerical_gradient.f-full_output", "scalar", lambda U: fg.numerical_gradient(U, X0, full_output=True)),
    ]
ROLE_IDS = [r[0] for r in ROLES]


def good_for(kind):
    return {"scalar": f, "grad": g, "vector": lambda v: np.array([f(v), float(v[0] * v[1])]),
            "callback": lambda v: False}[kind]


def same(a, b) -> None:
    """Bitwise the same result (arrays, floats, result objects)."""
    if isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for p, q in zip(a, b):
            same(p, q)
    elif hasattr(a, "__dataclass_fields__"):
        assert type(a) is type(b)
        for k in a.__dataclass_fields__:
            same(getattr(a, k), getattr(b, k))
    elif isinstance(a, (np.ndarray, float, np.floating)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    else:
        assert a == b


class CustomError(Exception):
    def __init__(self, msg, payload):
        super().__init__(msg)
        self.payload = payload


class CustomBase(BaseException):
    pass


EXCEPTIONS = [
    lambda: ValueError("user value error"),
    lambda: TypeError("user type error"),
    lambda: ZeroDivisionError("user zero division"),
    lambda: MemoryError("user memory error"),
    lambda: StopIteration("user stop"),
    lambda: CustomError("custom", payload=[1, 2, 3]),
    lambda: KeyboardInterrupt(),
    lambda: SystemExit(3),
    lambda: GeneratorExit(),
    lambda: CustomBase("custom base exception"),
]
EXC_IDS = ["ValueError", "TypeError", "ZeroDivisionError", "MemoryError", "StopIteration",
           "CustomError", "KeyboardInterrupt", "SystemExit", "GeneratorExit", "CustomBase"]


def raiser(good, exc, at):
    """good, but the `at`-th call raises `exc` (the same object every time)."""
    calls = [0]

    def user(v, *args):
        calls[0] += 1
        if calls[0] >= at:
            raise exc
        return good(v, *args)
    return user


class TestExceptionsPropagate:
    @pytest.mark.parametrize("when", ["first-call", "last-call"])
    @pytest.mark.parametrize("make_exc", EXCEPTIONS, ids=EXC_IDS)
    @pytest.mark.parametrize("role,kind,run", ROLES, ids=ROLE_IDS)
    def test_same_exception_object_then_clean_state(self, role, kind, run, make_exc, when):
        good = good_for(kind)
        calls = [0]

        def counting(v, *args):
            calls[0] += 1
            return good(v, *args)

        before = run(counting)
        at = 1 if when == "first-call" else calls[0]
        exc = make_exc()
        try:
            run(raiser(good, exc, at))
        except BaseException as got:  # noqa: BLE001 - checking what propagates
            assert got is exc, (f"{role}: expected the user's {type(exc).__name__} object, got "
                                f"{type(got).__name__}: {got!r}")
            frames = []
            tb = got.__traceback__
            while tb is not None:
                frames.append(tb.tb_frame.f_code.co_name)
                tb = tb.tb_next
            assert frames[-1] == "user", f"{role}: the user's frame is not in the traceback {frames}"
        else:
            pytest.fail(f"{role}: the user's {type(exc).__name__} was swallowed")
        same(run(good), before)   # nothing left over from the failed call


class Scalarish:
    """Wrappers that return f's value as another kind of real number."""

    @staticmethod
    def zero_d(v):
        return np.array(f(v))

    @staticmethod
    def np_float64(v):
        return np.float64(f(v))

    @staticmethod
    def np_float32(v):
        return np.float32(f(v))

    @staticmethod
    def np_int64(v):
        return np.int64(max(min(round(1e6 * f(v)), 2**62), -2**62))

    @staticmethod
    def py_int(v):
        return max(min(round(1e6 * f(v)), 2**62), -2**62)

    @staticmethod
    def np_float16(v):
        return np.float16(f(v))


BAD_RETURNS = {
    "None": lambda v: None,
    "str": lambda v: "1.0",
    "bytes": lambda v: b"1.0",
    "array": lambda v: np.array([f(v), 1.0]),
    "one-element-array": lambda v: np.array([f(v)]),
    "list": lambda v: [f(v)],
    "complex": lambda v: complex(f(v), 1.0),
    "np-complex": lambda v: np.complex128(f(v)),
    "object": lambda v: object(),
    "dict": lambda v: {"value": f(v)},
    "2-d": lambda v: np.full((1, 1), f(v)),
    "datetime": lambda v: np.datetime64(1, "s"),
}
# (a vectorized f returns arrays by design: its shapes are in TestGradShapes)
BAD_CASES = [(role, run, bad) for role, kind, run in ROLES if kind == "scalar" for bad in BAD_RETURNS
             if not ("vectorized" in role and bad in ("array", "one-element-array", "list", "2-d"))]

SCALARISH = ["zero_d", "np_float64", "np_float32", "np_int64", "py_int", "np_float16"]
SCALAR_ROLES = [r for r in ROLES if r[1] == "scalar"]
SCALAR_ROLE_IDS = [r[0] for r in SCALAR_ROLES]


class TestReturnValues:
    @pytest.mark.parametrize("wrapper", SCALARISH)
    @pytest.mark.parametrize("role,kind,run", SCALAR_ROLES, ids=SCALAR_ROLE_IDS)
    def test_real_numbers_of_any_type_are_used_as_float(self, role, kind, run, wrapper):
        user = getattr(Scalarish, wrapper)
        def as_float(v):
            return float(user(v))

        same(run(user), run(as_float))


    @pytest.mark.parametrize("role,run,bad", BAD_CASES, ids=[f"{c[0]}-{c[2]}" for c in BAD_CASES])
    def test_not_a_real_scalar_is_a_named_error(self, role, run, bad):
        user = BAD_RETURNS[bad]
        with pytest.raises((TypeError, ValueError)) as info:
            run(user)
        assert "`f`" in str(info.value), f"{role}: message does not name `f`: {info.value!r}"
        same(run(f), run(f))

    @pytest.mark.parametrize("big", [2**63, 2**70, -(2**80), 10**300])
    def test_a_python_int_of_any_size_is_a_real_number(self, big):
        # the gradient of a constant is 0; a huge Python int is still a real number
        grad = fg.numerical_gradient(lambda v: big, X0)
        np.testing.assert_array_equal(grad, np.zeros(N))

    @pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
    def test_non_finite_value_warns_and_names_the_coordinate(self, bad):
        value = float(bad)

        def user(v):
            # non-finite only where coordinate 1 moved up from X0
            return value if v[1] > X0[1] else f(v)

        with pytest.warns(RuntimeWarning, match=r"\b1\b") as rec:
            grad = fg.numerical_gradient(user, X0)
        assert not np.isfinite(grad[1]), grad
        np.testing.assert_allclose(grad[[0, 2]], g(X0)[[0, 2]], rtol=1e-6)
        assert "[1]" in str(rec[0].message), str(rec[0].message)
        with pytest.warns(RuntimeWarning):
            H = fg.hessian(user, X0)
        assert not np.all(np.isfinite(H[1])) and np.all(np.isfinite(H[np.ix_([0, 2], [0, 2])]))
        with pytest.warns(RuntimeWarning):
            J = fg.jacobian(lambda v: np.array([user(v), f(v)]), X0)
        assert not np.isfinite(J[0, 1]) and np.all(np.isfinite(J[1]))
        with pytest.warns(RuntimeWarning):
            assert not math.isfinite(fg.partial_derivative(user, X0, 1))
        assert math.isfinite(fg.partial_derivative(user, X0, 0))

    @pytest.mark.parametrize("bad", ["nan", "inf"])
    def test_non_finite_f_in_gradient_descent_diverges(self, bad):
        calls = [0]

        def user(v):
            calls[0] += 1
            return float(bad) if calls[0] > 4 else f(v)

        with pytest.warns(RuntimeWarning):
            r = fg.gradient_descent(user, X0, grad=g, lr=0.05, epochs=10)
        assert r.status == "diverged" and np.all(np.isfinite(r.x)), r


WRONG_GRADS = {
    "too-long": lambda v: np.append(g(v), 1.0),
    "too-short": lambda v: g(v)[:-1],
    "scalar": lambda v: float(np.sum(g(v))),
    "column": lambda v: g(v)[:, None],
    "row": lambda v: g(v)[None, :],
    "empty": lambda v: np.empty(0),
    "None": lambda v: None,
    "str": lambda v: "grad",
    "complex": lambda v: g(v) + 1j,
    "object": lambda v: np.array([object()] * N),
}
GRAD_ROLES = [r for r in ROLES if r[1] == "grad"]


class TestGradShapes:

    @pytest.mark.parametrize("wrong", list(WRONG_GRADS))
    @pytest.mark.parametrize("role,kind,run", GRAD_ROLES, ids=[r[0] for r in GRAD_ROLES])
    def test_wrong_grad_is_a_named_error(self, role, kind, run, wrong):
        with pytest.raises((TypeError, ValueError)) as info:
            run(WRONG_GRADS[wrong])
        assert "`grad`" in str(info.value), f"{role}: message does not name `grad`: {info.value!r}"

    def test_jacobian_f_changing_its_output_shape(self):
        calls = [0]

        def user(v):
            calls[0] += 1
            return np.ones(2 if calls[0] < 3 else 3) * f(v)

        with pytest.raises(ValueError, match="`f`"):
            fg.jacobian(user, X0)

    @pytest.mark.skipif(not HAS_MODES, reason="needs vectorized=")
    @pytest.mark.parametrize("wrong", ["too-long", "too-short", "2-d", "str", "None", "scalar"])
    def test_vectorized_shapes(self, wrong):
        bad = {"too-long": lambda P: np.append(vec(f)(P), 1.0),
               "too-short": lambda P: vec(f)(P)[:-1],
               "2-d": lambda P: vec(f)(P)[:, None, None],
               "str": lambda P: "nope", "None": lambda P: None,
               "scalar": lambda P: 1.0}[wrong]
        with pytest.raises((TypeError, ValueError), match="`f`"):
            fg.numerical_gradient(bad, X0, vectorized=True)

    @pytest.mark.skipif(not HAS_MODES, reason="needs workers=")
    def test_map_like_returning_too_few_results(self):
        def short_map(fun, items):
            return list(map(fun, items))[:-1]

        with pytest.raises((TypeError, ValueError), match="`workers`"):
            fg.numerical_gradient(f, X0, workers=short_map)


class TestCallbacks:
    @pytest.mark.parametrize("fit", [fg.fit_linear_regression, fg.fit_logistic_regression],
                             ids=["linear", "logistic"])
    def test_fit_callback_stop_then_clean_state(self, fit):
        before = fit(XF, YF, lr=0.05, epochs=20)
        r = fit(XF, YF, lr=0.05, epochs=20, callback=lambda e, loss, w: e >= 5)
        assert r.status == "stopped" and r.n_epochs == 5, r
        with pytest.raises(ZeroDivisionError):
            fit(XF, YF, lr=0.05, epochs=20, callback=lambda e, loss, w: 1 / 0)
        same(fit(XF, YF, lr=0.05, epochs=20), before)

    def test_gradient_descent_callback_stop(self):
        r = fg.gradient_descent(f, X0, grad=g, lr=0.05, epochs=50,
                                callback=lambda z: np.bool_(z[0] < 0.2))
        assert r.status == "stopped", r


class TestReentrancy:
    def test_f_calling_fastgrad(self):
        def outer(v):
            inner = fg.numerical_gradient(f, v)       # f's own gradient, inside f
            return float(np.sum(inner))

        def outer_ref(v):
            return float(np.sum(g(v)))

        np.testing.assert_allclose(fg.numerical_gradient(outer, X0),
                                   fg.numerical_gradient(outer_ref, X0), rtol=1e-4, atol=1e-5)

    def test_f_catching_fastgrad_errors_from_a_nested_call(self):
        def outer(v):
            try:
                fg.numerical_gradient(lambda z: 1 / 0, v)
            except ZeroDivisionError:
                pass
            return f(v)

        same(fg.numerical_gradient(outer, X0), fg.numerical_gradient(f, X0))

    def test_any_callable_works(self):
        class Obj:
            def __call__(self, v):
                return f(v)

            def method(self, v):
                return f(v)

        ref = fg.numerical_gradient(f, X0)
        for user in (Obj(), Obj().method, functools.partial(f), np.vectorize(f, signature="(n)->()")):
            same(fg.numerical_gradient(user, X0), ref)
        np.testing.assert_allclose(fg.numerical_gradient(np.sum, X0), np.ones(N), rtol=1e-9)

    def test_warnings_as_errors_inside_f(self):
        # a user running with -W error: f's own warning is raised as an exception and
        # propagates like any other
        def user(v):
            warnings.warn("from f", UserWarning, stacklevel=1)
            return f(v)

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(UserWarning, match="from f"):
                fg.numerical_gradient(user, X0)
        same(fg.numerical_gradient(f, X0), fg.numerical_gradient(f, X0))
