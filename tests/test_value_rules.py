"""One statement of the value rules of the losses' inputs, one path of a pass.

The losses take input already in the kernels' form (C-contiguous arrays of X's dtype,
no sample weights, int64 softmax labels) straight into one compiled call, and convert
and check anything else first.  Both apply the same value rules
(``fastgrad._linear.value_fault``: W and b finite, logistic targets in [0, 1], softmax
labels in 0..k-1), run the same kernel and treat a non-finite result by the same rule,
without running the pass again.

References: the rules written out here with NumPy; the converted path (the same data as
lists) for the errors of the compiled one.
"""
import warnings

import numpy as np
import pytest

import fastgrad as fg
from fastgrad import _linear

DTYPES = [np.float32, np.float64]
N, D, K = 300, 7, 3


def _rule(loss, y, W, b):
    """The value rules in NumPy: the expected key of ``_linear.FAULTS``."""
    if not np.all(np.isfinite(W)):
        return 1
    if not np.all(np.isfinite(b)):
        return 2
    if loss == "logistic" and not np.all((y >= 0) & (y <= 1)):
        return 3
    if loss == "softmax" and y.shape[1] == 1 and not np.all((y >= 0) & (y < b.shape[0])):
        return 3
    return 0


def _cases(loss, dtype, rng):
    k = K if loss == "softmax" else 1
    y = {"mse": rng.standard_normal((N, 1)), "logistic": rng.random((N, 1)),
         "softmax": rng.integers(0, k, (N, 1)).astype(float)}[loss].astype(dtype)
    W = rng.standard_normal(D * k).astype(dtype)
    b = rng.standard_normal(k)
    yield y, W, b
    for bad in (np.nan, np.inf, -np.inf):
        for where in (0, D * k - 1):
            W2 = W.copy()
            W2[where] = bad
            yield y, W2, b
        b2 = b.copy()
        b2[-1] = bad
        yield y, W, b2
        y2 = y.copy()
        y2[N // 2] = bad
        yield y2, W, b
    for v in (-1.0, -1e-3, 1.0 + 1e-3, 2.0, float(k), k - 1.0, 0.0, 1.0):
        y2 = y.copy()
        y2[-1] = v
        yield y2, W, b


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", ["mse", "logistic", "softmax"])
def test_value_fault_states_the_rules(loss, dtype):
    rng = np.random.default_rng(3)
    seen = set()
    for y, W, b in _cases(loss, dtype, rng):
        got = _linear.value_fault(loss, np.ascontiguousarray(y), W, b)
        assert got == _rule(loss, y, W, b), (y[-1], W[[0, -1]], b)
        seen.add(got)
    assert seen == ({0, 1, 2} if loss == "mse" else {0, 1, 2, 3})
    assert _linear.FAULTS[0] is None and [_linear.FAULTS[i] for i in (1, 2, 3)] == \
        ["W", "b", "y"]


def test_value_fault_skips_y_when_it_has_no_rows():
    W = np.ones(D)
    assert _linear.value_fault("logistic", np.empty((0, 1)), W, np.zeros(1)) == 0
    assert _linear.value_fault("logistic", np.full((1, 1), 2.0), W, np.zeros(1)) == 3


def test_value_fault_probability_rows_are_not_labels():
    # a (n, k) y of class probabilities is not held to the label rule
    y = np.full((4, K), 1.0 / K)
    assert _linear.value_fault("softmax", y, np.ones(D * K), np.zeros(K)) == 0
    assert _linear.value_fault("softmax", y[:, :1] * 3 * K, np.ones(D * K), np.zeros(K)) == 3


def _data(loss, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D)).astype(dtype)
    if loss == "softmax":
        return X, rng.integers(0, K, N), rng.standard_normal((D, K)).astype(dtype), \
            rng.standard_normal(K)
    y = rng.standard_normal(N) if loss == "mse" else (rng.random(N) < 0.5) * 1.0
    return X, y.astype(dtype), rng.standard_normal(D).astype(dtype), 0.25


def _call(loss, X, y, W, b, grad):
    name = f"{loss}_{'gradient' if grad else 'loss'}"
    return getattr(fg, name)(X, y, W, b)


def _breakages(loss):
    """(what is broken, a function of (y, W, b) returning them broken)."""
    def w_nan(y, W, b):
        W = W.copy()
        W.flat[-1] = np.nan
        return y, W, b

    def b_inf(y, W, b):
        if np.ndim(b):
            b = b.copy()
            b[0] = np.inf
            return y, W, b
        return y, W, np.inf

    out = [("w", w_nan), ("b", b_inf)]
    if loss == "logistic":
        def y_out(y, W, b):
            y = y.copy()
            y[5] = 1.5
            return y, W, b
        out.append(("y", y_out))
    if loss == "softmax":
        def label_k(y, W, b):
            y = y.copy()
            y[5] = K
            return y, W, b

        def label_neg(y, W, b):
            y = y.copy()
            y[7] = -1
            return y, W, b
        out += [("y", label_k), ("y", label_neg)]
    return out


@pytest.mark.parametrize("grad", [False, True])
@pytest.mark.parametrize("loss", ["mse", "logistic", "softmax"])
def test_both_paths_give_the_same_error(loss, grad):
    X, y, W, b = _data(loss, np.float64)
    assert _linear.loss_grad_fast(loss, X, y, W, b, 0.0, grad, 1) is not None
    for what, breaks in _breakages(loss):
        yb, Wb, bb = breaks(y, W, b)
        with pytest.raises(ValueError) as compiled:
            _call(loss, X, yb, Wb, bb, grad)
        listed = (yb.tolist(), Wb.tolist(), bb.tolist() if np.ndim(bb) else bb)
        with pytest.raises(ValueError) as converted:
            _call(loss, X.tolist(), *listed, grad)
        assert str(compiled.value) == str(converted.value)
        name = "W" if (loss == "softmax" and what == "w") else what
        assert str(compiled.value).startswith(f"`{name}`"), compiled.value


@pytest.fixture
def kernel_calls(monkeypatch):
    """Counts the calls of the converted path's kernel, ``_linear.loss_grad``."""
    calls = []
    real = _linear.loss_grad

    def spy(*a, **k):
        calls.append(a[0])
        return real(*a, **k)
    monkeypatch.setattr(_linear, "loss_grad", spy)
    return calls


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", ["mse", "logistic", "softmax"])
def test_a_non_finite_result_is_not_computed_twice(loss, dtype, kernel_calls):
    X, y, W, b = _data(loss, dtype)
    huge = np.finfo(dtype).max / 4
    Xh = np.full_like(X, huge)
    Wh = np.full_like(W, 4.0)
    with pytest.warns(RuntimeWarning, match="overflowed"):
        value = _call(loss, Xh, y, Wh, b, False)
    assert not np.isfinite(value)
    Xn = X.copy()
    Xn[[17, 211], 2] = np.nan
    with pytest.raises(ValueError, match=r"`X` must be finite.*rows \[17, 211\]"):
        _call(loss, Xn, y, W, b, False)
    assert kernel_calls == []          # the compiled call's result was used as it was
    _call(loss, X.tolist(), y.tolist(), W, b, False)
    assert kernel_calls == [loss]      # the converted path runs that kernel once


def test_a_non_finite_target_is_named_by_both_paths():
    X, y, W, b = _data("mse", np.float64)
    y[[3, 99]] = [np.nan, np.inf]
    for args in ((X, y), (X.tolist(), y.tolist())):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(ValueError, match=r"`y` must be finite.*\[3, 99\]"):
                fg.mse_gradient(*args, W, b)


def test_caller_arrays_are_not_modified():
    X, y, W, b = _data("softmax", np.float32)
    copies = [a.copy() for a in (X, y, W, b)]
    fg.softmax_gradient(X, y, W, b)
    y2 = y.copy()
    y2[0] = K
    with pytest.raises(ValueError):
        fg.softmax_loss(X, y2, W, b)
    for a, c in zip((X, y, W, b), copies):
        assert np.array_equal(a, c)


@pytest.mark.parametrize("n_classes", [None, 3])
def test_fit_labels_out_of_range_are_named(n_classes):
    X, y, _, _ = _data("softmax", np.float64)
    y = y.copy()
    y[[4, 8]] = -1
    with pytest.raises(ValueError, match=r"`y` class labels must be in 0\.\.2 .*\[4, 8\]"):
        fg.fit_softmax_regression(X, y, n_classes=n_classes, epochs=2)
    y[[4, 8]] = 0
    y[9] = 3
    if n_classes is None:       # k is then 4, from the largest label
        assert fg.fit_softmax_regression(X, y, epochs=2).w.shape == (D, 4)
    else:
        with pytest.raises(ValueError, match=r"0\.\.2 \(k = 3, from n_classes\), got 3 "):
            fg.fit_softmax_regression(X, y, n_classes=n_classes, epochs=2)


def test_a_float32_gradient_beyond_float32_range_is_reported():
    # the sums are taken in float64 and dw comes back in X's dtype: a gradient the
    # float32 result cannot hold is an overflow, not a silent inf
    X = np.full((50, 3), 1e20, dtype=np.float32)
    w = np.full(3, 1e17, dtype=np.float32)
    y = np.zeros(50, dtype=np.float32)
    exact = 2 * X.astype(float).T @ (X.astype(float) @ w.astype(float)) / 50
    assert np.all(np.isfinite(exact)) and np.all(exact > np.finfo(np.float32).max)
    for args in ((X, y, w, 0.0), (np.asfortranarray(X), y, w, 0.0)):   # both paths
        with pytest.warns(RuntimeWarning, match="overflowed"):
            dw, _ = fg.mse_gradient(*args)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dw, _ = fg.mse_gradient(X, y, w / 1e22, 0.0)     # within range: no warning
    assert np.all(np.isfinite(dw))
