"""Gradient descent on any scalar function, with an analytic or numerical gradient."""
from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _diff, _optim
from ._gradients import numerical_gradient
from ._objectives import make_objective
from ._results import DescentResult
from ._update_rules import clip_factor, global_norm, stop_status
from ._validation import as_point, check_args, check_descent_options
from .optimizers import _resolve, _rule

__all__ = ["gradient_descent"]


def gradient_descent(f: Callable[..., float], x0: Any, *, grad: Callable[..., Any] | None = None,
                     lr: float = 0.01, epochs: int = 100, max_norm: float | None = None,
                     tol: float | None = None, args: tuple = (),
                     callback: Callable[[np.ndarray], Any] | None = None,
                     progress: bool = False, optimizer: Any = "gd") -> DescentResult:
    """Minimise f by gradient descent: ``x <- x - lr * clip(grad f(x))``, or by the steps
    of another optimizer (momentum, Nesterov, AdaGrad, RMSProp, Adam).

    Parameters
    ----------
    f : callable
        ``f(x, *args) -> float``.
    x0 : array_like, shape (n,)
        Starting point (not modified).
    grad : callable, optional
        ``grad(x, *args) -> array of shape (n,)``.  Default: :func:`numerical_gradient`
        (central differences, 2n calls of f per step).
    lr : float
        Learning rate, > 0.
    epochs : int
        Maximum number of updates, >= 0.
    max_norm : float, optional
        Clip the gradient's L2 norm to this value before each update (before the
        optimizer's step, as ``clip_grad_norm_`` before ``opt.step()`` in PyTorch).
    tol : float, optional
        Stop (converged) when the unclipped gradient norm is below tol.
    args : tuple
        Extra arguments for f and grad.
    callback : callable, optional
        ``callback(x)`` after each update; returning True stops.
    progress : bool
        Show a tqdm progress bar over the epochs with the current value of f (needs
        ``tqdm``: ``pip install fastgrad[progress]``).
    optimizer : str or optimizer object
        The update rule: ``"gd"`` (default, plain steps), ``"momentum"``,
        ``"nesterov"``, ``"adagrad"``, ``"rmsprop"``, ``"adam"`` (the optimizer with
        its default settings) or an object of :mod:`fastgrad.optimizers` such as
        ``Adam(beta1=0.8)``.  Its state starts at zero.

    Returns
    -------
    DescentResult
        ``x``, ``fun``, ``n_iter``, ``converged``, ``grad_norm``, ``loss_history``
        (f before each update) and ``status``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgrad import gradient_descent
    >>> r = gradient_descent(lambda v: (v[0] - 3)**2 + (v[1] + 1)**2, [0.0, 0.0],
    ...                      lr=0.1, epochs=500, tol=1e-8)
    >>> r.converged, np.allclose(r.x, [3.0, -1.0])
    (True, True)

    The same problem with Nesterov momentum, from a string:

    >>> r = gradient_descent(lambda v: (v[0] - 3)**2 + (v[1] + 1)**2, [0.0, 0.0],
    ...                      lr=0.1, epochs=500, tol=1e-8, optimizer="nesterov")
    >>> r.converged, np.allclose(r.x, [3.0, -1.0])
    (True, True)
    """
    x, _ = as_point(x0, "x0")
    args = check_args(args)
    lr, epochs, max_norm, tol = check_descent_options(lr, epochs, max_norm, tol, callback)
    kind, mu, beta2, eps = _rule(_resolve(optimizer))
    n = x.shape[0]
    state = np.zeros((2, n))    # the optimizer's moments, zero before the first step
    fobj = make_objective(f, args, n)
    gobj = None if grad is None else make_objective(grad, args, n, (n,), name="grad",
                                                    allow_native=False)
    history: list[float] = []
    status, gnorm, n_iter = "max_epochs", float("nan"), 0
    bar = None
    if progress:
        from ._progress import make_bar
        bar = make_bar(epochs, "gradient_descent")
    try:
        for _ in range(epochs):
            fx = float(_diff.evaluate_at(fobj, x)[0])
            g = (numerical_gradient(f, x, args=args) if gobj is None
                 else _diff.evaluate_at(gobj, x))
            gnorm = global_norm([g])
            stop = stop_status(fx, gnorm, tol)
            if stop is not None:
                status = stop
                break
            history.append(fx)
            x_new = np.empty(n)
            if not _optim.step(_optim.KINDS[kind], lr, mu, beta2, eps, n_iter + 1,
                               clip_factor(gnorm, max_norm), x,
                               np.ascontiguousarray(g, dtype=np.float64), state, x_new):
                status = "diverged"   # the update is not applied
                break
            x = x_new
            n_iter += 1
            if bar is not None:
                bar.set_postfix(loss=f"{fx:.4g}", refresh=False)
                bar.update(1)
            if callback is not None and callback(x.copy()):
                status = "stopped"
                break
    finally:
        if bar is not None:
            bar.close()
    if status == "diverged":
        warnings.warn("gradient_descent diverged: f or its gradient became non-finite. Use a "
                      "smaller lr or set max_norm; the last finite point is returned.",
                      RuntimeWarning, stacklevel=2)
    fun = float(_diff.evaluate_at(fobj, x)[0])
    return DescentResult(x=x, fun=fun, n_iter=n_iter, converged=status == "converged",
                         grad_norm=gnorm, loss_history=np.asarray(history, dtype=np.float64),
                         status=status)
