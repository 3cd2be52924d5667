"""Section 12: the optimizers (momentum, Nesterov, AdaGrad, RMSProp, Adam) and
mini-batches in the compiled fit loop, against torch.optim, optax under JAX and
scikit-learn's SGDRegressor.

The algorithm, identical everywhere: least squares on 100000x50 float64, w = 0, b = 0;
each step computes the mean squared error of the batch and its gradient in (w, b), clips
(dw, db) to a global L2 norm of at most ``max_norm`` = 10, then takes the optimizer's
step (PyTorch's rules; fastgrad's ``fastgrad.optimizers`` objects with the same settings).
Full batch: 500 epochs = 500 steps.  Mini-batch: batch_size 256, rows in order (the same
batches in every library), 391 steps per epoch; its times are per epoch.
"""
from __future__ import annotations

from ._common import Case, Context, Row, at_least, max_abs_err, skipped_row, timed_row
from .s5_losses import make_data

TITLE = "Optimizers and mini-batches: least squares, float64, max_norm = 10"
DESCRIPTION = (
    "`fit_linear_regression(X, y, lr, epochs, max_norm=10, optimizer=...)` at 100000x50 "
    "against the same loop with `torch.optim` (autograd, `clip_grad_norm_`, the same "
    "rule and settings) and with optax under JAX (`jax.jit` of a `lax.fori_loop`, "
    "`optax.chain(clip_by_global_norm, <rule>)`, float64).  Full batch: 500 epochs. "
    "Mini-batch (`batch_size=256, shuffle=False`, the same row blocks everywhere): per "
    "epoch, against PyTorch's loop over the batches (no DataLoader) and scikit-learn's "
    "`SGDRegressor` (per-sample SGD, constant learning rate, one epoch per `partial_fit`). "
    "Targets: faster than PyTorch and JAX for every optimizer at full batch; mini-batch "
    "Adam faster than PyTorch.  The `fastgrad / GD` column is the time relative to "
    "fastgrad's full-batch (or mini-batch) GD: the cost of each optimizer's state. "
    "`|Δw|`: max abs difference of the final weights from fastgrad's."
)

SIZE = (100_000, 50)
QUICK_SIZE = (20_000, 50)
EPOCHS, QUICK_EPOCHS = 500, 20
MB_EPOCHS, QUICK_MB_EPOCHS = 5, 2
BATCH, MAX_NORM = 256, 10.0
#: (name, learning rate) of every optimizer measured, fastgrad's names.
OPTIMIZERS = (("gd", 0.1), ("momentum", 0.05), ("nesterov", 0.05), ("adagrad", 0.1),
              ("rmsprop", 0.01), ("adam", 0.01))
MB_OPTIMIZERS = (("gd", 0.01), ("adam", 0.001))
_JAX: dict = {}


def torch_fit(torch, name: str, X, y, lr: float, epochs: int, batch: int | None = None):
    """The loop as a PyTorch user writes it: autograd, clip_grad_norm_, opt.step()."""
    F = torch.nn.functional
    w = torch.zeros(X.shape[1], dtype=X.dtype, requires_grad=True)
    b = torch.zeros((), dtype=X.dtype, requires_grad=True)
    params = [w, b]
    opt = {
        "gd": lambda: torch.optim.SGD(params, lr=lr),
        "momentum": lambda: torch.optim.SGD(params, lr=lr, momentum=0.9),
        "nesterov": lambda: torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True),
        "adagrad": lambda: torch.optim.Adagrad(params, lr=lr, eps=1e-10),
        "rmsprop": lambda: torch.optim.RMSprop(params, lr=lr, alpha=0.99, eps=1e-8),
        "adam": lambda: torch.optim.Adam(params, lr=lr),
    }[name]()
    n = X.shape[0]
    step = n if batch is None else batch
    for _ in range(epochs):
        for s in range(0, n, step):
            opt.zero_grad()
            F.mse_loss(X[s:s + step] @ w + b, y[s:s + step]).backward()
            torch.nn.utils.clip_grad_norm_(params, MAX_NORM)
            opt.step()
    return w.detach(), b.detach()


def _optax_rule(optax, name: str, lr: float):
    rule = {
        "gd": lambda: optax.sgd(lr),
        "momentum": lambda: optax.sgd(lr, momentum=0.9),
        "nesterov": lambda: optax.sgd(lr, momentum=0.9, nesterov=True),
        "adagrad": lambda: optax.adagrad(lr, initial_accumulator_value=0.0, eps=1e-10),
        "rmsprop": lambda: optax.rmsprop(lr, decay=0.99, eps=1e-8, eps_in_sqrt=False),
        "adam": lambda: optax.adam(lr),
    }[name]()
    return optax.chain(optax.clip_by_global_norm(MAX_NORM), rule)


def jax_fit(jax, optax, name: str, lr: float, epochs: int):
    """A jitted full-batch fit (one compiled program per optimizer and shape)."""
    key = (name, lr, epochs)
    if key in _JAX:
        return _JAX[key]
    jnp = jax.numpy
    tx = _optax_rule(optax, name, lr)

    def loss(params, X, y):
        w, b = params
        r = X @ w + b - y
        return jnp.mean(r * r)

    grad = jax.grad(loss)

    @jax.jit
    def fit(X, y):
        params = (jnp.zeros(X.shape[1], X.dtype), jnp.zeros((), X.dtype))

        def body(e, carry):
            params, state = carry
            updates, state = tx.update(grad(params, X, y), state, params)
            return optax.apply_updates(params, updates), state

        return jax.lax.fori_loop(0, epochs, body, (params, tx.init(params)))[0]

    _JAX[key] = fit
    return fit


def _jax_modules(ctx: Context):
    jax = ctx.optional("jax")
    optax = ctx.optional("optax") if jax is not None else None
    if jax is not None and not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)   # float64, as fastgrad
    return jax, optax


def _full_batch(ctx: Context, X, y) -> list[Row]:
    import fastgrad as fg

    n, d = X.shape
    epochs = QUICK_EPOCHS if ctx.quick else EPOCHS
    jax, optax = _jax_modules(ctx)
    torch = ctx.optional("torch")
    if torch is not None:
        ctx.note(f"PyTorch runs with {torch.get_num_threads()} threads; its "
                 "`clip_grad_norm_` divides by (norm + 1e-6), a negligible difference.")
    rows: list[Row] = []
    t_gd = None
    for name, lr in OPTIMIZERS:
        label = f"{n}x{d} full batch {name}"

        def run_fg(name=name, lr=lr):
            return fg.fit_linear_regression(X, y, lr=lr, epochs=epochs, max_norm=MAX_NORM,
                                            optimizer=name)

        w_fg = run_fg().w
        funcs = {"fastgrad": run_fg}
        dw = {}
        if jax is not None and optax is not None:
            Xj, yj = jax.numpy.asarray(X), jax.numpy.asarray(y)
            jfit = jax_fit(jax, optax, name, lr, epochs)
            funcs["jax"] = lambda jfit=jfit, Xj=Xj, yj=yj: jax.block_until_ready(jfit(Xj, yj))
            dw["jax"] = max_abs_err(jfit(Xj, yj)[0], w_fg)
        if torch is not None:
            Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
            funcs["torch"] = lambda name=name, lr=lr, Xt=Xt, yt=yt: torch_fit(
                torch, name, Xt, yt, lr, epochs)
            dw["torch"] = max_abs_err(torch_fit(torch, name, Xt, yt, lr, epochs)[0].numpy(),
                                      w_fg)
        t = ctx.measure(funcs)
        if name == "gd":
            t_gd = t["fastgrad"]
        rel = {"fastgrad / GD": f"{t['fastgrad'].median / t_gd.median:.2f}"} if t_gd else {}
        for key, bname, ok in (("torch", "PyTorch torch.optim + clip_grad_norm_",
                                torch is not None),
                               ("jax", "JAX jit + fori_loop, optax", optax is not None)):
            if not ok:
                rows.append(skipped_row(label, "fit_linear_regression", bname,
                                        ctx.missing_note("optax" if key == "jax" else key),
                                        at_least(1.0)))
                continue
            rows.append(timed_row(label, "fit_linear_regression", bname, t["fastgrad"],
                                  t[key], target=at_least(1.0, "≥ 1x (faster)"),
                                  extra={"|Δw|": f"{dw[key]:.1e}", **rel}))
    return rows


def _mini_batch(ctx: Context, X, y) -> list[Row]:
    import fastgrad as fg

    n, d = X.shape
    epochs = QUICK_MB_EPOCHS if ctx.quick else MB_EPOCHS
    torch = ctx.optional("torch")
    sk = ctx.optional("sklearn")
    rows: list[Row] = []
    t_gd = None
    for name, lr in MB_OPTIMIZERS:
        label = f"{n}x{d} batch {BATCH} {name}, {epochs} epochs"

        def run_fg(name=name, lr=lr):
            return fg.fit_linear_regression(X, y, lr=lr, epochs=epochs, max_norm=MAX_NORM,
                                            optimizer=name, batch_size=BATCH, shuffle=False)

        w_fg = run_fg().w
        funcs = {"fastgrad": run_fg}
        dw = {}
        if torch is not None:
            Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
            funcs["torch"] = lambda name=name, lr=lr, Xt=Xt, yt=yt: torch_fit(
                torch, name, Xt, yt, lr, epochs, BATCH)
            dw["torch"] = max_abs_err(
                torch_fit(torch, name, Xt, yt, lr, epochs, BATCH)[0].numpy(), w_fg)
        if sk is not None and name == "gd":
            from sklearn.linear_model import SGDRegressor

            def run_sk():
                est = SGDRegressor(penalty=None, learning_rate="constant", eta0=1e-4,
                                   shuffle=False, tol=None)
                for _ in range(epochs):
                    est.partial_fit(X, y)
                return est

            funcs["sklearn"] = run_sk
        t = ctx.measure(funcs)
        if name == "gd":
            t_gd = t["fastgrad"]
        rel = {"fastgrad / GD": f"{t['fastgrad'].median / t_gd.median:.2f}"} if t_gd else {}
        if torch is None:
            rows.append(skipped_row(label, "fit_linear_regression",
                                    "PyTorch loop over the batches", ctx.missing_note("torch"),
                                    at_least(1.0)))
        else:
            rows.append(timed_row(label, "fit_linear_regression",
                                  "PyTorch loop over the batches", t["fastgrad"], t["torch"],
                                  target=at_least(1.0, "≥ 1x (faster)") if name == "adam"
                                  else None,
                                  extra={"|Δw|": f"{dw['torch']:.1e}", **rel}))
        if "sklearn" in t:
            rows.append(timed_row(label, "fit_linear_regression",
                                  "scikit-learn SGDRegressor (per sample)", t["fastgrad"],
                                  t["sklearn"], extra=rel,
                                  note="different algorithm: one step per sample"))
    return rows


def cases(ctx: Context) -> list[Case]:
    n, d = QUICK_SIZE if ctx.quick else SIZE
    data: dict = {}

    def get():
        if not data:
            X, y, _, _, _ = make_data(n, d, seed=2)
            data["X"], data["y"] = X, y
        return data["X"], data["y"]

    return [Case(f"optimizers {n}x{d} full batch", lambda: _full_batch(ctx, *get())),
            Case(f"optimizers {n}x{d} batch {BATCH}", lambda: _mini_batch(ctx, *get()))]
