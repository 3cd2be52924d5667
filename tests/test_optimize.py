"""Tests of gradient_of, hessian_of and newton.

gradient_of / hessian_of are checked to be exactly numerical_gradient / hessian and to work
as ``jac=`` / ``hess=`` of scipy.optimize.minimize (BFGS, Newton-CG, trust-constr on rosen,
against runs with scipy's analytic rosen_der / rosen_hess).  newton is checked on rosen, on
quadratics (closed-form minimiser), on an indefinite start, for its call counts, its result
object and its input checking.
"""
import dataclasses
import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import minimize, rosen, rosen_der, rosen_hess

import fastgrad
from fastgrad import gradient_of, hessian_of, newton

X2 = np.array([-1.2, 1.0])                       # the classic start
X5 = np.array([1.3, 0.7, 0.8, 1.9, 1.2])         # scipy's tutorial start, reaches (1, ..., 1)


def _counting(fun):
    """fun with a call counter: (wrapped, counter list)."""
    calls = [0]

    def wrapped(x, *args):
        calls[0] += 1
        return fun(x, *args)
    return wrapped, calls


def _quadratic(n=4, seed=0):
    """f(x) = x'Ax/2 - b'x with A symmetric positive definite: minimiser A^-1 b."""
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(n, n))
    A = M @ M.T + n * np.eye(n)
    b = rng.normal(size=n)
    return (lambda x: 0.5 * x @ A @ x - b @ x), (lambda x: A @ x - b), (lambda x: A), A, b


# --------------------------------------------------------------------------- scipy.optimize.minimize
class TestScipyMinimize:
    @pytest.mark.parametrize("x0", [X2, X5], ids=["n=2", "n=5"])
    def test_bfgs(self, x0):
        res = minimize(rosen, x0, method="BFGS", jac=gradient_of(rosen))
        ref = minimize(rosen, x0, method="BFGS", jac=rosen_der)
        assert res.success, res.message
        assert_allclose(res.x, np.ones_like(x0), atol=1e-5)
        assert_allclose(res.x, ref.x, atol=1e-6)
        assert abs(res.nit - ref.nit) <= 2

    @pytest.mark.parametrize("x0", [X2, X5], ids=["n=2", "n=5"])
    def test_newton_cg(self, x0):
        res = minimize(rosen, x0, method="Newton-CG", jac=gradient_of(rosen),
                       hess=hessian_of(rosen))
        ref = minimize(rosen, x0, method="Newton-CG", jac=rosen_der, hess=rosen_hess)
        assert res.success, res.message
        assert_allclose(res.x, np.ones_like(x0), atol=1e-3)   # Newton-CG's xtol is 1e-5
        assert_allclose(res.x, ref.x, atol=1e-4)

    @pytest.mark.parametrize("x0", [X2, X5], ids=["n=2", "n=5"])
    def test_trust_constr(self, x0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # trust-constr's "delta_grad == 0.0"
            res = minimize(rosen, x0, method="trust-constr", jac=gradient_of(rosen),
                           hess=hessian_of(rosen))
            ref = minimize(rosen, x0, method="trust-constr", jac=rosen_der, hess=rosen_hess)
        assert res.success, res.message
        assert_allclose(res.x, np.ones_like(x0), atol=1e-6)
        assert_allclose(res.x, ref.x, atol=1e-6)

    def test_order_4_gradient_matches_analytic_bfgs_run(self):
        res = minimize(rosen, X5, method="BFGS", jac=gradient_of(rosen, order=4))
        ref = minimize(rosen, X5, method="BFGS", jac=rosen_der)
        assert res.nit == ref.nit
        assert_allclose(res.x, ref.x, rtol=1e-10)

    def test_minimize_passes_its_args_to_jac_and_hess(self):
        def f(x, a, b):
            return a * np.sum((x - b) ** 2)
        res = minimize(f, np.zeros(3), args=(2.0, 3.0), method="Newton-CG",
                       jac=gradient_of(f), hess=hessian_of(f))
        assert res.success
        assert_allclose(res.x, 3.0, atol=1e-6)


# --------------------------------------------------------------------------- gradient_of, hessian_of
class TestGradientOf:
    @pytest.mark.parametrize("options", [{}, {"order": 4}, {"order": 6}, {"method": "forward"},
                                         {"method": "backward"}, {"h": 1e-4},
                                         {"h": [1e-3, 1e-4, 1e-5, 1e-6, 1e-7]}])
    def test_equals_numerical_gradient(self, options):
        assert_array_equal(gradient_of(rosen, **options)(X5),
                           fastgrad.numerical_gradient(rosen, X5, **options))

    def test_call_args_replace_bound_args(self):
        def f(x, a):
            return a * x @ x
        jac = gradient_of(f, args=(1.0,))
        x = np.array([1.0, -2.0])
        assert_allclose(jac(x), 2 * x, rtol=1e-9)
        assert_allclose(jac(x, 5.0), 10 * x, rtol=1e-9)
        assert_allclose(gradient_of(f, args=5.0)(x), 10 * x, rtol=1e-9)  # one arg, no tuple

    def test_picklable_with_a_picklable_f(self):
        jac = pickle.loads(pickle.dumps(gradient_of(rosen, order=4)))
        assert_array_equal(jac(X5), fastgrad.numerical_gradient(rosen, X5, order=4))
        hess = pickle.loads(pickle.dumps(hessian_of(rosen, grad=rosen_der)))
        assert_array_equal(hess(X5), fastgrad.hessian(rosen, X5, grad=rosen_der))

    def test_repr_names_f_and_options(self):
        assert repr(gradient_of(rosen, order=4)) == "gradient_of(rosen, method='central', order=4)"
        assert repr(hessian_of(rosen, grad=rosen_der)) == "hessian_of(rosen, grad=rosen_der)"


class TestHessianOf:
    def test_equals_hessian_from_f(self):
        assert_array_equal(hessian_of(rosen)(X5), fastgrad.hessian(rosen, X5))

    def test_equals_hessian_from_grad(self):
        H = hessian_of(rosen, grad=rosen_der)(X5)
        assert_array_equal(H, fastgrad.hessian(rosen, X5, grad=rosen_der))
        assert_allclose(H, rosen_hess(X5), rtol=1e-7, atol=1e-6)

    def test_step(self):
        assert_array_equal(hessian_of(rosen, h=1e-3)(X5), fastgrad.hessian(rosen, X5, h=1e-3))


# --------------------------------------------------------------------------- newton
class TestNewton:
    @pytest.mark.parametrize("derivatives", [{}, {"grad": rosen_der},
                                             {"grad": rosen_der, "hess": rosen_hess},
                                             {"hess": rosen_hess}],
                             ids=["numerical", "grad", "grad+hess", "hess"])
    def test_rosen_from_classic_start(self, derivatives):
        res = newton(rosen, X2, **derivatives)
        assert res.success and res.status == 0, res.message
        assert res.nit < 50
        assert_allclose(res.x, [1.0, 1.0], rtol=0, atol=1e-8)
        assert np.linalg.norm(rosen_der(res.x)) <= 1e-8 * 10  # true gradient, not only ours
        assert res.fun == rosen(res.x)

    def test_rosen_five_dimensions(self):
        res = newton(rosen, X5)
        assert res.success
        assert_allclose(res.x, np.ones(5), rtol=0, atol=1e-8)

    def test_convex_quadratic_analytic_one_step(self):
        f, g, h, A, b = _quadratic()
        res = newton(f, np.full(4, 10.0), grad=g, hess=h)
        assert res.success and res.nit == 1
        assert_allclose(res.x, np.linalg.solve(A, b), rtol=1e-12)

    def test_convex_quadratic_numerical_at_most_two_steps(self):
        f, _, _, A, b = _quadratic()
        res = newton(f, np.full(4, 10.0))
        assert res.success and res.nit <= 2
        assert_allclose(res.x, np.linalg.solve(A, b), rtol=1e-8)

    def test_indefinite_hessian_at_start_still_reaches_a_minimum(self):
        def f(v):                       # double well: minima at (+-1, 0), saddle at (0, 0)
            return v[0] ** 4 - 2 * v[0] ** 2 + v[1] ** 2
        for x0 in ([0.1, 1.0], [-0.2, -1.0]):
            H0 = fastgrad.hessian(f, x0)
            assert np.linalg.eigvalsh(H0)[0] < 0
            res = newton(f, x0)
            assert res.success
            assert_allclose(np.abs(res.x), [1.0, 0.0], atol=1e-8)
            assert np.all(np.linalg.eigvalsh(res.hess) > 0)

    def test_args_reach_f_grad_and_hess(self):
        def f(x, c):
            return np.sum((x - c) ** 2)
        seen = []

        def grad(x, c):
            seen.append(("grad", c))
            return 2 * (x - c)

        def hess(x, c):
            seen.append(("hess", c))
            return 2 * np.eye(x.size)
        res = newton(f, [0.0, 0.0], grad=grad, hess=hess, args=(3.0,))
        assert_allclose(res.x, [3.0, 3.0])
        assert {c for _, c in seen} == {3.0} and {k for k, _ in seen} == {"grad", "hess"}
        assert_allclose(newton(f, [0.0], args=(-2.0,)).x, [-2.0], atol=1e-8)

    def test_x0_is_not_modified(self):
        x0 = X2.copy()
        newton(rosen, x0)
        assert_array_equal(x0, X2)

    def test_maxiter_reached(self):
        res = newton(rosen, X2, maxiter=3)
        assert not res.success and res.status == 1 and res.nit == 3
        assert "maximum number of iterations (3)" in res.message
        assert newton(rosen, X2, maxiter=0).nit == 0

    def test_precision_loss_stops_with_status_2(self):
        # f's rounding (1e8 * EPS) hides the last digits: tol=1e-12 cannot be reached
        def f(x):
            return 1e8 + np.sum((x - 1.0) ** 2)
        res = newton(f, [3.0, -2.0], tol=1e-12)
        assert res.status == 2 and not res.success
        assert "line search" in res.message
        assert_allclose(res.x, [1.0, 1.0], atol=1e-3)

    def test_non_finite_gradient_stops_with_status_3(self):
        res = newton(lambda x: x @ x, [1.0, 2.0], grad=lambda x: np.full(2, np.nan))
        assert res.status == 3 and not res.success and res.nit == 0

    def test_already_at_the_minimum(self):
        res = newton(rosen, [1.0, 1.0], grad=rosen_der, hess=rosen_hess)
        assert res.success and res.nit == 0 and res.nfev == 1

    def test_tol(self):
        loose = newton(rosen, X2, tol=1e-2)
        assert loose.success and loose.grad_norm <= 1e-2
        assert loose.nit < newton(rosen, X2).nit


class TestNewtonCounts:
    def test_numerical_derivatives(self):
        f, calls = _counting(rosen)
        res = newton(f, X2)
        assert res.nfev == calls[0] and res.njev == 0 and res.nhev == 0

    def test_analytic_derivatives(self):
        f, fcalls = _counting(rosen)
        g, gcalls = _counting(rosen_der)
        h, hcalls = _counting(rosen_hess)
        res = newton(f, X2, grad=g, hess=h)
        assert (res.nfev, res.njev, res.nhev) == (fcalls[0], gcalls[0], hcalls[0])
        assert res.njev == res.nit + 1 and res.nhev == res.nit + 1  # last one: hess at x

    def test_hessian_from_grad(self):
        f, fcalls = _counting(rosen)
        g, gcalls = _counting(rosen_der)
        res = newton(f, X2, grad=g)
        assert (res.nfev, res.njev) == (fcalls[0], gcalls[0])


class TestNewtonResult:
    def test_fields_read_like_optimize_result(self):
        res = newton(rosen, X2, grad=rosen_der, hess=rosen_hess)
        for name in ("x", "fun", "jac", "hess", "nit", "nfev", "njev", "nhev", "success",
                     "status", "message"):
            assert hasattr(res, name)
        assert_array_equal(res.jac, rosen_der(res.x))
        assert_array_equal(res.hess, rosen_hess(res.x))
        assert isinstance(res, fastgrad.NewtonResult)

    def test_frozen(self):
        res = newton(rosen, X2)
        with pytest.raises(dataclasses.FrozenInstanceError):
            res.x = None

    def test_repr_is_one_readable_line(self):
        r = repr(newton(rosen, X2))
        assert "\n" not in r
        assert r.startswith("NewtonResult(success=True, status=0, nit=")
        assert "x=[1, 1]" in r and "message='converged" in r


# --------------------------------------------------------------------------- bad input
class TestBadInput:
    @pytest.mark.parametrize("kwargs, exc, match", [
        ({"x0": [[1.0, 2.0]]}, ValueError, "`x0` must be 1-D"),
        ({"x0": []}, ValueError, "`x0` must not be empty"),
        ({"x0": [1.0, np.nan]}, ValueError, "`x0` must be finite"),
        ({"x0": "ab"}, TypeError, "`x0`"),
        ({"f": 3.0}, TypeError, "`f` must be callable"),
        ({"grad": "rosen_der"}, TypeError, "`grad` must be callable"),
        ({"hess": 1}, TypeError, "`hess` must be callable"),
        ({"tol": -1.0}, ValueError, "`tol` must be >= 0"),
        ({"tol": "small"}, TypeError, "`tol`"),
        ({"maxiter": -1}, ValueError, "`maxiter` must be >= 0"),
        ({"maxiter": 2.5}, TypeError, "`maxiter` must be an integer"),
        ({"grad": lambda x: np.ones(3)}, ValueError, "`grad` must return an array of shape"),
        ({"hess": lambda x: np.ones((3, 3))}, ValueError, r"`hess` must return an array of shape \(2, 2\)"),
        ({"hess": lambda x: "H"}, TypeError, "`hess` must return an array of real numbers"),
        ({"f": lambda x: np.ones(2)}, ValueError, "`f` must return"),
        ({"f": lambda x: np.nan}, ValueError, "`f` must be finite at `x0`"),
    ])
    def test_newton(self, kwargs, exc, match):
        call = {"f": rosen, "x0": X2, **kwargs}
        with pytest.raises(exc, match=match):
            newton(call.pop("f"), call.pop("x0"), **call)

    def test_exception_from_f_propagates_unchanged(self):
        class Boom(Exception):
            pass

        def f(x):
            raise Boom("from f")
        with pytest.raises(Boom, match="from f"):
            newton(f, X2)

    @pytest.mark.parametrize("kwargs, exc, match", [
        ({"f": None}, TypeError, "`f` must be callable"),
        ({"method": "sideways"}, ValueError, "`method` must be one of"),
        ({"order": 3}, ValueError, "`order` must be one of"),
        ({"order": 4, "method": "forward"}, ValueError, "`order`"),
        ({"h": -1e-3}, ValueError, "`h` must be > 0"),
        ({"h": "tiny"}, ValueError, "`h` must be a number, an array or 'adaptive'"),
        ({"args": (1.0,)}, TypeError, None),  # rosen takes no extra argument: f's own error
    ])
    def test_gradient_of(self, kwargs, exc, match):
        call = {"f": rosen, **kwargs}
        if match is None:
            jac = gradient_of(call.pop("f"), **call)
            with pytest.raises(exc):
                jac(X2)
            return
        with pytest.raises(exc, match=match):
            gradient_of(call.pop("f"), **call)

    @pytest.mark.parametrize("kwargs, exc, match", [
        ({"f": "rosen"}, TypeError, "`f` must be callable"),
        ({"grad": 2}, TypeError, "`grad` must be callable"),
        ({"h": 0.0}, ValueError, "`h` must be > 0"),
    ])
    def test_hessian_of(self, kwargs, exc, match):
        call = {"f": rosen, **kwargs}
        with pytest.raises(exc, match=match):
            hessian_of(call.pop("f"), **call)

    def test_bad_x_at_call_names_x(self):
        with pytest.raises(ValueError, match="`x` must be 1-D"):
            gradient_of(rosen)(np.ones((2, 2)))
