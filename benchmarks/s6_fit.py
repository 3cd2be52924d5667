"""Section 6: the compiled gradient-descent fits against the same algorithm written
with NumPy, JAX (jit + lax.fori_loop) and PyTorch (SGD + clip_grad_norm_).

The algorithm, identical in all four: w = 0, b = 0; for each of 500 epochs compute the
mean loss (recorded) and its gradient in (w, b), clip (dw, db) to a global L2 norm of
at most ``max_norm`` = 10, then step ``w -= lr * dw; b -= lr * db`` with lr = 0.1.
All in float64 (JAX with ``jax_enable_x64``).  The final weights of every baseline are
compared with fastgrad's (column ``|Δw|``).
"""
from __future__ import annotations

from ._common import Case, Context, Row, at_least, max_abs_err, skipped_row, timed_row
from .s5_losses import make_data

TITLE = "Gradient-descent fits: 500 epochs, max_norm = 10, float64"
DESCRIPTION = (
    "`fastgrad.fit_linear_regression` / `fit_logistic_regression(X, y, lr=0.1, "
    "epochs=500, max_norm=10)` against the same loop written with NumPy (`X @ w`, "
    "`X.T @ g`, global-norm clipping), with JAX (`jax.jit` of a `lax.fori_loop` over "
    "`jax.value_and_grad`, float64) and with PyTorch (`torch.optim.SGD` + "
    "`clip_grad_norm_`, float64 tensors). Targets: ≥ 10x faster than NumPy at 200x5, "
    "≥ 2x at 100000x50 (10000x10 reported); faster (≥ 1x) than JAX and PyTorch at every "
    "size. `|Δw|`: max abs difference of the final weights from fastgrad's."
)

SIZES = ((200, 5), (10_000, 10), (100_000, 50))
QUICK_SIZES = ((200, 5),)
EPOCHS, LR, MAX_NORM = 500, 0.1, 10.0
NUMPY_TARGETS = {(200, 5): 10.0, (100_000, 50): 2.0}
_JAX: dict = {}


def numpy_fit(kind: str, X, y, lr: float = LR, epochs: int = EPOCHS, max_norm: float = MAX_NORM):
    """Full-batch gradient descent with global-norm clipping, written with NumPy."""
    import numpy as np

    n, d = X.shape
    w = np.zeros(d)
    b = 0.0
    history = np.empty(epochs)
    for e in range(epochs):
        z = X @ w + b
        if kind == "mse":
            r = z - y
            history[e] = (r @ r) / n
            g = (2.0 / n) * r
        else:
            history[e] = np.mean(np.logaddexp(0.0, z) - y * z)
            g = (1.0 / (1.0 + np.exp(-z)) - y) / n
        gw = X.T @ g
        gb = g.sum()
        norm = np.sqrt(gw @ gw + gb * gb)
        scale = lr * (max_norm / norm) if norm > max_norm else lr
        w -= scale * gw
        b -= scale * gb
    return w, b, history


def _jax_fit(jax, kind: str, epochs: int = EPOCHS, lr: float = LR, max_norm: float = MAX_NORM):
    """A jitted fit (one compiled program per kind and shape)."""
    if kind in _JAX:
        return _JAX[kind]
    jnp = jax.numpy

    def loss(params, X, y):
        w, b = params
        z = X @ w + b
        if kind == "mse":
            r = z - y
            return jnp.mean(r * r)
        return jnp.mean(jnp.logaddexp(0.0, z) - y * z)

    value_and_grad = jax.value_and_grad(loss)

    @jax.jit
    def fit(X, y):
        def body(e, carry):
            w, b, hist = carry
            value, (gw, gb) = value_and_grad((w, b), X, y)
            norm = jnp.sqrt(jnp.sum(gw * gw) + gb * gb)
            scale = lr * jnp.where(norm > max_norm, max_norm / norm, 1.0)
            return w - scale * gw, b - scale * gb, hist.at[e].set(value)

        init = (jnp.zeros(X.shape[1], X.dtype), jnp.zeros((), X.dtype),
                jnp.zeros(epochs, X.dtype))
        return jax.lax.fori_loop(0, epochs, body, init)

    _JAX[kind] = fit
    return fit


def torch_fit(torch, kind: str, X, y, lr: float = LR, epochs: int = EPOCHS,
              max_norm: float = MAX_NORM):
    """The same loop as a PyTorch user writes it (autograd, SGD, clip_grad_norm_)."""
    F = torch.nn.functional
    loss_fn = F.mse_loss if kind == "mse" else F.binary_cross_entropy_with_logits
    w = torch.zeros(X.shape[1], dtype=X.dtype, requires_grad=True)
    b = torch.zeros((), dtype=X.dtype, requires_grad=True)
    opt = torch.optim.SGD([w, b], lr=lr)
    history = torch.empty(epochs, dtype=X.dtype)
    for e in range(epochs):
        opt.zero_grad()
        loss = loss_fn(X @ w + b, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([w, b], max_norm)
        opt.step()
        history[e] = loss.detach()
    return w.detach(), b.detach(), history


def _jax_module(ctx: Context):
    jax = ctx.optional("jax")
    if jax is not None and not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)   # float64, as fastgrad and NumPy
    return jax


def _case(ctx: Context, n: int, d: int) -> list[Row]:
    import fastgrad as fg

    X, y, labels, _, _ = make_data(n, d, seed=1)
    case = f"{n}x{d}"
    jax = _jax_module(ctx)
    torch = ctx.optional("torch")
    if torch is not None:
        ctx.note(f"PyTorch runs with {torch.get_num_threads()} threads; its "
                 "`clip_grad_norm_` divides by (norm + 1e-6), a negligible difference.")
    rows: list[Row] = []
    for kind, fgf, target in (("mse", fg.fit_linear_regression, y),
                              ("logistic", fg.fit_logistic_regression, labels)):
        name = "fit_linear_regression" if kind == "mse" else "fit_logistic_regression"
        label = f"{case} {kind}"
        run_fg = lambda: fgf(X, target, lr=LR, epochs=EPOCHS, max_norm=MAX_NORM)  # noqa: E731
        w_fg = run_fg().w
        funcs = {"fastgrad": run_fg, "numpy": lambda: numpy_fit(kind, X, target)}
        dw = {"numpy": max_abs_err(numpy_fit(kind, X, target)[0], w_fg)}
        if jax is not None:
            Xj, yj = jax.numpy.asarray(X), jax.numpy.asarray(target)
            jfit = _jax_fit(jax, kind)
            funcs["jax"] = lambda: jax.block_until_ready(jfit(Xj, yj))
            dw["jax"] = max_abs_err(jfit(Xj, yj)[0], w_fg)
        if torch is not None:
            Xt, yt = torch.from_numpy(X), torch.from_numpy(target)
            funcs["torch"] = lambda: torch_fit(torch, kind, Xt, yt)
            dw["torch"] = max_abs_err(torch_fit(torch, kind, Xt, yt)[0].numpy(), w_fg)
        t = ctx.measure(funcs)
        np_target = NUMPY_TARGETS.get((n, d))
        rows.append(timed_row(label, name, "NumPy loop", t["fastgrad"], t["numpy"],
                              target=at_least(np_target) if np_target else None,
                              extra={"|Δw|": f"{dw['numpy']:.1e}"}))
        for key, bname, mod in (("jax", "JAX jit + fori_loop", jax),
                                ("torch", "PyTorch SGD + clip_grad_norm_", torch)):
            if mod is None:
                why = ctx.missing_note(key)
                rows.append(skipped_row(label, name, bname, why, at_least(1.0)))
                continue
            rows.append(timed_row(label, name, bname, t["fastgrad"], t[key],
                                  target=at_least(1.0, "≥ 1x (faster)"),
                                  extra={"|Δw|": f"{dw[key]:.1e}"}))
    return rows


def cases(ctx: Context) -> list[Case]:
    sizes = QUICK_SIZES if ctx.quick else SIZES
    return [Case(f"fits {n}x{d}", lambda n=n, d=d: _case(ctx, n, d)) for n, d in sizes]
