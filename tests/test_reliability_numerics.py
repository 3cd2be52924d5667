"""Reliability, guarantee 7: numerics at the edges.

* The logistic loss and gradient with |X @ w + b| up to 1e4 are finite and accurate,
  with every warning turned into an error (and NumPy's floating-point errors raising).
* x with components of 1e-300, 1e300 and mixed scales gives accurate derivatives of
  simple functions (relative error per coordinate against closed forms).
* float32 inputs: results in float32 where documented, accurate to a tolerance table.
* Steps that would round to zero are enlarged, not divided by: finite, exact results
  for functions where any step is exact (linear f).
* A fit with an lr far too large stops with status "diverged", a warning with advice,
  and the last finite weights (checked against a NumPy replay of the same updates); with
  max_norm set, the same fit converges.

Each test can fail: ``log(1 + exp(z))`` written directly overflows at z > 709;
a fixed step ``1e-6`` (not scaled to |x|) makes the gradient at 1e300 zero and at 1e-300
meaningless; dividing by the requested h instead of the representable step returns 0 for
a step below one ulp; casting the updated weights to float32 without checking them lets
inf into the result of a diverged float32 fit.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.special import expit

import fastgrad as fg

DTYPES = [np.float32, np.float64]


@pytest.fixture
def strict():
    """Every warning is an error; NumPy overflow, division by zero and invalid operations
    raise (underflow to 0 or subnormals is not an error, as in NumPy's defaults)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(divide="raise", over="raise", invalid="raise", under="ignore"):
            yield


# ------------------------------------------------------------------ logistic at |z| = 1e4
def logistic_ref(X, y, w, b, sw=None, l2=0.0):
    with np.errstate(all="ignore"):
        return _logistic_ref(X, y, w, b, sw, l2)


def _logistic_ref(X, y, w, b, sw, l2):
    X, y, w = (np.asarray(a, dtype=np.float64) for a in (X, y, w))
    z = X @ w + b
    sw = np.ones_like(y) if sw is None else np.asarray(sw, dtype=np.float64)
    s = sw.sum()
    loss = np.sum(sw * (np.logaddexp(0.0, z) - y * z)) / s + l2 * float(w @ w)
    p = expit(z)
    return loss, X.T @ (sw * (p - y)) / s + 2 * l2 * w, float(np.sum(sw * (p - y)) / s)


class TestLogisticExtremes:
    Z = np.array([-1e4, -5e3, -745.0, -710.0, -40.0, -1.0, 0.0, 1.0, 40.0, 710.0, 745.0, 5e3, 1e4])

    @pytest.mark.parametrize("dtype", DTYPES)
    @pytest.mark.parametrize("labels", ["zeros", "ones", "half", "mixed"])
    def test_loss_and_gradient_finite_and_accurate(self, strict, dtype, labels):
        z = self.Z
        X = np.column_stack([z / 2, z / 2, np.ones_like(z)]).astype(dtype)   # X @ [1, 1, 0] = z
        w = np.array([1.0, 1.0, 0.0], dtype=dtype)
        y = {"zeros": np.zeros_like(z), "ones": np.ones_like(z), "half": np.full_like(z, 0.5),
             "mixed": (np.arange(z.size) % 2).astype(float)}[labels]
        sw = np.linspace(0.5, 2.0, z.size)
        for b in (0.0, -3.0):
            for kw in ({}, {"sample_weight": sw, "l2": 0.1}):
                loss = fg.logistic_loss(X, y, w, b, **kw)
                dw, db = fg.logistic_gradient(X, y, w, b, **kw)
                rl, rdw, rdb = logistic_ref(X, y, w, b, kw.get("sample_weight"), kw.get("l2", 0.0))
                rtol = 1e-6 if dtype == np.float32 else 1e-12
                assert math.isfinite(loss) and np.all(np.isfinite(dw)) and math.isfinite(db)
                assert loss == pytest.approx(rl, rel=rtol, abs=1e-300)
                np.testing.assert_allclose(dw, rdw, rtol=rtol, atol=1e-9)
                assert db == pytest.approx(rdb, rel=rtol, abs=1e-12)

    @pytest.mark.parametrize("dtype", DTYPES)
    def test_fit_starting_at_saturation(self, strict, dtype):
        r = np.random.default_rng(0)
        X = r.normal(size=(200, 3)).astype(dtype)
        y = (X[:, 0] > 0).astype(dtype)
        w0 = np.array([-3e3, 2e3, 1e3], dtype=dtype)    # |z| in the thousands
        res = fg.fit_logistic_regression(X, y, lr=0.5, epochs=200, w0=w0, b0=1e3)
        assert res.status == "max_epochs"
        assert np.all(np.isfinite(res.loss_history)) and np.all(np.isfinite(res.w))
        assert res.loss_history[-1] < res.loss_history[0]


# ------------------------------------------------------------------ tiny, huge, mixed x
def fmix(v):
    return float(np.exp(v[0]) + v[1] ** 3 + np.sin(v[2]) + np.log(v[3]))


def gmix(v):
    return np.array([np.exp(v[0]), 3 * v[1] ** 2, np.cos(v[2]), 1.0 / v[3]])


XMIX = np.array([1e-300, 1.0, -2.5, 1e300])


def rel_err(got, ref):
    got, ref = np.asarray(got, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    return np.abs(got - ref) / np.abs(ref)


class TestExtremeScales:
    def test_gradient_at_mixed_scales(self, strict):
        for order, tol in ((2, 1e-6), (4, 1e-9), (6, 1e-10)):
            got = fg.numerical_gradient(fmix, XMIX, order=order)
            assert np.all(rel_err(got, gmix(XMIX)) < tol), (order, got, gmix(XMIX))
        for method in ("forward", "backward"):
            # one-sided: rounding of f (~690, from log(1e300)) over a step ~sqrt(EPS)
            got = fg.numerical_gradient(fmix, XMIX, method=method)
            assert np.all(rel_err(got, gmix(XMIX)) < 2e-5), (method, got)

    def test_partial_and_jacobian_at_mixed_scales(self, strict):
        for i in range(4):
            assert rel_err(fg.partial_derivative(fmix, XMIX, i), gmix(XMIX)[i]) < 1e-6, i
        J = fg.jacobian(lambda v: np.array([fmix(v), 2.0 * fmix(v)]), XMIX)
        assert np.all(rel_err(J, np.vstack([gmix(XMIX), 2 * gmix(XMIX)])) < 1e-6), J

    def test_check_gradient_at_mixed_scales(self, strict):
        res = fg.check_gradient(fmix, gmix, XMIX, rtol=1e-6, atol=0.0)
        assert res.ok, res

    def test_hessian_at_mixed_scales(self, strict):
        H = fg.hessian(fmix, XMIX)
        diag = np.array([1.0, 6.0, -np.sin(-2.5)])
        assert np.all(rel_err(np.diag(H)[:3], diag) < 1e-4), np.diag(H)
        assert abs(H[3, 3]) < 1e-290      # -1/x**2 underflows to 0 at x = 1e300
        off = H - np.diag(np.diag(H))
        assert np.all(np.isfinite(H)) and np.max(np.abs(off)) < 1e-6, H
        Hg = fg.hessian(fmix, XMIX, grad=gmix)
        assert np.all(rel_err(np.diag(Hg)[:3], diag) < 1e-6), np.diag(Hg)

    @pytest.mark.parametrize("x,fun,grad", [
        (np.full(3, 1e-300), lambda v: float(np.sum(np.sin(v))), lambda v: np.cos(v)),
        (np.array([5e-324, -5e-324, 0.0]), lambda v: float(np.sum(np.exp(v))), lambda v: np.exp(v)),
        (np.full(3, 1e300), lambda v: float(np.sum(np.log(v))), lambda v: 1.0 / v),
        (np.array([1e300, -1e300, 1e-300, -1e-300, 1.0]),
         lambda v: float(np.sum(np.arctan(v * 1e-300) * 1e300)),
         lambda v: 1.0 / (1.0 + (v * 1e-300) ** 2)),
    ], ids=["tiny", "subnormal", "huge", "mixed-signs"])
    def test_gradient_of_simple_functions(self, strict, x, fun, grad):
        got = fg.numerical_gradient(fun, x)
        ref = grad(x)
        assert np.all(rel_err(got, ref) < 1e-6), (got, ref)

    def test_directional_derivative_at_extreme_scales(self, strict):
        for x, fun, grad in ((np.full(2, 1e300), lambda v: float(np.sum(np.log(v))), lambda v: 1 / v),
                             (np.full(2, 1e-300), lambda v: float(np.sum(np.sin(v))), np.cos)):
            u = np.array([1.0, 1.0]) / np.sqrt(2)
            got = fg.directional_derivative(fun, x, [1.0, 1.0])
            assert rel_err(got, grad(x) @ u) < 1e-6, (x, got)


# ------------------------------------------------------------------ float32 tolerance table
RTOL = {
    "numerical_gradient": {np.float32: 1e-4, np.float64: 1e-8},
    "hessian": {np.float32: 2e-3, np.float64: 1e-5},
    "mse_gradient": {np.float32: 1e-5, np.float64: 1e-12},
    "logistic_gradient": {np.float32: 1e-5, np.float64: 1e-12},
    "fit": {np.float32: 1e-4, np.float64: 1e-10},
    "clip_by_norm": {np.float32: 1e-6, np.float64: 1e-14},
}


def smooth(v):
    return float(np.sum(np.exp(0.3 * v) + v * v * (1.0 + 0.5 * np.arange(v.shape[0]))))


def smooth_grad(v):
    return 0.3 * np.exp(0.3 * v) + 2 * v * (1.0 + 0.5 * np.arange(v.shape[0]))


def smooth_hess(v):
    return np.diag(0.09 * np.exp(0.3 * v) + 2 * (1.0 + 0.5 * np.arange(v.shape[0])))


class TestFloat32:
    @pytest.mark.parametrize("dtype", DTYPES)
    def test_derivatives(self, strict, dtype):
        x = np.array([0.5, -1.25, 3.0, 10.0], dtype=dtype)
        x64 = x.astype(np.float64)
        g = fg.numerical_gradient(smooth, x)
        assert g.dtype == np.float64     # documented: float64 whatever x's dtype
        np.testing.assert_allclose(g, smooth_grad(x64), rtol=RTOL["numerical_gradient"][dtype])
        H = fg.hessian(smooth, x)
        np.testing.assert_allclose(H, smooth_hess(x64), rtol=RTOL["hessian"][dtype],
                                   atol=RTOL["hessian"][dtype])

    @pytest.mark.parametrize("dtype", DTYPES)
    def test_losses_keep_the_dtype(self, strict, dtype):
        r = np.random.default_rng(1)
        X = r.normal(size=(500, 4)).astype(dtype)
        y = r.normal(size=500).astype(dtype)
        labels = (y > 0).astype(dtype)
        w = r.normal(size=4).astype(dtype)
        for fn, target, ref in ((fg.mse_gradient, y, None), (fg.logistic_gradient, labels, "logistic")):
            dw, db = fn(X, target, w, 0.25)
            assert dw.dtype == dtype, f"{fn.__name__}: dw dtype {dw.dtype} for X {dtype}"
            X64, t64, w64 = (a.astype(np.float64) for a in (X, target, w))
            if ref == "logistic":
                _, rdw, rdb = logistic_ref(X64, t64, w64, 0.25)
            else:
                res = X64 @ w64 + 0.25 - t64
                rdw, rdb = 2 * X64.T @ res / 500, 2 * res.mean()
            rtol = RTOL[fn.__name__][dtype]
            np.testing.assert_allclose(dw, rdw, rtol=rtol, atol=rtol)
            assert db == pytest.approx(rdb, rel=rtol, abs=rtol)

    @pytest.mark.parametrize("dtype", DTYPES)
    def test_fit_keeps_the_dtype(self, strict, dtype):
        r = np.random.default_rng(2)
        X = r.normal(size=(300, 3))
        y = X @ np.array([1.0, -2.0, 0.5]) + 0.3
        res = fg.fit_linear_regression(X.astype(dtype), y.astype(dtype), lr=0.1, epochs=300)
        ref = fg.fit_linear_regression(X.astype(dtype).astype(np.float64),
                                       y.astype(dtype).astype(np.float64), lr=0.1, epochs=300)
        assert res.w.dtype == dtype
        np.testing.assert_allclose(res.w, ref.w, rtol=RTOL["fit"][dtype])
        np.testing.assert_allclose(res.w, [1.0, -2.0, 0.5], rtol=1e-3)

    @pytest.mark.parametrize("dtype", DTYPES)
    def test_clip_keeps_the_dtype(self, strict, dtype):
        g = np.array([3.0, 4.0, 12.0], dtype=dtype)
        out, norm = fg.clip_by_norm(g, 1.0)
        assert out.dtype == dtype and norm == pytest.approx(13.0, rel=RTOL["clip_by_norm"][dtype])
        np.testing.assert_allclose(out, g.astype(np.float64) / 13.0, rtol=RTOL["clip_by_norm"][dtype])

    def test_clip_of_huge_and_tiny_gradients(self, strict):
        out, norm = fg.clip_by_norm(np.array([1e308, 1e308]), 1.0)
        assert norm == pytest.approx(math.sqrt(2) * 1e308, rel=1e-14)
        np.testing.assert_allclose(out, [2**-0.5, 2**-0.5], rtol=1e-14)
        out, norm = fg.clip_by_norm((np.array([3e-320]), 4e-320), 1e-320)
        assert norm == pytest.approx(5e-320, rel=1e-2) and np.all(np.isfinite(out[0]))
        # entries within float32's range, their norm beyond it
        g32 = np.array([2e38, 3e38], dtype=np.float32)
        out32, norm32 = fg.clip_by_norm(g32, 1.0)
        ref = float(np.hypot(2e38, 3e38))
        assert math.isfinite(norm32) and norm32 == pytest.approx(ref, rel=1e-6)
        assert out32.dtype == np.float32
        np.testing.assert_allclose(out32, g32.astype(np.float64) / ref, rtol=1e-6)


# ------------------------------------------------------------------ steps that round to zero
def two_x(v):
    # 2 per coordinate for any step and stencil; x = (a, -a) makes f(x) = 0, so f's
    # values are exact multiples of the step (no rounding of f hides the step)
    return float(np.sum(2.0 * v))


STEP_CASES = [(np.array([1e16, -1e16]), 1e-3), (np.array([1.0, -1.0]), 1e-30),
              (np.array([1e300, -1e300]), 1.0), (np.array([0.0, 0.0]), 5e-324),
              (np.array([-1e-300, 1e-300]), 1e-320)]
STEP_IDS = ["1e16-h1e-3", "1-h1e-30", "1e300-h1", "0-h5e-324", "1e-300-h1e-320"]


class TestStepsRoundingToZero:
    @pytest.mark.parametrize("x,h", STEP_CASES, ids=STEP_IDS)
    def test_gradient_and_jacobian(self, strict, x, h):
        for kw in ({}, {"method": "forward"}, {"method": "backward"}, {"order": 4}, {"order": 6}):
            got = fg.numerical_gradient(two_x, x, h, **kw)
            # orders 4, 6: weights such as 8/12 are not exact in binary (1 ulp)
            np.testing.assert_allclose(got, [2.0, 2.0], rtol=1e-15, err_msg=str(kw))
        J = fg.jacobian(lambda v: np.array([two_x(v), -two_x(v)]), x, h)
        np.testing.assert_array_equal(J, [[2.0, 2.0], [-2.0, -2.0]])
        assert fg.check_gradient(two_x, lambda v: np.full(2, 2.0), x, h=h).ok

    @pytest.mark.parametrize("x,h", STEP_CASES, ids=STEP_IDS)
    def test_partial_derivative(self, strict, x, h):
        assert fg.partial_derivative(two_x, x, 0, h) == 2.0
        assert fg.partial_derivative(two_x, x, 1, h, method="forward") == 2.0

    @pytest.mark.parametrize("x,h", STEP_CASES, ids=STEP_IDS)
    def test_directional_derivative(self, strict, x, h):
        # along e_0 the directional derivative of sum(2 v) is 2, whatever the step
        got = fg.directional_derivative(two_x, x, [1.0, 0.0], h)
        assert got == pytest.approx(2.0, rel=1e-12), (
            f"directional derivative {got} with a step {h} below the resolution of x = {x}")

    @pytest.mark.parametrize("x,h", STEP_CASES, ids=STEP_IDS)
    def test_hessian_is_finite(self, strict, x, h):
        H = fg.hessian(lambda v: float(np.sum(v * 1e-200) ** 2), x, h)
        assert np.all(np.isfinite(H)), H
        Hg = fg.hessian(two_x, x, h, grad=lambda v: 2.0 * v)
        np.testing.assert_array_equal(Hg, 2.0 * np.eye(2))


# ------------------------------------------------------------------ divergence
def isotropic(dtype, n=64, d=3, seed=4):
    """Centred, orthogonal columns with X.T @ X / n = I: the MSE loss in (w, b) has Hessian
    2 I, so its gradient always points straight at the optimum."""
    r = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(np.column_stack([np.ones(n), r.normal(size=(n, d))]))
    X = (np.sqrt(n) * Q[:, 1:]).astype(dtype)
    y = (X.astype(np.float64) @ np.array([1.5, -2.0, 0.5]) + 0.75 + 0.1 * r.normal(size=n)).astype(dtype)
    return X, y


def mse_state(X, y, w, b):
    r = X @ w + b - y
    return np.mean(r * r), 2 * X.T @ r / len(y), 2 * r.mean()


class TestDivergence:
    LR = 5.0             # lr * L = 10 for L = 2: every update multiplies the error by -9

    @pytest.mark.parametrize("dtype", DTYPES)
    def test_too_large_lr_diverges_with_the_last_finite_weights(self, dtype):
        X, y = isotropic(dtype)
        with pytest.warns(RuntimeWarning, match="lr") as rec:
            res = fg.fit_linear_regression(X, y, lr=self.LR, epochs=5000)
        assert "max_norm" in str(rec[0].message), "the warning should advise max_norm"
        assert res.status == "diverged" and not res.converged, res
        assert 0 < res.n_epochs < 5000 and res.n_epochs == len(res.loss_history), res
        assert res.w.dtype == dtype
        assert np.all(np.isfinite(res.w)) and math.isfinite(res.b), f"non-finite parameters: {res}"
        assert np.all(np.isfinite(res.loss_history)), res.loss_history[-3:]
        # replay the same updates in NumPy (float64, weights rounded to X's dtype)
        X64, y64 = X.astype(np.float64), y.astype(np.float64)
        w, b = np.zeros(3), 0.0
        with np.errstate(all="ignore"):
            for _ in range(res.n_epochs):
                _, gw, gb = mse_state(X64, y64, w, b)
                w, b = (w - self.LR * gw).astype(dtype).astype(np.float64), b - self.LR * gb
            # float32: the kernel sums in float32, the replay in float64
            np.testing.assert_allclose(res.w, w, rtol=1e-9 if dtype == np.float64 else 1e-4)
            assert res.b == pytest.approx(b, rel=1e-9 if dtype == np.float64 else 1e-4)
            if dtype == np.float32:
                return   # where float32 sums overflow is the kernel's own arithmetic
            # ... and they are the last: one more update leaves the finite range
            loss, gw, gb = mse_state(X64, y64, w, b)
            nxt = (w - self.LR * gw).astype(dtype)
            assert (not math.isfinite(loss) or not np.all(np.isfinite(nxt))
                    or not math.isfinite(float(mse_state(X64, y64, nxt.astype(np.float64),
                                                        b - self.LR * gb)[0]))), "not the last finite weights"

    @pytest.mark.parametrize("dtype", DTYPES)
    def test_same_fit_with_max_norm_converges(self, dtype):
        X, y = isotropic(dtype)
        c = 0.01
        # clipped steps have length lr * c = 0.05 and walk straight to the optimum; they
        # land within 0.025 of it, where the gradient norm is <= 2 * 0.025 < tol.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            res = fg.fit_linear_regression(X, y, lr=self.LR, epochs=5000, max_norm=c, tol=0.1)
        assert res.status == "converged" and res.converged, res
        X64, y64 = X.astype(np.float64), y.astype(np.float64)
        sol = np.linalg.lstsq(np.column_stack([X64, np.ones(len(y))]), y64, rcond=None)[0]
        assert np.linalg.norm(np.append(res.w, res.b) - sol) < 0.06, (res, sol)

    @pytest.mark.parametrize("dtype", DTYPES)
    def test_logistic_with_absurd_lr(self, dtype):
        # the logistic loss stays finite for any finite z, so this may or may not
        # "diverge"; either way nothing non-finite comes back
        X, y = isotropic(dtype)
        labels = (y > np.median(y)).astype(dtype)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = fg.fit_logistic_regression(X, labels, lr=1e308, epochs=50)
        assert np.all(np.isfinite(res.w)) and math.isfinite(res.b), res
        assert np.all(np.isfinite(res.loss_history)), res
        assert (res.status == "diverged") == any(issubclass(w.category, RuntimeWarning)
                                                  for w in caught), res

    def test_gradient_descent_diverges_with_the_last_finite_point(self):
        with pytest.warns(RuntimeWarning):
            res = fg.gradient_descent(lambda v: float(v @ v), [1.0, -2.0], grad=lambda v: 2 * v,
                                      lr=5.0, epochs=5000)
        assert res.status == "diverged" and np.all(np.isfinite(res.x)), res
        # f was finite at every point an update started from (the last one is x / -9) ...
        assert res.n_iter == len(res.loss_history) > 0, res
        assert np.all(np.isfinite(res.loss_history)), res
        assert res.loss_history[-1] == pytest.approx(float((res.x / -9) @ (res.x / -9)), rel=1e-14)
        # ... and the run stopped at the first point where f (or the next update) is not
        # finite: the compiled fits' rule.  Not earlier: the gradient norm 2 |x| is finite
        # even where its square overflows.
        with np.errstate(over="ignore"):
            nxt = res.x - 5.0 * 2 * res.x
            assert not (math.isfinite(float(res.x @ res.x)) and np.all(np.isfinite(nxt))), res
        clipped = fg.gradient_descent(lambda v: float(v @ v), [1.0, -2.0], grad=lambda v: 2 * v,
                                      lr=5.0, epochs=5000, max_norm=0.01, tol=0.1)
        assert clipped.status == "converged", clipped

    def test_gradient_norm_overflow_is_not_divergence_when_clipping(self, strict):
        # loss 1e300 and gradient 2e160 are finite; only the *squared* gradient norm
        # overflows.  With max_norm set the fit must take clipped steps, not give up.
        X = np.array([[1e10], [1e10]])
        y = np.array([1e150, 1e150])
        res = fg.fit_linear_regression(X, y, lr=1e-20, epochs=3, max_norm=1.0,
                                       fit_intercept=False)
        assert res.status != "diverged" and res.n_epochs == 3, res
        assert np.all(np.isfinite(res.loss_history)), res


class TestCheckGradientEdges:
    def test_zero_numeric_gradient_with_a_wrong_analytic_one(self, strict):
        # err / max(|numeric|, tiny) must not overflow into a warning
        res = fg.check_gradient(lambda v: 0.0, lambda v: np.array([5.0, 0.0]), [1.0, 2.0])
        assert not res.ok and res.worst_index == 0, res
