"""Tests of hessian: quadratics, scipy's rosen_hess and a hand-derived Hessian, from f and from grad."""
import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.optimize import rosen, rosen_der, rosen_hess

from fastgrad import hessian


def known(x):
    """x0^3 x1^2 + exp(x0 x2) + sin(x1)."""
    return float(x[0] ** 3 * x[1] ** 2 + np.exp(x[0] * x[2]) + np.sin(x[1]))


def known_grad(x):
    e = np.exp(x[0] * x[2])
    return np.array([3 * x[0] ** 2 * x[1] ** 2 + x[2] * e,
                     2 * x[0] ** 3 * x[1] + np.cos(x[1]),
                     x[0] * e])


def known_hess(x):
    e = np.exp(x[0] * x[2])
    h01 = 6 * x[0] ** 2 * x[1]
    h02 = e * (1 + x[0] * x[2])
    return np.array([[6 * x[0] * x[1] ** 2 + x[2] ** 2 * e, h01, h02],
                     [h01, 2 * x[0] ** 3 - np.sin(x[1]), 0.0],
                     [h02, 0.0, x[0] ** 2 * e]])


_rng = np.random.default_rng(7)
_M = _rng.standard_normal((4, 4))
A = _M @ _M.T + np.diag([1.0, 2.0, 3.0, 4.0])
C = _rng.standard_normal(4)
X4 = np.array([0.3, -1.1, 2.2, 0.7])


def quad(x):
    return float(0.5 * x @ A @ x + C @ x)


def quad_grad(x):
    return A @ x + C


XK = np.array([1.1, -0.6, 0.4])
XR = np.array([1.3, 0.7, 0.8, 1.9])

CASES = {
    "quadratic": (quad, quad_grad, A, X4),
    "rosen": (rosen, rosen_der, rosen_hess(XR), XR),
    "known": (known, known_grad, known_hess(XK), XK),
}


def close(H, expected, rtol):
    assert_allclose(H, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


class Counter:
    def __init__(self, f):
        self.f, self.calls = f, 0

    def __call__(self, x, *args):
        self.calls += 1
        return self.f(x, *args)


class TestHessian:
    @pytest.mark.parametrize("name", sorted(CASES))
    def test_from_f_matches_reference(self, name):
        f, _, expected, x = CASES[name]
        close(hessian(f, x), expected, 1e-5)

    @pytest.mark.parametrize("name", sorted(CASES))
    def test_from_grad_matches_reference(self, name):
        f, g, expected, x = CASES[name]
        close(hessian(f, x, grad=g), expected, 1e-7)

    @pytest.mark.parametrize("name", sorted(CASES))
    def test_from_f_is_exactly_symmetric(self, name):
        f, _, _, x = CASES[name]
        H = hessian(f, x)
        assert np.array_equal(H, H.T)

    @pytest.mark.parametrize("name", sorted(CASES))
    def test_from_grad_is_exactly_symmetric(self, name):
        f, g, _, x = CASES[name]
        H = hessian(f, x, grad=g)
        assert np.array_equal(H, H.T)

    def test_from_grad_symmetrises_a_non_symmetric_jacobian(self):
        B = np.array([[1.0, 2.0, 0.0], [-4.0, 3.0, 1.0], [5.0, 0.0, 2.0]])
        H = hessian(lambda x: 0.0, np.array([0.2, 0.3, -0.4]), grad=lambda x: B @ x)
        close(H, (B + B.T) / 2, 1e-8)

    def test_shape_and_dtype(self):
        H = hessian(known, XK)
        assert (H.shape, H.dtype) == ((3, 3), np.float64)

    def test_single_variable_is_second_derivative(self):
        H = hessian(lambda x: float(x[0] ** 3), np.array([2.0]))
        close(H, np.array([[12.0]]), 1e-5)

    def test_explicit_step_on_quadratic_is_exact(self):
        close(hessian(quad, X4, 0.5), A, 1e-9)

    def test_float32_x_from_grad(self):
        x32 = X4.astype(np.float32)
        close(hessian(quad, x32, grad=quad_grad), A, 1e-4)

    def test_args_are_passed_to_f(self):
        H = hessian(lambda x, a: float(a * x @ x), np.array([1.0, -2.0]), args=(3.0,))
        close(H, 6.0 * np.eye(2), 1e-5)

    def test_args_are_passed_to_grad(self):
        H = hessian(lambda x, a: float(a * x @ x), np.array([1.0, -2.0]),
                    grad=lambda x, a: 2 * a * x, args=(3.0,))
        close(H, 6.0 * np.eye(2), 1e-8)

    def test_positive_definite_for_convex_quadratic(self):
        assert np.all(np.linalg.eigvalsh(hessian(quad, X4)) > 0)


class TestHessianCallCounts:
    @pytest.mark.parametrize("n", [1, 2, 4, 6])
    def test_from_f_at_most_2n_squared_plus_1_calls(self, n):
        f = Counter(lambda x: float(np.sum(np.cos(x)) + x[0] * x[-1]))
        hessian(f, np.linspace(0.1, 1.0, n))
        assert f.calls <= 2 * n * n + 1

    @pytest.mark.parametrize("n", [1, 2, 4, 6])
    def test_from_grad_calls_grad_2n_times(self, n):
        g = Counter(lambda x: -np.sin(x))
        hessian(lambda x: float(np.sum(np.cos(x))), np.linspace(0.1, 1.0, n), grad=g)
        assert g.calls == 2 * n
