"""Tests of softmax_loss, softmax_gradient and fit_softmax_regression (multinomial logistic).

References: fastgrad's numerical_gradient of softmax_loss; scikit-learn's log_loss and
LogisticRegression (lbfgs) on iris and digits; the logistic model (k = 2); NumPy/SciPy
closed forms written here.  Both float32 and float64 inputs.
"""
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import log_softmax, softmax

import fastgrad as fg
from fastgrad import (
    fit_logistic_regression,
    fit_softmax_regression,
    logistic_loss,
    numerical_gradient,
    softmax_gradient,
    softmax_loss,
)

DTYPES = [np.float32, np.float64]
N, D, K = 60, 5, 4


def make_data(dtype=np.float64, seed=0, n=N, d=D, k=K):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    W = (0.5 * rng.standard_normal((d, k))).astype(dtype)
    b = rng.standard_normal(k)
    y = rng.integers(0, k, n)
    sw = rng.uniform(0.2, 3.0, n)
    return X, y, W, b, sw


def ref_loss(X, y, W, b, sw=None, l2=0.0):
    X, W = np.asarray(X, dtype=np.float64), np.asarray(W, dtype=np.float64)
    s = np.ones(len(X)) if sw is None else np.asarray(sw, dtype=np.float64)
    Y = np.eye(W.shape[1])[y] if np.ndim(y) == 1 else np.asarray(y, dtype=np.float64)
    per = -np.sum(Y * log_softmax(X @ W + b, axis=1), axis=1)
    return float(np.sum(s * per) / np.sum(s) + l2 * np.sum(W * W))


# --------------------------------------------------------------------------- gradient
class TestGradient:
    @pytest.mark.parametrize("weighted", [False, True])
    @pytest.mark.parametrize("l2", [0.0, 0.3])
    @pytest.mark.parametrize("seed", [0, 1, 2])
    def test_gradient_is_the_numerical_gradient_of_the_loss(self, seed, l2, weighted):
        X, y, W, b, sw = make_data(seed=seed)
        sw = sw if weighted else None

        def f(theta):
            return softmax_loss(X, y, theta[:D * K].reshape(D, K), theta[D * K:],
                                sample_weight=sw, l2=l2)

        theta = np.concatenate([W.ravel(), b])
        num = numerical_gradient(f, theta, order=4)
        dW, db = softmax_gradient(X, y, W, b, sample_weight=sw, l2=l2)
        assert dW.shape == (D, K) and db.shape == (K,)
        assert_allclose(np.concatenate([dW.ravel(), db]), num, rtol=1e-8, atol=1e-9)

    @pytest.mark.parametrize("weighted", [False, True])
    def test_float32_gradient_is_the_float64_numerical_gradient(self, weighted):
        # the same (float32-representable) data; the float32 pass keeps about 6 digits
        X, y, W, b, sw = make_data(np.float32, seed=5)
        sw = sw if weighted else None
        X64, W64 = X.astype(np.float64), W.astype(np.float64)

        def f(theta):
            return softmax_loss(X64, y, theta[:D * K].reshape(D, K), theta[D * K:],
                                sample_weight=sw, l2=0.1)

        num = numerical_gradient(f, np.concatenate([W64.ravel(), b]), order=4)
        dW, db = softmax_gradient(X, y, W, b, sample_weight=sw, l2=0.1)
        assert dW.dtype == np.float32 and db.dtype == np.float64
        assert_allclose(np.concatenate([dW.ravel(), db]), num, rtol=1e-4, atol=1e-5)

    @pytest.mark.parametrize("dtype", DTYPES)
    def test_gradient_is_the_closed_form(self, dtype):
        X, y, W, b, sw = make_data(dtype, n=3001, d=40, k=7)
        X64 = X.astype(np.float64)
        G = sw[:, None] * (softmax(X64 @ W.astype(np.float64) + b, axis=1) - np.eye(7)[y])
        dW, db = softmax_gradient(X, y, W, b, sample_weight=sw, l2=0.2)
        rtol = 1e-4 if dtype == np.float32 else 1e-11
        assert_allclose(dW, X64.T @ G / sw.sum() + 0.4 * W.astype(np.float64), rtol=rtol,
                        atol=rtol)
        assert_allclose(db, G.sum(axis=0) / sw.sum(), rtol=rtol, atol=rtol)

    def test_b_none_means_zeros(self):
        X, y, W, _, _ = make_data()
        dW0, db0 = softmax_gradient(X, y, W)
        dW1, db1 = softmax_gradient(X, y, W, np.zeros(K))
        assert np.array_equal(dW0, dW1) and np.array_equal(db0, db1)

    @pytest.mark.parametrize("dtype", DTYPES)
    def test_compiled_fast_path_equals_the_checked_path(self, dtype):
        # int64 labels take the one-call path; float labels the checked Python path
        X, y, W, b, _ = make_data(dtype, n=2000, d=9)
        assert fg._linear.loss_grad_fast("softmax", X, y, W, b, 0.0, True, 1) is not None
        assert fg._linear.loss_grad_fast("softmax", X, y.astype(float), W, b, 0.0, True,
                                         1) is None
        fast = softmax_gradient(X, y, W, b)
        checked = softmax_gradient(X, y.astype(np.float64), W, b)
        assert np.array_equal(fast[0], checked[0]) and np.array_equal(fast[1], checked[1])
        assert softmax_loss(X, y, W, b) == softmax_loss(X, y.astype(np.float64), W, b)

    def test_probability_rows_of_one_hot_labels_give_the_label_results(self):
        X, y, W, b, sw = make_data()
        Y = np.eye(K)[y]
        assert_allclose(softmax_loss(X, Y, W, b, sample_weight=sw),
                        softmax_loss(X, y, W, b, sample_weight=sw), rtol=1e-14)
        for a, c in zip(softmax_gradient(X, Y, W, b), softmax_gradient(X, y, W, b)):
            assert_allclose(a, c, rtol=1e-13, atol=1e-15)

    def test_soft_probabilities_match_the_closed_form(self):
        X, y, W, b, _ = make_data()
        P = np.random.default_rng(3).dirichlet(np.ones(K), size=N)
        assert_allclose(softmax_loss(X, P, W, b), ref_loss(X, P, W, b), rtol=1e-13)
        dW, db = softmax_gradient(X, P, W, b)
        G = softmax(X @ W + b, axis=1) - P
        assert_allclose(dW, X.T @ G / N, rtol=1e-12, atol=1e-14)
        assert_allclose(db, G.mean(axis=0), rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- loss
class TestLoss:
    @pytest.mark.parametrize("dtype", DTYPES)
    @pytest.mark.parametrize("weighted", [False, True])
    def test_loss_is_sklearn_log_loss_of_the_same_probabilities(self, dtype, weighted):
        from sklearn.metrics import log_loss
        X, y, W, b, sw = make_data(dtype)
        sw = sw if weighted else None
        P = softmax(X.astype(np.float64) @ W.astype(np.float64) + b, axis=1)
        expected = log_loss(y, P, labels=np.arange(K), sample_weight=sw)
        rtol = 1e-5 if dtype == np.float32 else 1e-12
        assert_allclose(softmax_loss(X, y, W, b, sample_weight=sw), expected, rtol=rtol)

    def test_penalty_is_l2_times_the_squared_frobenius_norm_of_W_only(self):
        X, y, W, b, _ = make_data()
        plain = softmax_loss(X, y, W, b)
        assert_allclose(softmax_loss(X, y, W, b, l2=0.7) - plain, 0.7 * np.sum(W**2),
                        rtol=1e-13)

    def test_at_zero_weights_the_loss_is_log_k(self):
        X, y, _, _, _ = make_data()
        assert_allclose(softmax_loss(X, y, np.zeros((D, K))), np.log(K), rtol=1e-15)

    def test_scores_of_1e4_give_finite_results_and_no_warnings(self):
        X = np.array([[1e4, -1e4], [-3e4, 2e4], [5e3, 5e3]])
        W = np.array([[1.0, -1.0, 0.5], [0.0, 1.0, -2.0]])
        y = np.array([1, 0, 2])
        with warnings.catch_warnings(), np.errstate(all="raise"):
            warnings.simplefilter("error")
            loss = softmax_loss(X, y, W)
            dW, db = softmax_gradient(X, y, W)
            fit = fit_softmax_regression(X, y, lr=1e-9, epochs=5)
        assert np.isfinite(loss) and np.all(np.isfinite(dW)) and np.all(np.isfinite(db))
        assert fit.status == "max_epochs" and np.all(np.isfinite(fit.loss_history))
        assert_allclose(loss, ref_loss(X, y, W, np.zeros(3)), rtol=1e-14)


# --------------------------------------------------------------------------- k = 2
class TestTwoClasses:
    def test_softmax_loss_is_the_logistic_loss_of_the_column_difference(self):
        X, y, W, b, sw = make_data(k=2)
        assert_allclose(softmax_loss(X, y, W, b, sample_weight=sw),
                        logistic_loss(X, y.astype(float), W[:, 1] - W[:, 0], b[1] - b[0],
                                      sample_weight=sw), rtol=1e-13)

    def test_softmax_fit_is_the_logistic_fit_with_w_the_column_difference(self):
        # from zeros the two columns stay opposite: gradient descent on W with lr and l2
        # moves w = W[:, 1] - W[:, 0] as the logistic fit with 2 lr and l2 / 2
        X, y, _, _, _ = make_data(k=2, n=200)
        soft = fit_softmax_regression(X, y, lr=0.2, epochs=300, l2=0.01)
        logi = fit_logistic_regression(X, y.astype(float), lr=0.4, epochs=300, l2=0.005)
        assert_allclose(soft.w[:, 1] - soft.w[:, 0], logi.w, rtol=1e-10, atol=1e-12)
        assert_allclose(soft.b[1] - soft.b[0], logi.b, rtol=1e-10, atol=1e-12)
        # the objectives differ by the penalty's parametrisation only
        assert_allclose(soft.loss_history, logi.loss_history, rtol=1e-10)


# --------------------------------------------------------------------------- fits
def _sklearn_reference(X, y, l2):
    from sklearn.linear_model import LogisticRegression
    N = X.shape[0]
    return LogisticRegression(C=1.0 / (2 * N * l2), tol=1e-14, max_iter=100_000).fit(X, y)


class TestFit:
    @pytest.mark.parametrize("name, l2, lr", [("iris", 1e-3, 1.0), ("digits", 1e-2, 0.5)])
    def test_fit_reaches_sklearns_optimum(self, name, l2, lr):
        from sklearn import datasets
        from sklearn.preprocessing import StandardScaler
        X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
        X = StandardScaler().fit_transform(X)
        sk = _sklearn_reference(X, y, l2)
        fit = fit_softmax_regression(X, y, lr=lr, epochs=100_000, tol=1e-7, l2=l2)
        assert fit.status == "converged"
        objective = softmax_loss(X, y, fit.w, fit.b, l2=l2)
        assert abs(objective - softmax_loss(X, y, sk.coef_.T, sk.intercept_, l2=l2)) < 1e-9
        mine = np.sum(np.argmax(X @ fit.w + fit.b, axis=1) == y)
        theirs = np.sum(sk.predict(X) == y)
        assert abs(int(mine) - int(theirs)) <= 1

    def test_result_shapes_and_dtypes(self):
        X, y, _, _, _ = make_data(np.float32)
        fit = fit_softmax_regression(X, y, lr=0.1, epochs=3)
        assert fit.w.shape == (D, K) and fit.w.dtype == np.float32
        assert fit.b.shape == (K,) and fit.b.dtype == np.float64
        assert fit.loss_history.shape == (3,) and fit.n_epochs == 3
        assert "FitResult(" in repr(fit)

    def test_history_is_the_loss_before_each_update(self):
        X, y, _, _, _ = make_data()
        seen = []
        fit = fit_softmax_regression(X, y, lr=0.3, epochs=4, l2=0.1, fit_intercept=False,
                                     callback=lambda e, loss, W: seen.append(W) and False)
        assert len(seen) == 4
        assert fit.loss_history[0] == softmax_loss(X, y, np.zeros((D, K)), l2=0.1)
        assert fit.loss_history[1:].tolist() == [softmax_loss(X, y, W, l2=0.1)
                                                 for W in seen[:-1]]

    def test_n_classes_adds_classes_without_samples(self):
        X, y, _, _, _ = make_data()
        fit = fit_softmax_regression(X, y, n_classes=K + 2, lr=0.1, epochs=2)
        assert fit.w.shape == (D, K + 2)

    def test_w0_b0_start_and_fit_intercept_false_keeps_b0(self):
        X, y, W, b, _ = make_data()
        fit = fit_softmax_regression(X, y, w0=W, b0=b, epochs=0)
        assert np.array_equal(fit.w, W) and np.array_equal(fit.b, b)
        fit = fit_softmax_regression(X, y, w0=W, b0=b, epochs=5, fit_intercept=False)
        assert np.array_equal(fit.b, b) and not np.array_equal(fit.w, W)

    def test_update_is_gradient_descent_with_the_global_norm_clip(self):
        X, y, _, _, _ = make_data()
        fit = fit_softmax_regression(X, y, lr=0.5, epochs=1, max_norm=0.01)
        dW, db = softmax_gradient(X, y, np.zeros((D, K)))
        norm = np.sqrt(np.sum(dW**2) + np.sum(db**2))
        assert_allclose(fit.w, -0.5 * 0.01 / norm * dW, rtol=1e-13)
        assert_allclose(fit.b, -0.5 * 0.01 / norm * db, rtol=1e-13)

    def test_tol_stops_with_converged(self):
        X, y, _, _, _ = make_data()
        fit = fit_softmax_regression(X, y, lr=0.5, epochs=100_000, tol=1e-6, l2=0.05)
        assert fit.converged and fit.status == "converged" and fit.grad_norm < 1e-6
        dW, db = softmax_gradient(X, y, fit.w, fit.b, l2=0.05)
        assert np.sqrt(np.sum(dW**2) + np.sum(db**2)) < 1e-6

    def test_diverging_fit_stops_with_the_last_finite_parameters(self):
        X, y, _, _, _ = make_data()
        X = X * 1e200
        with pytest.warns(RuntimeWarning, match="diverged"):
            fit = fit_softmax_regression(X, y, lr=1e200, epochs=10)
        assert fit.status == "diverged" and fit.n_epochs == 0
        assert np.all(np.isfinite(fit.w)) and np.all(fit.w == 0)

    def test_callback_can_stop(self):
        X, y, _, _, _ = make_data()
        fit = fit_softmax_regression(X, y, epochs=50, callback=lambda e, loss, W: e >= 3)
        assert fit.status == "stopped" and fit.n_epochs == 3


# --------------------------------------------------------------------------- threads
class TestThreads:
    def test_gradient_and_fit_do_not_depend_on_the_thread_count(self):
        X, y, W, b, sw = make_data(n=30000, d=30, k=5)
        assert fg._linear.n_blocks(*X.shape, 5) >= 4
        one = softmax_gradient(X, y, W, b, sample_weight=sw, workers=1)
        two = softmax_gradient(X, y, W, b, sample_weight=sw, workers=2)
        assert np.array_equal(one[0], two[0]) and np.array_equal(one[1], two[1])
        f1 = fit_softmax_regression(X, y, lr=0.2, epochs=5, workers=1)
        f2 = fit_softmax_regression(X, y, lr=0.2, epochs=5, workers=2)
        assert np.array_equal(f1.w, f2.w) and np.array_equal(f1.b, f2.b)
        assert np.array_equal(f1.loss_history, f2.loss_history)


# --------------------------------------------------------------------------- inputs
class TestInputsUnchanged:
    @pytest.mark.parametrize("labels", ["int", "float", "probabilities"])
    def test_no_input_array_is_modified(self, labels):
        X, y, W, b, sw = make_data()
        y = {"int": y, "float": y.astype(float), "probabilities": np.eye(K)[y]}[labels]
        arrays = (X, y, W, b, sw)
        copies = [a.copy() for a in arrays]
        softmax_loss(X, y, W, b, sample_weight=sw, l2=0.1)
        softmax_gradient(X, y, W, b, sample_weight=sw, l2=0.1)
        softmax_gradient(X, y, W, b)
        fit_softmax_regression(X, y, w0=W, b0=b, sample_weight=sw, epochs=3)
        for a, c in zip(arrays, copies):
            assert np.array_equal(a, c)


class TestBadInput:
    def setup_method(self):
        self.X, self.y, self.W, self.b, self.sw = make_data()

    @pytest.mark.parametrize("fn", [softmax_loss, softmax_gradient])
    @pytest.mark.parametrize("y, match", [
        (np.r_[K, np.zeros(N - 1, int)], r"`y` class labels must be in 0\.\.3"),
        (np.r_[-1, np.zeros(N - 1, int)], r"`y` class labels must be in 0\.\.3 .*got -1 at "
                                          r"indices \[0\]"),
        (np.r_[0.5, np.zeros(N - 1)], "`y` must hold integer class labels"),
        (np.zeros(N - 1, int), "`y` must have length 60"),
        (np.zeros((N, K + 1)), r"`y` must have 4 columns"),
    ])
    def test_bad_labels(self, fn, y, match):
        with pytest.raises(ValueError, match=match):
            fn(self.X, y, self.W, self.b)

    def test_bool_labels_are_a_type_error(self):
        with pytest.raises(TypeError, match="`y` must hold integer class labels"):
            softmax_loss(self.X, np.zeros(N, bool), self.W)

    def test_probability_matrix_with_negative_entries(self):
        P = np.full((N, K), 1.0 / K)
        P[3] = [1.5, -0.5, 0.0, 0.0]
        with pytest.raises(ValueError, match=r"`y` must hold class probabilities >= 0.*\[3\]"):
            softmax_gradient(self.X, P, self.W)

    def test_probability_rows_not_summing_to_one(self):
        P = np.full((N, K), 1.0 / K)
        P[7, 0] += 1e-5
        with pytest.raises(ValueError, match=r"`y` rows must sum to 1.*\[7\]"):
            softmax_loss(self.X, P, self.W)
        P[7, 0] -= 1e-5 - 1e-8          # within 1e-6 is accepted
        softmax_loss(self.X, P, self.W)

    @pytest.mark.parametrize("W, match", [
        (np.zeros((D + 1, K)), r"`W` must have shape \(5, k\)"),
        (np.zeros(D), r"`W` must have shape \(5, k\)"),
        (np.zeros((D, 1)), "`W` must have at least 2 columns"),
        (np.full((D, K), np.nan), "`W` must be finite"),
    ])
    def test_bad_W(self, W, match):
        with pytest.raises(ValueError, match=match):
            softmax_loss(self.X, self.y, W)

    def test_bad_b(self):
        with pytest.raises(ValueError, match=r"`b` must have shape \(4,\)"):
            softmax_gradient(self.X, self.y, self.W, np.zeros(K - 1))
        with pytest.raises(ValueError, match="`b` must be finite"):
            softmax_gradient(self.X, self.y, self.W, np.r_[np.inf, np.zeros(K - 1)])

    @pytest.mark.parametrize("kw, exc, match", [
        ({"n_classes": 1}, ValueError, "`n_classes` must be >= 2"),
        ({"n_classes": 2}, ValueError, r"`y` class labels must be in 0\.\.1 \(k = 2, from n_classes\)"),
        ({"n_classes": 2.0}, TypeError, "`n_classes` must be an integer"),
        ({"w0": np.zeros((D, K + 1))}, ValueError, r"`w0` must have shape \(5, 4\)"),
        ({"b0": np.zeros(K + 1)}, ValueError, r"`b0` must have shape \(4,\)"),
        ({"lr": 0.0}, ValueError, "`lr` must be > 0"),
        ({"epochs": -1}, ValueError, "`epochs` must be >= 0"),
        ({"max_norm": -1.0}, ValueError, "`max_norm` must be > 0"),
        ({"tol": -1.0}, ValueError, "`tol` must be >= 0"),
        ({"l2": -1.0}, ValueError, "`l2` must be >= 0"),
        ({"sample_weight": -np.ones(N)}, ValueError, "`sample_weight` must be non-negative"),
        ({"sample_weight": np.zeros(N)}, ValueError, "`sample_weight` must not be all zero"),
        ({"callback": 3}, TypeError, "`callback` must be callable"),
        ({"callback_every": 0}, ValueError, "`callback_every` must be >= 1"),
        ({"workers": 0}, ValueError, "`workers` must be >= 1"),
    ])
    def test_bad_fit_options(self, kw, exc, match):
        with pytest.raises(exc, match=match):
            fit_softmax_regression(self.X, self.y, **kw)

    def test_one_class_labels_need_n_classes(self):
        with pytest.raises(ValueError, match="at least 2 classes"):
            fit_softmax_regression(self.X, np.zeros(N, int))
        assert fit_softmax_regression(self.X, np.zeros(N, int), n_classes=2,
                                      epochs=1).w.shape == (D, 2)

    @pytest.mark.parametrize("X, exc, match", [
        (np.zeros((0, D)), ValueError, "`X` must not be empty"),
        (np.zeros(D), ValueError, "`X` must be 2-D"),
        ("abc", TypeError, "`X` must be an array of real numbers"),
    ])
    def test_bad_X(self, X, exc, match):
        with pytest.raises(exc, match=match):
            fit_softmax_regression(X, self.y)
        with pytest.raises(exc, match=match):
            softmax_loss(X, self.y, self.W)

    def test_non_finite_X_is_named(self):
        X = self.X.copy()
        X[4, 1] = np.nan
        with pytest.raises(ValueError, match=r"`X` must be finite.*rows \[4\]"):
            softmax_gradient(X, self.y, self.W)
