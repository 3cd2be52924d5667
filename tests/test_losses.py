"""Tests of mse_loss/mse_gradient and logistic_loss/logistic_gradient.

References: numpy closed forms written here, scipy's approx_fprime/check_grad on those closed
forms, and scikit-learn's metrics when it is installed.  Both float32 and float64 inputs.
"""
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.optimize import approx_fprime, check_grad
from scipy.special import expit

from fastgrad import logistic_gradient, logistic_loss, mse_gradient, mse_loss

RTOL = {np.float32: 1e-5, np.float64: 1e-10}
DTYPES = [np.float32, np.float64]
N, D = 30, 4


# --------------------------------------------------------------------------- references
def _sw(sw, n):
    return np.ones(n) if sw is None else np.asarray(sw, dtype=np.float64)


def ref_mse(X, y, w, b=0.0, sw=None, l2=0.0):
    X, y, w = (np.asarray(a, dtype=np.float64) for a in (X, y, w))
    s = _sw(sw, len(y))
    r = X @ w + float(b) - y
    return float(np.sum(s * r**2) / np.sum(s) + l2 * w @ w)


def ref_mse_grad(X, y, w, b=0.0, sw=None, l2=0.0):
    X, y, w = (np.asarray(a, dtype=np.float64) for a in (X, y, w))
    s = _sw(sw, len(y))
    r = X @ w + float(b) - y
    return 2 * X.T @ (s * r) / np.sum(s) + 2 * l2 * w, float(2 * np.sum(s * r) / np.sum(s))


def ref_logistic(X, y, w, b=0.0, sw=None, l2=0.0):
    X, y, w = (np.asarray(a, dtype=np.float64) for a in (X, y, w))
    s = _sw(sw, len(y))
    z = X @ w + float(b)
    per = np.logaddexp(0.0, z) - y * z  # -(y log p + (1-y) log(1-p)), stable
    return float(np.sum(s * per) / np.sum(s) + l2 * w @ w)


def ref_logistic_grad(X, y, w, b=0.0, sw=None, l2=0.0):
    X, y, w = (np.asarray(a, dtype=np.float64) for a in (X, y, w))
    s = _sw(sw, len(y))
    e = expit(X @ w + float(b)) - y
    return X.T @ (s * e) / np.sum(s) + 2 * l2 * w, float(np.sum(s * e) / np.sum(s))


KINDS = {
    "mse": (mse_loss, mse_gradient, ref_mse, ref_mse_grad),
    "logistic": (logistic_loss, logistic_gradient, ref_logistic, ref_logistic_grad),
}


def make_data(kind, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D))
    w = rng.standard_normal(D)
    b = 0.3
    if kind == "mse":
        y = X @ rng.standard_normal(D) + rng.standard_normal(N)
    else:
        y = (rng.random(N) < 0.5).astype(np.float64)
    return X.astype(dtype), y.astype(dtype), w.astype(dtype), b


SW = np.random.default_rng(99).uniform(0.2, 3.0, N)


def _close(got, ref, dtype):
    ref = np.asarray(ref, dtype=np.float64)
    rtol = RTOL[dtype]
    assert_allclose(np.asarray(got, dtype=np.float64), ref, rtol=rtol,
                    atol=rtol * max(1.0, float(np.abs(ref).max())))


CONFIGS = [
    pytest.param(None, 0.0, id="plain"),
    pytest.param(SW, 0.0, id="weighted"),
    pytest.param(None, 0.25, id="l2"),
    pytest.param(SW, 0.25, id="weighted-l2"),
]


# --------------------------------------------------------------------------- both losses
@pytest.mark.parametrize("kind", sorted(KINDS))
class TestLossesAgainstClosedForm:
    @pytest.mark.parametrize("dtype", DTYPES)
    @pytest.mark.parametrize("sw,l2", CONFIGS)
    def test_loss(self, kind, dtype, sw, l2):
        loss, _, ref, _ = KINDS[kind]
        X, y, w, b = make_data(kind, dtype)
        _close(loss(X, y, w, b, sample_weight=sw, l2=l2), ref(X, y, w, b, sw, l2), dtype)

    @pytest.mark.parametrize("dtype", DTYPES)
    @pytest.mark.parametrize("sw,l2", CONFIGS)
    def test_gradient_w(self, kind, dtype, sw, l2):
        _, grad, _, ref = KINDS[kind]
        X, y, w, b = make_data(kind, dtype)
        _close(grad(X, y, w, b, sample_weight=sw, l2=l2)[0], ref(X, y, w, b, sw, l2)[0], dtype)

    @pytest.mark.parametrize("dtype", DTYPES)
    @pytest.mark.parametrize("sw,l2", CONFIGS)
    def test_gradient_b(self, kind, dtype, sw, l2):
        _, grad, _, ref = KINDS[kind]
        X, y, w, b = make_data(kind, dtype)
        _close(grad(X, y, w, b, sample_weight=sw, l2=l2)[1], ref(X, y, w, b, sw, l2)[1], dtype)

    @pytest.mark.parametrize("sw,l2", CONFIGS)
    def test_gradient_matches_scipy_approx_fprime_of_loss(self, kind, sw, l2):
        loss, grad, _, _ = KINDS[kind]
        X, y, w, b = make_data(kind)
        theta = np.append(w, b)
        num = approx_fprime(theta, lambda t: loss(X, y, t[:-1], t[-1], sample_weight=sw, l2=l2),
                            1e-7)
        dw, db = grad(X, y, w, b, sample_weight=sw, l2=l2)
        assert_allclose(np.append(dw, db), num, rtol=1e-5, atol=1e-6)

    def test_gradient_passes_scipy_check_grad(self, kind):
        loss, grad, _, _ = KINDS[kind]
        X, y, w, b = make_data(kind)
        err = check_grad(lambda t: loss(X, y, t[:-1], t[-1], l2=0.1),
                         lambda t: np.append(*grad(X, y, t[:-1], t[-1], l2=0.1)),
                         np.append(w, b))
        assert err < 1e-5

    def test_loss_returns_python_float(self, kind):
        loss = KINDS[kind][0]
        assert isinstance(loss(*make_data(kind)), float)

    def test_gradient_returns_array_and_float(self, kind):
        grad = KINDS[kind][1]
        dw, db = grad(*make_data(kind))
        assert (type(dw), dw.shape, isinstance(db, float)) == (np.ndarray, (D,), True)

    def test_b_defaults_to_zero(self, kind):
        loss, _, ref, _ = KINDS[kind]
        X, y, w, _ = make_data(kind)
        assert loss(X, y, w) == pytest.approx(ref(X, y, w, 0.0), rel=1e-12)

    def test_bias_is_not_penalised(self, kind):
        grad = KINDS[kind][1]
        X, y, w, b = make_data(kind)
        assert grad(X, y, w, b, l2=5.0)[1] == pytest.approx(grad(X, y, w, b)[1], rel=1e-12)

    def test_l2_adds_l2_times_squared_norm(self, kind):
        loss = KINDS[kind][0]
        X, y, w, b = make_data(kind)
        assert loss(X, y, w, b, l2=0.7) - loss(X, y, w, b) == pytest.approx(
            0.7 * float(w @ w), rel=1e-9)

    def test_uniform_weights_equal_unweighted(self, kind):
        loss = KINDS[kind][0]
        X, y, w, b = make_data(kind)
        assert loss(X, y, w, b, sample_weight=np.full(N, 2.5)) == pytest.approx(
            loss(X, y, w, b), rel=1e-12)

    def test_integer_weight_equals_repeating_the_row(self, kind):
        loss = KINDS[kind][0]
        X, y, w, b = make_data(kind)
        sw = np.ones(N)
        sw[[0, 5]] = [3.0, 2.0]
        rep = np.r_[np.arange(N), 0, 0, 5]
        assert loss(X, y, w, b, sample_weight=sw) == pytest.approx(
            loss(X[rep], y[rep], w, b), rel=1e-12)

    def test_zero_weight_equals_dropping_the_row(self, kind):
        _, grad, _, _ = KINDS[kind]
        X, y, w, b = make_data(kind)
        sw = np.ones(N)
        sw[3] = 0.0
        keep = np.arange(N) != 3
        assert_allclose(grad(X, y, w, b, sample_weight=sw)[0], grad(X[keep], y[keep], w, b)[0],
                        rtol=1e-12, atol=1e-13)

    @pytest.mark.parametrize("dtype", DTYPES)
    def test_read_only_inputs_work(self, kind, dtype):
        loss, grad, ref, ref_grad = KINDS[kind]
        X, y, w, b = make_data(kind, dtype)
        sw = SW.astype(dtype)
        for a in (X, y, w, sw):
            a.flags.writeable = False
        _close(grad(X, y, w, b, sample_weight=sw)[0], ref_grad(X, y, w, b, sw)[0], dtype)

    @pytest.mark.parametrize("dtype", DTYPES)
    def test_fortran_order_X_equals_c_order(self, kind, dtype):
        loss = KINDS[kind][0]
        X, y, w, b = make_data(kind, dtype)
        assert loss(np.asfortranarray(X), y, w, b) == pytest.approx(loss(X, y, w, b),
                                                                    rel=RTOL[dtype])

    def test_strided_X_works(self, kind):
        loss, _, ref, _ = KINDS[kind]
        X, y, w, b = make_data(kind)
        wide = np.zeros((N, 2 * D))
        wide[:, ::2] = X
        assert loss(wide[:, ::2], y, w, b) == pytest.approx(ref(X, y, w, b), rel=1e-10)

    def test_list_inputs_work(self, kind):
        loss, _, ref, _ = KINDS[kind]
        X, y, w, b = make_data(kind)
        assert loss(X.tolist(), y.tolist(), w.tolist(), b) == pytest.approx(
            ref(X, y, w, b), rel=1e-10)

    def test_single_sample(self, kind):
        loss, _, ref, _ = KINDS[kind]
        X, y, w, b = make_data(kind)
        assert loss(X[:1], y[:1], w, b) == pytest.approx(ref(X[:1], y[:1], w, b), rel=1e-10)


# --------------------------------------------------------------------------- mse only
class TestMSE:
    def test_zero_at_exact_fit(self):
        X, _, w, b = make_data("mse")
        assert mse_loss(X, X @ w + b, w, b) == pytest.approx(0.0, abs=1e-20)

    def test_gradient_zero_at_least_squares_solution(self):
        X, y, _, _ = make_data("mse")
        Xa = np.c_[X, np.ones(N)]
        sol = np.linalg.lstsq(Xa, y, rcond=None)[0]
        dw, db = mse_gradient(X, y, sol[:-1], sol[-1])
        assert_allclose(np.append(dw, db), 0.0, atol=1e-12)

    @pytest.mark.parametrize("sw", [None, SW], ids=["plain", "weighted"])
    def test_matches_sklearn_mean_squared_error(self, sw):
        metrics = pytest.importorskip("sklearn.metrics")
        X, y, w, b = make_data("mse")
        assert mse_loss(X, y, w, b, sample_weight=sw) == pytest.approx(
            metrics.mean_squared_error(y, X @ w + b, sample_weight=sw), rel=1e-10)


# --------------------------------------------------------------------------- logistic only
class TestLogistic:
    @pytest.mark.parametrize("sw", [None, SW], ids=["plain", "weighted"])
    def test_matches_sklearn_log_loss(self, sw):
        metrics = pytest.importorskip("sklearn.metrics")
        X, y, w, b = make_data("logistic")
        p = expit(X @ w + b)
        assert logistic_loss(X, y, w, b, sample_weight=sw) == pytest.approx(
            metrics.log_loss(y, p, sample_weight=sw, labels=[0, 1]), rel=1e-9)

    def test_soft_labels_match_closed_form(self):
        X, _, w, b = make_data("logistic")
        y = np.random.default_rng(3).random(N)
        assert logistic_loss(X, y, w, b) == pytest.approx(ref_logistic(X, y, w, b), rel=1e-10)

    def test_soft_labels_gradient_matches_closed_form(self):
        X, _, w, b = make_data("logistic")
        y = np.random.default_rng(3).random(N)
        assert_allclose(logistic_gradient(X, y, w, b)[0], ref_logistic_grad(X, y, w, b)[0],
                        rtol=1e-10)

    def test_gradient_formula_of_the_issue(self):
        # (X.T @ (p - y)/N + 2*l2*w, mean(p - y)) for unit weights
        X, y, w, b = make_data("logistic")
        p = expit(X @ w + b)
        dw, db = logistic_gradient(X, y, w, b, l2=0.3)
        assert_allclose(np.append(dw, db), np.append(X.T @ (p - y) / N + 0.6 * w,
                                                     np.mean(p - y)), rtol=1e-10)

    def test_loss_at_zero_weights_is_log2(self):
        X, y, w, _ = make_data("logistic")
        assert logistic_loss(X, y, np.zeros(D), 0.0) == pytest.approx(np.log(2.0), rel=1e-12)


# --------------------------------------------------------------------------- stability
BIG_X = np.array([[1e4], [-1e4], [5e3], [-5e3], [1e4], [-1e4]])
BIG_Y = np.array([1.0, 0.0, 0.0, 1.0, 0.0, 1.0])
BIG_W = np.array([1.0])


@pytest.mark.parametrize("dtype", DTYPES)
class TestLogisticStability:
    def test_loss_finite_and_correct_at_1e4(self, dtype):
        X, y, w = BIG_X.astype(dtype), BIG_Y.astype(dtype), BIG_W.astype(dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            val = logistic_loss(X, y, w, 0.0)
        assert np.isfinite(val) and val == pytest.approx(ref_logistic(X, y, w), rel=RTOL[dtype])

    def test_gradient_finite_and_correct_at_1e4(self, dtype):
        X, y, w = BIG_X.astype(dtype), BIG_Y.astype(dtype), BIG_W.astype(dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            dw, db = logistic_gradient(X, y, w, 0.0)
        rdw, rdb = ref_logistic_grad(X, y, w)
        assert_allclose(np.append(dw, db), np.append(rdw, rdb), rtol=RTOL[dtype],
                        atol=RTOL[dtype] * np.abs(rdw).max())

    def test_bias_of_1e4_is_finite(self, dtype):
        X = np.zeros((2, 1), dtype=dtype)
        y = np.array([0.0, 1.0], dtype=dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            val = logistic_loss(X, y, np.zeros(1, dtype=dtype), -1e4)
        assert val == pytest.approx(5e3, rel=1e-6)

    def test_confident_correct_predictions_have_tiny_loss(self, dtype):
        X = np.array([[1e4], [-1e4]], dtype=dtype)
        y = np.array([1.0, 0.0], dtype=dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            val = logistic_loss(X, y, np.ones(1, dtype=dtype), 0.0)
        assert 0.0 <= val < 1e-30


class TestLogisticPerSampleAccuracy:
    """The per-sample logistic terms (exp and log1p are evaluated by fastgrad's own
    vectorised polynomials) agree with numpy's libm-based logaddexp and scipy's expit to
    a few units in the last place over the whole range of z, including both sides of
    |z| = 708, where exp(-|z|) leaves the normal range."""

    Z = np.concatenate([np.linspace(-40.0, 40.0, 4001), np.linspace(-760.0, 760.0, 3041),
                        [-708.5, -708.0, -707.9, 707.9, 708.0, 708.5, 0.0, -0.0,
                         1e-300, -1e-300, 5e-324]])


    def test_loss_term_with_label_0_is_log1p_exp(self):
        z = self.Z
        got = np.array([logistic_loss(np.array([[zi]]), np.zeros(1), np.ones(1), 0.0)
                        for zi in z])
        ref = np.logaddexp(0.0, z)
        tiny = np.abs(z) > 708.0
        assert np.all(np.abs(got[tiny] - ref[tiny]) <= 4e-308)   # exp(-|z|) set to 0
        assert_allclose(got[~tiny], ref[~tiny], rtol=8e-16, atol=0)

    def test_gradient_term_with_label_0_is_sigmoid(self):
        z = self.Z
        got = np.array([logistic_gradient(np.array([[1.0]]), np.zeros(1), np.zeros(1), zi)[1]
                        for zi in z])
        ref = expit(z)
        tiny = np.abs(z) > 708.0
        assert np.all(np.abs(got[tiny] - ref[tiny]) <= 4e-308)
        assert_allclose(got[~tiny], ref[~tiny], rtol=8e-16, atol=0)

    def test_block_of_many_samples_equals_sum_of_single_samples(self):
        # the vectorised loop (lanes, tail) gives each sample the same term as alone
        rng = np.random.default_rng(3)
        z = rng.normal(scale=5.0, size=203)          # not a multiple of the lane count
        y = rng.uniform(size=203)
        X = z[:, None]
        dw, db = logistic_gradient(X, y, np.ones(1), 0.0)
        singles = [logistic_gradient(X[i:i + 1], y[i:i + 1], np.ones(1), 0.0)[1]
                   for i in range(203)]
        assert_allclose(db, np.mean(singles), rtol=1e-14)
        assert_allclose(logistic_loss(X, y, np.ones(1), 0.0),
                        np.mean([logistic_loss(X[i:i + 1], y[i:i + 1], np.ones(1), 0.0)
                                 for i in range(203)]), rtol=1e-14)

    def test_nan_score_gives_nan_not_a_silent_number(self):
        from fastgrad import _linear
        X = np.array([[1.0], [np.inf]])
        r = _linear.loss_grad("logistic", X, np.zeros(2), np.zeros(1) + np.nan, 0.0, None,
                              0.5, 0.0, True)
        assert np.isnan(r[2]) and np.isnan(r[1][0])
