"""Tests of check_gradient and its GradientCheck result, against closed forms and scipy's check_grad."""
import re

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.optimize import check_grad, rosen, rosen_der

from fastgrad import GradientCheck, check_gradient

X = np.array([1.3, 0.7, 0.8, 1.9, 1.2])


def wrong_der(x, k=3, delta=7.0):
    """rosen_der with coordinate k off by delta."""
    g = rosen_der(x)
    g[k] += delta
    return g


def numbers_in(text):
    return [float(s) for s in re.findall(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", text)]


class TestCheckGradient:
    def test_returns_gradient_check(self):
        assert isinstance(check_gradient(rosen, rosen_der, X), GradientCheck)

    def test_correct_gradient_is_ok(self):
        assert check_gradient(rosen, rosen_der, X).ok is True

    def test_wrong_gradient_is_not_ok(self):
        assert check_gradient(rosen, wrong_der, X).ok is False

    def test_bool_is_ok_when_correct(self):
        assert bool(check_gradient(rosen, rosen_der, X)) is True

    def test_bool_is_not_ok_when_wrong(self):
        assert bool(check_gradient(rosen, wrong_der, X)) is False

    @pytest.mark.parametrize("k", [0, 2, 4])
    def test_worst_index_is_the_wrong_coordinate(self, k):
        res = check_gradient(rosen, lambda x: wrong_der(x, k=k), X)
        assert res.worst_index == k

    def test_analytic_is_grad_at_x(self):
        res = check_gradient(rosen, wrong_der, X)
        assert_allclose(res.analytic, wrong_der(X), rtol=0, atol=0)

    def test_numeric_is_the_true_gradient(self):
        res = check_gradient(rosen, wrong_der, X)
        assert_allclose(res.numeric, rosen_der(X), rtol=1e-7)

    def test_max_abs_error_is_max_of_differences(self):
        res = check_gradient(rosen, wrong_der, X)
        assert res.max_abs_error == pytest.approx(np.max(np.abs(res.analytic - res.numeric)),
                                                  rel=1e-12)

    def test_max_abs_error_agrees_with_scipy_check_grad(self):
        # one coordinate wrong: scipy's 2-norm of the difference equals the max abs difference
        res = check_gradient(rosen, wrong_der, X)
        assert res.max_abs_error == pytest.approx(check_grad(rosen, wrong_der, X), rel=1e-5)

    def test_max_abs_error_tiny_for_correct_gradient(self):
        assert check_gradient(rosen, rosen_der, X).max_abs_error < 1e-5

    def test_max_rel_error_tiny_for_correct_gradient(self):
        assert check_gradient(rosen, rosen_der, X).max_rel_error < 1e-7

    def test_max_rel_error_large_for_wrong_gradient(self):
        res = check_gradient(rosen, lambda x: 2.0 * rosen_der(x), X)
        assert res.max_rel_error > 0.1

    def test_loose_rtol_accepts_small_relative_error(self):
        g = lambda x: rosen_der(x) * (1 + 1e-3)  # noqa: E731
        assert check_gradient(rosen, g, X, rtol=1e-2, atol=1e-12).ok

    def test_tight_rtol_rejects_small_relative_error(self):
        g = lambda x: rosen_der(x) * (1 + 1e-3)  # noqa: E731
        assert not check_gradient(rosen, g, X, rtol=1e-6, atol=1e-12).ok

    def test_loose_atol_accepts_small_absolute_error(self):
        g = lambda x: rosen_der(x) + 1e-3  # noqa: E731
        assert check_gradient(rosen, g, X, rtol=1e-12, atol=1e-2).ok

    def test_args_passed_to_f_and_grad(self):
        f = lambda x, a: float(a * x @ x)  # noqa: E731
        g = lambda x, a: 2 * a * x  # noqa: E731
        assert check_gradient(f, g, np.array([1.0, -2.0]), args=(3.0,)).ok

    def test_explicit_step_is_used(self):
        # with a huge step the central difference of x^3 is off by h^2: detected only if h is used
        f = lambda x: float(np.sum(x**3))  # noqa: E731
        g = lambda x: 3 * x**2  # noqa: E731
        res = check_gradient(f, g, np.array([1.0, 2.0]), h=0.5)
        assert_allclose(res.numeric, 3 * np.array([1.0, 2.0]) ** 2 + 0.25, rtol=1e-10)

    def test_repr_is_one_line(self):
        text = repr(check_gradient(rosen, wrong_der, X))
        assert "\n" not in text.strip()

    def test_repr_names_worst_coordinate(self):
        res = check_gradient(rosen, lambda x: wrong_der(x, k=3), X)
        assert re.search(r"\b3\b", repr(res))

    def test_repr_shows_both_values_at_worst_coordinate(self):
        res = check_gradient(rosen, lambda x: wrong_der(x, k=3, delta=1000.0), X)
        nums = numbers_in(repr(res))
        a, n = res.analytic[3], res.numeric[3]
        assert any(abs(v - a) <= 1e-3 * abs(a) for v in nums), (repr(res), a)
        assert any(abs(v - n) <= 1e-3 * abs(n) for v in nums), (repr(res), n)

    def test_zero_gradient_everywhere_is_ok_without_warnings(self):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            res = check_gradient(lambda x: 1.0, lambda x: np.zeros(3), np.array([1.0, 2.0, 3.0]))
        assert res.ok and np.isfinite(res.max_rel_error)
