"""Tests of gradient_descent: closed-form iterates, a numpy reference loop on Rosenbrock, stopping."""
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import rosen, rosen_der

from fastgrad import DescentResult, gradient_descent

C = np.array([1.0, -2.0, 0.5])
X0 = np.array([4.0, 3.0, -1.0])


def bowl(x):
    return float(np.sum((x - C) ** 2))


def bowl_grad(x):
    return 2 * (x - C)


def bowl_iterate(k, lr):
    """Exact k-th iterate of x <- x - lr*2(x - c) from X0."""
    return C + (1 - 2 * lr) ** k * (X0 - C)


def reference_descent(grad, x0, lr, epochs, max_norm=None):
    x = np.array(x0, dtype=np.float64)
    for _ in range(epochs):
        g = grad(x)
        n = np.linalg.norm(g)
        if max_norm is not None and n > max_norm:
            g = g * (max_norm / n)
        x = x - lr * g
    return x


class TestDescent:
    def test_returns_descent_result(self):
        assert isinstance(gradient_descent(bowl, X0, grad=bowl_grad, epochs=3), DescentResult)

    def test_x_follows_closed_form_iterates(self):
        res = gradient_descent(bowl, X0, grad=bowl_grad, lr=0.1, epochs=25)
        assert_allclose(res.x, bowl_iterate(25, 0.1), rtol=1e-13, atol=1e-13)

    def test_x_is_float64_vector(self):
        res = gradient_descent(bowl, X0, grad=bowl_grad, epochs=3)
        assert (type(res.x), res.x.dtype, res.x.shape) == (np.ndarray, np.float64, (3,))

    def test_numerical_gradient_when_grad_is_none(self):
        res = gradient_descent(bowl, X0, lr=0.1, epochs=25)
        assert_allclose(res.x, bowl_iterate(25, 0.1), rtol=1e-7, atol=1e-7)

    def test_fun_is_f_at_x(self):
        res = gradient_descent(bowl, X0, grad=bowl_grad, lr=0.1, epochs=10)
        assert res.fun == pytest.approx(bowl(res.x), rel=1e-12)

    def test_loss_history_is_loss_before_each_update(self):
        res = gradient_descent(bowl, X0, grad=bowl_grad, lr=0.1, epochs=10)
        expected = [bowl(bowl_iterate(k, 0.1)) for k in range(10)]
        assert_allclose(res.loss_history, expected, rtol=1e-12)

    def test_loss_history_starts_at_f_x0(self):
        res = gradient_descent(bowl, X0, grad=bowl_grad, lr=0.1, epochs=4)
        assert res.loss_history[0] == bowl(X0)

    def test_n_iter_equals_epochs_without_tol(self):
        assert gradient_descent(bowl, X0, grad=bowl_grad, epochs=17).n_iter == 17

    def test_matches_reference_loop_on_rosenbrock(self):
        x0 = np.array([-1.2, 1.0, 0.5, 0.8])
        res = gradient_descent(rosen, x0, grad=rosen_der, lr=1e-3, epochs=300)
        assert_allclose(res.x, reference_descent(rosen_der, x0, 1e-3, 300), rtol=1e-12)

    def test_max_norm_matches_reference_loop(self):
        x0 = np.array([-1.2, 1.0, 0.5, 0.8])
        res = gradient_descent(rosen, x0, grad=rosen_der, lr=1e-2, epochs=100, max_norm=2.0)
        assert_allclose(res.x, reference_descent(rosen_der, x0, 1e-2, 100, 2.0), rtol=1e-12)

    def test_max_norm_gives_fixed_length_steps_on_a_plane(self):
        a = np.array([3.0, -4.0, 12.0])  # |a| = 13
        res = gradient_descent(lambda x: float(a @ x), X0, grad=lambda x: a, lr=0.1,
                               epochs=5, max_norm=1.0)
        assert_allclose(res.x, X0 - 5 * 0.1 * a / 13.0, rtol=1e-14)

    def test_args_passed_to_f_and_grad(self):
        res = gradient_descent(lambda x, c: float(np.sum((x - c) ** 2)), X0,
                               grad=lambda x, c: 2 * (x - c), args=(C,), lr=0.1, epochs=25)
        assert_allclose(res.x, bowl_iterate(25, 0.1), rtol=1e-13, atol=1e-13)

    def test_args_passed_to_f_with_numerical_gradient(self):
        res = gradient_descent(lambda x, c: float(np.sum((x - c) ** 2)), X0, args=(C,), lr=0.1,
                               epochs=25)
        assert_allclose(res.x, bowl_iterate(25, 0.1), rtol=1e-7, atol=1e-7)

    def test_zero_epochs_returns_x0(self):
        res = gradient_descent(bowl, X0, grad=bowl_grad, epochs=0)
        assert_array_equal(res.x, X0)

    def test_accepts_list_x0(self):
        res = gradient_descent(bowl, X0.tolist(), grad=bowl_grad, lr=0.1, epochs=25)
        assert_allclose(res.x, bowl_iterate(25, 0.1), rtol=1e-13, atol=1e-13)

    def test_x0_not_modified(self):
        x0 = X0.copy()
        gradient_descent(bowl, x0, grad=bowl_grad, lr=0.1, epochs=5)
        assert_array_equal(x0, X0)


class TestDescentStopping:
    def test_tol_converged(self):
        assert gradient_descent(bowl, X0, grad=bowl_grad, lr=0.1, epochs=1000,
                                tol=1e-8).converged is True

    def test_tol_stops_early(self):
        res = gradient_descent(bowl, X0, grad=bowl_grad, lr=0.1, epochs=1000, tol=1e-8)
        # |grad_k| = 2 (0.8)^k |x0 - c| < 1e-8 first at k = 94
        assert 93 <= res.n_iter <= 95

    def test_tol_grad_norm_below_tol(self):
        res = gradient_descent(bowl, X0, grad=bowl_grad, lr=0.1, epochs=1000, tol=1e-8)
        assert res.grad_norm < 1e-8

    def test_tol_unreachable_not_converged(self):
        res = gradient_descent(bowl, X0, grad=bowl_grad, lr=0.1, epochs=5, tol=1e-12)
        assert (res.converged, res.n_iter) == (False, 5)

    def test_callback_returning_true_stops(self):
        calls = []

        def cb(x):
            calls.append(np.array(x, copy=True))
            return len(calls) >= 3

        res = gradient_descent(bowl, X0, grad=bowl_grad, lr=0.1, epochs=100, callback=cb)
        assert len(calls) == 3 and res.n_iter <= 3

    def test_callback_returning_none_does_not_stop(self):
        calls = []
        res = gradient_descent(bowl, X0, grad=bowl_grad, lr=0.1, epochs=12,
                               callback=lambda x: calls.append(1))
        assert res.n_iter == 12 and len(calls) >= 12

    def test_callback_sees_the_iterates(self):
        seen = []
        gradient_descent(bowl, X0, grad=bowl_grad, lr=0.1, epochs=4,
                         callback=lambda x: seen.append(np.array(x, copy=True)))
        iterates = [bowl_iterate(k, 0.1) for k in range(5)]
        assert seen
        for s in seen:
            assert any(np.allclose(s, it, rtol=1e-13, atol=1e-13) for it in iterates)

    def test_callback_stop_keeps_x_seen_by_callback(self):
        calls = []

        def cb(x):
            calls.append(np.array(x, copy=True))
            return len(calls) >= 3

        res = gradient_descent(bowl, X0, grad=bowl_grad, lr=0.1, epochs=100, callback=cb)
        assert_allclose(res.x, calls[-1], rtol=1e-15)


class TestDescentHugeGradients:
    """Gradients near 1e200: their squares overflow, their norm does not."""

    SCALE = 1e200

    def f(self, x):
        return self.SCALE * float(x @ x) / 2

    def grad(self, x):
        return self.SCALE * x

    def test_norm_of_huge_gradient_is_finite(self):
        x0 = np.array([3.0, 4.0])
        res = gradient_descent(self.f, x0, grad=self.grad, lr=0.5, epochs=1, max_norm=1.0)
        assert res.status == "max_epochs" and res.n_iter == 1
        # clipped to unit length: one step of lr along -(3, 4) / 5
        assert_allclose(res.x, x0 - 0.5 * np.array([0.6, 0.8]), rtol=1e-15)
        assert res.grad_norm == pytest.approx(5e200, rel=1e-15)

    def test_tol_compares_the_huge_norm(self):
        res = gradient_descent(self.f, np.array([3.0, 4.0]), grad=self.grad, lr=0.5, epochs=3,
                               max_norm=1.0, tol=1e201)
        assert res.converged and res.n_iter == 0
        assert res.grad_norm == pytest.approx(5e200, rel=1e-15)

    def test_numerical_gradient_path(self):
        x0 = np.array([3.0, 4.0])
        res = gradient_descent(self.f, x0, lr=0.5, epochs=1, max_norm=1.0)
        assert res.status == "max_epochs"
        assert_allclose(res.x, x0 - 0.5 * np.array([0.6, 0.8]), rtol=1e-8)
