"""Memory-mapped X: every loss, gradient and fit reads an ``np.memmap`` in place.

* Results on a memmap (opened read-write and read-only, float32 and float64) are bitwise
  equal to the results on the same data in RAM, for every loss, gradient and fit, with
  and without sample weights and l2.
* The memory property itself: during a fit on a memmap file of a few hundred MB, the
  process's anonymous memory (``RssAnon`` in /proc/self/status, sampled at every epoch
  from the callback and after the fit) and the tracemalloc peak grow by at most 1% of
  X's size; the file's pages are file-backed (page cache), so any copy of X, even of one
  block per thread kept too long, shows as anonymous memory.  Measured in a fresh
  interpreter, so that nothing the test session allocated earlier matters.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import fastgrad as fg

N, D = 5003, 13
LOSSES = [fg.mse_loss, fg.logistic_loss]
GRADIENTS = [fg.mse_gradient, fg.logistic_gradient]
FITS = [fg.fit_linear_regression, fg.fit_logistic_regression]
OPTIONS = [dict(), dict(l2=0.01), dict(sample_weight="sw", l2=0.003)]


@pytest.fixture(scope="module", params=[np.float64, np.float32], ids=["float64", "float32"])
def data(request, tmp_path_factory):
    """(X in RAM, X as a read-write memmap, X as a read-only memmap, y, labels, sw, w)."""
    dtype = request.param
    rng = np.random.default_rng(11)
    X = rng.standard_normal((N, D)).astype(dtype)
    path = tmp_path_factory.mktemp("memmap") / f"X_{np.dtype(dtype).name}.dat"
    mm = np.memmap(path, dtype=dtype, mode="w+", shape=(N, D))
    mm[:] = X
    mm.flush()
    ro = np.memmap(path, dtype=dtype, mode="r", shape=(N, D))
    y = (X @ rng.standard_normal(D) + 0.3).astype(dtype)
    labels = (y > 0.3).astype(dtype)
    sw = rng.uniform(0.2, 2.0, N).astype(dtype)
    w = (0.1 * rng.standard_normal(D)).astype(dtype)
    return X, mm, ro, y, labels, sw, w


def _targets(f, data):
    _, _, _, y, labels, _, _ = data
    return labels if "logistic" in f.__name__ else y


def _kwargs(options, data):
    return {k: (data[5] if v == "sw" else v) for k, v in options.items()}


def test_memmaps_are_what_they_claim(data):
    X, mm, ro, *_ = data
    assert isinstance(mm, np.memmap) and isinstance(ro, np.memmap)
    assert not ro.flags.writeable and mm.flags.c_contiguous
    assert_array_equal(ro, X)


@pytest.mark.parametrize("options", OPTIONS, ids=["plain", "l2", "weights"])
@pytest.mark.parametrize("f", LOSSES + GRADIENTS, ids=lambda f: f.__name__)
def test_loss_and_gradient_bitwise_equal_to_ram(f, options, data):
    X, mm, ro, *_, w = data
    y = _targets(f, data)
    kw = _kwargs(options, data)
    expected = f(X, y, w, 0.2, **kw)
    for mapped in (mm, ro):
        got = f(mapped, y, w, 0.2, **kw)
        if isinstance(expected, tuple):
            assert_array_equal(got[0], expected[0])
            assert got[0].dtype == expected[0].dtype
            assert got[1] == expected[1]
        else:
            assert got == expected


@pytest.mark.parametrize("options", OPTIONS, ids=["plain", "l2", "weights"])
@pytest.mark.parametrize("f", FITS, ids=lambda f: f.__name__)
def test_fit_bitwise_equal_to_ram(f, options, data):
    X, mm, ro, *_ = data
    y = _targets(f, data)
    kw = dict(lr=0.1, epochs=40, max_norm=5.0, **_kwargs(options, data))
    expected = f(X, y, **kw)
    for mapped in (mm, ro):
        got = f(mapped, y, **kw)
        assert_array_equal(got.w, expected.w)
        assert got.b == expected.b
        assert_array_equal(got.loss_history, expected.loss_history)
        assert (got.n_epochs, got.status, got.grad_norm) == (
            expected.n_epochs, expected.status, expected.grad_norm)


def test_softmax_bitwise_equal_to_ram(data):
    X, mm, ro, *_ = data
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 3, N)
    W = (0.1 * rng.standard_normal((D, 3))).astype(X.dtype)
    b = np.array([0.1, 0.0, -0.1])
    kw = dict(lr=0.2, epochs=20, l2=0.01)
    loss = fg.softmax_loss(X, labels, W, b)
    dW, db = fg.softmax_gradient(X, labels, W, b, l2=0.01)
    fit = fg.fit_softmax_regression(X, labels, **kw)
    for mapped in (mm, ro):
        assert fg.softmax_loss(mapped, labels, W, b) == loss
        gW, gb = fg.softmax_gradient(mapped, labels, W, b, l2=0.01)
        assert_array_equal(gW, dW)
        assert_array_equal(gb, db)
        got = fg.fit_softmax_regression(mapped, labels, **kw)
        assert_array_equal(got.w, fit.w)
        assert_array_equal(got.b, fit.b)
        assert_array_equal(got.loss_history, fit.loss_history)


def test_read_only_memmap_is_not_written(data):
    X, _, ro, y, *_ = data
    before = np.array(ro)
    fg.fit_linear_regression(ro, y, lr=0.1, epochs=5)
    assert_array_equal(ro, before)


_CHILD = textwrap.dedent("""
    import json, sys, tracemalloc
    import numpy as np
    import fastgrad as fg

    def rss_anon():
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no RssAnon in /proc/self/status")

    path, n, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = np.random.default_rng(0)
    w_true = rng.standard_normal(d)
    mm = np.memmap(path, dtype=np.float64, mode="w+", shape=(n, d))
    y = np.empty(n)
    for r0 in range(0, n, 100_000):           # written in slices: no temporary of X's size
        block = rng.standard_normal((min(100_000, n - r0), d))
        mm[r0:r0 + block.shape[0]] = block
        y[r0:r0 + block.shape[0]] = block @ w_true
    mm.flush()
    del mm, block
    X = np.memmap(path, dtype=np.float64, mode="r", shape=(n, d))
    kw = dict(lr=0.1, epochs=4, max_norm=10.0)
    fg.fit_linear_regression(X[:20_000], y[:20_000], **kw)     # warm-up: threads, modules
    fg.mse_gradient(X[:20_000], y[:20_000], np.zeros(d))
    samples = []
    before = rss_anon()
    fit = fg.fit_linear_regression(X, y, callback=lambda *a: samples.append(rss_anon()), **kw)
    dw, db = fg.mse_gradient(X, y, fit.w, fit.b)
    samples.append(rss_anon())
    labels = (y > 0).astype(np.float64)
    tracemalloc.start()
    fg.fit_linear_regression(X, y, **kw)
    fg.logistic_loss(X, labels, fit.w)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(json.dumps({"x_bytes": X.nbytes, "anon_growth": max(samples) - before,
                      "samples": len(samples), "traced_peak": peak,
                      "epochs": fit.n_epochs}))
""")


def test_fit_on_a_memmap_file_does_not_copy_it(tmp_path):
    if not os.path.exists("/proc/self/status"):
        pytest.skip("RssAnon is read from Linux's /proc/self/status")
    n, d = 2_000_000, 20                                  # 320 MB of float64
    out = subprocess.run([sys.executable, "-c", _CHILD, str(tmp_path / "X.dat"), str(n), str(d)],
                         capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stderr
    m = json.loads(out.stdout.strip().splitlines()[-1])
    assert m["x_bytes"] == n * d * 8
    assert m["epochs"] == 4 and m["samples"] == 5
    assert m["anon_growth"] <= 0.01 * m["x_bytes"], m
    assert m["traced_peak"] <= 0.01 * m["x_bytes"], m
