"""Every worked example of the tutorials in shared/seeds/, reproduced through fastgrad.

Each test's docstring names the tutorial file and section.  Where a tutorial shows a result, the
expected value is recomputed here the way the tutorial computes it (its own code or its closed
form), and fastgrad must agree with it.
"""
import numpy as np
import pytest
from numpy.testing import assert_allclose

from fastgrad import (
    check_gradient,
    clip_by_norm,
    directional_derivative,
    fit_linear_regression,
    gradient_descent,
    hessian,
    logistic_gradient,
    logistic_loss,
    mse_gradient,
    mse_loss,
    numerical_gradient,
    partial_derivative,
)

RTOL = 1e-8


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# =========================================================================== 000
@pytest.mark.parametrize("point", [(1.0, 1.0), (3.0, -2.0), (-0.5, 4.0)])
def test_000_partials_of_x2_plus_y2(point):
    """000 'Example': f(x, y) = x^2 + y^2 has df/dx = 2x, df/dy = 2y (sympy cell)."""
    x, y = point
    g = numerical_gradient(lambda v: v[0] ** 2 + v[1] ** 2, np.array(point))
    assert_allclose(g, [2 * x, 2 * y], rtol=RTOL)


def test_000_update_rule_w_minus_eta_grad():
    """000 'Application in Machine Learning': w = w - eta * grad L(w), one step."""
    L = lambda w: float(np.sum((w - 1.0) ** 2) + w[0] * w[1])  # noqa: E731
    gradL = lambda w: 2 * (w - 1.0) + np.array([w[1], w[0]])  # noqa: E731
    w, eta = np.array([0.5, -2.0]), 0.1
    res = gradient_descent(L, w, grad=gradL, lr=eta, epochs=1)
    assert_allclose(res.x, w - eta * gradL(w), rtol=1e-15)


# =========================================================================== 001
def test_001_basic_example_x2_plus_3y_partial_x():
    """001 section 3: f = x^2 + 3y, df_dx(2, 3) = 2*2 = 4."""
    def df_dx(x, y):
        return 2 * x

    f = lambda v: v[0] ** 2 + 3 * v[1]  # noqa: E731
    assert partial_derivative(f, np.array([2.0, 3.0]), 0) == pytest.approx(df_dx(2, 3), rel=RTOL)


def test_001_basic_example_x2_plus_3y_partial_y():
    """001 section 3: f = x^2 + 3y, df_dy(2, 5) = 3."""
    def df_dy(x, y):
        return 3

    f = lambda v: v[0] ** 2 + 3 * v[1]  # noqa: E731
    assert partial_derivative(f, np.array([2.0, 5.0]), 1) == pytest.approx(df_dy(2, 5), rel=RTOL)


@pytest.mark.parametrize("point", [(2.0, 3.0), (-1.0, 0.5)])
def test_001_gradient_vector_of_x2_plus_3y(point):
    """001 section 4: gradient(x, y) = np.array([2*x, 3])."""
    def gradient(x, y):
        return np.array([2 * x, 3])

    g = numerical_gradient(lambda v: v[0] ** 2 + 3 * v[1], np.array(point))
    assert_allclose(g, gradient(*point), rtol=RTOL)


def test_001_x2_plus_xy_plus_y2_at_1_2():
    """001 section 5: f = x^2 + xy + y^2, grad_f(1, 2) = (2x+y, x+2y) = (4, 5)."""
    def grad_f(x, y):
        return 2 * x + y, x + 2 * y

    f = lambda v: v[0] ** 2 + v[0] * v[1] + v[1] ** 2  # noqa: E731
    assert_allclose(numerical_gradient(f, np.array([1.0, 2.0])), grad_f(1, 2), rtol=RTOL)


def _grad_mse(w, b, x, y):
    """001 section 6, verbatim."""
    error = w * x + b - y
    dL_dw = 2 * error * x
    dL_db = 2 * error
    return dL_dw, dL_db


def test_001_grad_mse_single_point():
    """001 section 6: grad_mse(1, 0, 2, 3) = (-4, -2) via mse_gradient on one sample."""
    dw, db = mse_gradient(np.array([[2.0]]), np.array([3.0]), np.array([1.0]), 0.0)
    assert_allclose([dw[0], db], _grad_mse(1, 0, 2, 3), rtol=1e-15)


def test_001_single_point_loss():
    """001 section 6: L(w, b) = (wx + b - y)^2 for one data point, at w=1, b=0, x=2, y=3."""
    assert mse_loss(np.array([[2.0]]), np.array([3.0]), np.array([1.0]), 0.0) == (1 * 2 + 0 - 3) ** 2


@pytest.mark.parametrize("var,index", [("x", 0), ("y", 1)])
def test_001_numerical_partial_x2_minus_y2(var, index):
    """001 section 7: numerical_partial of x^2 - y^2 at (1, 2), h=1e-5, gives 2 and -4."""
    def numerical_partial(f, x, y, var="x", h=1e-5):
        if var == "x":
            return (f(x + h, y) - f(x - h, y)) / (2 * h)
        return (f(x, y + h) - f(x, y - h)) / (2 * h)

    f2 = lambda x, y: x**2 - y**2  # noqa: E731
    tutorial = numerical_partial(f2, 1.0, 2.0, var)
    got = partial_derivative(lambda v: f2(v[0], v[1]), np.array([1.0, 2.0]), index, 1e-5)
    assert got == pytest.approx(tutorial, rel=1e-9)
    assert got == pytest.approx([2.0, -4.0][index], rel=1e-9)


def test_001_gradient_descent_loop_gives_1_6_and_0_8():
    """001 section 8: w,b = 0,0; lr = 0.1; x,y = 2,4; ten steps of grad_mse give (1.6, 0.8)."""
    w, b = 0, 0
    for _ in range(10):
        dw, db = _grad_mse(w, b, 2, 4)
        w -= 0.1 * dw
        b -= 0.1 * db
    assert (w, b) == pytest.approx((1.6, 0.8), rel=1e-12)  # the tutorial's printed result
    res = fit_linear_regression(np.array([[2.0]]), np.array([4.0]), lr=0.1, epochs=10)
    assert_allclose([res.w[0], res.b], [w, b], rtol=1e-12)


def test_001_exercise_gradient_of_x2_plus_y2_at_1_1():
    """001 exercises 1-2: partials of x^2 + y^2, gradient at (1, 1) = (2, 2)."""
    g = numerical_gradient(lambda v: v[0] ** 2 + v[1] ** 2, np.array([1.0, 1.0]))
    assert_allclose(g, [2 * 1.0, 2 * 1.0], rtol=RTOL)


@pytest.mark.parametrize("point", [(1.0, 2.0), (-0.7, 1.3)])
def test_001_exercise_3x2y_plus_2y_analytic_vs_central(point):
    """001 exercises 3-4: f = 3x^2 y + 2y, analytic (6xy, 3x^2 + 2) vs central difference."""
    x, y = point
    g = numerical_gradient(lambda v: 3 * v[0] ** 2 * v[1] + 2 * v[1], np.array(point))
    assert_allclose(g, [6 * x * y, 3 * x**2 + 2], rtol=RTOL)


def test_001_advanced_mse_gradient_multiple_points():
    """001 advanced exercise 5: gradients of MSE for multiple data points (2/N sums)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(8)
    t = rng.standard_normal(8)
    w, b = 0.7, -0.2
    err = w * x + b - t
    dw, db = mse_gradient(x[:, None], t, np.array([w]), b)
    assert_allclose([dw[0], db], [2 * np.mean(err * x), 2 * np.mean(err)], rtol=1e-12)


# =========================================================================== 002
def test_002_analytic_gradient_x2y_plus_exp_xy_at_1_2():
    """002 4.1: f = x^2 y + e^(xy); grad = (2xy + y e^(xy), x^2 + x e^(xy)) at (1, 2)."""
    x, y = 1.0, 2.0
    f = lambda v: v[0] ** 2 * v[1] + np.exp(v[0] * v[1])  # noqa: E731
    expected = [2 * x * y + y * np.exp(x * y), x**2 + x * np.exp(x * y)]
    assert_allclose(numerical_gradient(f, np.array([x, y])), expected, rtol=RTOL)


def test_002_numerical_approximation_h_1e_5():
    """002 4.2: the tutorial's central differences with h = 1e-5 at (1.0, 2.0)."""
    def f(x, y):
        return x**2 * y + np.exp(x * y)

    h, x0, y0 = 1e-5, 1.0, 2.0
    tutorial = np.array([(f(x0 + h, y0) - f(x0 - h, y0)) / (2 * h),
                         (f(x0, y0 + h) - f(x0, y0 - h)) / (2 * h)])
    got = numerical_gradient(lambda v: f(v[0], v[1]), np.array([x0, y0]), h)
    assert_allclose(got, tutorial, rtol=1e-9)


def test_002_directional_derivative_is_grad_dot_u():
    """002 section 3: D_u f(x) = grad f(x) . u for a unit vector u, on x^2 y + e^(xy)."""
    x, y = 1.0, 2.0
    f = lambda v: v[0] ** 2 * v[1] + np.exp(v[0] * v[1])  # noqa: E731
    grad = np.array([2 * x * y + y * np.exp(x * y), x**2 + x * np.exp(x * y)])
    u = np.array([3.0, -4.0]) / 5.0
    assert directional_derivative(f, np.array([x, y]), u) == pytest.approx(grad @ u, rel=1e-7)


def test_002_one_step_mse_update():
    """002 section 6: one gradient step on x=[1,2,3,4], t=[2.3,4.1,5.9,8.2], w=0.5, b=0, lr=0.01."""
    x = np.array([1.0, 2.0, 3.0, 4.0])
    t = np.array([2.3, 4.1, 5.9, 8.2])
    w, b, lr, N = 0.5, 0.0, 0.01, x.size
    error = w * x + b - t
    dw, db = (2 / N) * np.dot(error, x), (2 / N) * np.sum(error)
    w_new, b_new = w - lr * dw, b - lr * db
    res = fit_linear_regression(x[:, None], t, lr=lr, epochs=1, w0=np.array([w]), b0=b)
    assert_allclose([res.w[0], res.b], [w_new, b_new], rtol=1e-13)


def test_002_mse_gradients_function():
    """002 section 6: gradients(w, b, x, t) = (2/N) error.x, (2/N) sum(error), via mse_gradient."""
    x = np.array([1.0, 2.0, 3.0, 4.0])
    t = np.array([2.3, 4.1, 5.9, 8.2])
    N = x.size
    error = 0.5 * x + 0.0 - t
    dw, db = mse_gradient(x[:, None], t, np.array([0.5]), 0.0)
    assert_allclose([dw[0], db], [(2 / N) * np.dot(error, x), (2 / N) * np.sum(error)],
                    rtol=1e-13)


# =========================================================================== 003
def test_003_x2_plus_3xy_plus_y2():
    """003 section 2: f = x^2 + 3xy + y^2, df/dx = 2x + 3y, df/dy = 3x + 2y."""
    x, y = 1.5, -0.5
    f = lambda v: v[0] ** 2 + 3 * v[0] * v[1] + v[1] ** 2  # noqa: E731
    assert_allclose(numerical_gradient(f, np.array([x, y])), [2 * x + 3 * y, 3 * x + 2 * y],
                    rtol=RTOL)


def test_003_x3y2():
    """003 3.1 example 1: f = x^3 y^2, df/dx = 3x^2 y^2, df/dy = 2x^3 y."""
    x, y = 1.2, -0.8
    f = lambda v: v[0] ** 3 * v[1] ** 2  # noqa: E731
    assert_allclose(numerical_gradient(f, np.array([x, y])), [3 * x**2 * y**2, 2 * x**3 * y],
                    rtol=RTOL)


def test_003_x2z_plus_y3_minus_5z():
    """003 3.1 example 2: f = x^2 z + y^3 - 5z, grad = (2xz, 3y^2, x^2 - 5)."""
    x, y, z = 1.5, -2.0, 0.7
    f = lambda v: v[0] ** 2 * v[2] + v[1] ** 3 - 5 * v[2]  # noqa: E731
    assert_allclose(numerical_gradient(f, np.array([x, y, z])), [2 * x * z, 3 * y**2, x**2 - 5],
                    rtol=RTOL)


def test_003_gradient_of_x2_plus_y2_at_3_4():
    """003 section 4: grad(x^2 + y^2) = [2x, 2y]; at (3, 4) it is [6, 8]."""
    g = numerical_gradient(lambda v: v[0] ** 2 + v[1] ** 2, np.array([3.0, 4.0]))
    assert_allclose(g, [2 * 3.0, 2 * 4.0], rtol=RTOL)


def test_003_gradient_descent_algorithm():
    """003 6.2: weights = weights - learning_rate * gradient for `epochs` steps."""
    loss_function = lambda w: float(np.sum((w - np.array([1.0, -2.0])) ** 2))  # noqa: E731

    def compute_gradient(f, x, h=1e-5):  # the tutorial's 9.2 numerical_gradient
        grad = np.zeros_like(x)
        for i in range(len(x)):
            xp, xm = x.copy(), x.copy()
            xp[i] += h
            xm[i] -= h
            grad[i] = (f(xp) - f(xm)) / (2 * h)
        return grad

    weights = np.array([3.0, 3.0])
    for _ in range(20):
        weights = weights - 0.1 * compute_gradient(loss_function, weights)
    res = gradient_descent(loss_function, np.array([3.0, 3.0]), lr=0.1, epochs=20)
    assert_allclose(res.x, weights, rtol=1e-7)


def test_003_linear_regression_multiple_features():
    """003 6.3: compute_gradients(X, y, weights, bias) for y = w1 x1 + w2 x2 + b."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((10, 2))
    y = rng.standard_normal(10)
    weights, bias = np.array([0.3, -1.1]), 0.4
    n = len(X)
    error = X @ weights + bias - y
    expected = [(2 / n) * sum(error * X[:, 0]), (2 / n) * sum(error * X[:, 1]),
                (2 / n) * sum(error)]
    dw, db = mse_gradient(X, y, weights, bias)
    assert_allclose([*dw, db], expected, rtol=1e-12)


def test_003_hessian_matrix_of_x3y2():
    """003 7.2: H = [[f_xx, f_xy], [f_yx, f_yy]], for f = x^3 y^2 (3.1 example 1)."""
    x, y = 1.2, -0.8
    f = lambda v: v[0] ** 3 * v[1] ** 2  # noqa: E731
    expected = np.array([[6 * x * y**2, 6 * x**2 * y], [6 * x**2 * y, 2 * x**3]])
    assert_allclose(hessian(f, np.array([x, y])), expected, rtol=1e-5, atol=1e-5)


def test_003_logistic_regression_gradients():
    """003 8.1: logistic_gradients(X, y, weights, bias) = (X.T @ error / len(X), mean(error))."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((12, 2))
    y = (rng.random(12) < 0.5).astype(float)
    weights, bias = np.array([0.8, -0.5]), 0.1
    error = sigmoid(X @ weights + bias) - y
    dw, db = logistic_gradient(X, y, weights, bias)
    assert_allclose([*dw, db], [*(X.T @ error / len(X)), np.mean(error)], rtol=1e-12)


def test_003_logistic_regression_loss():
    """003 8.1: L = -sum[y log p + (1-y) log(1-p)]; fastgrad's loss is its mean over samples."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((12, 2))
    y = (rng.random(12) < 0.5).astype(float)
    weights, bias = np.array([0.8, -0.5]), 0.1
    p = sigmoid(X @ weights + bias)
    L = -np.sum(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert logistic_loss(X, y, weights, bias) == pytest.approx(L / len(X), rel=1e-12)


def test_003_single_neuron_chain_rule():
    """003 8.2: dL/dW = dL/da * da/dz * x for one sigmoid neuron with cross-entropy loss."""
    x = np.array([0.4, -1.3, 2.0])
    W, b, y = np.array([0.5, 0.2, -0.3]), 0.1, 1.0
    z = W @ x + b
    a = sigmoid(z)
    dL_da = -(y / a) + (1 - y) / (1 - a)
    da_dz = a * (1 - a)
    dW, db = logistic_gradient(x[None, :], np.array([y]), W, b)
    assert_allclose([*dW, db], [*(dL_da * da_dz * x), dL_da * da_dz * 1], rtol=1e-12)


def test_003_autodiff_example_gradient_at_2_3():
    """003 9.1: x = [2.0, 3.0], f = x0^2 + x1^2, x.grad = [4.0, 6.0]."""
    g = numerical_gradient(lambda v: v[0] ** 2 + v[1] ** 2, np.array([2.0, 3.0]))
    assert_allclose(g, [2 * 2.0, 2 * 3.0], rtol=RTOL)


def test_003_numerical_gradient_for_verification():
    """003 9.2: the tutorial's numerical_gradient(f, x, h=1e-5) (central, loop over i)."""
    def tutorial_numerical_gradient(f, x, h=1e-5):
        grad = np.zeros_like(x)
        for i in range(len(x)):
            x_plus, x_minus = x.copy(), x.copy()
            x_plus[i] += h
            x_minus[i] -= h
            grad[i] = (f(x_plus) - f(x_minus)) / (2 * h)
        return grad

    f = lambda v: float(np.sum(np.sin(v) * v**2))  # noqa: E731
    x = np.array([0.3, -1.2, 2.5])
    assert_allclose(numerical_gradient(f, x, 1e-5), tutorial_numerical_gradient(f, x),
                    rtol=1e-8)


def test_003_gradient_checking():
    """003 10.1: analytic vs numerical gradient; the difference norm should be < 1e-7."""
    loss_function = lambda w: float(np.sum(np.exp(0.3 * w)) + w[0] * w[1] ** 2)  # noqa: E731
    analytic = lambda w: 0.3 * np.exp(0.3 * w) + np.array([w[1] ** 2, 2 * w[0] * w[1]])  # noqa
    weights = np.array([0.5, -1.5])
    res = check_gradient(loss_function, analytic, weights)
    assert res.ok and np.linalg.norm(res.analytic - res.numeric) < 1e-7


@pytest.mark.parametrize("gradients", [np.array([3.0, 4.0]), np.array([0.3, -0.4, 0.2])],
                         ids=["above", "below"])
def test_003_gradient_clipping(gradients):
    """003 10.2: clip_gradients(gradients, max_norm=1.0) scales by max_norm/total_norm if above."""
    def clip_gradients(gradients, max_norm=1.0):
        total_norm = np.linalg.norm(gradients)
        if total_norm > max_norm:
            gradients = gradients * (max_norm / total_norm)
        return gradients

    clipped, norm = clip_by_norm(gradients, 1.0)
    assert_allclose(clipped, clip_gradients(gradients), rtol=1e-15)


def test_003_directional_derivative_at_2_3():
    """003 section 11: grad = [4, 6] at (2, 3); along [1, 1]/sqrt(2) the derivative is 10/sqrt(2)."""
    gradient = np.array([4, 6])
    direction = np.array([1, 1]) / np.sqrt(2)
    expected = np.dot(gradient, direction)
    f = lambda v: v[0] ** 2 + v[1] ** 2  # noqa: E731
    got = directional_derivative(f, np.array([2.0, 3.0]), np.array([1.0, 1.0]))
    assert got == pytest.approx(expected, rel=1e-8)
