"""The shared kernel contract of ``fastgrad._linear``: ``block_sums`` (raw sums of one
pass, no normalisation, no penalty) and the one finalize rule
(``fastgrad._losses.finalize``), for every loss and both dtypes.

References: NumPy/SciPy closed forms written here; the compiled ``loss_grad`` (which
runs the same pass and the compiled finalize) for the bitwise statements.
"""
import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import expit, logsumexp, softmax

from fastgrad import _linear
from fastgrad._losses import LOSS_TABLE, finalize

DTYPES = [np.float32, np.float64]
RTOL = {np.float32: 2e-5, np.float64: 1e-11}


def _problem(loss, dtype, n=1003, d=37, k=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    K = k if loss == "softmax" else 1
    W = (0.3 * rng.standard_normal((d, K))).astype(dtype)
    b = rng.standard_normal(K)
    if loss == "mse":
        y = rng.standard_normal(n)
    elif loss == "logistic":
        y = (rng.random(n) < 0.5).astype(float)
    else:
        y = rng.integers(0, K, n).astype(float)
    sw = rng.uniform(0.1, 2.0, n).astype(dtype)
    return X, y.astype(dtype), W, b, sw


def _reference_sums(loss, X, y, W, b, sw):
    """(loss_sum, gW, gb) in float64 from the closed forms."""
    X, W, y = (np.asarray(a, dtype=np.float64) for a in (X, W, y))
    Z = X @ W + b
    if loss == "mse":
        r = Z[:, 0] - y
        per, G = r**2, 2 * r[:, None]
    elif loss == "logistic":
        z = Z[:, 0]
        per, G = np.logaddexp(0, z) - y * z, (expit(z) - y)[:, None]
    else:
        lab = y.astype(int)
        per = logsumexp(Z, axis=1) - Z[np.arange(len(y)), lab]
        G = softmax(Z, axis=1) - np.eye(W.shape[1])[lab]
    G = sw[:, None] * G
    return float(np.sum(sw * per)), X.T @ G, G.sum(axis=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", ["mse", "logistic", "softmax"])
class TestBlockSums:
    def test_sums_match_the_closed_forms(self, loss, dtype):
        X, y, W, b, sw = _problem(loss, dtype)
        loss_sum, gW, gb, weight_sum = _linear.block_sums(loss, X, y, sw, W, b, 1)
        ref_loss, ref_gW, ref_gb = _reference_sums(loss, X, y, W, b, sw.astype(float))
        rtol = RTOL[dtype]
        assert gW.shape == W.shape and gW.dtype == np.float64
        assert gb.shape == (W.shape[1],) and gb.dtype == np.float64
        assert_allclose(loss_sum, ref_loss, rtol=rtol)
        assert_allclose(gW, ref_gW, rtol=rtol, atol=rtol * np.abs(ref_gW).max())
        assert_allclose(gb, ref_gb, rtol=rtol, atol=rtol * np.abs(ref_gb).max())
        assert weight_sum == float(np.sum(sw, dtype=np.float64))

    def test_without_weights_the_weight_sum_is_n(self, loss, dtype):
        X, y, W, b, _ = _problem(loss, dtype)
        assert _linear.block_sums(loss, X, y, None, W, b, 1)[3] == float(X.shape[0])

    def test_sums_do_not_depend_on_the_thread_count(self, loss, dtype):
        X, y, W, b, sw = _problem(loss, dtype, n=40000, d=30)
        assert _linear.n_blocks(*X.shape, W.shape[1]) >= 4
        one = _linear.block_sums(loss, X, y, sw, W, b, 1)
        for nt in (2, 3):
            other = _linear.block_sums(loss, X, y, sw, W, b, nt)
            assert one[0] == other[0]
            assert np.array_equal(one[1], other[1]) and np.array_equal(one[2], other[2])

    def test_finalize_of_the_sums_is_bitwise_the_compiled_loss_and_gradient(self, loss, dtype):
        X, y, W, b, sw = _problem(loss, dtype)
        l2 = 0.037
        sums = _linear.block_sums(loss, X, y, sw, W, b, 1)
        value, dW, db = finalize(*sums, W, l2)
        inv = 1.0 / sums[3]
        ref_value = _linear.loss_grad(loss, X, y, W, b, sw, inv, l2, False)[0]
        _, ref_dW, ref_db, _ = _linear.loss_grad(loss, X, y, W, b, sw, inv, l2, True)
        assert value == ref_value
        assert np.array_equal(dW.astype(dtype), ref_dW)
        assert np.array_equal(db, ref_db)

    def test_inputs_are_not_modified(self, loss, dtype):
        X, y, W, b, sw = _problem(loss, dtype)
        copies = [a.copy() for a in (X, y, W, b, sw)]
        _linear.block_sums(loss, X, y, sw, W, b, 2)
        for a, c in zip((X, y, W, b, sw), copies):
            assert np.array_equal(a, c)


def test_softmax_probability_rows_give_the_label_sums():
    X, y, W, b, sw = _problem("softmax", np.float64)
    Y = np.eye(W.shape[1])[y.astype(int)]
    by_label = _linear.block_sums("softmax", X, y, sw, W, b, 1)
    by_rows = _linear.block_sums("softmax", X, Y, sw, W, b, 1)
    assert_allclose(by_rows[0], by_label[0], rtol=1e-14)
    assert_allclose(by_rows[1], by_label[1], rtol=1e-12, atol=1e-12)
    assert_allclose(by_rows[2], by_label[2], rtol=1e-12, atol=1e-12)


def test_softmax_with_huge_scores_is_finite_and_exact():
    # scores 1e4 apart: log-sum-exp with the row maximum subtracted
    X = np.array([[1e4, -1e4], [3e4, 2e4]])
    with np.errstate(all="raise"):
        loss_sum, gW, gb, _ = _linear.block_sums("softmax", X, np.array([1.0, 0.0]), None,
                                                 np.eye(2), np.zeros(2), 1)
    assert loss_sum == 2e4                   # row 0 wrong by 2e4, row 1 right by 1e4
    assert gb.tolist() == [1.0, -1.0]


def test_unknown_loss_is_a_value_error():
    X, y, W, b, sw = _problem("mse", np.float64)
    for call in (lambda: _linear.block_sums("hinge", X, y, sw, W, b, 1),
                 lambda: _linear.loss_grad("hinge", X, y, W, b, sw, 1.0, 0.0),
                 lambda: _linear.loss_grad_fast("hinge", X, y, W[:, 0], 0.0, 0.0, True, 1),
                 lambda: _linear.fit("hinge", X, y, sw, 1.0, W.copy(), b, 0.1, 1, -1.0, -1.0,
                                     0.0, True, 1, 1)):
        with pytest.raises(ValueError, match="`loss` must be one of"):
            call()


def test_shapes_are_checked_at_the_entry():
    X, y, W, b, sw = _problem("softmax", np.float64)
    with pytest.raises(ValueError, match="`W`"):
        _linear.block_sums("softmax", X, y, sw, W[:-1], b, 1)
    with pytest.raises(ValueError, match="`b`"):
        _linear.block_sums("softmax", X, y, sw, W, b[:-1], 1)
    with pytest.raises(ValueError, match="`W` must have one column"):
        _linear.block_sums("mse", X, y, sw, W, b, 1)
    with pytest.raises(ValueError, match="`y`"):
        _linear.block_sums("softmax", X, y[:-1], sw, W, b, 1)
    with pytest.raises(ValueError, match="at least 2 columns"):
        _linear.block_sums("softmax", X, y, sw, W[:, :1], b[:1], 1)


def test_every_loss_of_the_table_is_a_kernel_loss():
    assert {spec.kernel for spec in LOSS_TABLE.values()} == set(_linear.LOSSES)
