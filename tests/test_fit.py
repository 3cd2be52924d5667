"""Tests of fit_linear_regression and fit_logistic_regression.

The reference is a plain numpy loop implementing exactly the algorithm of the spec (forward pass,
full-batch gradient, global-norm clip of (dw, db) when max_norm is set, w -= lr*dw, b -= lr*db,
stop when the unclipped gradient norm < tol).  Converged fits are compared with closed forms
(np.linalg.lstsq, ridge), scipy.optimize.minimize and scikit-learn when installed.
"""
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import minimize
from scipy.special import expit

from fastgrad import FitResult, fit_linear_regression, fit_logistic_regression, mse_gradient

RTOL = {np.float32: 1e-4, np.float64: 1e-9}  # after many epochs of float32 arithmetic
DTYPES = [np.float32, np.float64]
N, D = 40, 3


# --------------------------------------------------------------------------- reference
def _loss_grad(kind, X, y, w, b, s, l2):
    z = X @ w + b
    if kind == "linear":
        r = z - y
        loss = np.sum(s * r**2) / np.sum(s) + l2 * w @ w
        e = 2 * r
    else:
        loss = np.sum(s * (np.logaddexp(0.0, z) - y * z)) / np.sum(s) + l2 * w @ w
        e = expit(z) - y
    dw = X.T @ (s * e) / np.sum(s) + 2 * l2 * w
    db = np.sum(s * e) / np.sum(s)
    return float(loss), dw, float(db)


def reference_fit(kind, X, y, *, lr=0.01, epochs=1000, max_norm=None, tol=None, l2=0.0,
                  sample_weight=None, w0=None, b0=0.0, fit_intercept=True):
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    s = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    w = np.zeros(X.shape[1]) if w0 is None else np.array(w0, dtype=np.float64)
    b = float(b0)
    history, clipped = [], 0
    for _ in range(epochs):
        loss, dw, db = _loss_grad(kind, X, y, w, b, s, l2)
        history.append(loss)
        if not fit_intercept:
            db = 0.0
        norm = np.sqrt(dw @ dw + db * db)
        if tol is not None and norm < tol:
            break
        if max_norm is not None and norm > max_norm:
            dw, db = dw * (max_norm / norm), db * (max_norm / norm)
            clipped += 1
        w = w - lr * dw
        b = b - lr * db
    return w, b, np.array(history), clipped


def make_data(kind, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D))
    if kind == "linear":
        y = X @ np.array([1.5, -2.0, 0.5]) + 0.7 + 0.1 * rng.standard_normal(N)
    else:
        y = (rng.random(N) < expit(X @ np.array([1.0, -1.0, 0.5]) + 0.2)).astype(float)
    return X.astype(dtype), y.astype(dtype)


FITS = {"linear": fit_linear_regression, "logistic": fit_logistic_regression}
SW = np.random.default_rng(5).uniform(0.5, 2.0, N)

CONFIGS = [
    pytest.param({}, id="defaults"),
    pytest.param({"lr": 0.05, "l2": 0.1}, id="l2"),
    pytest.param({"lr": 0.05, "sample_weight": SW}, id="weighted"),
    pytest.param({"lr": 0.05, "w0": [0.3, -0.2, 0.1], "b0": -0.4}, id="w0-b0"),
    pytest.param({"lr": 0.05, "fit_intercept": False}, id="no-intercept"),
    pytest.param({"lr": 0.3, "max_norm": 0.1}, id="max_norm"),
]


def _close(got, ref, dtype):
    rtol = RTOL[dtype]
    ref = np.asarray(ref, dtype=np.float64)
    assert_allclose(np.asarray(got, dtype=np.float64), ref, rtol=rtol,
                    atol=rtol * max(1.0, float(np.abs(ref).max())))


# --------------------------------------------------------------------------- reference loop
@pytest.mark.parametrize("kind", sorted(FITS))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", CONFIGS)
class TestMatchesReferenceLoop:
    EPOCHS = 60

    def _run(self, kind, dtype, cfg):
        X, y = make_data(kind, dtype)
        res = FITS[kind](X, y, epochs=self.EPOCHS, **cfg)
        ref = reference_fit(kind, X, y, epochs=self.EPOCHS, **cfg)
        return res, ref

    def test_weights(self, kind, dtype, cfg):
        res, (w, _, _, _) = self._run(kind, dtype, cfg)
        _close(res.w, w, dtype)

    def test_bias(self, kind, dtype, cfg):
        res, (_, b, _, _) = self._run(kind, dtype, cfg)
        _close(res.b, b, dtype)

    def test_loss_history(self, kind, dtype, cfg):
        res, (_, _, hist, _) = self._run(kind, dtype, cfg)
        _close(res.loss_history, hist, dtype)

    def test_n_epochs_without_tol(self, kind, dtype, cfg):
        res, _ = self._run(kind, dtype, cfg)
        assert res.n_epochs == self.EPOCHS


def test_max_norm_config_really_clips():
    """Guard: the max_norm case above must exercise clipping, for both kinds."""
    for kind in FITS:
        X, y = make_data(kind)
        assert reference_fit(kind, X, y, epochs=60, lr=0.3, max_norm=0.1)[3] > 5


# --------------------------------------------------------------------------- result object
@pytest.mark.parametrize("kind", sorted(FITS))
class TestFitResult:
    def test_returns_fit_result(self, kind):
        X, y = make_data(kind)
        assert isinstance(FITS[kind](X, y, epochs=5), FitResult)

    def test_loss_history_is_ndarray_one_per_epoch(self, kind):
        X, y = make_data(kind)
        h = FITS[kind](X, y, epochs=7).loss_history
        assert (type(h), h.shape) == (np.ndarray, (7,))

    def test_first_loss_is_loss_at_start(self, kind):
        X, y = make_data(kind)
        res = FITS[kind](X, y, epochs=3, w0=[0.1, 0.2, 0.3], b0=0.5)
        expected = _loss_grad(kind, X, y, np.array([0.1, 0.2, 0.3]), 0.5, np.ones(N), 0.0)[0]
        assert res.loss_history[0] == pytest.approx(expected, rel=1e-12)

    def test_w_shape(self, kind):
        X, y = make_data(kind)
        assert np.shape(FITS[kind](X, y, epochs=3).w) == (D,)

    def test_b_is_float(self, kind):
        X, y = make_data(kind)
        assert isinstance(FITS[kind](X, y, epochs=3).b, float)

    def test_grad_norm_is_finite_float(self, kind):
        X, y = make_data(kind)
        g = FITS[kind](X, y, epochs=3).grad_norm
        assert isinstance(g, float) and np.isfinite(g)

    def test_status_is_not_diverged_for_a_normal_run(self, kind):
        X, y = make_data(kind)
        assert FITS[kind](X, y, epochs=20, lr=0.05).status != "diverged"

    def test_zero_epochs_returns_start(self, kind):
        X, y = make_data(kind)
        res = FITS[kind](X, y, epochs=0, w0=[0.1, 0.2, 0.3], b0=0.5)
        assert (list(res.w), res.b, len(res.loss_history)) == ([0.1, 0.2, 0.3], 0.5, 0)

    def test_no_intercept_keeps_b_zero(self, kind):
        X, y = make_data(kind)
        assert FITS[kind](X, y, epochs=50, lr=0.05, fit_intercept=False).b == 0.0

    def test_loss_decreases_with_small_lr(self, kind):
        X, y = make_data(kind)
        h = FITS[kind](X, y, epochs=50, lr=0.05).loss_history
        assert np.all(np.diff(h) < 0)


# --------------------------------------------------------------------------- tol
@pytest.mark.parametrize("kind", sorted(FITS))
class TestTol:
    TOL = 1e-4

    def _fit(self, kind):
        X, y = make_data(kind)
        return X, y, FITS[kind](X, y, lr=0.3, epochs=20000, tol=self.TOL, l2=0.01)

    def test_converged(self, kind):
        assert self._fit(kind)[2].converged is True

    def test_stops_early(self, kind):
        assert self._fit(kind)[2].n_epochs < 20000

    def test_grad_norm_below_tol(self, kind):
        assert self._fit(kind)[2].grad_norm < self.TOL

    def test_true_gradient_at_result_below_tol(self, kind):
        X, y, res = self._fit(kind)
        _, dw, db = _loss_grad(kind, X, y, np.asarray(res.w), res.b, np.ones(N), 0.01)
        assert np.sqrt(dw @ dw + db**2) < self.TOL

    def test_stops_within_one_epoch_of_reference(self, kind):
        X, y, res = self._fit(kind)
        ref_hist = reference_fit(kind, X, y, lr=0.3, epochs=20000, tol=self.TOL, l2=0.01)[2]
        assert abs(res.n_epochs - len(ref_hist)) <= 1

    def test_not_converged_when_tol_unreachable(self, kind):
        X, y = make_data(kind)
        res = FITS[kind](X, y, lr=0.01, epochs=5, tol=1e-12)
        assert (res.converged, res.n_epochs) == (False, 5)


# --------------------------------------------------------------------------- converged solutions
class TestLinearSolution:
    def test_converges_to_lstsq(self):
        X, y = make_data("linear")
        sol = np.linalg.lstsq(np.c_[X, np.ones(N)], y, rcond=None)[0]
        res = fit_linear_regression(X, y, lr=0.2, epochs=3000)
        assert_allclose(np.append(res.w, res.b), sol, rtol=1e-8, atol=1e-10)

    def test_converges_to_lstsq_float32(self):
        X, y = make_data("linear", np.float32)
        sol = np.linalg.lstsq(np.c_[X.astype(float), np.ones(N)], y.astype(float), rcond=None)[0]
        res = fit_linear_regression(X, y, lr=0.2, epochs=3000)
        assert_allclose(np.append(res.w, res.b), sol, rtol=1e-4, atol=1e-5)

    def test_no_intercept_converges_to_lstsq_through_origin(self):
        X, y = make_data("linear")
        sol = np.linalg.lstsq(X, y, rcond=None)[0]
        res = fit_linear_regression(X, y, lr=0.2, epochs=3000, fit_intercept=False)
        assert_allclose(res.w, sol, rtol=1e-8, atol=1e-10)

    def test_weighted_converges_to_weighted_lstsq(self):
        X, y = make_data("linear")
        r = np.sqrt(SW)
        sol = np.linalg.lstsq(np.c_[X, np.ones(N)] * r[:, None], y * r, rcond=None)[0]
        res = fit_linear_regression(X, y, lr=0.2, epochs=3000, sample_weight=SW)
        assert_allclose(np.append(res.w, res.b), sol, rtol=1e-8, atol=1e-10)

    def test_l2_converges_to_ridge_with_unpenalised_intercept(self):
        X, y = make_data("linear")
        l2 = 0.3
        xm, ym = X.mean(0), y.mean()
        Xc, yc = X - xm, y - ym
        w = np.linalg.solve(Xc.T @ Xc / N + l2 * np.eye(D), Xc.T @ yc / N)
        b = ym - xm @ w
        res = fit_linear_regression(X, y, lr=0.2, epochs=3000, l2=l2)
        assert_allclose(np.append(res.w, res.b), np.append(w, b), rtol=1e-8, atol=1e-10)

    def test_matches_sklearn_linear_regression(self):
        lm = pytest.importorskip("sklearn.linear_model")
        X, y = make_data("linear")
        sk = lm.LinearRegression().fit(X, y)
        res = fit_linear_regression(X, y, lr=0.2, epochs=3000)
        assert_allclose(np.append(res.w, res.b), np.append(sk.coef_, sk.intercept_), rtol=1e-8)


class TestLogisticSolution:
    L2 = 0.05

    def _minimiser(self, X, y):
        def obj(t):
            loss, dw, db = _loss_grad("logistic", X, y, t[:-1], t[-1], np.ones(N), self.L2)
            return loss, np.append(dw, db)

        return minimize(obj, np.zeros(D + 1), jac=True, method="L-BFGS-B",
                        options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 10000}).x

    def test_converges_to_scipy_minimizer(self):
        X, y = make_data("logistic")
        res = fit_logistic_regression(X, y, lr=1.0, epochs=4000, l2=self.L2)
        assert_allclose(np.append(res.w, res.b), self._minimiser(X, y), rtol=1e-5, atol=1e-6)

    def test_matches_sklearn_logistic_regression(self):
        lm = pytest.importorskip("sklearn.linear_model")
        X, y = make_data("logistic")
        # sklearn minimises 0.5||w||^2 + C sum(loss): equal to ours for C = 1/(2 N l2)
        sk = lm.LogisticRegression(C=1.0 / (2 * N * self.L2), tol=1e-12, max_iter=10000).fit(X, y)
        res = fit_logistic_regression(X, y, lr=1.0, epochs=4000, l2=self.L2)
        assert_allclose(np.append(res.w, res.b), np.append(sk.coef_.ravel(), sk.intercept_),
                        rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- divergence
def _diverge(**kw):
    X, y = make_data("linear")
    X = X * 100.0
    with pytest.warns(RuntimeWarning) as rec:
        res = fit_linear_regression(X, y, lr=10.0, epochs=5000, **kw)
    return res, rec


class TestDivergence:
    def test_status_diverged(self):
        assert _diverge()[0].status == "diverged"

    def test_not_converged(self):
        assert _diverge()[0].converged is False

    def test_weights_finite(self):
        assert np.all(np.isfinite(_diverge()[0].w))

    def test_bias_finite(self):
        assert np.isfinite(_diverge()[0].b)

    def test_stops_at_once(self):
        assert _diverge()[0].n_epochs < 5000

    def test_warning_gives_advice(self):
        text = " ".join(str(w.message) for w in _diverge()[1])
        assert "max_norm" in text and ("lr" in text or "learning rate" in text), text

    def test_diverged_also_with_tol(self):
        assert _diverge(tol=1e-6)[0].status == "diverged"

    def test_max_norm_prevents_divergence(self):
        # same set-up as _diverge(): clipped steps have length <= lr*max_norm = 0.01
        X, y = make_data("linear")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            res = fit_linear_regression(X * 100.0, y, lr=10.0, epochs=200, max_norm=1e-3)
        assert res.status != "diverged" and np.all(np.isfinite(res.w))


# --------------------------------------------------------------------------- inputs
@pytest.mark.parametrize("kind", sorted(FITS))
class TestFitInputs:
    @pytest.mark.parametrize("dtype", DTYPES)
    def test_read_only_inputs_work(self, kind, dtype):
        X, y = make_data(kind, dtype)
        sw = SW.astype(dtype)
        ref = reference_fit(kind, X, y, epochs=30, lr=0.05, sample_weight=sw)[0]
        for a in (X, y, sw):
            a.flags.writeable = False
        _close(FITS[kind](X, y, epochs=30, lr=0.05, sample_weight=sw).w, ref, dtype)

    @pytest.mark.parametrize("dtype", DTYPES)
    def test_fortran_X_equals_c_X(self, kind, dtype):
        X, y = make_data(kind, dtype)
        a = FITS[kind](X, y, epochs=30, lr=0.05).w
        bb = FITS[kind](np.asfortranarray(X), y, epochs=30, lr=0.05).w
        _close(bb, a, dtype)

    def test_list_inputs_work(self, kind):
        X, y = make_data(kind)
        ref = reference_fit(kind, X, y, epochs=30, lr=0.05)[0]
        _close(FITS[kind](X.tolist(), y.tolist(), epochs=30, lr=0.05).w, ref, np.float64)

    def test_w0_not_modified(self, kind):
        X, y = make_data(kind)
        w0 = np.array([0.1, 0.2, 0.3])
        FITS[kind](X, y, epochs=10, w0=w0)
        assert_array_equal(w0, [0.1, 0.2, 0.3])


def test_linear_fit_one_epoch_is_one_mse_gradient_step():
    X, y = make_data("linear")
    w0 = np.array([0.2, 0.1, -0.3])
    dw, db = mse_gradient(X, y, w0, 0.4)
    res = fit_linear_regression(X, y, lr=0.05, epochs=1, w0=w0, b0=0.4)
    assert_allclose(np.append(res.w, res.b), np.append(w0 - 0.05 * dw, 0.4 - 0.05 * db),
                    rtol=1e-12)


# --------------------------------------------------------------------------- kernel contract
def _big(kind, dtype, n=4000, d=50):
    rng = np.random.default_rng(11)
    X = rng.standard_normal((n, d)).astype(dtype)
    z = X.astype(np.float64) @ rng.standard_normal(d)
    y = z if kind == "linear" else (z > 0).astype(np.float64)
    return X, y.astype(dtype)


@pytest.mark.parametrize("kind", sorted(FITS))
class TestKernelContract:
    @pytest.mark.parametrize("dtype", DTYPES)
    def test_c_contiguous_X_is_not_copied(self, kind, dtype):
        import tracemalloc

        X, y = _big(kind, dtype)
        tracemalloc.start()
        try:
            FITS[kind](X, y, epochs=3)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < X.nbytes / 4, f"peak {peak} bytes for X of {X.nbytes} bytes"

    def test_gil_released_during_the_loop(self, kind):
        import threading
        import time

        X, y = _big(kind, np.float64)
        done = threading.Event()
        t = threading.Thread(target=lambda: (FITS[kind](X, y, epochs=300, lr=0.01), done.set()))
        stamps = []
        start = time.perf_counter()
        t.start()
        while not done.is_set():
            stamps.append(time.perf_counter())
            time.sleep(0)
        t.join()
        total = time.perf_counter() - start
        gaps = np.diff([start, *stamps, time.perf_counter()])
        # with the GIL held for the whole loop this thread would stall for ~all of `total`
        assert total < 0.05 or gaps.max() < 0.5 * total, (gaps.max(), total)
