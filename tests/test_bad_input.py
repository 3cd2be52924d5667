"""Bad input gets a TypeError/ValueError naming the argument; errors inside f propagate unchanged;
no input array is ever modified (also when f raises midway)."""
import numpy as np
import pytest

import fastgrad as fg

NAN, INF = float("nan"), float("inf")


def sq(x, *args):
    return float(np.sum(x**2))


def sq_grad(x, *args):
    return 2 * x


X2 = np.array([1.0, 2.0])
XM = np.array([[1.0, 2.0], [0.5, -1.0], [2.0, 0.0], [-1.0, 1.0]])
YM = np.array([1.0, 0.0, 1.0, 0.0])
WM = np.array([0.3, -0.2])


def with_nan(a, idx=0):
    a = np.array(a, dtype=float)
    a.flat[idx] = NAN
    return a


def with_inf(a, idx=0):
    a = np.array(a, dtype=float)
    a.flat[idx] = INF
    return a


V = ValueError
T = TypeError
TV = (TypeError, ValueError)

# (id, thunk, exception, match): match is the argument's name as a word
CASES = []


def case(id_, thunk, exc, name):
    CASES.append(pytest.param(thunk, exc, rf"\b{name}\b", id=id_))


# ------------------------------------------------------------------ numerical_gradient & co.
for fname in ["numerical_gradient", "jacobian", "hessian"]:
    fn = getattr(fg, fname)
    fv = (lambda x: np.array([x[0], x[1]])) if fname == "jacobian" else sq
    case(f"{fname}-x-2d", lambda fn=fn, fv=fv: fn(fv, np.ones((2, 2))), V, "x")
    case(f"{fname}-x-empty", lambda fn=fn, fv=fv: fn(fv, np.array([])), V, "x")
    case(f"{fname}-x-nan", lambda fn=fn, fv=fv: fn(fv, with_nan(X2)), V, "x")
    case(f"{fname}-x-inf", lambda fn=fn, fv=fv: fn(fv, with_inf(X2, 1)), V, "x")
    case(f"{fname}-x-scalar", lambda fn=fn, fv=fv: fn(fv, 3.0), V, "x")
    case(f"{fname}-x-strings", lambda fn=fn, fv=fv: fn(fv, ["a", "b"]), TV, "x")
    case(f"{fname}-h-zero", lambda fn=fn, fv=fv: fn(fv, X2, 0.0), V, "h")
    case(f"{fname}-h-negative", lambda fn=fn, fv=fv: fn(fv, X2, -1e-3), V, "h")
    case(f"{fname}-h-nan", lambda fn=fn, fv=fv: fn(fv, X2, NAN), V, "h")
    case(f"{fname}-h-inf", lambda fn=fn, fv=fv: fn(fv, X2, INF), V, "h")
    case(f"{fname}-h-wrong-length", lambda fn=fn, fv=fv: fn(fv, X2, np.array([1e-3] * 3)), V, "h")
    case(f"{fname}-h-one-zero", lambda fn=fn, fv=fv: fn(fv, X2, np.array([1e-3, 0.0])), V, "h")
    case(f"{fname}-h-2d", lambda fn=fn, fv=fv: fn(fv, X2, np.full((2, 2), 1e-3)), V, "h")
    case(f"{fname}-f-not-callable", lambda fn=fn: fn(3.0, X2), T, "f")
    case(f"{fname}-f-returns-string", lambda fn=fn: fn(lambda x: "abc", X2), TV, "f")
    case(f"{fname}-f-returns-none", lambda fn=fn: fn(lambda x: None, X2), TV, "f")

for fname in ["numerical_gradient", "hessian"]:
    fn = getattr(fg, fname)
    case(f"{fname}-f-returns-vector", lambda fn=fn: fn(lambda x: np.array([1.0, 2.0]) * x[0], X2),
         TV, "f")

case("jacobian-f-returns-2d", lambda: fg.jacobian(lambda x: np.ones((2, 2)) * x[0], X2), TV, "f")

for m in ["centre", "Central", "", None, 2]:
    case(f"numerical_gradient-method-{m!r}",
         lambda m=m: fg.numerical_gradient(sq, X2, method=m), TV, "method")
    case(f"partial_derivative-method-{m!r}",
         lambda m=m: fg.partial_derivative(sq, X2, 0, method=m), TV, "method")
    case(f"jacobian-method-{m!r}", lambda m=m: fg.jacobian(sq_grad, X2, method=m), TV, "method")
for o in [0, 1, 3, -2, 2.5]:
    case(f"numerical_gradient-order-{o}", lambda o=o: fg.numerical_gradient(sq, X2, order=o),
         TV, "order")

case("partial-i-too-large", lambda: fg.partial_derivative(sq, X2, 2), (IndexError, ValueError),
     "i")
case("partial-i-too-small", lambda: fg.partial_derivative(sq, X2, -3),
     (IndexError, ValueError), "i")
case("partial-i-float", lambda: fg.partial_derivative(sq, X2, 0.5), TV, "i")
case("partial-x-nan", lambda: fg.partial_derivative(sq, with_nan(X2), 0), V, "x")
case("partial-h-zero", lambda: fg.partial_derivative(sq, X2, 0, 0.0), V, "h")
case("partial-f-not-callable", lambda: fg.partial_derivative("f", X2, 0), T, "f")
case("partial-f-returns-vector", lambda: fg.partial_derivative(lambda x: x, X2, 0), TV, "f")

case("directional-direction-wrong-length",
     lambda: fg.directional_derivative(sq, X2, np.ones(3)), V, "direction")
case("directional-direction-zero",
     lambda: fg.directional_derivative(sq, X2, np.zeros(2)), V, "direction")
case("directional-direction-nan",
     lambda: fg.directional_derivative(sq, X2, with_nan(np.ones(2))), V, "direction")
case("directional-direction-2d",
     lambda: fg.directional_derivative(sq, X2, np.ones((2, 1))), V, "direction")
case("directional-x-inf", lambda: fg.directional_derivative(sq, with_inf(X2), np.ones(2)), V, "x")
case("directional-h-negative",
     lambda: fg.directional_derivative(sq, X2, np.ones(2), -1.0), V, "h")
case("directional-f-not-callable",
     lambda: fg.directional_derivative(None, X2, np.ones(2)), T, "f")
case("directional-f-returns-vector",
     lambda: fg.directional_derivative(lambda x: x, X2, np.ones(2)), TV, "f")

case("hessian-grad-not-callable", lambda: fg.hessian(sq, X2, grad=3), T, "grad")
case("hessian-grad-wrong-length",
     lambda: fg.hessian(sq, X2, grad=lambda x: np.ones(3)), V, "grad")
case("hessian-grad-returns-scalar", lambda: fg.hessian(sq, X2, grad=lambda x: 1.0), TV, "grad")

case("check-f-not-callable", lambda: fg.check_gradient(1, sq_grad, X2), T, "f")
case("check-grad-not-callable", lambda: fg.check_gradient(sq, "g", X2), T, "grad")
case("check-grad-wrong-length",
     lambda: fg.check_gradient(sq, lambda x: np.ones(5), X2), V, "grad")
case("check-x-nan", lambda: fg.check_gradient(sq, sq_grad, with_nan(X2)), V, "x")
case("check-x-empty", lambda: fg.check_gradient(sq, sq_grad, np.array([])), V, "x")
case("check-f-returns-vector", lambda: fg.check_gradient(lambda x: x, sq_grad, X2), TV, "f")

# ------------------------------------------------------------------ losses
for lname in ["mse_loss", "mse_gradient", "logistic_loss", "logistic_gradient"]:
    fn = getattr(fg, lname)
    case(f"{lname}-X-1d", lambda fn=fn: fn(XM[:, 0], YM, WM), V, "X")
    case(f"{lname}-X-3d", lambda fn=fn: fn(XM[None], YM, WM), V, "X")
    case(f"{lname}-X-empty", lambda fn=fn: fn(XM[:0], YM[:0], WM), V, "X")
    case(f"{lname}-X-nan", lambda fn=fn: fn(with_nan(XM, 3), YM, WM), V, "X")
    case(f"{lname}-X-inf", lambda fn=fn: fn(with_inf(XM, 5), YM, WM), V, "X")
    case(f"{lname}-X-strings", lambda fn=fn: fn([["a", "b"]] * 4, YM, WM), TV, "X")
    case(f"{lname}-y-wrong-length", lambda fn=fn: fn(XM, YM[:3], WM), V, "y")
    case(f"{lname}-y-2d", lambda fn=fn: fn(XM, YM[:, None], WM), V, "y")
    case(f"{lname}-y-nan", lambda fn=fn: fn(XM, with_nan(YM, 2), WM), V, "y")
    case(f"{lname}-w-wrong-length", lambda fn=fn: fn(XM, YM, np.ones(3)), V, "w")
    case(f"{lname}-w-2d", lambda fn=fn: fn(XM, YM, WM[:, None]), V, "w")
    case(f"{lname}-w-nan", lambda fn=fn: fn(XM, YM, with_nan(WM, 1)), V, "w")
    case(f"{lname}-w-inf", lambda fn=fn: fn(XM, YM, with_inf(WM)), V, "w")
    case(f"{lname}-b-nan", lambda fn=fn: fn(XM, YM, WM, NAN), V, "b")
    case(f"{lname}-b-inf", lambda fn=fn: fn(XM, YM, WM, -INF), V, "b")
    case(f"{lname}-b-array", lambda fn=fn: fn(XM, YM, WM, np.ones(2)), TV, "b")
    case(f"{lname}-sw-negative",
         lambda fn=fn: fn(XM, YM, WM, sample_weight=np.array([1.0, -0.5, 1.0, 1.0])), V,
         "sample_weight")
    case(f"{lname}-sw-wrong-length",
         lambda fn=fn: fn(XM, YM, WM, sample_weight=np.ones(5)), V, "sample_weight")
    case(f"{lname}-sw-nan",
         lambda fn=fn: fn(XM, YM, WM, sample_weight=with_nan(np.ones(4))), V, "sample_weight")
for lname in ["logistic_loss", "logistic_gradient"]:
    fn = getattr(fg, lname)
    case(f"{lname}-y-above-1", lambda fn=fn: fn(XM, np.array([1.0, 0.0, 1.5, 0.0]), WM), V, "y")
    case(f"{lname}-y-below-0", lambda fn=fn: fn(XM, np.array([1.0, -0.1, 1.0, 0.0]), WM), V, "y")

# ------------------------------------------------------------------ clip_by_norm
case("clip-max_norm-zero", lambda: fg.clip_by_norm(np.ones(2), 0.0), V, "max_norm")
case("clip-max_norm-negative", lambda: fg.clip_by_norm(np.ones(2), -1.0), V, "max_norm")
case("clip-max_norm-nan", lambda: fg.clip_by_norm(np.ones(2), NAN), V, "max_norm")

# ------------------------------------------------------------------ fits
for fitname in ["fit_linear_regression", "fit_logistic_regression"]:
    fn = getattr(fg, fitname)
    for bad in [0.0, -0.1, NAN]:
        case(f"{fitname}-lr-{bad}", lambda fn=fn, bad=bad: fn(XM, YM, lr=bad), V, "lr")
    case(f"{fitname}-epochs-negative", lambda fn=fn: fn(XM, YM, epochs=-1), V, "epochs")
    for bad in [0.0, -1.0]:
        case(f"{fitname}-max_norm-{bad}", lambda fn=fn, bad=bad: fn(XM, YM, max_norm=bad), V,
             "max_norm")
    case(f"{fitname}-tol-negative", lambda fn=fn: fn(XM, YM, tol=-1e-6), V, "tol")
    case(f"{fitname}-X-1d", lambda fn=fn: fn(XM[:, 0], YM), V, "X")
    case(f"{fitname}-X-empty", lambda fn=fn: fn(XM[:0], YM[:0]), V, "X")
    case(f"{fitname}-X-nan", lambda fn=fn: fn(with_nan(XM, 2), YM), V, "X")
    case(f"{fitname}-y-wrong-length", lambda fn=fn: fn(XM, YM[:2]), V, "y")
    case(f"{fitname}-y-inf", lambda fn=fn: fn(XM, with_inf(YM)), V, "y")
    case(f"{fitname}-w0-wrong-length", lambda fn=fn: fn(XM, YM, w0=np.ones(3)), V, "w0")
    case(f"{fitname}-w0-nan", lambda fn=fn: fn(XM, YM, w0=with_nan(WM)), V, "w0")
    case(f"{fitname}-b0-nan", lambda fn=fn: fn(XM, YM, b0=NAN), V, "b0")
    case(f"{fitname}-sw-negative",
         lambda fn=fn: fn(XM, YM, sample_weight=np.array([1.0, 1.0, -1.0, 1.0])), V,
         "sample_weight")
    case(f"{fitname}-sw-wrong-length",
         lambda fn=fn: fn(XM, YM, sample_weight=np.ones(3)), V, "sample_weight")
case("fit_logistic-y-above-1",
     lambda: fg.fit_logistic_regression(XM, np.array([0.0, 2.0, 1.0, 0.0])), V, "y")
case("fit_logistic-y-below-0",
     lambda: fg.fit_logistic_regression(XM, np.array([0.0, -1.0, 1.0, 0.0])), V, "y")

# ------------------------------------------------------------------ gradient_descent
GD = fg.gradient_descent
case("gd-f-not-callable", lambda: GD(1.0, X2), T, "f")
case("gd-grad-not-callable", lambda: GD(sq, X2, grad="g"), T, "grad")
for bad in [0.0, -0.01, NAN]:
    case(f"gd-lr-{bad}", lambda bad=bad: GD(sq, X2, lr=bad), V, "lr")
case("gd-epochs-negative", lambda: GD(sq, X2, epochs=-5), V, "epochs")
case("gd-max_norm-zero", lambda: GD(sq, X2, max_norm=0.0), V, "max_norm")
case("gd-max_norm-negative", lambda: GD(sq, X2, max_norm=-2.0), V, "max_norm")
case("gd-tol-negative", lambda: GD(sq, X2, tol=-1.0), V, "tol")
case("gd-x0-2d", lambda: GD(sq, np.ones((2, 2))), V, "x0")
case("gd-x0-empty", lambda: GD(sq, np.array([])), V, "x0")
case("gd-x0-nan", lambda: GD(sq, with_nan(X2)), V, "x0")
case("gd-callback-not-callable", lambda: GD(sq, X2, callback=5), T, "callback")
case("gd-f-returns-vector", lambda: GD(lambda x: x, X2, grad=sq_grad, epochs=2), TV, "f")
case("gd-grad-wrong-length", lambda: GD(sq, X2, grad=lambda x: np.ones(3), epochs=2), V,
     "grad")


class TestBadInput:
    @pytest.mark.parametrize("thunk,exc,match", CASES)
    def test_raises_naming_the_argument(self, thunk, exc, match):
        with pytest.raises(exc, match=match):
            thunk()


# ================================================================== errors inside f
class Boom(Exception):
    pass


def raises_on_call(k, f=sq):
    """f that raises Boom on its k-th call, after k-1 normal calls."""
    state = {"n": 0}

    def wrapped(x, *args):
        state["n"] += 1
        if state["n"] >= k:
            raise Boom("boom 42 (user error)")
        return f(x, *args)

    return wrapped


X5 = np.array([0.5, -1.5, 2.0, 3.0, -0.25])

# (id, thunk taking (x, k) -> calls fastgrad with an f/grad that raises on call k)
RAISING = [
    pytest.param(lambda x, k: fg.numerical_gradient(raises_on_call(k), x), id="gradient-central"),
    pytest.param(lambda x, k: fg.numerical_gradient(raises_on_call(k), x, order=4),
                 id="gradient-order4"),
    pytest.param(lambda x, k: fg.numerical_gradient(raises_on_call(k), x, method="forward"),
                 id="gradient-forward"),
    pytest.param(lambda x, k: fg.numerical_gradient(raises_on_call(k), x, method="backward"),
                 id="gradient-backward"),
    pytest.param(lambda x, k: fg.partial_derivative(raises_on_call(k), x, 3), id="partial"),
    pytest.param(lambda x, k: fg.directional_derivative(raises_on_call(k), x, np.ones(5)),
                 id="directional"),
    pytest.param(lambda x, k: fg.jacobian(raises_on_call(k, sq_grad), x), id="jacobian"),
    pytest.param(lambda x, k: fg.hessian(raises_on_call(k), x), id="hessian-f"),
    pytest.param(lambda x, k: fg.hessian(sq, x, grad=raises_on_call(k, sq_grad)),
                 id="hessian-grad"),
    pytest.param(lambda x, k: fg.check_gradient(raises_on_call(k), sq_grad, x),
                 id="check-f"),
    # grad is called once by check_gradient: it raises on that call whatever k is
    pytest.param(lambda x, k: fg.check_gradient(sq, raises_on_call(1, sq_grad), x),
                 id="check-grad"),
    pytest.param(lambda x, k: fg.gradient_descent(raises_on_call(k), x, epochs=50),
                 id="descent-f-numerical"),
    pytest.param(lambda x, k: fg.gradient_descent(raises_on_call(k), x, grad=sq_grad, epochs=50),
                 id="descent-f"),
    pytest.param(lambda x, k: fg.gradient_descent(sq, x, grad=raises_on_call(k, sq_grad),
                                                  epochs=50), id="descent-grad"),
    pytest.param(lambda x, k: fg.gradient_descent(sq, x, grad=sq_grad, epochs=50,
                                                  callback=raises_on_call(k, lambda z: None)),
                 id="descent-callback"),
]


class TestErrorsInsideF:
    @pytest.mark.parametrize("k", [1, 2])
    @pytest.mark.parametrize("call", RAISING)
    def test_exception_propagates_unchanged(self, call, k):
        with pytest.raises(Boom, match=r"^boom 42 \(user error\)$"):
            call(X5.copy(), k)

    @pytest.mark.parametrize("k", [1, 2])
    @pytest.mark.parametrize("call", RAISING)
    def test_x_unchanged_after_exception(self, call, k):
        x = X5.copy()
        with pytest.raises(Boom):
            call(x, k)
        assert np.array_equal(x, X5)

    @pytest.mark.parametrize("exc", [KeyError("k"), ZeroDivisionError("z"), MemoryError("m"),
                                     KeyboardInterrupt()])
    def test_exception_type_preserved(self, exc):
        def f(x):
            raise exc

        with pytest.raises(type(exc)) as info:
            fg.numerical_gradient(f, X5)
        assert info.value is exc


# ================================================================== inputs never modified
def _snap(*arrays):
    return [np.array(a, copy=True) for a in arrays]


def _same(before, arrays):
    return all(np.array_equal(b, a) for b, a in zip(before, arrays))


SWM = np.array([1.0, 2.0, 0.5, 1.5])

UNCHANGED = [
    pytest.param(lambda a: fg.numerical_gradient(sq, a["x"], a["h"]), id="gradient-h"),
    pytest.param(lambda a: fg.numerical_gradient(sq, a["x"], method="forward"), id="gradient-fwd"),
    pytest.param(lambda a: fg.partial_derivative(sq, a["x"], 2, 1e-3), id="partial"),
    pytest.param(lambda a: fg.directional_derivative(sq, a["x"], a["d"]), id="directional"),
    pytest.param(lambda a: fg.jacobian(sq_grad, a["x"], a["h"]), id="jacobian"),
    pytest.param(lambda a: fg.hessian(sq, a["x"], a["h"]), id="hessian-f"),
    pytest.param(lambda a: fg.hessian(sq, a["x"], grad=sq_grad), id="hessian-grad"),
    pytest.param(lambda a: fg.check_gradient(sq, sq_grad, a["x"]), id="check"),
    pytest.param(lambda a: fg.gradient_descent(sq, a["x"], grad=sq_grad, epochs=5,
                                               max_norm=0.1), id="descent"),
    pytest.param(lambda a: fg.mse_loss(a["X"], a["y"], a["w"], sample_weight=a["sw"], l2=0.1),
                 id="mse_loss"),
    pytest.param(lambda a: fg.mse_gradient(a["X"], a["y"], a["w"], sample_weight=a["sw"], l2=.1),
                 id="mse_gradient"),
    pytest.param(lambda a: fg.logistic_loss(a["X"], a["y"], a["w"], sample_weight=a["sw"]),
                 id="logistic_loss"),
    pytest.param(lambda a: fg.logistic_gradient(a["X"], a["y"], a["w"], sample_weight=a["sw"]),
                 id="logistic_gradient"),
    pytest.param(lambda a: fg.clip_by_norm(a["x"], 0.5), id="clip"),
    pytest.param(lambda a: fg.fit_linear_regression(a["X"], a["y"], w0=a["w"], epochs=20,
                                                    sample_weight=a["sw"], max_norm=0.5),
                 id="fit_linear"),
    pytest.param(lambda a: fg.fit_logistic_regression(a["X"], a["y"], w0=a["w"], epochs=20,
                                                      sample_weight=a["sw"], max_norm=0.5),
                 id="fit_logistic"),
]


class TestInputsUnchanged:
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("call", UNCHANGED)
    def test_no_input_array_modified(self, call, dtype):
        a = {"x": X5.astype(dtype), "h": np.full(5, 1e-3, dtype=dtype),
             "d": np.arange(1.0, 6.0, dtype=dtype), "X": XM.astype(dtype),
             "y": YM.astype(dtype), "w": WM.astype(dtype), "sw": SWM.astype(dtype)}
        keys = sorted(a)
        before = _snap(*(a[k] for k in keys))
        call(a)
        assert _same(before, [a[k] for k in keys])

    @pytest.mark.parametrize("call", UNCHANGED)
    def test_read_only_inputs_accepted(self, call):
        a = {"x": X5.copy(), "h": np.full(5, 1e-3), "d": np.arange(1.0, 6.0), "X": XM.copy(),
             "y": YM.copy(), "w": WM.copy(), "sw": SWM.copy()}
        for v in a.values():
            v.flags.writeable = False
        call(a)

    def test_x_not_perturbed_while_f_runs(self):
        x = X5.copy()

        def f(z):
            assert np.array_equal(x, X5), "caller's x was modified during the call"
            return sq(z)

        fg.numerical_gradient(f, x)
        assert np.array_equal(x, X5)
