"""The optimizers and mini-batches in the compiled fits (fit_linear_regression,
fit_logistic_regression): iterates equal a plain NumPy implementation of each documented
rule and torch.optim; shuffled mini-batches are reproducible and independent of the
number of threads; each optimizer converges; the fast ones are fast on an ill-conditioned
problem; divergence and bad input."""
from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import fastgrad as fg
from fastgrad.optimizers import GD, AdaGrad, Adam, Momentum, RMSProp

OPTIMIZERS = {
    "gd": GD(),
    "momentum": Momentum(momentum=0.8),
    "nesterov": Momentum(momentum=0.7, nesterov=True),
    "adagrad": AdaGrad(eps=1e-3),
    "rmsprop": RMSProp(decay=0.9, eps=1e-4),
    "adam": Adam(beta1=0.8, beta2=0.95, eps=1e-6),
}
NAMES = list(OPTIMIZERS)
FITS = {"mse": fg.fit_linear_regression, "logistic": fg.fit_logistic_regression}


class Reference:
    """PyTorch's documented update rules in plain NumPy, one step at a time (as in
    test_optimizers.py, written out again so that each file states its reference)."""

    def __init__(self, opt, lr: float, size: int) -> None:
        self.opt, self.lr, self.t = opt, lr, 0
        self.m = np.zeros(size)
        self.v = np.zeros(size)

    def step(self, x, g, max_norm=None):
        opt, lr = self.opt, self.lr
        self.t += 1
        norm = np.sqrt(np.sum(g * g))
        c = max_norm / norm if max_norm is not None and norm > max_norm else 1.0
        if isinstance(opt, GD):
            return x - (lr * c) * g
        g = g * c
        if isinstance(opt, Momentum):
            self.m = g.copy() if self.t == 1 else opt.momentum * self.m + g
            return x - lr * (g + opt.momentum * self.m if opt.nesterov else self.m)
        if isinstance(opt, AdaGrad):
            self.v = self.v + g ** 2
            return x - lr * g / (np.sqrt(self.v) + opt.eps)
        if isinstance(opt, RMSProp):
            self.v = opt.decay * self.v + (1 - opt.decay) * g ** 2
            return x - lr * g / (np.sqrt(self.v) + opt.eps)
        self.m = opt.beta1 * self.m + (1 - opt.beta1) * g
        self.v = opt.beta2 * self.v + (1 - opt.beta2) * g ** 2
        m_hat = self.m / (1 - opt.beta1 ** self.t)
        v_hat = self.v / (1 - opt.beta2 ** self.t)
        return x - lr * m_hat / (np.sqrt(v_hat) + opt.eps)


def batch_loss_grad(kind, X, y, s, w, b, l2):
    """Penalised weighted mean loss of the rows given and its gradient in (w, b)."""
    z = X @ w + b
    if kind == "mse":
        r = z - y
        loss, dz = r * r, 2 * r
    else:
        loss, dz = np.logaddexp(0.0, z) - y * z, 1 / (1 + np.exp(-z)) - y
    sw = np.ones(len(y)) if s is None else s
    total = sw.sum()
    return ((sw @ loss) / total + l2 * (w @ w),
            X.T @ (sw * dz) / total + 2 * l2 * w, (sw @ dz) / total)


def numpy_fit(kind, X, y, opt, *, lr, epochs, batch_size=None, order=None, max_norm=None,
              l2=0.0, sample_weight=None, fit_intercept=True):
    """w, b and the loss history (each epoch's mean of its batch losses) of the documented
    algorithm; ``order(e)`` gives the rows of epoch e in visiting order."""
    n, d = X.shape
    w, b = np.zeros(d), 0.0
    ref = Reference(opt, lr, d + 1 if fit_intercept else d)
    bs = n if batch_size is None else batch_size
    history = []
    for e in range(epochs):
        rows = np.arange(n) if order is None else order(e)
        losses = []
        for start in range(0, n, bs):
            idx = rows[start:start + bs]
            s = None if sample_weight is None else sample_weight[idx]
            loss, gw, gb = batch_loss_grad(kind, X[idx], y[idx], s, w, b, l2)
            losses.append(loss)
            if fit_intercept:
                new = ref.step(np.append(w, b), np.append(gw, gb), max_norm)
                w, b = new[:d], new[d]
            else:
                w = ref.step(w, gw, max_norm)
        history.append(np.mean(losses))
    return w, b, np.array(history)


def make_data(kind, n=203, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * [1.0, 0.5, 2.0, 1.5][:d] + 0.2
    w = np.array([0.7, -1.2, 0.4, 0.9])[:d]
    y = X @ w + 0.5 + 0.3 * rng.standard_normal(n)
    if kind == "logistic":
        y = (y + 0.8 * rng.standard_normal(n) > 0.5).astype(np.float64)
    return X, y


def assert_close(actual, expected, rtol=1e-12):
    """Equal to rtol relative to the largest entry."""
    expected = np.atleast_1d(expected)
    assert_allclose(np.atleast_1d(actual), expected, rtol=rtol,
                    atol=rtol * np.max(np.abs(expected)))


def check_against_numpy(kind, name, **kw):
    X, y = make_data(kind)
    opt = OPTIMIZERS[name]
    lr = 0.05
    r = FITS[kind](X, y, lr=lr, epochs=4, optimizer=opt, **kw)
    order = None
    if kw.get("batch_size") is not None and kw.get("shuffle", True):
        rng = np.random.default_rng(kw["random_state"])
        perms = [rng.permutation(len(y)) for _ in range(4)]
        order = perms.__getitem__
    w, b, hist = numpy_fit(kind, X, y, opt, lr=lr, epochs=4, order=order,
                           batch_size=kw.get("batch_size"), max_norm=kw.get("max_norm"),
                           l2=kw.get("l2", 0.0), sample_weight=kw.get("sample_weight"),
                           fit_intercept=kw.get("fit_intercept", True))
    assert r.n_epochs == 4
    assert_close(r.w, w)
    assert_close(r.b, b)
    assert_close(r.loss_history, hist)


@pytest.mark.parametrize("kind", ["mse", "logistic"])
@pytest.mark.parametrize("name", NAMES)
class TestAgainstNumPy:
    def test_full_batch(self, kind, name):
        check_against_numpy(kind, name)

    def test_full_batch_clipped_l2(self, kind, name):
        check_against_numpy(kind, name, max_norm=0.05, l2=0.01)

    def test_full_batch_without_intercept(self, kind, name):
        check_against_numpy(kind, name, fit_intercept=False)

    def test_mini_batches_in_row_order(self, kind, name):
        check_against_numpy(kind, name, batch_size=32, shuffle=False)

    def test_weighted_clipped_mini_batches(self, kind, name):
        s = np.random.default_rng(3).uniform(0.1, 2.0, 203)
        check_against_numpy(kind, name, batch_size=50, shuffle=False, sample_weight=s,
                            max_norm=0.2)

    def test_shuffled_mini_batches_visit_rows_in_generator_permutations(self, kind, name):
        check_against_numpy(kind, name, batch_size=40, shuffle=True, random_state=7)


def torch_fit(torch, kind, X, y, opt, *, lr, epochs, batch_size=None, max_norm=None):
    """The same fit as a PyTorch user writes it (rows in order)."""
    F = torch.nn.functional
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    w = torch.zeros(X.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    params = [w, b]
    if isinstance(opt, GD):
        o = torch.optim.SGD(params, lr=lr)
    elif isinstance(opt, Momentum):
        o = torch.optim.SGD(params, lr=lr, momentum=opt.momentum, nesterov=opt.nesterov)
    elif isinstance(opt, AdaGrad):
        o = torch.optim.Adagrad(params, lr=lr, eps=opt.eps)
    elif isinstance(opt, RMSProp):
        o = torch.optim.RMSprop(params, lr=lr, alpha=opt.decay, eps=opt.eps)
    else:
        o = torch.optim.Adam(params, lr=lr, betas=(opt.beta1, opt.beta2), eps=opt.eps)
    n = X.shape[0]
    bs = n if batch_size is None else batch_size
    loss_fn = F.mse_loss if kind == "mse" else F.binary_cross_entropy_with_logits
    for _ in range(epochs):
        for start in range(0, n, bs):
            o.zero_grad()
            loss_fn(Xt[start:start + bs] @ w + b, yt[start:start + bs]).backward()
            if max_norm is not None:
                torch.nn.utils.clip_grad_norm_(params, max_norm)
            o.step()
    return w.detach().numpy(), float(b.detach())


@pytest.mark.parametrize("kind", ["mse", "logistic"])
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("batch_size", [None, 32])
def test_equal_to_torch_optim(kind, name, batch_size):
    torch = pytest.importorskip("torch")
    X, y = make_data(kind)
    opt = OPTIMIZERS[name]
    r = FITS[kind](X, y, lr=0.05, epochs=4, optimizer=opt, batch_size=batch_size,
                   shuffle=False)
    w, b = torch_fit(torch, kind, X, y, opt, lr=0.05, epochs=4, batch_size=batch_size)
    assert_close(r.w, w, rtol=1e-11)
    assert_close(r.b, b, rtol=1e-11)


class TestShuffle:
    def _data(self):
        rng = np.random.default_rng(1)
        X = rng.standard_normal((5000, 40))
        y = X @ rng.standard_normal(40) + 0.1 * rng.standard_normal(5000)
        return X, y

    @pytest.mark.parametrize("name", NAMES)
    def test_bitwise_reproducible_and_thread_independent(self, name):
        X, y = self._data()
        kw = dict(lr=0.01, epochs=3, optimizer=name, batch_size=1000, random_state=5)
        runs = [fg.fit_linear_regression(X, y, workers=k, **kw) for k in (1, 2, 1, 4)]
        for r in runs[1:]:
            assert_array_equal(r.w, runs[0].w)
            assert r.b == runs[0].b
            assert_array_equal(r.loss_history, runs[0].loss_history)

    def test_generator_is_drawn_from_like_its_seed(self):
        X, y = self._data()
        kw = dict(lr=0.01, epochs=3, batch_size=700)
        a = fg.fit_linear_regression(X, y, random_state=11, **kw)
        b = fg.fit_linear_regression(X, y, random_state=np.random.default_rng(11), **kw)
        assert_array_equal(a.w, b.w)

    def test_other_seed_other_order(self):
        X, y = self._data()
        kw = dict(lr=0.01, epochs=2, batch_size=700)
        a = fg.fit_linear_regression(X, y, random_state=1, **kw)
        b = fg.fit_linear_regression(X, y, random_state=2, **kw)
        assert not np.array_equal(a.w, b.w)

    def test_x_is_not_modified_or_copied_into_a_new_order(self):
        X, y = self._data()
        X0 = X.copy()
        fg.fit_linear_regression(X, y, lr=0.01, epochs=2, batch_size=64, random_state=0)
        assert_array_equal(X, X0)

    def test_callbacks_do_not_change_the_fit(self):
        # a callback cuts the compiled loop into chunks of callback_every epochs; the
        # permutations and the optimizer's state carry over from chunk to chunk
        X, y = self._data()
        kw = dict(lr=0.01, epochs=7, optimizer="adam", batch_size=600, random_state=4)
        seen = []
        a = fg.fit_linear_regression(X, y, callback=lambda e, loss, w: seen.append(e),
                                     callback_every=2, **kw)
        b = fg.fit_linear_regression(X, y, **kw)
        assert seen == [2, 4, 6, 7]
        assert_array_equal(a.w, b.w)
        assert_array_equal(a.loss_history, b.loss_history)

    def test_callback_can_stop_a_mini_batch_fit(self):
        X, y = self._data()
        r = fg.fit_linear_regression(X, y, lr=0.01, epochs=50, batch_size=500,
                                     callback=lambda e, loss, w: e >= 3)
        assert r.status == "stopped" and r.n_epochs == 3 and r.loss_history.shape == (3,)

    def test_shuffled_batches_never_copy_x(self):
        # measured: the memory a shuffled mini-batch fit allocates (the permutations of
        # a few epochs and one gathered batch) is a small share of X's 40 MB
        import tracemalloc

        rng = np.random.default_rng(0)
        X = rng.standard_normal((100_000, 50))
        y = X[:, 0] + 0.1
        fg.fit_linear_regression(X[:1000], y[:1000], epochs=1, batch_size=256,
                                 random_state=0)            # warm-up
        tracemalloc.start()
        try:
            r = fg.fit_linear_regression(X, y, lr=0.01, epochs=3, batch_size=256,
                                         random_state=0, optimizer="adam")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert r.n_epochs == 3
        assert peak < 0.15 * X.nbytes, f"peak {peak / 1e6:.1f} MB for X of {X.nbytes / 1e6} MB"

    def test_a_batch_of_zero_weights_takes_no_step(self):
        X, y = make_data("mse", n=160)
        s = np.ones(160)
        s[:32] = 0.0
        kw = dict(lr=0.05, epochs=3, batch_size=32, shuffle=False, optimizer="adam")
        a = fg.fit_linear_regression(X, y, sample_weight=s, **kw)
        b = fg.fit_linear_regression(X[32:], y[32:], **kw)
        assert_array_equal(a.w, b.w)
        assert_array_equal(a.loss_history, b.loss_history)

    def test_batch_larger_than_n_is_one_batch(self):
        X, y = make_data("mse")
        a = fg.fit_linear_regression(X, y, lr=0.05, epochs=5, batch_size=10_000,
                                     shuffle=False, optimizer="adam")
        b = fg.fit_linear_regression(X, y, lr=0.05, epochs=5, optimizer="adam")
        assert_array_equal(a.w, b.w)
        assert_array_equal(a.loss_history, b.loss_history)


def test_threads_of_a_mini_batch_fit_are_chosen_for_one_batch(monkeypatch):
    # the thread policy is asked for the work of one pass, and a pass reads one batch
    from fastgrad import _linear, _threads

    calls = []
    real = _linear.fit

    def spy(*args):
        calls.append(args[14])              # nthreads
        return real(*args)

    monkeypatch.setattr(_linear, "fit", spy)
    X = np.random.default_rng(0).standard_normal((50_000, 40))
    y = X[:, 0]
    fg.fit_linear_regression(X, y, epochs=1, batch_size=128, random_state=0)
    fg.fit_linear_regression(X, y, epochs=1)
    fg.fit_linear_regression(X, y, epochs=1, batch_size=512, workers=2, random_state=0)
    assert calls[0] == _threads.n_threads(128 * 40, None) == 1
    assert calls[1] == min(_threads.n_threads(X.size, None), _linear.n_blocks(50_000, 40))
    assert calls[2] == 2     # asked for: used (a batch of 512 rows has three row blocks)
    assert _linear.n_blocks(512, 40) >= 2


class TestTolWithMiniBatches:
    def test_stops_after_n_iter_no_change_epochs_without_improvement(self):
        X, y = make_data("mse", n=400)
        kw = dict(lr=0.05, batch_size=20, random_state=0)
        full = fg.fit_linear_regression(X, y, epochs=300, **kw)
        tol = 1e-3
        # scikit-learn's rule on the epoch means
        best, count, stop = np.inf, 0, None
        for e, loss in enumerate(full.loss_history):
            count = count + 1 if loss > best - tol else 0
            best = min(best, loss)
            if count >= 3:
                stop = e + 1
                break
        assert stop is not None and stop < 300
        r = fg.fit_linear_regression(X, y, epochs=300, tol=tol, n_iter_no_change=3, **kw)
        assert r.status == "converged" and r.converged
        assert r.n_epochs == stop
        assert_array_equal(r.loss_history, full.loss_history[:stop])


class TestConvergence:
    @pytest.mark.parametrize("name", NAMES)
    @pytest.mark.parametrize("batch_size", [None, 16])
    def test_linear_reaches_lstsq(self, name, batch_size):
        rng = np.random.default_rng(2)
        X = rng.standard_normal((300, 3))
        y = X @ [1.0, -2.0, 0.5] + 0.3        # noiseless: mini-batches agree at the optimum
        # RMSProp's steps stay about lr long near the optimum: a small lr, more epochs
        lr, epochs = {"adagrad": (0.5, 3000), "rmsprop": (1e-4, 30_000),
                      "adam": (0.003, 3000)}.get(name, (0.05, 3000))
        r = fg.fit_linear_regression(X, y, lr=lr, epochs=epochs, optimizer=name,
                                     batch_size=batch_size, random_state=0)
        assert_allclose(np.append(r.w, r.b), [1.0, -2.0, 0.5, 0.3], atol=1e-4)

    @pytest.mark.parametrize("name", NAMES)
    def test_logistic_reaches_the_optimum_of_a_non_separable_problem(self, name):
        sklearn_lm = pytest.importorskip("sklearn.linear_model")
        X, y = make_data("logistic", n=400, d=3)
        ref = sklearn_lm.LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(X, y)
        # RMSProp's steps stay about lr long near the optimum: a small lr, more epochs
        lr, epochs = {"rmsprop": (1e-4, 50_000), "adam": (0.002, 20_000)}.get(name,
                                                                              (0.5, 20_000))
        r = fg.fit_logistic_regression(X, y, lr=lr, epochs=epochs, optimizer=name,
                                       tol=1e-9)
        assert_allclose(np.append(r.w, r.b), np.append(ref.coef_[0], ref.intercept_[0]),
                        atol=2e-4)

    def test_momentum_and_adam_need_fewer_epochs_on_an_ill_conditioned_problem(self):
        # X'X / n has eigenvalues 1 and 1e-4 (condition number 1e4)
        rng = np.random.default_rng(0)
        Q, _ = np.linalg.qr(rng.standard_normal((2, 2)))
        Z = rng.standard_normal((1000, 2))
        Z = (Z - Z.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(Z.T, bias=True))).T
        X = Z @ np.diag([1.0, 1e-2]) @ Q.T
        eig = np.linalg.eigvalsh(X.T @ X / 1000)
        assert_allclose(eig.max() / eig.min(), 1e4, rtol=1e-6)
        y = X @ [3.0, -1.0]
        target = 1e-6 * np.mean(y ** 2)   # loss to reach (the minimum is 0)

        def epochs_to_target(opt, lr):
            r = fg.fit_linear_regression(X, y, lr=lr, epochs=200_000, fit_intercept=False,
                                         optimizer=opt)
            below = np.flatnonzero(r.loss_history < target)
            return below[0] if below.size else np.inf

        gd = epochs_to_target("gd", 0.9)           # lr close to 2 / L for plain steps
        assert np.isfinite(gd)
        assert epochs_to_target(Momentum(momentum=0.9), 0.9) < gd / 3
        assert epochs_to_target(Adam(), 0.01) < gd / 3


class TestStatus:
    @pytest.mark.parametrize("kind", ["mse", "logistic"])
    @pytest.mark.parametrize("name", NAMES)
    @pytest.mark.parametrize("batch_size", [None, 20])
    def test_divergence_stops_with_finite_parameters(self, kind, name, batch_size):
        X, y = make_data(kind)
        X = X * 1e150
        with pytest.warns(RuntimeWarning, match="diverged"), np.errstate(all="ignore"):
            r = FITS[kind](X, y, lr=1e300, epochs=100, optimizer=name,
                           batch_size=batch_size, shuffle=False)
        assert r.status == "diverged" and not r.converged
        assert np.all(np.isfinite(r.w)) and np.isfinite(r.b)
        assert r.n_epochs < 100

    @pytest.mark.parametrize("name", NAMES)
    def test_default_gd_is_the_plain_fit(self, name):
        X, y = make_data("mse")
        a = fg.fit_linear_regression(X, y, lr=0.05, epochs=20, max_norm=0.5)
        b = fg.fit_linear_regression(X, y, lr=0.05, epochs=20, max_norm=0.5, optimizer="gd")
        assert_array_equal(a.w, b.w)
        assert a.b == b.b

    def test_float32_weights_stay_float32(self):
        X, y = make_data("mse")
        r = fg.fit_linear_regression(X.astype(np.float32), y.astype(np.float32), lr=0.05,
                                     epochs=20, optimizer="adam", batch_size=32,
                                     random_state=0)
        assert r.w.dtype == np.float32
        ref = fg.fit_linear_regression(X, y, lr=0.05, epochs=20, optimizer="adam",
                                       batch_size=32, random_state=0)
        assert_allclose(r.w, ref.w, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("fit", [fg.fit_linear_regression, fg.fit_logistic_regression])
class TestBadInput:
    def _call(self, fit, **kw):
        X, y = make_data("logistic", n=20)
        return fit(X, y, epochs=1, **kw)

    @pytest.mark.parametrize("value", [0, -3])
    def test_batch_size_below_one(self, fit, value):
        with pytest.raises(ValueError, match="`batch_size`"):
            self._call(fit, batch_size=value)

    @pytest.mark.parametrize("value", [2.0, "8", True, [8]])
    def test_batch_size_not_an_int(self, fit, value):
        with pytest.raises(TypeError, match="`batch_size`"):
            self._call(fit, batch_size=value)

    def test_unknown_optimizer(self, fit):
        with pytest.raises(ValueError, match="`optimizer`.*'adam'"):
            self._call(fit, optimizer="adamw")

    def test_optimizer_of_another_type(self, fit):
        with pytest.raises(TypeError, match="`optimizer`"):
            self._call(fit, optimizer=object())

    @pytest.mark.parametrize("value", ["0", 1.5, [1]])
    def test_random_state_type(self, fit, value):
        with pytest.raises(TypeError, match="`random_state`"):
            self._call(fit, batch_size=4, random_state=value)

    def test_random_state_negative(self, fit):
        with pytest.raises(ValueError, match="`random_state`"):
            self._call(fit, batch_size=4, random_state=-1)

    def test_shuffle_not_bool(self, fit):
        with pytest.raises(TypeError, match="`shuffle`"):
            self._call(fit, batch_size=4, shuffle="yes")

    @pytest.mark.parametrize("value", [0, -1])
    def test_n_iter_no_change_below_one(self, fit, value):
        with pytest.raises(ValueError, match="`n_iter_no_change`"):
            self._call(fit, batch_size=4, n_iter_no_change=value)
