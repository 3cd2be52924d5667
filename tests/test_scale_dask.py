"""Dask arrays: losses, gradients, fits and estimators over ``dask.array`` X.

Every result is compared with the in-memory result on the same data, on the default
threaded scheduler and on a two-process ``LocalCluster`` the module starts (and closes):
losses and gradients to 1e-12 relative, fits (w, b, loss_history) to 1e-10 relative,
whatever the chunking, with sample weights and l2.  Also: X never travels to the client
(the client's tracemalloc peak during a fit on an X generated on the workers); a worker
killed mid-fit gives the undisturbed result or a clear error, never a wrong result; bad
inputs raise errors naming the argument and leave the cluster usable; ``import
fastgrad`` does not import dask.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import fastgrad as fg

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

N, D = 3001, 6
CHUNKINGS = {
    "rows500": (500, D),
    "columns": (1000, 3),                     # column blocks: rechunked to one
    "irregular": ((1, 1000, 2000), (D,)),
    "one_block": (N, D),
}
LOSS_FUNCS = [fg.mse_loss, fg.mse_gradient, fg.logistic_loss, fg.logistic_gradient]
FITS = [fg.fit_linear_regression, fg.fit_logistic_regression]
RTOL_LOSS = 1e-12
RTOL_FIT = 1e-10


@pytest.fixture(scope="module")
def client():
    """A LocalCluster of 2 worker processes (1 thread each), closed after the module."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    c = distributed.Client(cluster, set_as_default=False)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


@pytest.fixture(params=["threads", "cluster"])
def scheduler(request):
    """Run the test on the threaded scheduler or on the module's LocalCluster."""
    if request.param == "threads":
        with dask.config.set(scheduler="threads"):
            yield None
    else:
        c = request.getfixturevalue("client")
        with dask.config.set(scheduler=c):
            yield c


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((N, D))
    X[:, 0] += 1.0
    y = X @ rng.standard_normal(D) + 0.4 + 0.1 * rng.standard_normal(N)
    labels = (y + 0.3 * rng.standard_normal(N) > 0.4).astype(np.float64)
    sw = rng.uniform(0.2, 2.0, N)
    w = 0.2 * rng.standard_normal(D)
    return X, y, labels, sw, w


def _target(f, data):
    return data[2] if "logistic" in f.__name__ else data[1]


def _close(got, expected, rtol):
    if isinstance(expected, tuple):
        assert isinstance(got[0], np.ndarray) and type(got[1]) is float
        assert got[0].dtype == expected[0].dtype
        scale = max(np.max(np.abs(expected[0])), abs(expected[1]))
        assert_allclose(got[0], expected[0], rtol=rtol, atol=rtol * scale)
        assert_allclose(got[1], expected[1], rtol=rtol, atol=rtol * scale)
    else:
        assert type(got) is float
        assert_allclose(got, expected, rtol=rtol)


def _fit_close(got, expected, rtol=RTOL_FIT):
    assert got.status == expected.status and got.n_epochs == expected.n_epochs
    assert got.converged == expected.converged
    assert got.w.dtype == expected.w.dtype
    assert_allclose(got.w, expected.w, rtol=rtol, atol=rtol * np.max(np.abs(expected.w)))
    assert_allclose(got.b, expected.b, rtol=rtol, atol=rtol * np.max(np.abs(expected.w)))
    assert_allclose(got.loss_history, expected.loss_history, rtol=rtol)
    assert_allclose(got.grad_norm, expected.grad_norm, rtol=1e-6)


# ------------------------------------------------------------------ import
def test_import_fastgrad_does_not_import_dask():
    code = textwrap.dedent("""
        import sys
        import numpy as np
        import fastgrad, fastgrad.sklearn
        fastgrad.fit_linear_regression(np.ones((4, 2)), np.ones(4), epochs=2)
        fastgrad.mse_gradient(np.ones((4, 2)), np.ones(4), np.zeros(2))
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("dask", "distributed")
                     or m == "fastgrad._dask"))
    """)
    # run from the empty folder the suite works in (tests/conftest.py), so that the
    # installed fastgrad is imported, never the source folder
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------ losses and gradients
class TestLossesAndGradients:
    @pytest.mark.parametrize("chunks", CHUNKINGS.values(), ids=CHUNKINGS.keys())
    @pytest.mark.parametrize("f", LOSS_FUNCS, ids=lambda f: f.__name__)
    def test_equal_to_in_memory(self, f, chunks, data, scheduler):
        X, _, _, sw, w = data
        y = _target(f, data)
        Xd = da.from_array(X, chunks=chunks)
        _close(f(Xd, y, w, 0.3), f(X, y, w, 0.3), RTOL_LOSS)
        # y and weights as dask arrays with other row chunks, and l2
        yd = da.from_array(y, chunks=700)
        swd = da.from_array(sw, chunks=(N,))
        _close(f(Xd, yd, w, 0.3, sample_weight=swd, l2=0.02),
               f(X, y, w, 0.3, sample_weight=sw, l2=0.02), RTOL_LOSS)

    @pytest.mark.parametrize("f", LOSS_FUNCS, ids=lambda f: f.__name__)
    def test_float32(self, f, data):
        X, _, _, sw, w = (a.astype(np.float32) for a in data)
        y = _target(f, data).astype(np.float32)
        with dask.config.set(scheduler="threads"):
            got = f(da.from_array(X, chunks=400), y, w, 0.1, sample_weight=sw)
        _close(got, f(X, y, w, 0.1, sample_weight=sw), 1e-5)

    def test_numpy_weights_with_dask_y(self, data):
        X, y, _, sw, w = data
        with dask.config.set(scheduler="threads"):
            got = fg.mse_gradient(da.from_array(X, chunks=800), da.from_array(y, chunks=800),
                                  w, sample_weight=sw)
        _close(got, fg.mse_gradient(X, y, w, sample_weight=sw), RTOL_LOSS)

    def test_unknown_chunk_sizes_are_resolved(self, data):
        X, y, _, _, w = data
        Xd = da.from_array(X, chunks=500)
        kept = Xd[Xd[:, 0] > -np.inf]              # chunk sizes unknown (nan) until computed
        assert any(np.isnan(c) for c in kept.chunks[0])
        with dask.config.set(scheduler="threads"):
            got = fg.mse_loss(kept, y, w)
        _close(got, fg.mse_loss(X, y, w), RTOL_LOSS)

    def test_dask_dataframe(self, data):
        dd = pytest.importorskip("dask.dataframe")
        pd = pytest.importorskip("pandas")
        X, y, _, _, w = data
        df = dd.from_pandas(pd.DataFrame(X), npartitions=3)
        with dask.config.set(scheduler="threads"):
            got = fg.mse_gradient(df, y, w)
        _close(got, fg.mse_gradient(X, y, w), RTOL_LOSS)


# ------------------------------------------------------------------ fits
class TestFits:
    @pytest.mark.parametrize("chunks", ["rows500", "columns", "irregular"])
    @pytest.mark.parametrize("f", FITS, ids=lambda f: f.__name__)
    def test_equal_to_in_memory(self, f, chunks, data, scheduler):
        X, _, _, sw, _ = data
        y = _target(f, data)
        Xd = da.from_array(X, chunks=CHUNKINGS[chunks])
        kw = dict(lr=0.1, epochs=25, max_norm=3.0)
        _fit_close(f(Xd, y, **kw), f(X, y, **kw))
        kw.update(l2=0.01, w0=np.full(D, 0.1), b0=0.2)
        _fit_close(f(Xd, da.from_array(y, chunks=1200), sample_weight=sw, **kw),
                   f(X, y, sample_weight=sw, **kw))

    @pytest.mark.parametrize("f", FITS, ids=lambda f: f.__name__)
    def test_float32(self, f, data):
        X, _, _, sw, _ = (a.astype(np.float32) for a in data)
        y = _target(f, data).astype(np.float32)
        kw = dict(lr=0.1, epochs=30, sample_weight=sw, l2=0.01)
        with dask.config.set(scheduler="threads"):
            got = f(da.from_array(X, chunks=700), y, **kw)
        _fit_close(got, f(X, y, **kw), rtol=1e-5)

    def test_tol_converges_at_the_same_epoch(self, data):
        X, y, _, _, _ = data
        kw = dict(lr=0.2, epochs=2000, tol=1e-6)
        expected = fg.fit_linear_regression(X, y, **kw)
        assert expected.status == "converged" and 10 < expected.n_epochs < 2000
        with dask.config.set(scheduler="threads"):
            got = fg.fit_linear_regression(da.from_array(X, chunks=600), y, **kw)
        _fit_close(got, expected)

    def test_callback_sees_what_it_sees_in_memory_and_can_stop(self, data):
        X, y, _, _, _ = data
        seen = {"ram": [], "dask": []}

        def recorder(key):
            def callback(epoch, loss, w):
                seen[key].append((epoch, loss, w))
                return epoch >= 9
            return callback

        kw = dict(lr=0.1, epochs=50, callback_every=3)
        expected = fg.fit_linear_regression(X, y, callback=recorder("ram"), **kw)
        with dask.config.set(scheduler="threads"):
            got = fg.fit_linear_regression(da.from_array(X, chunks=600), y,
                                           callback=recorder("dask"), **kw)
        assert expected.status == got.status == "stopped" and got.n_epochs == 9
        _fit_close(got, expected)
        assert [e for e, *_ in seen["dask"]] == [e for e, *_ in seen["ram"]] == [3, 6, 9]
        for (_, la, wa), (_, lb, wb) in zip(seen["dask"], seen["ram"]):
            assert_allclose(la, lb, rtol=RTOL_FIT)
            assert_allclose(wa, wb, rtol=RTOL_FIT)

    def test_callback_at_the_last_epoch(self, data):
        X, y, _, _, _ = data
        epochs = []
        with dask.config.set(scheduler="threads"):
            fg.fit_linear_regression(da.from_array(X, chunks=600), y, lr=0.1, epochs=7,
                                     callback=lambda e, *a: epochs.append(e), callback_every=3)
        assert epochs == [3, 6, 7]

    def test_progress_bar(self, data, monkeypatch):
        tqdm_auto = pytest.importorskip("tqdm.auto")
        bars = []

        class RecordingBar(tqdm_auto.tqdm):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.positions = []
                bars.append(self)

            def update(self, n=1):
                out = super().update(n)
                self.positions.append(self.n)
                return out

        monkeypatch.setattr(tqdm_auto, "tqdm", RecordingBar)
        X, y, _, _, _ = data
        expected = fg.fit_linear_regression(X, y, lr=0.1, epochs=12)
        with dask.config.set(scheduler="threads"):
            got = fg.fit_linear_regression(da.from_array(X, chunks=600), y, lr=0.1,
                                           epochs=12, progress=True)
        _fit_close(got, expected)
        assert len(bars) == 1 and bars[0].total == 12
        assert bars[0].positions == list(range(1, 13))
        assert bars[0].postfix == f"loss={got.loss_history[-1]:.4g}"
        assert bars[0].disable                                  # closed

    def test_divergence_as_in_memory(self, data):
        X, y, _, _, _ = data
        kw = dict(lr=50.0, epochs=400)
        with pytest.warns(RuntimeWarning, match="diverged") as rec_ram:
            expected = fg.fit_linear_regression(X * 1e3, y, **kw)
        with dask.config.set(scheduler="threads"), \
                pytest.warns(RuntimeWarning, match="diverged") as rec_dask:
            got = fg.fit_linear_regression(da.from_array(X * 1e3, chunks=600), y, **kw)
        assert got.status == expected.status == "diverged"
        assert got.n_epochs == expected.n_epochs
        assert str(rec_dask[0].message) == str(rec_ram[0].message)
        assert np.all(np.isfinite(got.w))

    def test_epochs_zero(self, data):
        X, y, _, _, _ = data
        with dask.config.set(scheduler="threads"):
            got = fg.fit_linear_regression(da.from_array(X, chunks=600), y, epochs=0)
        expected = fg.fit_linear_regression(X, y, epochs=0)
        assert got.status == expected.status and got.n_epochs == 0
        assert np.isnan(got.grad_norm) and np.isnan(expected.grad_norm)
        assert got.loss_history.shape == (0,)

    def test_dask_x_is_not_modified(self, data):
        X, y, _, _, _ = data
        Xc = X.copy()
        with dask.config.set(scheduler="threads"):
            fg.fit_linear_regression(da.from_array(X, chunks=600), y, epochs=3)
        assert_array_equal(X, Xc)


# ------------------------------------------------------------------ softmax
@pytest.fixture(scope="module")
def classes3(data):
    X = data[0]
    rng = np.random.default_rng(8)
    labels = np.argmax(X[:, :3] + 0.5 * rng.standard_normal((N, 3)), axis=1)
    probabilities = rng.dirichlet(np.ones(3), N)
    W = 0.1 * rng.standard_normal((D, 3))
    b = np.array([0.1, -0.2, 0.05])
    return labels, probabilities, W, b


class TestSoftmax:
    @pytest.mark.parametrize("target", ["labels", "probabilities"])
    def test_loss_and_gradient_equal_to_in_memory(self, target, data, classes3, scheduler):
        X, _, _, sw, _ = data
        labels, probabilities, W, b = classes3
        y = labels if target == "labels" else probabilities
        Xd = da.from_array(X, chunks=(700, 3))
        yd = da.from_array(y, chunks=500 if y.ndim == 1 else (500, 3))
        expected = fg.softmax_loss(X, y, W, b, sample_weight=sw, l2=0.02)
        assert_allclose(fg.softmax_loss(Xd, yd, W, b, sample_weight=sw, l2=0.02), expected,
                        rtol=RTOL_LOSS)
        dW, db = fg.softmax_gradient(X, y, W, b, sample_weight=sw, l2=0.02)
        gW, gb = fg.softmax_gradient(Xd, yd, W, b, sample_weight=sw, l2=0.02)
        assert gW.shape == (D, 3) and gW.dtype == dW.dtype and gb.shape == (3,)
        assert_allclose(gW, dW, rtol=RTOL_LOSS, atol=RTOL_LOSS * np.abs(dW).max())
        assert_allclose(gb, db, rtol=RTOL_LOSS, atol=RTOL_LOSS * np.abs(db).max())

    def test_fit_equal_to_in_memory(self, data, classes3, scheduler):
        X, _, _, sw, _ = data
        labels = classes3[0]
        kw = dict(lr=0.5, epochs=25, l2=0.01, sample_weight=sw, max_norm=2.0)
        expected = fg.fit_softmax_regression(X, labels, **kw)
        got = fg.fit_softmax_regression(da.from_array(X, chunks=600),
                                        da.from_array(labels, chunks=900), **kw)
        assert got.w.shape == (D, 3) and got.b.shape == (3,)
        _fit_close(got, expected)
        assert_allclose(got.b, expected.b, rtol=RTOL_FIT, atol=RTOL_FIT)

    def test_bad_labels(self, data, classes3):
        X, _, _, _, _ = data
        labels, _, W, b = classes3
        bad = labels.astype(float)
        bad[2000] = 1.5
        with dask.config.set(scheduler="threads"):
            with pytest.raises(ValueError, match=r"`y` must hold class labels.*\[2000\]"):
                fg.softmax_loss(da.from_array(X, chunks=600), da.from_array(bad, chunks=600),
                                W, b)
            bad[2000] = 3.0                                  # k = 3 from W
            with pytest.raises(ValueError, match=r"integers in 0..2.*\[2000\]"):
                fg.softmax_gradient(da.from_array(X, chunks=600),
                                    da.from_array(bad, chunks=600), W, b)

    def test_classifier_three_classes(self, data, classes3):
        from fastgrad.sklearn import GDClassifier

        X = data[0]
        labels = classes3[0]
        kw = dict(lr=0.5, epochs=30, tol=None)
        expected = GDClassifier(**kw).fit(X, labels)
        Xd = da.from_array(X, chunks=700)
        with dask.config.set(scheduler="threads"):
            got = GDClassifier(**kw).fit(Xd, da.from_array(labels, chunks=700))
            pred, proba = got.predict(Xd), got.predict_proba(Xd)
            assert isinstance(pred, da.Array) and pred.shape == (N,)
            assert_array_equal(pred.compute(), expected.predict(X))
            assert_allclose(np.asarray(proba), expected.predict_proba(X), rtol=1e-10)
        assert got.classes_.tolist() == [0, 1, 2] and got.coef_.shape == (3, D)
        assert_allclose(got.coef_, expected.coef_, rtol=RTOL_FIT, atol=1e-14)


# ------------------------------------------------------------------ X stays on the workers
def test_x_never_reaches_the_client(client):
    """The client's traced memory during a fit on an X generated on the workers stays far
    below X's size (a path that gathered X, e.g. np.asarray(X), peaks at >= 100%)."""
    n, d = 1_000_000, 16                                       # 128 MB of float64
    rs = da.random.RandomState(7)
    X = rs.standard_normal((n, d), chunks=(125_000, d))
    y = X @ np.linspace(-1, 1, d) + 0.5
    with dask.config.set(scheduler=client):
        fg.fit_linear_regression(X, y, lr=0.1, epochs=2)      # warm-up: imports, pools
        tracemalloc.start()
        try:
            fit = fg.fit_linear_regression(X, y, lr=0.1, epochs=5)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert fit.n_epochs == 5
    assert peak < 0.05 * n * d * 8, peak            # measured: about 1% (graphs, comms)


def test_one_task_per_worker_per_epoch(client):
    """On a cluster each epoch is one task per worker holding blocks of X (the scheduler's
    task stream counts them), not one per block, and nothing else runs."""
    rs = da.random.RandomState(2)
    X = rs.standard_normal((40_000, 5), chunks=(2_500, 5))               # 16 blocks
    y = X @ np.ones(5)
    X, y = client.persist([X, y])
    with client.as_current():
        distributed.wait([X, y])
    holders = {w for ws in client.who_has(distributed.futures_of(X)).values() for w in ws}
    with dask.config.set(scheduler=client), distributed.get_task_stream(client) as ts:
        fit = fg.fit_linear_regression(X, y, lr=0.1, epochs=6)
    keys = [str(t["key"]) for t in ts.data]
    assert fit.n_epochs == 6 and len(X.chunks[0]) == 16
    assert all("_group_task" in k for k in keys), keys
    assert len(keys) == 6 * len(holders)


# ------------------------------------------------------------------ faults
def test_worker_killed_mid_fit_gives_the_same_result_or_a_clear_error():
    """A cluster of its own (the module's cluster is not disturbed): one of its two worker
    processes is killed from the callback after 10 of 30 epochs."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    client = distributed.Client(cluster, set_as_default=False)
    rs = da.random.RandomState(5)
    X = rs.standard_normal((40_000, 8), chunks=(5_000, 8))      # recomputable on any worker
    y = X @ np.arange(1.0, 9.0) + 0.1 * rs.standard_normal(40_000, chunks=5_000)
    kw = dict(lr=0.05, epochs=30)
    killed = []

    def kill_a_worker(epoch, loss, w):
        if epoch == 10 and not killed:
            pid = next(iter(client.run(os.getpid).values()))
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    try:
        with dask.config.set(scheduler=client):
            expected = fg.fit_linear_regression(X, y, **kw)
            try:
                got = fg.fit_linear_regression(X, y, callback=kill_a_worker, **kw)
            except (distributed.KilledWorker, distributed.client.FutureCancelledError,
                    OSError) as exc:                             # a clear error is allowed
                assert str(exc)
            else:                                                # or the same result
                assert_array_equal(got.w, expected.w)
                assert got.b == expected.b
                assert_array_equal(got.loss_history, expected.loss_history)
                assert got.status == expected.status and got.n_epochs == 30
            assert killed
            again = fg.fit_linear_regression(X, y, **kw)           # the cluster is usable
        assert_array_equal(again.w, expected.w)
    finally:
        client.close()
        cluster.close()


# ------------------------------------------------------------------ estimators
class TestEstimators:
    def test_regressor(self, data, scheduler):
        from fastgrad.sklearn import GDRegressor

        X, y, _, sw, _ = data
        Xd = da.from_array(X, chunks=700)
        kw = dict(lr=0.1, epochs=40, tol=None, l2=0.01)
        expected = GDRegressor(**kw).fit(X, y, sample_weight=sw)
        got = GDRegressor(**kw).fit(Xd, da.from_array(y, chunks=700), sample_weight=sw)
        assert_allclose(got.coef_, expected.coef_, rtol=RTOL_FIT)
        assert_allclose(got.intercept_, expected.intercept_, rtol=RTOL_FIT)
        assert_allclose(got.loss_history_, expected.loss_history_, rtol=RTOL_FIT)
        assert got.n_features_in_ == D and got.n_iter_ == 40
        pred = got.predict(Xd)
        assert isinstance(pred, da.Array) and pred.chunks == (Xd.chunks[0],)   # lazy
        assert_allclose(pred.compute(), expected.predict(X), rtol=1e-10, atol=1e-12)
        assert_allclose(got.score(Xd, y), expected.score(X, y), rtol=1e-10)

    def test_classifier(self, data, scheduler):
        from fastgrad.sklearn import GDClassifier

        X, _, labels, _, _ = data
        y37 = np.where(labels > 0, 7, 3)
        Xd = da.from_array(X, chunks=700)
        kw = dict(lr=0.5, epochs=40, tol=None)
        expected = GDClassifier(**kw).fit(X, y37)
        got = GDClassifier(**kw).fit(Xd, da.from_array(y37, chunks=500))
        assert got.classes_.tolist() == [3, 7]
        assert_allclose(got.coef_, expected.coef_, rtol=RTOL_FIT)
        assert_allclose(got.intercept_, expected.intercept_, rtol=RTOL_FIT)
        pred = got.predict(Xd)
        assert isinstance(pred, da.Array)
        assert_array_equal(pred.compute(), expected.predict(X))
        assert_allclose(np.asarray(got.predict_proba(Xd)), expected.predict_proba(X),
                        rtol=1e-10)
        # NumPy labels with a dask X
        assert_allclose(GDClassifier(**kw).fit(Xd, y37).coef_, expected.coef_, rtol=RTOL_FIT)

    def test_classifier_needs_class_labels(self, data):
        from fastgrad.sklearn import GDClassifier

        X, y, _, _, _ = data
        Xd = da.from_array(X, chunks=700)
        with dask.config.set(scheduler="threads"):
            with pytest.raises(ValueError, match="2 classes"):
                GDClassifier().fit(Xd, da.from_array(np.ones(N), chunks=700))
            with pytest.raises(ValueError, match="continuous"):
                GDClassifier().fit(Xd, da.from_array(y, chunks=700))

    def test_predict_checks_features(self, data):
        from fastgrad.sklearn import GDRegressor

        X, y, _, _, _ = data
        with dask.config.set(scheduler="threads"):
            reg = GDRegressor(tol=None, epochs=3).fit(da.from_array(X, chunks=700), y)
            with pytest.raises(ValueError, match="features"):
                reg.predict(da.from_array(X[:, :3], chunks=700))


# ------------------------------------------------------------------ bad input
class TestBadInput:
    @pytest.fixture(autouse=True)
    def threads(self):
        with dask.config.set(scheduler="threads"):
            yield

    def test_3d_x(self, data):
        with pytest.raises(ValueError, match="`X` must be 2-D"):
            fg.mse_loss(da.zeros((10, 2, 2), chunks=5), np.zeros(10), np.zeros(2))

    def test_complex_x(self):
        with pytest.raises(TypeError, match="`X` must be real"):
            fg.mse_loss(da.zeros((10, 2), dtype=complex, chunks=5), np.zeros(10), np.zeros(2))

    @pytest.mark.parametrize("f", [fg.mse_loss, fg.mse_gradient])
    def test_non_finite_x_in_a_chunk(self, f, data):
        X, y, _, _, w = data
        Xbad = X.copy()
        Xbad[1234, 2] = np.nan
        Xbad[2999, 0] = np.inf
        with pytest.raises(ValueError, match=r"`X` must be finite.*rows \[1234, 2999\]"):
            f(da.from_array(Xbad, chunks=500), y, w)

    def test_non_finite_x_in_a_fit(self, data):
        X, y, _, _, _ = data
        Xbad = X.copy()
        Xbad[777, 1] = np.nan
        with pytest.raises(ValueError, match=r"`X` must be finite.*rows \[777\]"):
            fg.fit_logistic_regression(da.from_array(Xbad, chunks=500), data[2], epochs=5)

    def test_non_finite_dask_y(self, data):
        X, y, _, _, w = data
        ybad = y.copy()
        ybad[2500] = np.nan
        with pytest.raises(ValueError, match=r"`y` must be finite.*\[2500\]"):
            fg.fit_linear_regression(da.from_array(X, chunks=500),
                                     da.from_array(ybad, chunks=500), epochs=3)

    def test_logistic_y_outside_unit_interval(self, data):
        X, y, _, _, w = data
        with pytest.raises(ValueError, match=r"`y` must lie in \[0, 1\]"):
            fg.logistic_loss(da.from_array(X, chunks=500), da.from_array(y, chunks=500), w)
        with pytest.raises(ValueError, match=r"`y` must lie in \[0, 1\]"):
            fg.logistic_loss(da.from_array(X, chunks=500), y, w)

    @pytest.mark.parametrize("wrap", [np.asarray, lambda a: da.from_array(a, chunks=300)],
                             ids=["numpy", "dask"])
    def test_length_mismatch(self, wrap, data):
        X, y, _, sw, w = data
        Xd = da.from_array(X, chunks=500)
        with pytest.raises(ValueError, match="`y` must have length 3001"):
            fg.mse_loss(Xd, wrap(y[:-1]), w)
        with pytest.raises(ValueError, match="`sample_weight` must have length 3001"):
            fg.fit_linear_regression(Xd, y, sample_weight=wrap(sw[:5]))

    def test_y_of_unknown_chunks_resolving_to_another_length(self, data):
        X, y, _, _, w = data
        yd = da.from_array(y, chunks=500)
        short = yd[yd < np.max(y)]                              # one row fewer, sizes unknown
        with pytest.raises(ValueError, match="`y` must have length 3001.*got 3000"):
            fg.mse_loss(da.from_array(X, chunks=500), short, w)

    def test_2d_y(self, data):
        X, y, _, _, w = data
        with pytest.raises(ValueError, match="`y` must be 1-D"):
            fg.mse_loss(da.from_array(X, chunks=500), da.from_array(y[:, None], chunks=500), w)

    def test_negative_and_zero_dask_weights(self, data):
        X, y, _, sw, w = data
        Xd = da.from_array(X, chunks=500)
        neg = sw.copy()
        neg[10] = -1.0
        with pytest.raises(ValueError, match="`sample_weight` must be non-negative"):
            fg.mse_loss(Xd, y, w, sample_weight=da.from_array(neg, chunks=500))
        with pytest.raises(ValueError, match="`sample_weight` must not be all zero"):
            fg.fit_linear_regression(Xd, y, sample_weight=da.zeros(N, chunks=500))

    def test_wrong_w(self, data):
        X, y, _, _, _ = data
        with pytest.raises(ValueError, match="`w` must have length 6"):
            fg.mse_loss(da.from_array(X, chunks=500), y, np.zeros(5))
        with pytest.raises(ValueError, match="`w0` must have length 6"):
            fg.fit_linear_regression(da.from_array(X, chunks=500), y, w0=np.zeros(5))

    @pytest.mark.parametrize("kw", [dict(optimizer="adam"), dict(batch_size=100)],
                             ids=["adam", "mini-batches"])
    def test_full_batch_gradient_descent_only(self, kw, data):
        X, y, _, _, _ = data
        with pytest.raises(ValueError, match="full-batch gradient descent"):
            fg.fit_linear_regression(da.from_array(X, chunks=500), y, epochs=3, **kw)

    def test_errors_leave_the_cluster_usable(self, data, client):
        X, y, _, _, w = data
        Xbad = X.copy()
        Xbad[42, 0] = np.nan
        with dask.config.set(scheduler=client):
            with pytest.raises(ValueError, match=r"`X` must be finite.*rows \[42\]"):
                fg.fit_linear_regression(da.from_array(Xbad, chunks=500), y, epochs=3)
            got = fg.mse_loss(da.from_array(X, chunks=500), y, w)
        _close(got, fg.mse_loss(X, y, w), RTOL_LOSS)
