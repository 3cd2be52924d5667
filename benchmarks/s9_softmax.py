"""Section 9: the softmax (multinomial logistic) loss, its gradient and the compiled fit.

(a) ``softmax_gradient(X, y, W, b)`` (public function, input checks included) against
the NumPy expression a user writes (scores, the row maximum subtracted, ``exp``, the
normalised probabilities minus the one-hot labels, ``X.T @ G / n``) and against
PyTorch's ``cross_entropy`` forward and backward for the same (W, b).
(b) ``fit_softmax_regression`` for 500 epochs with the global-norm clip against the same
loop written with NumPy, with JAX (``jax.jit`` of a ``lax.fori_loop`` over
``jax.value_and_grad``) and with PyTorch (``torch.optim.SGD`` + ``clip_grad_norm_``).
All in float64 (JAX with ``jax_enable_x64``); the results of every baseline are compared
with fastgrad's (column ``|Δ|``).
"""
from __future__ import annotations

from ._common import Case, Context, Row, at_least, max_abs_err, skipped_row, timed_row
from .s6_fit import _jax_module

TITLE = "Softmax regression: softmax_gradient and fit_softmax_regression, float64"
DESCRIPTION = (
    "(a) `fastgrad.softmax_gradient(X, y, W, b)` (int64 labels, input checks included) "
    "against the NumPy expression (`Z = X @ W + b`, row maximum subtracted, `P = exp(Z) / "
    "sum`, `P[range(n), y] -= 1`, `X.T @ P / n`, `P.mean(0)`) and against PyTorch's "
    "`cross_entropy(X @ W + b, y)` forward + `backward()` (float64 tensors). Targets: ≥ "
    "1.5x NumPy at every size, faster (≥ 1x) than PyTorch at 100000x50 k=10. (b) "
    "`fit_softmax_regression(X, y, lr=0.1, epochs=500, max_norm=10)` against the same "
    "loop with NumPy, JAX (`jax.jit` + `lax.fori_loop` over `jax.value_and_grad`) and "
    "PyTorch (`SGD` + `clip_grad_norm_`). Targets at 100000x50 k=10: ≥ 2x NumPy, ≥ 1x "
    "JAX and PyTorch. `|Δ|`: max abs difference of dW (a) or of the final W (b) from "
    "fastgrad's."
)

GRAD_SIZES = ((1000, 20, 3), (100_000, 50, 10), (1_000_000, 20, 10))
QUICK_GRAD_SIZES = ((1000, 20, 3), (100_000, 50, 10))
TORCH_GRAD_TARGET = (100_000, 50, 10)
FIT_SIZES = ((100_000, 50, 10),)
QUICK_FIT_SIZES = ((2000, 20, 10),)
FIT_TARGET = (100_000, 50, 10)
EPOCHS, LR, MAX_NORM = 500, 0.1, 10.0
_JAX: dict = {}


def make_data(n: int, d: int, k: int, seed: int = 0):
    """Standardised features, labels of a noisy linear softmax model, and a nonzero W."""
    import numpy as np

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W_true = rng.standard_normal((d, k)) / np.sqrt(d)
    Z = 2.0 * (X @ W_true) + rng.gumbel(size=(n, k))
    y = np.argmax(Z, axis=1).astype(np.int64)
    return X, y, 0.5 * W_true, np.zeros(k)


def numpy_softmax_gradient(X, y, W, b):
    import numpy as np

    n = X.shape[0]
    Z = X @ W + b
    Z -= Z.max(axis=1, keepdims=True)
    P = np.exp(Z)
    P /= P.sum(axis=1, keepdims=True)
    P[np.arange(n), y] -= 1.0
    return X.T @ P / n, P.mean(axis=0)


def torch_softmax_gradient(torch, X, y, W, b):
    """cross_entropy forward and backward for leaf tensors W, b (grads cleared first)."""
    W.grad = None
    b.grad = None
    torch.nn.functional.cross_entropy(X @ W + b, y).backward()
    return W.grad, b.grad


def numpy_fit(X, y, k: int, lr: float = LR, epochs: int = EPOCHS, max_norm: float = MAX_NORM):
    """Full-batch gradient descent on the softmax loss with global-norm clipping, NumPy."""
    import numpy as np

    n, d = X.shape
    W = np.zeros((d, k))
    b = np.zeros(k)
    rows = np.arange(n)
    history = np.empty(epochs)
    for e in range(epochs):
        Z = X @ W + b
        Z -= Z.max(axis=1, keepdims=True)
        P = np.exp(Z)
        s = P.sum(axis=1)
        history[e] = np.mean(np.log(s) - Z[rows, y])
        P /= s[:, None]
        P[rows, y] -= 1.0
        P /= n
        gW = X.T @ P
        gb = P.sum(axis=0)
        norm = np.sqrt(np.sum(gW * gW) + gb @ gb)
        scale = lr * (max_norm / norm) if norm > max_norm else lr
        W -= scale * gW
        b -= scale * gb
    return W, b, history


def _jax_fit(jax, k: int, epochs: int = EPOCHS, lr: float = LR, max_norm: float = MAX_NORM):
    """A jitted softmax fit (one compiled program per number of classes and shape)."""
    if k in _JAX:
        return _JAX[k]
    jnp = jax.numpy

    def loss(params, X, y):
        W, b = params
        logp = jax.nn.log_softmax(X @ W + b, axis=1)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    value_and_grad = jax.value_and_grad(loss)

    @jax.jit
    def fit(X, y):
        def body(e, carry):
            W, b, hist = carry
            value, (gW, gb) = value_and_grad((W, b), X, y)
            norm = jnp.sqrt(jnp.sum(gW * gW) + jnp.sum(gb * gb))
            scale = lr * jnp.where(norm > max_norm, max_norm / norm, 1.0)
            return W - scale * gW, b - scale * gb, hist.at[e].set(value)

        init = (jnp.zeros((X.shape[1], k), X.dtype), jnp.zeros(k, X.dtype),
                jnp.zeros(epochs, X.dtype))
        return jax.lax.fori_loop(0, epochs, body, init)

    _JAX[k] = fit
    return fit


def torch_fit(torch, X, y, k: int, lr: float = LR, epochs: int = EPOCHS,
              max_norm: float = MAX_NORM):
    """The loop as a PyTorch user writes it (autograd, SGD, clip_grad_norm_)."""
    W = torch.zeros((X.shape[1], k), dtype=X.dtype, requires_grad=True)
    b = torch.zeros(k, dtype=X.dtype, requires_grad=True)
    opt = torch.optim.SGD([W, b], lr=lr)
    history = torch.empty(epochs, dtype=X.dtype)
    for e in range(epochs):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(X @ W + b, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([W, b], max_norm)
        opt.step()
        history[e] = loss.detach()
    return W.detach(), b.detach(), history


def _grad_case(ctx: Context, n: int, d: int, k: int) -> list[Row]:
    import fastgrad as fg

    X, y, W, b = make_data(n, d, k)
    label = f"{n}x{d} k={k}"
    name = "softmax_gradient"
    dW_fg, db_fg = fg.softmax_gradient(X, y, W, b)
    dW_np, db_np = numpy_softmax_gradient(X, y, W, b)
    err = {"numpy": max(max_abs_err(dW_fg, dW_np), max_abs_err(db_fg, db_np))}
    funcs = {"fastgrad": lambda: fg.softmax_gradient(X, y, W, b),
             "numpy": lambda: numpy_softmax_gradient(X, y, W, b)}
    torch = ctx.optional("torch")
    if torch is not None:
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        Wt = torch.from_numpy(W.copy()).requires_grad_(True)
        bt = torch.from_numpy(b.copy()).requires_grad_(True)
        funcs["torch"] = lambda: torch_softmax_gradient(torch, Xt, yt, Wt, bt)
        err["torch"] = max_abs_err(torch_softmax_gradient(torch, Xt, yt, Wt, bt)[0].numpy(),
                                   dW_fg)
        ctx.note(f"PyTorch runs with {torch.get_num_threads()} threads.")
    t = ctx.measure(funcs)
    rows = [timed_row(label, name, "NumPy expression", t["fastgrad"], t["numpy"],
                      target=at_least(1.5), extra={"|Δ|": f"{err['numpy']:.1e}"})]
    torch_target = at_least(1.0, "≥ 1x (faster)") if (n, d, k) == TORCH_GRAD_TARGET else None
    if torch is None:
        rows.append(skipped_row(label, name, "PyTorch cross_entropy backward",
                                ctx.missing_note("torch"), torch_target))
    else:
        rows.append(timed_row(label, name, "PyTorch cross_entropy backward", t["fastgrad"],
                              t["torch"], target=torch_target,
                              extra={"|Δ|": f"{err['torch']:.1e}"}))
    return rows


def _fit_case(ctx: Context, n: int, d: int, k: int) -> list[Row]:
    import fastgrad as fg

    X, y, _, _ = make_data(n, d, k, seed=1)
    label = f"{n}x{d} k={k}"
    name = "fit_softmax_regression"
    jax = _jax_module(ctx)
    torch = ctx.optional("torch")

    def run_fg():
        return fg.fit_softmax_regression(X, y, n_classes=k, lr=LR, epochs=EPOCHS,
                                         max_norm=MAX_NORM)

    W_fg = run_fg().w
    funcs = {"fastgrad": run_fg, "numpy": lambda: numpy_fit(X, y, k)}
    err = {"numpy": max_abs_err(numpy_fit(X, y, k)[0], W_fg)}
    if jax is not None:
        Xj, yj = jax.numpy.asarray(X), jax.numpy.asarray(y)
        jfit = _jax_fit(jax, k)
        funcs["jax"] = lambda: jax.block_until_ready(jfit(Xj, yj))
        err["jax"] = max_abs_err(jfit(Xj, yj)[0], W_fg)
    if torch is not None:
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        funcs["torch"] = lambda: torch_fit(torch, Xt, yt, k)
        err["torch"] = max_abs_err(torch_fit(torch, Xt, yt, k)[0].numpy(), W_fg)
        ctx.note("PyTorch's `clip_grad_norm_` divides by (norm + 1e-6), a negligible "
                 "difference.")
    t = ctx.measure(funcs)
    targeted = (n, d, k) == FIT_TARGET
    rows = [timed_row(label, name, "NumPy loop", t["fastgrad"], t["numpy"],
                      target=at_least(2.0) if targeted else None,
                      extra={"|Δ|": f"{err['numpy']:.1e}"})]
    for key, bname, mod in (("jax", "JAX jit + fori_loop", jax),
                            ("torch", "PyTorch SGD + clip_grad_norm_", torch)):
        target = at_least(1.0, "≥ 1x (faster)") if targeted else None
        if mod is None:
            rows.append(skipped_row(label, name, bname, ctx.missing_note(key), target))
            continue
        rows.append(timed_row(label, name, bname, t["fastgrad"], t[key], target=target,
                              extra={"|Δ|": f"{err[key]:.1e}"}))
    return rows


def cases(ctx: Context) -> list[Case]:
    grad_sizes = QUICK_GRAD_SIZES if ctx.quick else GRAD_SIZES
    fit_sizes = QUICK_FIT_SIZES if ctx.quick else FIT_SIZES
    if ctx.quick:
        ctx.note("Quick mode: the fit runs at 2000x20 k=10 (its targets are stated at "
                 "100000x50 k=10, in the full run).")
    return ([Case(f"softmax gradient {n}x{d} k={k}",
                  lambda n=n, d=d, k=k: _grad_case(ctx, n, d, k)) for n, d, k in grad_sizes]
            + [Case(f"softmax fit {n}x{d} k={k}",
                    lambda n=n, d=d, k=k: _fit_case(ctx, n, d, k)) for n, d, k in fit_sizes])
