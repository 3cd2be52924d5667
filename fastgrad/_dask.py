"""Losses, gradients and gradient-descent fits over ``dask.array`` X (one machine or a
cluster).

Imported lazily by ``fastgrad._losses`` when X is a dask collection, so ``import
fastgrad`` never imports dask.  Dask does the placement, the transfers and the recovery;
fastgrad brings the per-block kernel:

- each row block of X (with its slices of y and the sample weights) goes through the
  compiled per-block kernel ``fastgrad._linear.block_sums`` (the one the in-memory path
  runs), which returns the block's raw partial sums (loss sum, gradient sum, intercept
  gradient sum, weight total): d + 3 numbers per output, never a block of X; one task
  per block, or on a ``distributed`` cluster one task per worker over the blocks it holds;
- the client adds the partial sums in block order (so the result does not depend on
  which worker ran what, or when), and ``fastgrad._losses.finalize`` turns them into
  the weighted mean loss and gradient plus the L2 term;
- a fit persists X, y and the weights once, then runs one such round per epoch; the
  clip, the update and the tol test run on the client with the rules of
  ``fastgrad._update_rules``, the same as the compiled in-memory loop.

Inputs are checked here (shapes, dtypes, chunking, lengths) before anything runs; the
values of y and the weights, and X's finiteness, are checked by the tasks of the first
round, and the client raises one ValueError naming the argument and the first global
row indices.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _linear
from ._losses import _diverged_warning, finalize
from ._results import FitResult
from ._update_rules import clip_factor, global_norm, stop_status, updated
from ._validation import (
    as_sample_weight,
    as_vector,
    check_descent_options,
    check_finite_scalar,
    check_loss_values,
    check_nonnegative,
    check_positive_int,
    check_workers,
    is_dask_collection,
)

__all__ = ["loss_grad", "fit", "softmax_loss_grad", "fit_softmax", "linear_output",
           "as_dask_matrix", "as_row_vector"]


# ------------------------------------------------------------------ the per-block kernel
def _block_sums(kind: str, X: np.ndarray, y: np.ndarray, sw: np.ndarray | None,
                W: np.ndarray, b: np.ndarray, nthreads: int) -> tuple:
    """Raw sums over the rows of one block, ``(loss_sum, gW (d, K) float64, gb (K,)
    float64, weight_sum)``, no normalisation and no penalty: the compiled per-block
    kernel ``fastgrad._linear.block_sums``, the one the in-memory path runs."""
    return _linear.block_sums(kind, X, y, sw, W, b, nthreads)


def _block_problems(kind: str, X: np.ndarray, y: np.ndarray, sw: np.ndarray | None,
                    sums: tuple, row0: int) -> dict[str, Any]:
    """What is wrong with one block's values, by argument, with global row indices:
    non-finite y or weights, y outside [0, 1] for the logistic loss, negative weights,
    and (only when the block's sums are not finite) the rows of X with non-finite
    values.  Empty when nothing is."""
    problems: dict[str, Any] = {}
    bad = np.flatnonzero(~np.all(np.isfinite(y.reshape(y.shape[0], -1)), axis=1))
    if bad.size:
        problems["y"] = (bad[:10] + row0).tolist()
    elif kind == "logistic" and np.any((y < 0) | (y > 1)):
        problems["y_range"] = True
    elif kind == "softmax" and y.ndim == 1:          # class labels 0..k-1
        k = sums[1].shape[1]
        bad = np.flatnonzero((y != np.floor(y)) | (y < 0) | (y >= k))
        if bad.size:
            problems["y_classes"] = ((bad[:10] + row0).tolist(), k)
    elif kind == "softmax":                          # rows of class probabilities
        bad = np.flatnonzero(np.any(y < 0, axis=1)
                             | (np.abs(np.sum(y, axis=1, dtype=np.float64) - 1.0) > 1e-6))
        if bad.size:
            problems["y_probabilities"] = (bad[:10] + row0).tolist()
    if sw is not None:
        bad = np.flatnonzero(~np.isfinite(sw))
        if bad.size:
            problems["sample_weight"] = (bad[:10] + row0).tolist()
        elif np.any(sw < 0):
            problems["sample_weight_sign"] = True
    if not (math.isfinite(sums[0]) and np.all(np.isfinite(sums[1]))
            and np.all(np.isfinite(sums[2]))):
        finite_rows = np.all(np.isfinite(X), axis=1)
        if not np.all(finite_rows):
            problems["X"] = (np.flatnonzero(~finite_rows)[:10] + row0).tolist()
    return problems


def _block_task(kind: str, X: np.ndarray, y: np.ndarray, sw: np.ndarray | None,
                w: np.ndarray, b: np.ndarray, row0: int, check: bool, nthreads: int) -> tuple:
    """One task: the block's raw partial sums (a few numbers; X stays where it is), and,
    with ``check`` (the first round), what is wrong with the block's values."""
    X = np.ascontiguousarray(X)
    y = np.ascontiguousarray(y)
    sw = None if sw is None else np.ascontiguousarray(sw)
    sums = _block_sums(kind, X, y, sw, w, b, nthreads)
    return sums, (_block_problems(kind, X, y, sw, sums, row0) if check else {})


def _raise_problems(kind: str, problems: list[dict[str, Any]]) -> None:
    """One ValueError naming the argument, with the first offending rows of all blocks
    (in row order, whichever block finished first)."""
    def rows(key: str) -> list[int]:
        return [r for p in problems for r in p.get(key, [])][:10]

    if rows("y"):
        raise ValueError(f"`y` must be finite, got non-finite values at indices {rows('y')}")
    if any(p.get("y_range") for p in problems):
        raise ValueError(f"`y` must lie in [0, 1] for the {kind} loss")
    classes = [p["y_classes"] for p in problems if "y_classes" in p]
    if classes:
        bad = [r for rows_k in classes for r in rows_k[0]][:10]
        raise ValueError(f"`y` must hold class labels, integers in 0..{classes[0][1] - 1}; "
                         f"got other values at indices {bad}")
    if rows("y_probabilities"):
        raise ValueError("`y` as a matrix must hold class probabilities (entries >= 0, rows "
                         f"summing to 1 within 1e-6); rows {rows('y_probabilities')} do not")
    if rows("sample_weight"):
        raise ValueError(f"`sample_weight` must be finite, got non-finite values at indices "
                         f"{rows('sample_weight')}")
    if any(p.get("sample_weight_sign") for p in problems):
        raise ValueError("`sample_weight` must be non-negative")
    if rows("X"):
        raise ValueError(f"`X` must be finite, got non-finite values in rows {rows('X')}")


# ------------------------------------------------------------------ input checks
def _as_dask_array(v: Any, name: str) -> Any:
    """A dask array from a dask array or a Dask DataFrame / Series, else a TypeError."""
    import dask.array as da

    if not isinstance(v, da.Array) and hasattr(v, "to_dask_array"):
        v = v.to_dask_array(lengths=True)     # a Dask DataFrame or Series: row counts known
    if not isinstance(v, da.Array):
        raise TypeError(f"`{name}` must be a dask array or a NumPy array, got "
                        f"{type(v).__module__}.{type(v).__name__}")
    if np.dtype(v.dtype).kind == "c":
        raise TypeError(f"`{name}` must be real, got complex dtype {v.dtype}")
    if np.dtype(v.dtype).kind not in "biuf":
        raise TypeError(f"`{name}` must be an array of real numbers, got dtype {v.dtype}")
    if any(math.isnan(c) for c in v.chunks[0]):
        try:
            v = v.compute_chunk_sizes()
        except Exception as exc:
            raise ValueError(f"`{name}` has chunks of unknown size that could not be "
                             f"resolved ({exc}); pass an array with known chunk sizes") from None
    return v


def as_dask_matrix(X: Any) -> Any:
    """X as a 2-D float32/float64 dask array with one column block."""
    X = _as_dask_array(X, "X")
    if X.ndim != 2:
        raise ValueError(f"`X` must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"`X` must not be empty, got shape {X.shape}")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X


def as_row_vector(v: Any, name: str, X: Any, dtype: Any = None) -> Any:
    """A dask v as a 1-D dask array with X's row chunks (rechunked when they differ),
    converted to ``dtype`` when given.  Its values are checked by the first round."""
    v = _as_dask_array(v, name)
    n = X.shape[0]
    if v.ndim != 1:
        raise ValueError(f"`{name}` must be 1-D, got shape {v.shape}")
    if v.shape[0] != n:
        raise ValueError(f"`{name}` must have length {n} (the rows of X), got {v.shape[0]}")
    if dtype is not None:
        v = v.astype(dtype)
    if v.chunks[0] != X.chunks[0]:
        v = v.rechunk((X.chunks[0],))
    return v


def _row_input(v: Any, name: str, X: Any, logistic: bool) -> Any:
    """y or the sample weights for a dask X: a dask array is aligned to X's row chunks
    (its values are checked by the first round); a NumPy one is checked here, then split
    to X's row chunks."""
    import dask.array as da

    if is_dask_collection(v):
        return as_row_vector(v, name, X, X.dtype)
    n = X.shape[0]
    if name == "sample_weight":
        arr = as_sample_weight(v, n, X.dtype)[0]
    else:
        arr = as_vector(v, name, n, X.dtype)
        if logistic:
            check_loss_values("logistic", arr, None, 0.0, names=(name, "w", "b"),
                              what="the logistic loss")
    return da.from_array(arr, chunks=(X.chunks[0],))


def _class_input(y: Any, X: Any, k: int | None, what: str) -> tuple[Any, int]:
    """The softmax y for a dask X: class labels (n,) or class probabilities (n, k) as a
    dask array of X's dtype with X's row chunks, and k (from ``k`` when given, else from
    the probability columns or ``max(labels) + 1``).  Dask values are checked by the
    first round; NumPy ones here, by the in-memory rule."""
    import dask.array as da

    from ._validation import as_class_targets, check_n_classes

    n = X.shape[0]
    if not is_dask_collection(y):
        arr, k = as_class_targets(y, "y", n, X.dtype, k, what)
        check_loss_values("softmax", arr, None, np.zeros(k), what=what)
        chunks = (X.chunks[0],) if arr.ndim == 1 else (X.chunks[0], (arr.shape[1],))
        return da.from_array(arr, chunks=chunks), k
    y = _as_dask_array(y, "y")
    if y.ndim == 1:
        y = as_row_vector(y, "y", X, X.dtype)
        if k is None:
            top = float(y.max().compute())
            if not math.isfinite(top):
                raise ValueError("`y` must be finite, got non-finite class labels")
            k = check_n_classes(int(top) + 1)
        return y, k
    if y.ndim != 2:
        raise ValueError(f"`y` must be 1-D class labels or a 2-D matrix of class "
                         f"probabilities, got shape {y.shape}")
    if y.shape[0] != n:
        raise ValueError(f"`y` must have {n} rows (the rows of X), got {y.shape[0]}")
    if k is not None and y.shape[1] != k:
        raise ValueError(f"`y` must have {k} columns ({what}), got {y.shape[1]}")
    k = check_n_classes(y.shape[1]) if k is None else k
    y = y.astype(X.dtype)
    if y.chunks != (X.chunks[0], (k,)):
        y = y.rechunk((X.chunks[0], (k,)))
    return y, k


def _prepare_softmax(X: Any, y: Any, W: Any, b: Any, sample_weight: Any, l2: Any,
                     n_classes: Any, fit: bool) -> tuple:
    """The softmax inputs for a dask X, as ``fastgrad._losses`` checks them in memory:
    X, y, W (d, k) in X's dtype (None stays None for a fit), b (k,) float64, the weights,
    l2 and k."""
    from ._validation import as_intercepts, as_weight_matrix, check_n_classes

    X = as_dask_matrix(X)
    d = X.shape[1]
    w_name, b_name = ("w0", "b0") if fit else ("W", "b")
    k = None if n_classes is None else check_n_classes(n_classes)
    if not fit:
        W = as_weight_matrix(W, w_name, d, None, X.dtype)
        k = W.shape[1]
    y, k = _class_input(y, X, k, "n_classes" if fit else "the columns of W")
    if fit and W is not None:
        W = as_weight_matrix(W, w_name, d, k, X.dtype)
    b = as_intercepts(b, b_name, k)
    check_loss_values("softmax", None, W, b, names=("y", w_name, b_name))
    sw = None if sample_weight is None else _row_input(sample_weight, "sample_weight", X, False)
    return X, y, W, b, sw, check_nonnegative(l2, "l2"), k


def softmax_loss_grad(X: Any, y: Any, W: Any, b: Any, sample_weight: Any, l2: Any,
                      want_grad: bool, workers: Any = None) -> tuple:
    """(loss, dW (d, k) in X's dtype, db (k,)) of the softmax loss for a dask X."""
    X, y, W, b, sw, l2, _ = _prepare_softmax(X, y, W, b, sample_weight, l2, None, False)
    rounds = _Rounds("softmax", X, y, sw, _task_threads(workers))
    loss, dW, db = _penalised(rounds, W, b, l2, check=True)
    finite = math.isfinite(loss) and (not want_grad or bool(
        np.all(np.isfinite(dW)) and np.all(np.isfinite(db))))
    if not finite:
        warnings.warn("the softmax loss or its gradient overflowed; scale X or W",
                      RuntimeWarning, stacklevel=4)
    return (loss, dW.astype(X.dtype), db) if want_grad else (loss, None, None)


def fit_softmax(X: Any, y: Any, *, n_classes: Any, lr: Any, epochs: Any, max_norm: Any,
                tol: Any, l2: Any, sample_weight: Any, w0: Any, b0: Any,
                fit_intercept: bool, progress: bool, callback: Callable[..., Any] | None,
                callback_every: Any, workers: Any = None) -> FitResult:
    """The softmax gradient-descent fit for a dask X: W (d, k) and b (k,)."""
    X, y, W, b, sw, l2, k = _prepare_softmax(X, y, w0, b0, sample_weight, l2, n_classes,
                                             True)
    lr, epochs, max_norm, tol = check_descent_options(lr, epochs, max_norm, tol, callback)
    callback_every = check_positive_int(callback_every, "callback_every")
    W = np.zeros((X.shape[1], k), dtype=X.dtype) if W is None else W.copy()
    W, b, history, n_done, gnorm, status = _descend(
        "softmax", X, y, sw, W, np.array(b, dtype=np.float64), lr=lr, epochs=epochs,
        max_norm=max_norm, tol=tol, l2=l2, fit_intercept=fit_intercept, progress=progress,
        callback=callback, callback_every=callback_every, nthreads=_task_threads(workers))
    return FitResult(w=W, b=b, loss_history=history, n_epochs=n_done,
                     converged=status == "converged", grad_norm=gnorm, status=status)


def _prepare(kind: str, X: Any, y: Any, sample_weight: Any) -> tuple:
    X = as_dask_matrix(X)
    y = _row_input(y, "y", X, kind == "logistic")
    sw = None if sample_weight is None else _row_input(sample_weight, "sample_weight", X, False)
    return X, y, sw


def _task_threads(workers: Any) -> int:
    """Threads of one block's task: 1 unless asked (Dask runs the blocks in parallel)."""
    workers = check_workers(workers)
    if workers is None:
        return 1
    if workers == -1:
        from ._threads import n_threads
        return n_threads(1 << 62, -1)
    return int(workers)


def _group_task(kind: str, Xs: list, ys: list, sws: list, w: np.ndarray, b: np.ndarray,
                row0s: list, check: bool, nthreads: int) -> list:
    """One task per worker: ``_block_task`` over the blocks that worker holds, each
    block's partial sums kept apart (the client adds them in block order)."""
    return [_block_task(kind, X, y, sw, w, b, r0, check, nthreads)
            for X, y, sw, r0 in zip(Xs, ys, sws, row0s)]


def _distributed_client(collection: Any) -> Any:
    """The ``distributed.Client`` that runs ``collection`` on the current scheduler, or
    None (threads, processes, synchronous)."""
    from dask.base import get_scheduler

    client = getattr(get_scheduler(collections=[collection]), "__self__", None)
    module = type(client).__module__ if client is not None else ""
    return client if module.startswith("distributed") and hasattr(client, "who_has") else None


class _Rounds:
    """The rounds of one call: each sends (w, b) to the row blocks of X (persisted or
    not) and adds the blocks' partial sums in block order on the client.

    On a ``distributed`` cluster, one task per worker runs the kernel over the blocks it
    holds (asked of the scheduler each round, so a block that moved or was recomputed
    after a worker died is found where it is now); elsewhere one task per block."""

    def __init__(self, kind: str, X: Any, y: Any, sw: Any, nthreads: int) -> None:
        self.kind = kind
        self.nthreads = nthreads
        self.d = X.shape[1]
        rows = X.chunks[0]
        self.row0 = [int(r) for r in np.cumsum((0,) + rows[:-1])]
        self.client = _distributed_client(X)
        y_blocks = y.to_delayed()
        y_blocks = y_blocks[:, 0] if y.ndim == 2 else y_blocks      # softmax probabilities
        self.blocks = list(zip(X.to_delayed()[:, 0].tolist(), y_blocks.tolist(),
                               sw.to_delayed().tolist() if sw is not None
                               else [None] * len(rows)))
        self.futures: list | None = None
        if self.client is not None:
            from distributed import futures_of

            held = {f.key: f for v in (X, y, sw) if v is not None for f in futures_of(v)}
            keys = [(xb.key, yb.key, None if sb is None else sb.key)
                    for xb, yb, sb in self.blocks]
            if all(k in held for ks in keys for k in ks if k is not None):
                self.futures = [tuple(None if k is None else held[k] for k in ks)
                                for ks in keys]

    def _parts(self, w: np.ndarray, b: np.ndarray, check: bool) -> list:
        if self.futures is None:                         # one task per block
            import dask

            task = dask.delayed(_block_task, pure=False)
            return list(dask.compute(*[
                task(self.kind, xb, yb, sb, w, b, r0, check, self.nthreads)
                for (xb, yb, sb), r0 in zip(self.blocks, self.row0)]))
        client = self.client
        holders = client.who_has([f[0] for f in self.futures])
        groups: dict[Any, list[int]] = {}
        for i, (xf, _, _) in enumerate(self.futures):
            where = holders.get(xf.key) or (None,)
            groups.setdefault(where[0], []).append(i)
        submitted = []
        for worker, idx in groups.items():
            place = {} if worker is None else {"workers": [worker], "allow_other_workers": True}
            fut = client.submit(
                _group_task, self.kind, [self.futures[i][0] for i in idx],
                [self.futures[i][1] for i in idx], [self.futures[i][2] for i in idx],
                w, b, [self.row0[i] for i in idx], check, self.nthreads, pure=False, **place)
            submitted.append((idx, fut))
        parts: list = [None] * len(self.futures)
        for (idx, _), results in zip(submitted, client.gather([f for _, f in submitted])):
            for i, part in zip(idx, results):
                parts[i] = part
        return parts

    def sums(self, W: np.ndarray, b: np.ndarray, check: bool) -> tuple:
        """(loss_sum, gW (d, K), gb (K,), weight_sum) over all of X at (W, b)."""
        parts = self._parts(W, b, check)
        if check:
            _raise_problems(self.kind, [p[1] for p in parts])
        loss = 0.0
        gW = np.zeros(W.shape)
        gb = np.zeros(b.shape)
        weight_sum = 0.0
        for part, _ in parts:            # in block order, whatever ran where
            loss += part[0]
            gW += part[1]
            gb += part[2]
            weight_sum += part[3]
        return loss, gW, gb, weight_sum


def _check_weight_sum(weight_sum: float) -> None:
    if not weight_sum > 0:
        raise ValueError("`sample_weight` must not be all zero (its sum must be > 0)")


# ------------------------------------------------------------------ public entries
def _penalised(rounds: _Rounds, W: np.ndarray, b: np.ndarray, l2: float,
               check: bool) -> tuple[float, np.ndarray, np.ndarray]:
    """One round and the finalize rule: (loss, dW (d, K), db (K,)), float64."""
    loss_sum, gW, gb, weight_sum = rounds.sums(W, b, check)
    if check:
        _check_weight_sum(weight_sum)
    return finalize(loss_sum, gW, gb, weight_sum, W, l2)


def loss_grad(kind: str, X: Any, y: Any, w: Any, b: Any, sample_weight: Any, l2: Any,
              want_grad: bool, workers: Any = None) -> tuple:
    """(loss, dw, db) of ``fastgrad._losses`` for a dask X, as NumPy values."""
    X, y, sw = _prepare(kind, X, y, sample_weight)
    w = as_vector(w, "w", X.shape[1], X.dtype)
    b = check_finite_scalar(b, "b")
    l2 = check_nonnegative(l2, "l2")
    rounds = _Rounds(kind, X, y, sw, _task_threads(workers))
    loss, dW, db = _penalised(rounds, w.reshape(-1, 1), np.array([b]), l2, check=True)
    dw = dW[:, 0].astype(X.dtype)
    g_b = float(db[0])
    value = (loss, dw, g_b) if want_grad else (loss, None, None)
    finite = math.isfinite(loss) if not want_grad else (
        math.isfinite(g_b) and bool(np.all(np.isfinite(dw))))
    if not finite:
        warnings.warn(f"the {kind} loss or its gradient overflowed; scale X, y or w",
                      RuntimeWarning, stacklevel=4)
    return value


def fit(kind: str, X: Any, y: Any, *, lr: Any, epochs: Any, max_norm: Any, tol: Any,
        l2: Any, sample_weight: Any, w0: Any, b0: Any, fit_intercept: bool, progress: bool,
        callback: Callable[..., Any] | None, callback_every: Any,
        workers: Any = None) -> FitResult:
    """The gradient-descent fit of ``fastgrad._losses`` for a dask X (mse, logistic)."""
    X, y, sw = _prepare(kind, X, y, sample_weight)
    d = X.shape[1]
    w = (np.zeros(d, dtype=X.dtype) if w0 is None
         else as_vector(w0, "w0", d, X.dtype).copy())
    b = check_finite_scalar(b0, "b0")
    l2 = check_nonnegative(l2, "l2")
    lr, epochs, max_norm, tol = check_descent_options(lr, epochs, max_norm, tol, callback)
    callback_every = check_positive_int(callback_every, "callback_every")
    W, bs, history, n_done, gnorm, status = _descend(
        kind, X, y, sw, w.reshape(-1, 1), np.array([b]), lr=lr, epochs=epochs,
        max_norm=max_norm, tol=tol, l2=l2, fit_intercept=fit_intercept, progress=progress,
        callback=(None if callback is None
                  else lambda e, loss, Wn: callback(e, loss, Wn[:, 0].copy())),
        callback_every=callback_every, nthreads=_task_threads(workers))
    return FitResult(w=W[:, 0].copy(), b=float(bs[0]), loss_history=history,
                     n_epochs=n_done, converged=status == "converged",
                     grad_norm=gnorm, status=status)


def _descend(kind: str, X: Any, y: Any, sw: Any, W: np.ndarray, b: np.ndarray, *,
             lr: float, epochs: int, max_norm: float | None, tol: float | None, l2: float,
             fit_intercept: bool, progress: bool, callback: Callable[..., Any] | None,
             callback_every: int, nthreads: int) -> tuple:
    """The epoch loop on the client, by the rules of the compiled loop
    (``fastgrad._update_rules``): X, y and the weights are persisted once; each epoch is
    one round of per-block tasks, then the finalize rule, the stop test (diverged,
    converged), the clip and the update (not applied when it is not finite in W's own
    dtype).  W (d, K) in X's dtype and b (K,) float64 are private copies.

    Returns (W, b, loss_history, n_epochs, grad_norm, status)."""
    import dask

    X, y, sw = dask.persist(X, y, sw)            # once: the epochs read these blocks
    rounds = _Rounds(kind, X, y, sw, nthreads)
    bar = None
    if progress:
        from ._progress import make_bar
        bar = make_bar(epochs, f"fit {kind}")
    history: list[float] = []
    status = None
    gnorm = math.nan
    n_done = 0
    try:
        while n_done < epochs:
            loss, dW, db = _penalised(rounds, W, b, l2, check=n_done == 0)
            if not fit_intercept:
                db = np.zeros_like(db)
            gnorm = global_norm([dW, db])
            status = stop_status(loss, gnorm, tol)
            if status is not None:
                break
            history.append(loss)
            step = lr * clip_factor(gnorm, max_norm)
            new_W = updated(W, dW, step)
            new_W = None if new_W is None else new_W.astype(W.dtype)   # in W's own dtype
            new_b = updated(b, db, step)
            if new_W is None or new_b is None or not np.all(np.isfinite(new_W)):
                status = "diverged"
                break
            W, b = new_W, new_b
            n_done += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
            if (callback is not None and (n_done % callback_every == 0 or n_done == epochs)
                    and callback(n_done, loss, W.copy())):
                status = "stopped"
                break
    finally:
        if bar is not None:
            bar.close()
    if status is None:
        status = "max_epochs"
    if status == "diverged":
        warnings.warn(_diverged_warning(n_done, lr), RuntimeWarning, stacklevel=5)
    return W, b, np.array(history, dtype=np.float64), n_done, float(gnorm), status


def linear_output(X: Any, coef: np.ndarray, intercept: np.ndarray) -> Any:
    """``X @ coef.T + intercept`` for a dask X, lazily, with X's row chunks: shape (n,)
    for one row of coef, (n, k) for k rows."""
    X = as_dask_matrix(X)
    d = coef.shape[-1]
    if X.shape[1] != d:
        raise ValueError(f"`X` has {X.shape[1]} features, but the model was fitted with "
                         f"{d} features")
    if coef.ndim == 2 and coef.shape[0] > 1:
        W = np.ascontiguousarray(coef.T, dtype=X.dtype)
        b = np.asarray(intercept, dtype=X.dtype)
        return X.map_blocks(lambda blk: blk @ W + b, chunks=(X.chunks[0], (W.shape[1],)),
                            dtype=X.dtype)
    w = np.ravel(coef).astype(X.dtype)
    bb = X.dtype.type(np.ravel(intercept)[0])
    return X.map_blocks(lambda blk: blk @ w + bb, drop_axis=1, dtype=X.dtype)
