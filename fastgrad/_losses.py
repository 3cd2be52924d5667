"""Analytic MSE, logistic and softmax (multinomial logistic) losses and gradients,
gradient-norm clipping, and the compiled batch gradient-descent fits.

Each loss is described once in ``LOSS_TABLE`` (its y domain, its number of outputs, its
kernel); ``finalize`` states the rule that turns the raw sums of a pass
(``fastgrad._linear.block_sums``) into the penalised mean loss and its gradient, as
the compiled loop does.  The Python layer checks inputs once (``fastgrad._validation``)
and calls one kernel of ``fastgrad._linear``; X is passed through without a copy when
it is already C-contiguous float32 or float64.  Finiteness of X is not checked up front (that would
be a second pass over X): it is checked only when a result comes out non-finite.
"""
from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _linear, _optim, _threads
from ._results import FitResult
from ._update_rules import clip_factor, global_norm
from ._validation import (
    as_class_targets,
    as_generator,
    as_gradient_parts,
    as_intercepts,
    as_matrix,
    as_real_scalar,
    as_sample_weight,
    as_vector,
    as_weight_matrix,
    check_batch_size,
    check_bool,
    check_descent_options,
    check_finite_array,
    check_finite_rows,
    check_loss_values,
    check_n_classes,
    check_nonnegative,
    check_positive,
    check_positive_int,
    check_workers,
    is_dask_collection,
)
from .optimizers import _resolve, _rule

__all__ = ["mse_loss", "mse_gradient", "logistic_loss", "logistic_gradient",
           "softmax_loss", "softmax_gradient", "clip_by_norm", "fit_linear_regression",
           "fit_logistic_regression", "fit_softmax_regression", "LOSS_TABLE", "finalize"]

ArrayLike = Any

#: Epochs run without the GIL between two checks for Ctrl-C / progress updates hold
#: about this many elements of X in total.
CHUNK_ELEMENTS = 1 << 22


@dataclass(frozen=True)
class LossSpec:
    """What the Python layer needs to know of one loss of ``fastgrad._linear``."""

    #: The loss name the kernels take (``fastgrad._linear.LOSSES``).
    kernel: str
    #: The values y may take: "real" (any finite number), "unit" ([0, 1]) or "classes"
    #: (class labels 0..K-1, or an (N, K) matrix of class probabilities).
    y_domain: str
    #: Outputs K of the linear model (columns of W): "one", or "classes" (one per class).
    outputs: str
    #: How messages name the loss.
    title: str


#: Each loss once: its y domain, its number of outputs and its kernel id.
LOSS_TABLE: dict[str, LossSpec] = {
    "mse": LossSpec("mse", "real", "one", "the squared-error loss"),
    "logistic": LossSpec("logistic", "unit", "one", "the logistic loss"),
    "softmax": LossSpec("softmax", "classes", "classes", "the softmax loss"),
}


def finalize(loss_sum: float, gW: np.ndarray, gb: np.ndarray, weight_sum: float,
             W: np.ndarray, l2: float) -> tuple[float, np.ndarray, np.ndarray]:
    """The penalised weighted mean loss and its gradient from the raw sums of
    ``fastgrad._linear.block_sums``: the rule of the compiled fit loop, operation for
    operation (``finalize`` in ``src/_linear.pyx``), so that sums of row blocks computed
    anywhere give bitwise the compiled results.

    ``loss = loss_sum / weight_sum + l2 ||W||_F^2``, ``dW = gW / weight_sum + 2 l2 W``,
    ``db = gb / weight_sum`` (the intercepts are not penalised); the divisions are
    multiplications by ``1 / weight_sum`` and the penalty is added entry by entry in
    order, as in C.  dW and db are float64.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgrad._losses import finalize
    >>> loss, dW, db = finalize(4.0, np.array([[2.0]]), np.array([1.0]), 2.0,
    ...                         np.array([[3.0]]), 0.5)
    >>> loss, dW.tolist(), db.tolist()
    (6.5, [[4.0]], [0.5])
    """
    inv = 1.0 / weight_sum
    Wd = np.asarray(W, dtype=np.float64)
    terms = np.concatenate(([loss_sum * inv], ((l2 * Wd) * Wd).ravel()))
    loss = float(np.add.accumulate(terms)[-1])      # left to right, as the C loop adds
    return loss, np.asarray(gW, dtype=np.float64) * inv + (2.0 * l2) * Wd, \
        np.asarray(gb, dtype=np.float64) * inv


def _nthreads(X: np.ndarray, workers: Any, k: int = 1, rows: int | None = None,
              count_busy: bool = True) -> int:
    """Threads of a pass over X with k outputs (``fastgrad._threads``), no more than its
    row blocks; a pass over ``rows`` rows of X (a mini-batch) when given."""
    rows = X.shape[0] if rows is None else min(rows, X.shape[0])
    nt = _threads.n_threads(_threads.pass_work(rows, X.shape[1], k, X.dtype.itemsize),
                            workers, count_busy=count_busy)
    return nt if nt == 1 else min(nt, _linear.n_blocks(rows, X.shape[1], k))


def _prepare(X: ArrayLike, y: ArrayLike, w: ArrayLike | None, b: Any,
             sample_weight: ArrayLike | None, l2: Any, loss: str,
             w_name: str = "w") -> tuple:
    """The checked inputs of a one-output loss, in the kernels' form: X, y, w (None
    stays None), b, the weights, 1 / their sum and l2."""
    spec = LOSS_TABLE[loss]
    names = ("y", w_name, "b0" if w_name == "w0" else "b")
    X = as_matrix(X)
    n, d = X.shape
    y = as_vector(y, "y", n, X.dtype)
    w = None if w is None else as_vector(w, w_name, d, X.dtype, finite=False)
    b = as_real_scalar(b, names[2])
    check_loss_values(loss, y, w, b, names=names, what=spec.title)
    sw, inv_sumw = as_sample_weight(sample_weight, n, X.dtype)
    l2 = check_nonnegative(l2, "l2")
    return X, y, w, b, sw, inv_sumw, l2


def _prepare_softmax(X: ArrayLike, y: ArrayLike, W: ArrayLike | None, b: Any,
                     sample_weight: ArrayLike | None, l2: Any, n_classes: Any = None,
                     fit: bool = False) -> tuple:
    """The checked inputs of the softmax loss: X, y as the kernel takes it (labels as
    floats of X's dtype, or the probability matrix), W (d, k) in X's dtype (None stays
    None), b (k,) float64, the weights, 1 / their sum, l2 and k.  For a loss W gives k;
    for a fit ``n_classes``, the probability matrix or ``max(y) + 1`` do, and ``w0``/``b0``
    must match it."""
    X = as_matrix(X)
    n, d = X.shape
    w_name, b_name = ("w0", "b0") if fit else ("W", "b")
    k: int | None = None
    if n_classes is not None:
        k = check_n_classes(n_classes)
    if not fit:
        W = as_weight_matrix(W, w_name, d, None, X.dtype)
        k = W.shape[1]
    what = ("n_classes" if n_classes is not None else "the largest label") if fit \
        else "the columns of W"
    y, k = as_class_targets(y, "y", n, X.dtype, k, what)
    if fit and W is not None:
        W = as_weight_matrix(W, w_name, d, k, X.dtype)
    b = as_intercepts(b, b_name, k)
    check_loss_values("softmax", y, W, b, names=("y", w_name, b_name), what=what)
    sw, inv_sumw = as_sample_weight(sample_weight, n, X.dtype)
    l2 = check_nonnegative(l2, "l2")
    return X, y, W, b, sw, inv_sumw, l2, k


def _loss_grad(kind: str, X: ArrayLike, y: ArrayLike, w: ArrayLike, b: Any,
               sample_weight: ArrayLike | None, l2: Any, want_grad: bool,
               workers: Any = None) -> tuple:
    """(loss, dw, db) of any loss of ``LOSS_TABLE``: input already in the kernels' form
    goes straight to the compiled common case (``_linear.loss_grad_fast``; for softmax,
    int64 labels), anything else is converted and checked first; the value rules, the
    kernel and the rule for a non-finite result are the same either way."""
    classes = LOSS_TABLE[kind].outputs == "classes"
    r = None
    if sample_weight is None and type(X) is np.ndarray and X.ndim == 2:
        l2 = check_nonnegative(l2, "l2")
        k = w.shape[1] if classes and type(w) is np.ndarray and w.ndim == 2 else 1
        r = _linear.loss_grad_fast(kind, X, y, w, b, l2, want_grad, _nthreads(X, workers, k))
    elif is_dask_collection(X):
        from . import _dask
        if classes:
            return _dask.softmax_loss_grad(X, y, w, b, sample_weight, l2, want_grad, workers)
        return _dask.loss_grad(kind, X, y, w, b, sample_weight, l2, want_grad, workers)
    if r is None:
        if classes:
            X, y, w, b, sw, inv_sumw, l2, k = _prepare_softmax(X, y, w, b, sample_weight, l2)
        else:
            X, y, w, b, sw, inv_sumw, l2 = _prepare(X, y, w, b, sample_weight, l2, kind)
            k = 1
        r = _linear.loss_grad(kind, X, y, w, b, sw, inv_sumw, l2, want_grad,
                              _nthreads(X, workers, k))
    if not r[3]:
        _not_finite(kind, X, y, "X or W" if classes else "X, y or w")
    return r[:3]


def _not_finite(kind: str, X: np.ndarray, y: Any, what: str) -> None:
    """A loss or gradient came out non-finite: name the input that holds a non-finite
    value (y, then the rows of X; the parameters were checked before the pass), else
    warn of an overflow."""
    check_finite_array(np.asarray(y), "y")
    check_finite_rows(X)
    warnings.warn(f"the {kind} loss or its gradient overflowed; scale {what}",
                  RuntimeWarning, stacklevel=4)


_LOSS_DOC = """
    Parameters
    ----------
    X : array_like, shape (n_samples, n_features)
        float32 or float64 are used as they are (no copy when C-contiguous, also an
        ``np.memmap``); other real dtypes are converted to float64.  A
        ``dask.array.Array`` (chunked along rows) is computed block by block on the
        current Dask scheduler, ``workers`` then being the threads of each block's task
        (default 1); see the user guide, "Data at scale".
    y : array_like, shape (n_samples,)
        {y}
    w : array_like, shape (n_features,)
    b : float
        Intercept (not penalised).
    sample_weight : array_like, shape (n_samples,), optional
        Non-negative weights; the loss is the weighted mean ``sum(sw * l) / sum(sw)``.
    l2 : float
        Penalty ``l2 * ||w||**2`` added to the loss.
    workers : int, optional
        Threads of the pass over X.  None: chosen by fastgrad (one thread for small X;
        never more than the CPUs this process may use or the OpenMP limit in force, see
        ``threadpoolctl`` and ``OMP_NUM_THREADS``); an int >= 1 is used as given; -1 uses
        all CPUs.  The result is bitwise the same whatever the number of threads.
"""


def mse_loss(X: ArrayLike, y: ArrayLike, w: ArrayLike, b: float = 0.0, *,
             sample_weight: ArrayLike | None = None, l2: float = 0.0,
             workers: int | None = None) -> float:
    """Weighted mean squared error of the linear model ``X @ w + b``, plus ``l2 * ||w||**2``.
    {doc}
    Returns
    -------
    float

    Examples
    --------
    >>> from fastgrad import mse_loss
    >>> mse_loss([[2.0]], [3.0], [1.0], 0.0)
    1.0
    """
    return float(_loss_grad("mse", X, y, w, b, sample_weight, l2, False, workers)[0])


def mse_gradient(X: ArrayLike, y: ArrayLike, w: ArrayLike, b: float = 0.0, *,
                 sample_weight: ArrayLike | None = None,
                 l2: float = 0.0, workers: int | None = None) -> tuple[np.ndarray, float]:
    """Gradient of :func:`mse_loss` in (w, b), from one fused pass over X.
    {doc}
    Returns
    -------
    dw : ndarray, shape (n_features,), X's dtype
        ``2 X.T @ (sw * r) / sum(sw) + 2 l2 w`` with ``r = X @ w + b - y``.
    db : float
        ``2 sum(sw * r) / sum(sw)``.

    Examples
    --------
    The tutorial's single-point ``grad_mse(w=1, b=0, x=2, y=3) == (-4, -2)``:

    >>> from fastgrad import mse_gradient
    >>> dw, db = mse_gradient([[2.0]], [3.0], [1.0], 0.0)
    >>> float(dw[0]), db
    (-4.0, -2.0)
    """
    _, dw, db = _loss_grad("mse", X, y, w, b, sample_weight, l2, True, workers)
    return dw, float(db)


def logistic_loss(X: ArrayLike, y: ArrayLike, w: ArrayLike, b: float = 0.0, *,
                  sample_weight: ArrayLike | None = None, l2: float = 0.0,
                  workers: int | None = None) -> float:
    """Weighted mean binary cross-entropy of ``sigmoid(X @ w + b)`` against y, plus
    ``l2 * ||w||**2``.

    Computed as ``log(1 + exp(z)) - y z`` in an overflow-free form, so it is finite
    for any finite ``z = X @ w + b`` (no overflow warnings at ``|z| = 1e4``).
    {doc}
    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from fastgrad import logistic_loss
    >>> bool(np.isclose(logistic_loss([[1.0]], [1.0], [0.0]), np.log(2)))
    True
    """
    return float(_loss_grad("logistic", X, y, w, b, sample_weight, l2, False, workers)[0])


def logistic_gradient(X: ArrayLike, y: ArrayLike, w: ArrayLike, b: float = 0.0, *,
                      sample_weight: ArrayLike | None = None,
                      l2: float = 0.0, workers: int | None = None) -> tuple[np.ndarray, float]:
    """Gradient of :func:`logistic_loss` in (w, b), from one fused pass over X.
    {doc}
    Returns
    -------
    dw : ndarray, shape (n_features,), X's dtype
        ``X.T @ (sw * (p - y)) / sum(sw) + 2 l2 w`` with ``p = sigmoid(X @ w + b)``.
    db : float
        ``sum(sw * (p - y)) / sum(sw)``.

    Examples
    --------
    >>> from fastgrad import logistic_gradient
    >>> dw, db = logistic_gradient([[1.0, 2.0]], [1.0], [0.0, 0.0])
    >>> dw.tolist(), db
    ([-0.5, -1.0], -0.5)
    """
    _, dw, db = _loss_grad("logistic", X, y, w, b, sample_weight, l2, True, workers)
    return dw, float(db)


for _f, _y in ((mse_loss, "Targets."), (mse_gradient, "Targets."),
               (logistic_loss, "Labels or probabilities in [0, 1]."),
               (logistic_gradient, "Labels or probabilities in [0, 1].")):
    _f.__doc__ = (_f.__doc__ or "").replace("{doc}", _LOSS_DOC.format(y=_y))  # None under -OO


_SOFTMAX_DOC = """
    Parameters
    ----------
    X : array_like, shape (n_samples, n_features)
        float32 or float64 are used as they are (no copy when C-contiguous); other
        real dtypes are converted to float64.
    y : array_like, shape (n_samples,) or (n_samples, n_classes)
        Integer class labels in ``0..k-1``, or a matrix of class probabilities (entries
        >= 0, rows summing to 1 to within 1e-6).
    W : array_like, shape (n_features, n_classes)
        One column of weights per class (k = n_classes >= 2).
    b : array_like, shape (n_classes,), optional
        Intercepts (not penalised); None means zeros.
    sample_weight : array_like, shape (n_samples,), optional
        Non-negative weights; the loss is the weighted mean ``sum(sw * l) / sum(sw)``.
    l2 : float
        Penalty ``l2 * ||W||_F**2`` added to the loss.
    workers : int, optional
        Threads of the pass over X, as in :func:`mse_gradient`.  The result is bitwise
        the same whatever the number of threads.
"""


def softmax_loss(X: ArrayLike, y: ArrayLike, W: ArrayLike, b: ArrayLike | None = None, *,
                 sample_weight: ArrayLike | None = None, l2: float = 0.0,
                 workers: int | None = None) -> float:
    """Weighted mean cross-entropy of ``softmax(X @ W + b)`` against y, plus
    ``l2 * ||W||_F**2`` (the multinomial logistic loss).

    Each row's loss is ``sum_k y_k (lse - z_k)`` with ``z = x @ W + b`` and
    ``lse = log(sum_k exp(z_k))``, computed with the row maximum subtracted: finite for
    any finite scores (no overflow warnings at ``|z| = 1e4``).
    {doc}
    Returns
    -------
    float

    Examples
    --------
    At W = 0 every class has probability 1/3:

    >>> import numpy as np
    >>> from fastgrad import softmax_loss
    >>> X = np.array([[1.0, 2.0], [0.5, -1.0]]); y = np.array([0, 2])
    >>> bool(np.isclose(softmax_loss(X, y, np.zeros((2, 3))), np.log(3)))
    True
    """
    return float(_loss_grad("softmax", X, y, W, b, sample_weight, l2, False, workers)[0])


def softmax_gradient(X: ArrayLike, y: ArrayLike, W: ArrayLike, b: ArrayLike | None = None, *,
                     sample_weight: ArrayLike | None = None, l2: float = 0.0,
                     workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Gradient of :func:`softmax_loss` in (W, b), from one fused pass over X (scores, a
    numerically stable softmax, loss terms and gradient together).
    {doc}
    Returns
    -------
    dW : ndarray, shape (n_features, n_classes), X's dtype
        ``X.T @ (sw * (P - Y)) / sum(sw) + 2 l2 W`` with ``P = softmax(X @ W + b)`` and
        Y the one-hot labels (or the probability matrix).
    db : ndarray, shape (n_classes,), float64
        ``sum(sw * (P - Y), axis=0) / sum(sw)``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgrad import softmax_gradient
    >>> dW, db = softmax_gradient([[1.0], [2.0]], [0, 1], np.zeros((1, 2)))
    >>> dW.tolist(), db.tolist()
    ([[0.25, -0.25]], [0.0, 0.0])
    """
    _, dW, db = _loss_grad("softmax", X, y, W, b, sample_weight, l2, True, workers)
    return dW, db


for _sf in (softmax_loss, softmax_gradient):
    _sf.__doc__ = (_sf.__doc__ or "").replace("{doc}", _SOFTMAX_DOC)  # None under -OO


def clip_by_norm(grad: Any, max_norm: float) -> tuple[Any, float]:
    """Scale a gradient so its global L2 norm is at most ``max_norm``.

    Parameters
    ----------
    grad : ndarray, or tuple/list of arrays and floats
        A structure such as ``(dw, db)`` is clipped by the one norm of all its parts
        together and returned with the same structure (tuple, list, floats stay floats).
    max_norm : float
        > 0.

    Returns
    -------
    clipped : same structure as grad
        ``grad * max_norm / norm`` when ``norm > max_norm``, else an unscaled copy.
    norm : float
        The global L2 norm before clipping.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgrad import clip_by_norm
    >>> g, norm = clip_by_norm(np.array([3.0, 4.0]), 1.0)
    >>> g.round(12).tolist(), norm
    ([0.6, 0.8], 5.0)
    """
    max_norm = check_positive(max_norm, "max_norm")
    structured, items, parts = as_gradient_parts(grad)
    norm = global_norm(parts)
    scale = clip_factor(norm, max_norm)
    out = []
    for item, arr in zip(items, parts):
        scaled = arr * arr.dtype.type(scale) if arr.dtype.kind == "f" else arr * scale
        if isinstance(item, np.ndarray) and item.ndim > 0:
            out.append(scaled)
        elif isinstance(item, np.generic):
            out.append(scaled[()])
        elif np.ndim(item) == 0:
            out.append(float(scaled))
        else:
            out.append(scaled)
    if not structured:
        return out[0], norm
    return type(grad)(out) if type(grad) in (tuple, list) else tuple(out), norm


def _diverged_warning(n_done: int, lr: float) -> str:
    """The message of a diverged fit (in memory and on Dask)."""
    return (f"gradient descent diverged at epoch {n_done}: the loss or the weights became "
            f"non-finite (lr={lr:g}). Use a smaller lr, set max_norm to clip the gradient, "
            "or scale the features (e.g. standardize X). The last finite parameters are returned.")


def _fit(kind: str, X: ArrayLike, y: ArrayLike, *, lr: float, epochs: int,
         max_norm: float | None, tol: float | None, l2: float,
         sample_weight: ArrayLike | None, w0: ArrayLike | None, b0: Any,
         fit_intercept: bool, progress: bool, callback: Callable[..., Any] | None,
         callback_every: int, workers: Any = None, n_classes: Any = None,
         optimizer: Any = "gd", batch_size: int | None = None, shuffle: bool = True,
         random_state: Any = None, n_iter_no_change: int = 5) -> FitResult:
    if is_dask_collection(X):
        from . import _dask
        if _rule(_resolve(optimizer))[0] != "gd" or batch_size is not None:
            raise ValueError("a dask X is fitted by full-batch gradient descent: use "
                             "optimizer='gd' and batch_size=None (other optimizers and "
                             "mini-batches need X in memory, or as an np.memmap)")
        if kind == "softmax":
            return _dask.fit_softmax(X, y, n_classes=n_classes, lr=lr, epochs=epochs,
                                     max_norm=max_norm, tol=tol, l2=l2,
                                     sample_weight=sample_weight, w0=w0, b0=b0,
                                     fit_intercept=fit_intercept, progress=progress,
                                     callback=callback, callback_every=callback_every,
                                     workers=workers)
        return _dask.fit(kind, X, y, lr=lr, epochs=epochs, max_norm=max_norm, tol=tol, l2=l2,
                         sample_weight=sample_weight, w0=w0, b0=b0,
                         fit_intercept=fit_intercept, progress=progress, callback=callback,
                         callback_every=callback_every, workers=workers)
    if LOSS_TABLE[kind].outputs == "classes":
        X, y, w, b, sw, inv_sumw, l2, k = _prepare_softmax(X, y, w0, b0, sample_weight, l2,
                                                           n_classes, fit=True)
        shape: tuple[int, ...] = (X.shape[1], k)
    else:
        X, y, w, b, sw, inv_sumw, l2 = _prepare(X, y, w0, b0, sample_weight, l2, kind,
                                                w_name="w0")
        k, shape = 1, (X.shape[1],)
    workers = check_workers(workers)
    lr, epochs, max_norm, tol = check_descent_options(lr, epochs, max_norm, tol, callback)
    callback_every = check_positive_int(callback_every, "callback_every")
    name, mu, beta2, eps = _rule(_resolve(optimizer))
    batch_size = check_batch_size(batch_size)
    shuffle = check_bool(shuffle, "shuffle")
    n_iter_no_change = check_positive_int(n_iter_no_change, "n_iter_no_change")
    # the most threads a pass of the loop (over X or one mini-batch) may use; with
    # workers=None the loop asks again before each run of epochs, less the CPUs that
    # other threads of the process run on at that moment (``_threads.n_threads``)
    nthreads = _nthreads(X, workers, k, rows=batch_size, count_busy=False)
    recount = None
    if workers is None and nthreads > 1:
        recount = functools.partial(_nthreads, X, None, k, batch_size)
    rng = None
    if batch_size is not None and shuffle:
        rng = as_generator(random_state)
    elif random_state is not None:
        as_generator(random_state)      # checked, not drawn from
    w = np.zeros(shape, dtype=X.dtype) if w is None else w.copy()
    chunk = max(1, CHUNK_ELEMENTS // (X.size * k))
    if callback is not None:
        chunk = callback_every

    bar = None
    if progress:
        from ._progress import make_bar
        bar = make_bar(epochs, f"fit {kind}")
        if callback is None:  # with a callback, the bar moves every callback_every epochs
            chunk = min(chunk, max(1, epochs // 100))

    hook = None
    if bar is not None or callback is not None:
        def hook(epoch: int, loss: float, w_now: np.ndarray, b_now: Any) -> bool:
            if bar is not None:
                bar.update(epoch - bar.n)
                bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
            if callback is not None:
                return bool(callback(epoch, loss, w_now.copy()))
            return False

    try:
        b_out, history, n_done, gnorm, status = _linear.fit(
            kind, X, y, sw, inv_sumw, w, b, lr, epochs,
            -1.0 if max_norm is None else max_norm, -1.0 if tol is None else tol,
            l2, bool(fit_intercept), chunk, nthreads, hook, (_optim.KINDS[name], mu, beta2, eps),
            0 if batch_size is None else batch_size, rng, n_iter_no_change, recount)
    finally:
        if bar is not None:
            bar.close()
    if status == "diverged":
        if y.ndim == 1:
            as_vector(y, "y", None, y.dtype)
        check_finite_rows(X)
        warnings.warn(_diverged_warning(n_done, lr), RuntimeWarning, stacklevel=3)
    return FitResult(w=w, b=b_out if k > 1 else float(b_out), loss_history=history,
                     n_epochs=int(n_done), converged=status == "converged",
                     grad_norm=float(gnorm), status=status)


_OPTIMIZER_DOC = """    optimizer : str or optimizer object
        The update rule: ``"gd"`` (default, plain steps ``w -= lr * dw``),
        ``"momentum"``, ``"nesterov"``, ``"adagrad"``, ``"rmsprop"``, ``"adam"`` (with
        default settings) or an object of :mod:`fastgrad.optimizers`, e.g.
        ``Adam(beta1=0.8)``: PyTorch's rules, state starting at zero in each fit.
    batch_size : int, optional
        None: full batch (one step per epoch).  An int: each epoch visits every row
        once in mini-batches of that many rows (the last one may be smaller), one step
        per mini-batch on its weighted mean loss (plus the penalty; a batch whose
        weights are all zero takes no step); >= n_samples is the full batch.
    shuffle : bool
        With mini-batches, visit the rows of epoch e in the order of the e-th
        ``random_state.permutation(n_samples)`` (default); False: in row order.
        Shuffled batches are gathered into a scratch block; X is never copied.
    random_state : None, int or numpy.random.Generator
        The source of the shuffled orders: a seed (the same fit on any machine and
        with any number of threads), a Generator (drawn from), or None (fresh entropy).
    n_iter_no_change : int
        With mini-batches and tol: how many epochs without an improvement of the mean
        loss by more than tol stop the fit.
"""

_FIT_DOC = """
    Parameters
    ----------
    X : array_like, shape (n_samples, n_features)
        float32 or float64 C-contiguous arrays (also an ``np.memmap``) are used without
        a copy.  A ``dask.array.Array`` (chunked along rows) is persisted once and each
        epoch runs on the current Dask scheduler, one task per block or per worker; see
        the user guide, "Data at scale".
    y : array_like, shape (n_samples,)
        {y}
    lr : float
        Learning rate, > 0.
    epochs : int
        Maximum number of epochs (passes over the data), >= 0.
    max_norm : float, optional
        Clip the global L2 norm of (dw, db) to this value before each step (before the
        optimizer's rule, as ``clip_grad_norm_`` before ``opt.step()`` in PyTorch).
    tol : float, optional
        Full batch: stop (converged) when the unclipped gradient norm is below tol.
        Mini-batches: stop (converged) when the epoch's mean loss has not improved by
        more than tol for ``n_iter_no_change`` epochs in a row (scikit-learn's SGD rule).
    l2 : float
        L2 penalty ``l2 * ||w||**2`` (the intercept is not penalised).
    sample_weight : array_like, shape (n_samples,), optional
    w0 : array_like, shape (n_features,), optional
        Initial weights (zeros by default).
    b0 : float
        Initial intercept.
    fit_intercept : bool
        When False, b stays at b0.
    progress : bool
        Show a tqdm progress bar with the current loss (needs ``tqdm``).
    callback : callable, optional
        ``callback(epoch, loss, w)`` every ``callback_every`` epochs; returning True
        stops the fit with status "stopped".
    callback_every : int
    workers : int, optional
        Threads of each pass over X, as in :func:`mse_gradient`: None lets fastgrad
        choose, an int >= 1 is used as given, -1 uses all CPUs.  The fit is bitwise the
        same whatever the number of threads.
{optimizers}
    Returns
    -------
    FitResult
        ``w``, ``b``, ``loss_history`` (the loss before each update; with mini-batches,
        each epoch's mean of its batch losses), ``n_epochs``, ``converged``,
        ``grad_norm`` (with mini-batches, of the last batch), ``status``.

    Warns
    -----
    RuntimeWarning
        When the fit diverges (status "diverged"); the message says what to change.

    Notes
    -----
    The whole loop runs in compiled code without the GIL, reading X once per epoch
    (loss, residual and gradient in one fused pass); the optimizer's state (moments,
    step count) lives there too.
"""


def fit_linear_regression(X: ArrayLike, y: ArrayLike, *, lr: float = 0.01, epochs: int = 1000,
                          max_norm: float | None = None, tol: float | None = None,
                          l2: float = 0.0, sample_weight: ArrayLike | None = None,
                          w0: ArrayLike | None = None, b0: float = 0.0,
                          fit_intercept: bool = True, progress: bool = False,
                          callback: Callable[..., Any] | None = None,
                          callback_every: int = 1, workers: int | None = None,
                          optimizer: Any = "gd", batch_size: int | None = None,
                          shuffle: bool = True, random_state: Any = None,
                          n_iter_no_change: int = 5) -> FitResult:
    """Fit ``y ~ X @ w + b`` by gradient descent on :func:`mse_loss` (full batch or
    mini-batches, plain steps or another optimizer).
    {doc}
    Examples
    --------
    The tutorial's loop (w, b = 0, 0; lr = 0.1; x = 2, y = 4; 10 steps):

    >>> from fastgrad import fit_linear_regression
    >>> r = fit_linear_regression([[2.0]], [4.0], lr=0.1, epochs=10)
    >>> round(float(r.w[0]), 10), round(r.b, 10)
    (1.6, 0.8)

    Adam on shuffled mini-batches of 32 rows:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 3)); y = X @ [1.0, -2.0, 0.5] + 0.3
    >>> r = fit_linear_regression(X, y, lr=0.01, epochs=100, optimizer="adam",
    ...                           batch_size=32, random_state=0)
    >>> np.round(r.w, 3).tolist(), round(r.b, 3)
    ([1.0, -2.0, 0.5], 0.3)
    """
    return _fit("mse", X, y, lr=lr, epochs=epochs, max_norm=max_norm, tol=tol, l2=l2,
                sample_weight=sample_weight, w0=w0, b0=b0, fit_intercept=fit_intercept,
                progress=progress, callback=callback, callback_every=callback_every,
                workers=workers, optimizer=optimizer, batch_size=batch_size,
                shuffle=shuffle, random_state=random_state,
                n_iter_no_change=n_iter_no_change)


def fit_logistic_regression(X: ArrayLike, y: ArrayLike, *, lr: float = 0.01, epochs: int = 1000,
                            max_norm: float | None = None, tol: float | None = None,
                            l2: float = 0.0, sample_weight: ArrayLike | None = None,
                            w0: ArrayLike | None = None, b0: float = 0.0,
                            fit_intercept: bool = True, progress: bool = False,
                            callback: Callable[..., Any] | None = None,
                            callback_every: int = 1,
                            workers: int | None = None, optimizer: Any = "gd",
                            batch_size: int | None = None, shuffle: bool = True,
                            random_state: Any = None, n_iter_no_change: int = 5) -> FitResult:
    """Fit ``P(y=1) = sigmoid(X @ w + b)`` by gradient descent on :func:`logistic_loss`
    (full batch or mini-batches, plain steps or another optimizer).
    {doc}
    Examples
    --------
    >>> import numpy as np
    >>> from fastgrad import fit_logistic_regression
    >>> X = np.array([[-2.0], [-1.0], [1.0], [2.0]]); y = np.array([0.0, 0.0, 1.0, 1.0])
    >>> r = fit_logistic_regression(X, y, lr=0.5, epochs=200)
    >>> bool(r.w[0] > 0), r.status
    (True, 'max_epochs')

    With Nesterov momentum:

    >>> from fastgrad.optimizers import Momentum
    >>> r = fit_logistic_regression(X, y, lr=0.5, epochs=200,
    ...                             optimizer=Momentum(momentum=0.9, nesterov=True))
    >>> bool(r.w[0] > 0), r.status
    (True, 'max_epochs')
    """
    return _fit("logistic", X, y, lr=lr, epochs=epochs, max_norm=max_norm, tol=tol, l2=l2,
                sample_weight=sample_weight, w0=w0, b0=b0, fit_intercept=fit_intercept,
                progress=progress, callback=callback, callback_every=callback_every,
                workers=workers, optimizer=optimizer, batch_size=batch_size,
                shuffle=shuffle, random_state=random_state,
                n_iter_no_change=n_iter_no_change)


fit_linear_regression.__doc__ = (fit_linear_regression.__doc__ or "").replace(
    "{doc}", _FIT_DOC.format(y="Targets.", optimizers=_OPTIMIZER_DOC))
fit_logistic_regression.__doc__ = (fit_logistic_regression.__doc__ or "").replace(
    "{doc}", _FIT_DOC.format(y="Labels or probabilities in [0, 1].", optimizers=_OPTIMIZER_DOC))


def fit_softmax_regression(X: ArrayLike, y: ArrayLike, *, n_classes: int | None = None,
                           lr: float = 0.01, epochs: int = 1000,
                           max_norm: float | None = None, tol: float | None = None,
                           l2: float = 0.0, sample_weight: ArrayLike | None = None,
                           w0: ArrayLike | None = None, b0: ArrayLike | None = None,
                           fit_intercept: bool = True, progress: bool = False,
                           callback: Callable[..., Any] | None = None,
                           callback_every: int = 1,
                           workers: int | None = None, optimizer: Any = "gd",
                           batch_size: int | None = None, shuffle: bool = True,
                           random_state: Any = None, n_iter_no_change: int = 5) -> FitResult:
    """Fit ``P(class | x) = softmax(x @ W + b)`` by gradient descent on
    :func:`softmax_loss` (multinomial logistic regression; full batch or mini-batches,
    plain steps or another optimizer).

    Parameters
    ----------
    X : array_like, shape (n_samples, n_features)
        float32 or float64 C-contiguous arrays are used without a copy.
    y : array_like, shape (n_samples,) or (n_samples, n_classes)
        Integer class labels in ``0..n_classes-1``, or a matrix of class probabilities
        (entries >= 0, rows summing to 1 to within 1e-6).
    n_classes : int, optional
        Number of classes k >= 2; defaults to ``max(y) + 1`` for labels and to the
        number of columns of a probability matrix.
    lr : float
        Learning rate, > 0.
    epochs : int
        Maximum number of full-batch updates, >= 0.
    max_norm : float, optional
        Clip the global L2 norm of (dW, db) to this value before each update.
    tol : float, optional
        Stop (converged) when the unclipped gradient norm is below tol.
    l2 : float
        L2 penalty ``l2 * ||W||_F**2`` (the intercepts are not penalised).
        ``sklearn.linear_model.LogisticRegression(C=C)`` (multinomial) minimises the
        same objective with ``l2 = 1 / (2 * C * n_samples)``.
    sample_weight : array_like, shape (n_samples,), optional
    w0 : array_like, shape (n_features, n_classes), optional
        Initial weights (zeros by default).
    b0 : array_like, shape (n_classes,), optional
        Initial intercepts (zeros by default).
    fit_intercept : bool
        When False, b stays at b0.
    progress : bool
        Show a tqdm progress bar with the current loss (needs ``tqdm``).
    callback : callable, optional
        ``callback(epoch, loss, W)`` every ``callback_every`` epochs; returning True
        stops the fit with status "stopped".
    callback_every : int
    workers : int, optional
        Threads of each pass over X, as in :func:`mse_gradient`.  The fit is bitwise the
        same whatever the number of threads.
{optimizers}
    Returns
    -------
    FitResult
        ``w`` of shape (n_features, n_classes) in X's dtype, ``b`` of shape
        (n_classes,), ``loss_history`` (the loss before each update), ``n_epochs``,
        ``converged``, ``grad_norm``, ``status``.

    Warns
    -----
    RuntimeWarning
        When the fit diverges (status "diverged"); the message says what to change.

    Notes
    -----
    The whole loop runs in compiled code without the GIL, reading X once per epoch
    (scores by BLAS gemm, softmax, loss and gradient in one fused pass), the same loop
    as :func:`fit_linear_regression` and :func:`fit_logistic_regression`.  With two
    classes the model is the logistic one with ``w = W[:, 1] - W[:, 0]``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgrad import fit_softmax_regression
    >>> X = np.array([[-2.0], [-1.0], [0.0], [1.0], [2.0], [3.0]]); y = [0, 0, 1, 1, 2, 2]
    >>> r = fit_softmax_regression(X, y, lr=0.5, epochs=500)
    >>> r.w.shape, r.b.shape, r.status
    ((1, 3), (3,), 'max_epochs')
    >>> np.argmax(X @ r.w + r.b, axis=1).tolist()
    [0, 0, 1, 1, 2, 2]
    """
    return _fit("softmax", X, y, lr=lr, epochs=epochs, max_norm=max_norm, tol=tol, l2=l2,
                sample_weight=sample_weight, w0=w0, b0=b0, fit_intercept=fit_intercept,
                progress=progress, callback=callback, callback_every=callback_every,
                workers=workers, n_classes=n_classes, optimizer=optimizer,
                batch_size=batch_size, shuffle=shuffle, random_state=random_state,
                n_iter_no_change=n_iter_no_change)


fit_softmax_regression.__doc__ = (fit_softmax_regression.__doc__ or "").replace(
    "{optimizers}", _OPTIMIZER_DOC)
