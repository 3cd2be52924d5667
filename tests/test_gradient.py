"""Tests of numerical_gradient, partial_derivative, directional_derivative and jacobian.

References are closed forms and ``scipy.optimize`` (``approx_fprime``, ``rosen``/``rosen_der``).
Step-size and call-count tests record every point ``f`` is called with.
"""
import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.optimize import approx_fprime, rosen, rosen_der

from fastgrad import (
    directional_derivative,
    jacobian,
    numerical_gradient,
    partial_derivative,
)

EPS64 = np.finfo(np.float64).eps
EPS32 = np.finfo(np.float32).eps


# --------------------------------------------------------------------------- helpers
def quad(x, A, c):
    """0.5 x^T A x + c.x with gradient A x + c (A symmetric)."""
    return 0.5 * x @ A @ x + c @ x


def quad_grad(x, A, c):
    return A @ x + c


def trig(x):
    """sum(exp(0.1 x) sin x) + x0 x1 x2."""
    return float(np.sum(np.exp(0.1 * x) * np.sin(x)) + x[0] * x[1] * x[2])


def trig_grad(x):
    g = np.exp(0.1 * x) * (0.1 * np.sin(x) + np.cos(x))
    g[0] += x[1] * x[2]
    g[1] += x[0] * x[2]
    g[2] += x[0] * x[1]
    return g


_rng = np.random.default_rng(1234)
_M = _rng.standard_normal((4, 4))
A4 = _M @ _M.T + 4 * np.eye(4)
C4 = _rng.standard_normal(4)

CASES = {
    "quadratic": (lambda x: quad(x, A4, C4), lambda x: quad_grad(x, A4, C4),
                  np.array([0.3, -1.2, 2.5, 0.05])),
    "rosen": (rosen, rosen_der, np.array([1.3, 0.7, 0.8, 1.9, 1.2])),
    "trig": (trig, trig_grad, np.array([0.4, -2.0, 1.5, 3.0])),
}


class Recorder:
    """Wrap f; keep a copy of every x it is called with."""

    def __init__(self, f):
        self.f = f
        self.points = []

    def __call__(self, x, *args):
        self.points.append(np.array(x, dtype=np.float64, copy=True))
        return self.f(x, *args)

    @property
    def calls(self):
        return len(self.points)


def offsets(points, x):
    """For each recorded point: (index perturbed, signed offset). Asserts one coordinate moved."""
    out = []
    x = np.asarray(x, dtype=np.float64)
    for p in points:
        moved = np.flatnonzero(p != x)
        assert len(moved) <= 1, f"more than one coordinate perturbed: {p - x}"
        if len(moved) == 0:
            out.append((None, 0.0))
        else:
            i = int(moved[0])
            out.append((i, p[i] - x[i]))
    return out


def sumsq(x):
    return float(np.sum(x**2))


# --------------------------------------------------------------------------- gradient
class TestGradient:
    @pytest.mark.parametrize("name", sorted(CASES))
    def test_central_matches_closed_form(self, name):
        f, g, x = CASES[name]
        expected = g(x)
        assert_allclose(numerical_gradient(f, x), expected, rtol=1e-7,
                        atol=1e-7 * np.abs(expected).max())

    @pytest.mark.parametrize("method", ["forward", "backward"])
    @pytest.mark.parametrize("name", sorted(CASES))
    def test_one_sided_matches_closed_form(self, name, method):
        f, g, x = CASES[name]
        expected = g(x)
        assert_allclose(numerical_gradient(f, x, method=method), expected, rtol=1e-5,
                        atol=1e-5 * np.abs(expected).max())

    @pytest.mark.parametrize("name", sorted(CASES))
    def test_order4_matches_closed_form(self, name):
        f, g, x = CASES[name]
        expected = g(x)
        assert_allclose(numerical_gradient(f, x, order=4), expected, rtol=1e-8,
                        atol=1e-8 * np.abs(expected).max())

    @pytest.mark.parametrize("name", sorted(CASES))
    def test_forward_equals_scipy_approx_fprime_with_same_step(self, name):
        f, _, x = CASES[name]
        h = 1e-6
        expected = approx_fprime(x, f, h)
        assert_allclose(numerical_gradient(f, x, h, method="forward"), expected, rtol=1e-9,
                        atol=1e-9 * np.abs(expected).max())

    def test_order4_is_exact_for_quartic_at_large_step(self):
        x = np.array([0.7, -1.3, 2.0])
        got = numerical_gradient(lambda z: float(np.sum(z**4)), x, 0.1, order=4)
        assert_allclose(got, 4 * x**3, rtol=1e-10)

    def test_order2_has_h_squared_error_for_quartic(self):
        # central 3-point error for z^4 is exactly 4 z h^2: checks the stencil, not just "close".
        x = np.array([0.7, -1.3, 2.0])
        h = 0.1
        got = numerical_gradient(lambda z: float(np.sum(z**4)), x, h)
        assert_allclose(got, 4 * x**3 + 4 * x * h**2, rtol=1e-10)

    def test_central_is_exact_for_quadratic_at_large_step(self):
        f, g, x = CASES["quadratic"]
        assert_allclose(numerical_gradient(f, x, 0.5), g(x), rtol=1e-12, atol=1e-12)

    def test_returns_float64_vector_of_length_n(self):
        f, _, x = CASES["trig"]
        g = numerical_gradient(f, x)
        assert (type(g), g.dtype, g.shape) == (np.ndarray, np.float64, x.shape)

    def test_returns_float64_for_float32_input(self):
        f, _, x = CASES["trig"]
        g = numerical_gradient(f, x.astype(np.float32))
        assert (g.dtype, g.shape) == (np.float64, x.shape)

    def test_float32_input_is_accurate(self):
        f, g, x = CASES["quadratic"]
        x32 = x.astype(np.float32)
        expected = g(x32.astype(np.float64))
        assert_allclose(numerical_gradient(f, x32), expected, rtol=1e-5,
                        atol=1e-5 * np.abs(expected).max())

    def test_f_receives_1d_float64_array(self):
        seen = []

        def f(x):
            seen.append((type(x), x.dtype, x.shape))
            return float(np.sum(x))

        numerical_gradient(f, np.array([1.0, 2.0, 3.0]))
        assert set(seen) == {(np.ndarray, np.dtype(np.float64), (3,))}

    def test_args_are_passed_to_f(self):
        def f(x, A, c):
            return quad(x, A, c)

        x = CASES["quadratic"][2]
        assert_allclose(numerical_gradient(f, x, args=(A4, C4)), quad_grad(x, A4, C4),
                        rtol=1e-7)

    def test_accepts_list_input(self):
        assert_allclose(numerical_gradient(sumsq, [1.0, -2.0, 3.0]), [2.0, -4.0, 6.0],
                        rtol=1e-8)

    def test_accepts_integer_input(self):
        assert_allclose(numerical_gradient(sumsq, np.array([1, -2, 3])), [2.0, -4.0, 6.0],
                        rtol=1e-8)

    def test_single_variable(self):
        assert_allclose(numerical_gradient(lambda z: float(np.sin(z[0])), np.array([0.5])),
                        [np.cos(0.5)], rtol=1e-9)

    def test_f_may_return_numpy_scalar(self):
        f = lambda z: np.float32(z[0] * 2.0)  # noqa: E731
        assert_allclose(numerical_gradient(f, np.array([1.0]), 0.5), [2.0], rtol=1e-6)

    def test_f_may_return_0d_array(self):
        f = lambda z: np.array(3.0 * z[0])  # noqa: E731
        assert_allclose(numerical_gradient(f, np.array([1.0])), [3.0], rtol=1e-8)

    def test_read_only_x_works(self):
        f, g, x = CASES["trig"]
        x = x.copy()
        x.flags.writeable = False
        assert_allclose(numerical_gradient(f, x), g(x), rtol=1e-7)

    def test_non_contiguous_x_works(self):
        f, g, x = CASES["trig"]
        big = np.zeros(2 * len(x))
        big[::2] = x
        assert_allclose(numerical_gradient(f, big[::2]), g(x), rtol=1e-7)

    def test_infinite_f_gives_non_finite_entry(self):
        f = lambda z: float(z[0] ** 2 + (np.inf if z[2] > 1.0 else z[2]))  # noqa: E731
        with pytest.warns(RuntimeWarning):
            g = numerical_gradient(f, np.array([1.0, 2.0, 1.0]))
        assert not np.isfinite(g[2])

    def test_non_finite_f_leaves_other_entries_correct(self):
        f = lambda z: float(z[0] ** 2 + (np.inf if z[2] > 1.0 else z[2]))  # noqa: E731
        with pytest.warns(RuntimeWarning):
            g = numerical_gradient(f, np.array([1.0, 2.0, 1.0]))
        assert_allclose(g[:2], [2.0, 0.0], rtol=1e-8, atol=1e-8)

    def test_nan_f_gives_nan_entry(self):
        f = lambda z: float(z[0] ** 2 + (np.nan if z[1] < 2.0 else z[1]))  # noqa: E731
        with pytest.warns(RuntimeWarning):
            g = numerical_gradient(f, np.array([1.0, 2.0, 1.0]))
        assert np.isnan(g[1])

    def test_non_finite_f_warning_names_the_coordinate(self):
        f = lambda z: float(np.sum(z) + (np.inf if z[3] > 1.0 else 0.0))  # noqa: E731
        with pytest.warns(RuntimeWarning, match=r"\b3\b"):
            numerical_gradient(f, np.array([0.5, 0.5, 0.5, 1.0, 0.5]))

    def test_non_finite_f_warning_names_every_bad_coordinate(self):
        f = lambda z: float(np.sum(z) + (np.inf if z[3] > 1.0 or z[5] > 1.0 else 0.0))  # noqa: E731
        with pytest.warns(RuntimeWarning) as rec:
            numerical_gradient(f, np.array([0.5, 0.5, 0.5, 1.0, 0.5, 1.0, 0.5]))
        text = " ".join(str(w.message) for w in rec if issubclass(w.category, RuntimeWarning))
        assert re.search(r"\b3\b", text) and re.search(r"\b5\b", text), text

    def test_f_may_itself_call_numerical_gradient(self):
        # d/dx_j of (d trig / dx_0): row 0 of the Hessian, computed by nesting
        x = np.array([0.4, -2.0, 1.5])
        inner = lambda z: float(numerical_gradient(trig, z)[0])  # noqa: E731
        e = np.exp(0.1 * x[0])
        expected = [e * (0.01 * np.sin(x[0]) + 0.2 * np.cos(x[0]) - np.sin(x[0])), x[2], x[1]]
        assert_allclose(numerical_gradient(inner, x, 1e-4), expected, rtol=1e-5, atol=1e-5)

    def test_finite_f_gives_no_warning(self):
        f, _, x = CASES["rosen"]
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            numerical_gradient(f, x)


# --------------------------------------------------------------------------- partial
class TestPartial:
    @pytest.mark.parametrize("i", range(4))
    def test_matches_closed_form(self, i):
        f, g, x = CASES["trig"]
        assert partial_derivative(f, x, i) == pytest.approx(g(x)[i], rel=1e-7)

    @pytest.mark.parametrize("i", range(4))
    def test_equals_gradient_entry(self, i):
        f, _, x = CASES["trig"]
        assert partial_derivative(f, x, i) == pytest.approx(numerical_gradient(f, x)[i],
                                                            rel=1e-12)

    def test_forward_method_matches_closed_form(self):
        f, g, x = CASES["trig"]
        assert partial_derivative(f, x, 1, method="forward") == pytest.approx(g(x)[1], rel=1e-5)

    def test_returns_python_float(self):
        f, _, x = CASES["trig"]
        assert isinstance(partial_derivative(f, x, 0), float)

    def test_explicit_step_is_used(self):
        rec = Recorder(sumsq)
        partial_derivative(rec, np.array([1.0, 2.0]), 1, 0.25)
        assert sorted(d for _, d in offsets(rec.points, [1.0, 2.0])) == [-0.25, 0.25]

    def test_args_are_passed(self):
        val = partial_derivative(lambda z, a: float(a * z[0] * z[1]), np.array([2.0, 3.0]), 1,
                                 args=(5.0,))
        assert val == pytest.approx(10.0, rel=1e-9)


# --------------------------------------------------------------------------- directional
class TestDirectional:
    @pytest.mark.parametrize("name", sorted(CASES))
    def test_equals_gradient_dot_unit_direction(self, name):
        f, g, x = CASES[name]
        v = np.linspace(1.0, -0.5, len(x))
        u = v / np.linalg.norm(v)
        expected = g(x) @ u
        assert directional_derivative(f, x, v) == pytest.approx(
            expected, rel=1e-6, abs=1e-7 * np.abs(g(x)).max())

    def test_normalize_false_uses_direction_as_given(self):
        f, g, x = CASES["trig"]
        v = np.array([2.0, 0.0, -1.0, 3.0])
        assert directional_derivative(f, x, v, normalize=False) == pytest.approx(
            g(x) @ v, rel=1e-6)

    def test_scaling_direction_does_not_change_normalized_result(self):
        f, _, x = CASES["trig"]
        v = np.array([2.0, 0.0, -1.0, 3.0])
        assert directional_derivative(f, x, 7.5 * v) == pytest.approx(
            directional_derivative(f, x, v), rel=1e-6)

    def test_evaluates_on_the_line_through_x(self):
        rec = Recorder(trig)
        x = CASES["trig"][2]
        v = np.array([1.0, 2.0, -1.0, 0.5])
        directional_derivative(rec, x, v)
        assert rec.points
        for p in rec.points:
            d = p - x
            # parallel to v: d = t v for one scalar t != 0
            t = d[0] / v[0]
            assert t != 0 and np.allclose(d, t * v, rtol=1e-6, atol=0)

    def test_returns_python_float(self):
        f, _, x = CASES["trig"]
        assert isinstance(directional_derivative(f, x, np.ones(4)), float)

    def test_args_are_passed(self):
        val = directional_derivative(lambda z, a: float(a * z @ z), np.array([2.0, 3.0]),
                                     np.array([1.0, 0.0]), args=(3.0,))
        assert val == pytest.approx(12.0, rel=1e-8)


# --------------------------------------------------------------------------- jacobian
def vec_f(x):
    return np.array([x[0] ** 2 * x[1], 5 * x[0] + np.sin(x[1]), np.exp(x[0] - x[1])])


def vec_jac(x):
    e = np.exp(x[0] - x[1])
    return np.array([[2 * x[0] * x[1], x[0] ** 2],
                     [5.0, np.cos(x[1])],
                     [e, -e]])


class TestJacobian:
    X = np.array([0.8, -1.7])

    def test_matches_closed_form(self):
        assert_allclose(jacobian(vec_f, self.X), vec_jac(self.X), rtol=1e-7, atol=1e-8)

    def test_shape_is_m_by_n(self):
        assert jacobian(vec_f, self.X).shape == (3, 2)

    @pytest.mark.parametrize("method", ["forward", "backward"])
    def test_one_sided_matches_closed_form(self, method):
        assert_allclose(jacobian(vec_f, self.X, method=method), vec_jac(self.X), rtol=1e-5,
                        atol=1e-6)

    def test_forward_equals_scipy_approx_fprime_with_same_step(self):
        h = 1e-6
        assert_allclose(jacobian(vec_f, self.X, h, method="forward"),
                        approx_fprime(self.X, vec_f, h), rtol=1e-9, atol=1e-12)

    def test_single_output_row_equals_gradient(self):
        f, _, x = CASES["trig"]
        J = jacobian(lambda z: np.array([f(z)]), x)
        assert_allclose(J, numerical_gradient(f, x)[None, :], rtol=1e-12)

    def test_vector_h(self):
        J = jacobian(vec_f, self.X, np.array([1e-5, 2e-6]))
        assert_allclose(J, vec_jac(self.X), rtol=1e-7, atol=1e-8)

    def test_args_are_passed(self):
        J = jacobian(lambda z, a: a * z, np.array([1.0, 2.0]), args=(3.0,))
        assert_allclose(J, 3.0 * np.eye(2), rtol=1e-9, atol=1e-9)


# --------------------------------------------------------------------------- step sizes
class TestStepSizes:
    X = np.array([0.5, -3.0, 0.0, 250.0, 1.0])

    def _steps(self, method, x=None, h=None, **kw):
        x = self.X if x is None else x
        rec = Recorder(sumsq)
        numerical_gradient(rec, x, h, method=method, **kw)
        assert rec.calls >= len(x)
        return offsets(rec.points, np.asarray(x, dtype=np.float64))

    def test_central_default_step(self):
        expected = EPS64 ** (1 / 3) * np.maximum(1.0, np.abs(self.X))
        for i, d in self._steps("central"):
            assert abs(d) == pytest.approx(expected[i], rel=1e-9)

    def test_central_steps_both_sides_of_each_coordinate(self):
        seen = {(i, np.sign(d)) for i, d in self._steps("central")}
        assert seen == {(i, s) for i in range(len(self.X)) for s in (-1.0, 1.0)}

    def test_forward_default_step(self):
        expected = np.sqrt(EPS64) * np.maximum(1.0, np.abs(self.X))
        for i, d in self._steps("forward"):
            if i is not None:
                assert d == pytest.approx(expected[i], rel=1e-6)

    def test_backward_default_step(self):
        expected = np.sqrt(EPS64) * np.maximum(1.0, np.abs(self.X))
        for i, d in self._steps("backward"):
            if i is not None:
                assert d == pytest.approx(-expected[i], rel=1e-6)

    def test_forward_evaluates_f_at_x_once(self):
        assert [i for i, _ in self._steps("forward")].count(None) == 1

    def test_float32_input_uses_float32_eps(self):
        x32 = self.X.astype(np.float32)
        expected = np.float64(EPS32) ** (1 / 3) * np.maximum(1.0, np.abs(x32.astype(np.float64)))
        for i, d in self._steps("central", x=x32):
            assert abs(d) == pytest.approx(expected[i], rel=1e-3)

    def test_scalar_h_is_absolute_step(self):
        for _, d in self._steps("central", h=1e-3):
            assert abs(d) == pytest.approx(1e-3, rel=1e-9)

    def test_vector_h_is_per_coordinate_absolute_step(self):
        h = np.array([1e-3, 2e-4, 5e-2, 1e-1, 3e-5])
        for i, d in self._steps("central", h=h):
            assert abs(d) == pytest.approx(h[i], rel=1e-9)

    def test_order4_evaluates_at_one_and_two_steps(self):
        h = 1e-2
        ds = sorted(round(d / h) for i, d in self._steps("central", h=h, order=4) if i == 1)
        assert ds == [-2, -1, 1, 2]

    def test_only_one_coordinate_moves_per_evaluation(self):
        # offsets() asserts it; reaching the end means every point moved <= 1 coordinate
        assert all(i is not None for i, _ in self._steps("central"))

    def test_central_divides_by_representable_step(self):
        # 1e-8 is not representable next to x0: the true step is 1.1176e-8 (3 ulp)
        x0 = 1e8 / 3
        got = numerical_gradient(lambda z: 3.0 * (z[0] - x0), np.array([x0]), 1e-8)
        assert got[0] == pytest.approx(3.0, rel=1e-12)

    def test_forward_divides_by_representable_step(self):
        x0 = 1e8 / 3
        got = numerical_gradient(lambda z: 3.0 * (z[0] - x0), np.array([x0]), 1e-8,
                                 method="forward")
        assert got[0] == pytest.approx(3.0, rel=1e-12)


# --------------------------------------------------------------------------- call counts
class TestCallCounts:
    N = 5
    X = np.linspace(-1.0, 2.0, 5)

    def _count(self, **kw):
        rec = Recorder(trig)
        numerical_gradient(rec, self.X, **kw)
        return rec.calls

    def test_central_order2_calls_f_2n_times(self):
        assert self._count() == 2 * self.N

    def test_central_order4_calls_f_4n_times(self):
        assert self._count(order=4) == 4 * self.N

    @pytest.mark.parametrize("method", ["forward", "backward"])
    def test_one_sided_calls_f_n_plus_1_times(self, method):
        assert self._count(method=method) == self.N + 1

    def test_partial_derivative_calls_f_twice(self):
        rec = Recorder(trig)
        partial_derivative(rec, self.X, 2)
        assert rec.calls == 2

    def test_directional_derivative_calls_f_twice(self):
        rec = Recorder(trig)
        directional_derivative(rec, self.X, np.ones(self.N))
        assert rec.calls == 2


# --------------------------------------------------------------------------- error estimates
class TestErrorEstimateRounding:
    """The rounding part of full_output's error estimate is EPS * sum|w| * |f(x)| / h with
    sum|w| of the stencil actually used (Fornberg's weights, written out here from the
    textbook, independently of the package).  An f that is C at x and 0 everywhere else
    isolates that part for the central stencils (which never use f(x) itself): every
    difference is exactly 0, so the truncation part is 0."""

    C = 1e6
    X = np.array([0.5, -2.0, 30.0])

    def spike(self, v):
        return self.C if np.array_equal(v, self.X) else 0.0

    @pytest.mark.parametrize("order, wsum", [
        (2, 1.0),          # (-1, 1) / 2
        (4, 18 / 12),      # (1, -8, 8, -1) / 12
        (6, 110 / 60),     # (-1, 9, -45, 45, -9, 1) / 60
    ])
    def test_rounding_term_is_eps_wsum_f_over_h(self, order, wsum):
        r = numerical_gradient(self.spike, self.X, order=order, full_output=True)
        assert np.all(r.value == 0.0)
        assert_allclose(r.error, 8 * EPS64 * wsum * self.C / r.step, rtol=1e-12)

    def test_adaptive_uses_the_order6_weights(self):
        r = numerical_gradient(self.spike, self.X, "adaptive", full_output=True)
        assert np.all(r.value == 0.0)
        assert_allclose(r.error, 4 * EPS64 * (110 / 60) * self.C / r.step, rtol=1e-12)


class TestOneStepRule:
    """The compiled default call and the general path take their default steps from one
    C function (``_diff.representable`` with h None): the same steps, the same result."""

    @pytest.mark.parametrize("order", [2, 4, 6])
    def test_default_steps_are_the_rule_written_out(self, order):
        from fastgrad import _diff, _steps
        rng = np.random.default_rng(order)
        x = np.concatenate([rng.standard_normal(50) * 10.0 ** rng.integers(-8, 8, 50),
                            [0.0, 1.0, -1.0, 1e300, -5e-324, 3.0]])
        rel = _steps.REL_STEP[(_steps.EPS64, order)]
        h = rel * np.maximum(1.0, np.abs(x))              # the rule, in NumPy
        expected = (x + h) - x
        expected[expected == 0] = np.spacing(np.abs(x[expected == 0]))
        got = _steps.first_derivative_steps(x, None, _steps.EPS64, order)
        assert np.array_equal(got, expected)
        assert np.array_equal(_diff.representable(x, None, rel), expected)

    @pytest.mark.parametrize("order", [2, 4, 6])
    def test_compiled_default_call_equals_the_general_path(self, order):
        x = np.linspace(-2.0, 3.0, 17)
        fast = numerical_gradient(rosen, x, order=order)
        general = numerical_gradient(rosen, x, order=order, full_output=True)
        assert np.array_equal(fast, general.value)
