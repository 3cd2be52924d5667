"""Input checking for every public function of fastgrad: the one place where user
input is inspected, converted and rejected.

Each checker names the argument in its message and says what was expected, e.g.
``ValueError("`x` must be 1-D, got shape (3, 2)")``.  The kernels trust what comes
out of here.  Nothing here modifies its input: arrays that are converted are copies,
and arrays passed through unchanged are only ever read.
"""
from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _diff, _linear

__all__ = [
    "check_callable", "check_args", "as_point", "as_matrix", "as_vector",
    "as_sample_weight", "check_positive", "check_nonnegative", "check_optional_positive",
    "check_optional_nonnegative", "check_epochs", "check_method", "check_finite_scalar",
    "check_workers",
    "check_returned", "check_step", "check_step_option", "check_index", "as_direction",
    "check_positive_int", "check_finite_array", "check_finite_rows", "as_gradient_parts",
    "check_descent_options", "as_class_targets", "check_n_classes", "as_weight_matrix",
    "as_intercepts", "check_loss_values", "as_real_scalar", "check_batch_size",
    "as_generator", "check_bool",
    "is_dask_collection", "EPS64",
]

_REAL_KINDS = "biuf"


def _as_real_array(value: Any, name: str) -> np.ndarray:
    """np.asarray(value) for a real-valued numeric array, else a TypeError naming `name`."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"`{name}` must be an array of real numbers, got {type(value).__name__}")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:  # ragged nested sequences and the like
        raise ValueError(f"`{name}` must be an array of real numbers: {exc}") from None
    if arr.dtype.kind == "c":
        raise TypeError(f"`{name}` must be real, got complex dtype {arr.dtype}")
    if arr.dtype.kind not in _REAL_KINDS:
        if arr.dtype.kind == "O":
            try:
                arr = arr.astype(np.float64)
            except (TypeError, ValueError):
                raise TypeError(
                    f"`{name}` must be an array of real numbers, got object array") from None
        else:
            raise TypeError(f"`{name}` must be an array of real numbers, got dtype {arr.dtype}")
    return arr


def is_dask_collection(x: Any) -> bool:
    """True for a dask array, DataFrame or Series, decided without importing dask (the
    losses and fits then hand X to ``fastgrad._dask``)."""
    module = getattr(type(x), "__module__", None) or ""
    return module.split(".", 1)[0] in ("dask", "dask_expr") and hasattr(x, "__dask_graph__")


def check_callable(f: Any, name: str) -> Callable[..., Any]:
    """Return f if it is callable, else raise a TypeError naming it."""
    if not callable(f):
        raise TypeError(f"`{name}` must be callable, got {type(f).__name__}")
    return f


def check_args(args: Any) -> tuple:
    """Extra positional arguments for f: a tuple (a single non-tuple value is wrapped)."""
    if isinstance(args, tuple):
        return args
    if isinstance(args, list):
        return tuple(args)
    return (args,)


#: Machine epsilon of float64, the dtype every point is differentiated in.
EPS64 = float(np.finfo(np.float64).eps)
_EPS = {np.dtype(t): float(np.finfo(t).eps) for t in (np.float16, np.float32, np.float64)}


def as_point(x: Any, name: str = "x") -> tuple[np.ndarray, float]:
    """A private float64 copy of a 1-D, non-empty, finite point, and the machine epsilon
    of its dtype (float32 input -> float32 eps; integers and bools -> float64 eps)."""
    arr = x if type(x) is np.ndarray and x.dtype.kind == "f" else _as_real_array(x, name)
    if arr.ndim != 1:
        raise ValueError(f"`{name}` must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"`{name}` must not be empty")
    eps = _EPS.get(arr.dtype, EPS64)
    out = np.array(arr, dtype=np.float64, order="C", copy=True)
    if not math.isfinite(out.sum()):
        check_finite_array(out, name)
    if out.size > 2**31 - 1:
        raise ValueError(f"`{name}` is too long: at most 2**31 - 1 coordinates are supported")
    return out, eps


def as_matrix(X: Any, name: str = "X") -> np.ndarray:
    """A 2-D non-empty C-contiguous float32/float64 array; not copied when it already is one.

    Finiteness is *not* checked here (that would cost a pass over X); the loss API checks
    it only when a result comes out non-finite.
    """
    arr = _as_real_array(X, name)
    if arr.ndim != 2:
        raise ValueError(f"`{name}` must be 2-D (n_samples, n_features), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"`{name}` must not be empty, got shape {arr.shape}")
    dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float64
    return np.ascontiguousarray(arr, dtype=dtype)


def as_vector(v: Any, name: str, length: int | None, dtype: Any = np.float64,
              finite: bool = True) -> np.ndarray:
    """A 1-D C-contiguous array of `dtype` (of `length` when given), finite when asked."""
    arr = _as_real_array(v, name)
    if arr.ndim != 1:
        raise ValueError(f"`{name}` must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"`{name}` must not be empty")
    if length is not None and arr.shape[0] != length:
        raise ValueError(f"`{name}` must have length {length}, got {arr.shape[0]}")
    arr = np.ascontiguousarray(arr, dtype=dtype)
    if finite:
        check_finite_array(arr, name)
    return arr


def check_finite_array(arr: np.ndarray, name: str) -> None:
    """ValueError naming `name` and the first indices where arr is not finite."""
    if not np.all(np.isfinite(arr)):
        bad = np.flatnonzero(~np.isfinite(arr))
        raise ValueError(f"`{name}` must be finite, got non-finite values at indices "
                         f"{bad[:10].tolist()}")


def as_sample_weight(sw: Any, n: int, dtype: Any) -> tuple[np.ndarray | None, float]:
    """(weights or None, 1 / sum of weights); weights must be finite, >= 0, not all 0."""
    if sw is None:
        return None, 1.0 / n
    arr = as_vector(sw, "sample_weight", n, dtype)
    if np.any(arr < 0):
        raise ValueError("`sample_weight` must be non-negative")
    total = float(np.sum(arr, dtype=np.float64))
    if not total > 0:
        raise ValueError("`sample_weight` must not be all zero (its sum must be > 0)")
    return arr, 1.0 / total


def as_real_scalar(value: Any, name: str) -> float:
    """A real number as a float (Python or NumPy number, or a 0-d real array); an
    infinite or NaN value is returned as it is (``check_finite_scalar`` rejects it)."""
    if type(value) is float:
        return value
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be a real number, got bool")
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        value = value[()]
    if not isinstance(value, numbers.Real):
        shape = f" of shape {value.shape}" if isinstance(value, np.ndarray) else ""
        raise TypeError(f"`{name}` must be a real number, got {type(value).__name__}{shape}")
    try:
        return float(value)
    except OverflowError:
        return math.inf


def check_finite_scalar(value: Any, name: str) -> float:
    """A finite real number as a float (Python or NumPy number, or a 0-d real array)."""
    out = as_real_scalar(value, name)
    if not math.isfinite(out):
        raise ValueError(f"`{name}` must be finite, got {value}")
    return out


def check_positive(value: Any, name: str) -> float:
    out = check_finite_scalar(value, name)
    if out <= 0:
        raise ValueError(f"`{name}` must be > 0, got {out}")
    return out


def check_nonnegative(value: Any, name: str) -> float:
    if type(value) is float and 0.0 <= value < math.inf:     # the common case, at once
        return value
    out = check_finite_scalar(value, name)
    if out < 0:
        raise ValueError(f"`{name}` must be >= 0, got {out}")
    return out


def check_optional_positive(value: Any, name: str) -> float | None:
    return None if value is None else check_positive(value, name)


def check_optional_nonnegative(value: Any, name: str) -> float | None:
    return None if value is None else check_nonnegative(value, name)


def check_epochs(value: Any, name: str = "epochs") -> int:
    """A non-negative integer number of epochs / iterations."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be an integer, got bool")
    try:
        out = operator.index(value)
    except TypeError:
        raise TypeError(f"`{name}` must be an integer, got {type(value).__name__}") from None
    if out < 0:
        raise ValueError(f"`{name}` must be >= 0, got {out}")
    if out > 2**62:
        raise ValueError(f"`{name}` must be <= 2**62, got {out}")
    return out


def check_workers(workers: Any, allow_map: bool = False, name: str = "workers") -> Any:
    """None, an int >= 1, or -1 (all CPUs); with ``allow_map`` also a map-like callable.

    Returned as given (a NumPy integer as an int): what None and -1 mean is decided by
    ``fastgrad._threads``.
    """
    if workers is None:
        return None
    if allow_map and callable(workers) and not isinstance(workers, (numbers.Number, np.generic)):
        return workers
    if isinstance(workers, (bool, np.bool_)) or not isinstance(workers, (int, np.integer)):
        also = ", or a map-like callable" if allow_map else ""
        raise TypeError(f"`{name}` must be None, an int >= 1 or -1 (all CPUs){also}, "
                        f"got {type(workers).__name__}")
    out = int(workers)
    if out < 1 and out != -1:
        raise ValueError(f"`{name}` must be >= 1 or -1 (all CPUs), got {out}")
    return out


METHODS = ("central", "forward", "backward")
ORDERS = (2, 4, 6)


def check_method(method: Any, order: Any, methods: tuple[str, ...] = METHODS) -> tuple[str, int]:
    """Validate a finite-difference method name and accuracy order."""
    if not isinstance(method, str) or method not in methods:
        raise ValueError(f"`method` must be one of {', '.join(repr(m) for m in methods)}, "
                         f"got {method!r}")
    if isinstance(order, (bool, np.bool_)) or not isinstance(order, (numbers.Integral,)):
        raise TypeError(f"`order` must be an integer, got {type(order).__name__}")
    order = int(order)
    if method in ("central",):
        if order not in ORDERS:
            raise ValueError(f"`order` must be one of {ORDERS} for method='central', got {order}")
    elif order != 2:
        raise ValueError(
            f"`order` applies only to method='central'; got order={order} with method={method!r}")
    return method, order


def as_bounds(bounds: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(lb, ub) as float64 arrays of x's length; x must lie inside.  None passes through."""
    if bounds is None:
        return None
    if not isinstance(bounds, (tuple, list)) or len(bounds) != 2:
        raise TypeError("`bounds` must be a pair (lb, ub) of scalars or arrays")
    n = x.shape[0]
    out = []
    for name, b in zip(("lb", "ub"), bounds):
        arr = _as_real_array(b, f"bounds ({name})").astype(np.float64)
        if arr.ndim == 0:
            arr = np.full(n, float(arr))
        if arr.shape != (n,):
            raise ValueError(f"`bounds` ({name}) must be a scalar or have shape ({n},), "
                             f"got shape {arr.shape}")
        if np.any(np.isnan(arr)):
            raise ValueError(f"`bounds` ({name}) must not contain NaN")
        out.append(arr)
    lb, ub = out
    if np.any(lb > ub):
        raise ValueError("`bounds` must satisfy lb <= ub")
    outside = (x < lb) | (x > ub)
    if np.any(outside):
        raise ValueError(f"`x` must lie within `bounds`; it is outside at indices "
                         f"{np.flatnonzero(outside)[:10].tolist()}")
    return lb, ub


# --------------------------------------------------------------------------- what f returns
def check_returned(r: Any, shape: tuple | None, name: str = "f", what: str = "") -> np.ndarray:
    """What a user's function returned, as a float64 array of ``shape`` (any shape when
    None).  The one rule, also applied in C to a Python f called by the kernels
    (``_diff._convert_result``): real numbers (Python ints of any size included; beyond
    the float range they become +-inf), of the expected shape.  ``what`` is appended to
    the messages (for example " for a (4, 3) input")."""
    expected = "a real number" if shape == () else "an array of real numbers"
    if type(r) is int:
        r = _diff.int_to_float(r)
    if isinstance(r, (str, bytes)) or r is None:
        raise TypeError(f"`{name}` must return {expected}, got {type(r).__name__}{what}")
    a = np.asarray(r)
    if a.dtype.kind not in "iuf":
        raise TypeError(f"`{name}` must return {expected}, got {type(r).__name__} of dtype "
                        f"{a.dtype}{what}")
    if shape is not None and a.shape != shape:
        if shape == ():
            raise ValueError(f"`{name}` must return a scalar{what}, got an array of shape "
                             f"{a.shape}")
        raise ValueError(f"`{name}` must return an array of shape {shape}{what}, got shape "
                         f"{a.shape}")
    return a.astype(np.float64)


# --------------------------------------------------------------------------- steps, indices
def check_step(h: Any, n: int) -> np.ndarray:
    """A user's absolute step: a positive finite scalar or a length-n array of them."""
    if isinstance(h, (bool, np.bool_)):
        raise TypeError("`h` must be a positive number or array, got bool")
    arr = _as_real_array(h, "h").astype(np.float64)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    elif arr.shape != (n,):
        raise ValueError(f"`h` must be a scalar or have shape ({n},), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("`h` must be finite")
    if np.any(arr <= 0):
        raise ValueError("`h` must be > 0")
    return arr


def check_step_option(h: Any, method: str | None = None) -> Any:
    """None, "adaptive" (with method="central" when a method is given), a positive number,
    or an array (checked against x by ``check_step`` when x is known)."""
    if isinstance(h, str):
        if h != "adaptive":
            raise ValueError(f"`h` must be a number, an array or 'adaptive', got {h!r}")
        if method is not None and method != "central":
            raise ValueError("`h='adaptive'` works with method='central'")
        return h
    if h is None or np.ndim(h) > 0:
        return h
    return check_positive(h, "h")


def check_index(i: Any, n: int, name: str = "i") -> int:
    """A coordinate index in [-n, n), as an index in [0, n)."""
    if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)):
        raise TypeError(f"`{name}` must be an integer coordinate index, got {type(i).__name__}")
    if not -n <= int(i) < n:
        raise ValueError(f"`{name}` must be in [{-n}, {n}), got {i}")
    return int(i) % n


def as_direction(direction: Any, n: int) -> np.ndarray:
    """A finite, non-zero direction of length n, as float64."""
    u = as_vector(direction, "direction", n)
    if not np.any(u != 0):
        raise ValueError("`direction` must be non-zero")
    return u


def check_positive_int(value: Any, name: str) -> int:
    """An integer >= 1."""
    out = check_epochs(value, name)
    if out < 1:
        raise ValueError(f"`{name}` must be >= 1")
    return out


def check_finite_rows(X: np.ndarray, name: str = "X") -> None:
    """ValueError naming the first rows of X that hold a non-finite value."""
    if not np.all(np.isfinite(X)):
        rows = np.flatnonzero(~np.all(np.isfinite(X), axis=1))
        raise ValueError(f"`{name}` must be finite, got non-finite values in rows "
                         f"{rows[:10].tolist()}")


def as_gradient_parts(grad: Any) -> tuple[bool, list, list[np.ndarray]]:
    """A gradient given as one array or as a tuple/list of arrays and floats:
    (structured, the items as given, each as a finite real array).  Floating dtypes are
    kept, other real dtypes become float64."""
    structured = isinstance(grad, (tuple, list))
    items = list(grad) if structured else [grad]
    if structured and not items:
        raise ValueError("`grad` must not be empty")
    parts = []
    for k, item in enumerate(items):
        name = f"grad[{k}]" if structured else "grad"
        arr = _as_real_array(item, name)
        arr = arr.astype(arr.dtype if arr.dtype.kind == "f" else np.float64)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"`{name}` must be finite")
        parts.append(arr)
    return structured, items, parts


def check_descent_options(lr: Any, epochs: Any, max_norm: Any, tol: Any,
                          callback: Any) -> tuple[float, int, float | None, float | None]:
    """The options every gradient descent takes (the compiled fits and
    ``gradient_descent``): lr > 0, epochs >= 0, max_norm > 0 or None, tol >= 0 or None,
    callback callable or None.  Returns (lr, epochs, max_norm, tol)."""
    lr = check_positive(lr, "lr")
    epochs = check_epochs(epochs)
    max_norm = check_optional_positive(max_norm, "max_norm")
    tol = check_optional_nonnegative(tol, "tol")
    if callback is not None:
        check_callable(callback, "callback")
    return lr, epochs, max_norm, tol
# --------------------------------------------------------------------------- classes
def check_n_classes(value: Any, name: str = "n_classes") -> int:
    """A number of classes: an integer >= 2."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be an integer >= 2, got {type(value).__name__}")
    out = int(value)
    if out < 2:
        raise ValueError(f"`{name}` must be >= 2 (a softmax model has one column per class), "
                         f"got {out}")
    return out


def as_class_targets(y: Any, name: str, n: int, dtype: Any, n_classes: int | None = None,
                     n_classes_name: str = "n_classes") -> tuple[np.ndarray, int]:
    """Class targets of a softmax model, as the kernels take them, and the number of
    classes k: (the labels as `dtype` floats, shape (n,), k) for integer labels in
    0..k-1, or (the probabilities as `dtype`, shape (n, k), k) for a matrix of class
    probabilities (entries >= 0, rows summing to 1 to within 1e-6).

    ``n_classes`` (when given) is k: labels must be below it and a probability matrix
    must have that many columns; for labels it defaults to ``max(y) + 1``, which must
    be >= 2.  That labels lie in 0..k-1 is a rule of ``check_loss_values``."""
    arr = _as_real_array(y, name)
    if arr.ndim == 2:
        if arr.shape[0] != n:
            raise ValueError(f"`{name}` must have {n} rows (one per sample), got shape "
                             f"{arr.shape}")
        k = arr.shape[1]
        if n_classes is not None and k != n_classes:
            raise ValueError(f"`{name}` must have {n_classes} columns (one per class, as "
                             f"`{n_classes_name}`), got shape {arr.shape}")
        if k < 2:
            raise ValueError(f"`{name}` must have at least 2 columns (class probabilities), "
                             f"got shape {arr.shape}")
        given = arr.astype(np.float64)      # checked as given, before any rounding to dtype
        check_finite_array(given.ravel(), name)
        if np.any(given < 0):
            rows = np.flatnonzero(np.any(given < 0, axis=1))
            raise ValueError(f"`{name}` must hold class probabilities >= 0, got negative "
                             f"entries in rows {rows[:10].tolist()}")
        off = np.abs(np.sum(given, axis=1) - 1.0) > 1e-6
        if np.any(off):
            rows = np.flatnonzero(off)
            raise ValueError(f"`{name}` rows must sum to 1 (class probabilities, to within "
                             f"1e-6), they do not in rows {rows[:10].tolist()}")
        return np.ascontiguousarray(arr, dtype=dtype), k
    if arr.ndim != 1:
        raise ValueError(f"`{name}` must be 1-D class labels (n_samples,) or a 2-D matrix "
                         f"of class probabilities (n_samples, n_classes), got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"`{name}` must have length {n}, got {arr.shape[0]}")
    if arr.dtype.kind == "b":
        raise TypeError(f"`{name}` must hold integer class labels 0..k-1, got dtype bool")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            check_finite_array(arr, name)
        if np.any(arr != np.round(arr)):
            bad = np.flatnonzero(arr != np.round(arr))
            raise ValueError(f"`{name}` must hold integer class labels 0..k-1, got "
                             f"non-integer values at indices {bad[:10].tolist()}")
    k = n_classes
    if k is None:
        hi = arr.max()
        k = int(hi) + 1
        if k < 2:
            raise ValueError(f"`{name}` must hold labels of at least 2 classes 0..k-1 "
                             f"(its largest label is {hi}); give `{n_classes_name}`")
    return np.ascontiguousarray(arr, dtype=dtype), k


def as_weight_matrix(W: Any, name: str, d: int, k: int | None, dtype: Any) -> np.ndarray:
    """A (d, k) weight matrix (any k >= 2 when k is None) as a C-contiguous array of
    `dtype`; its values are checked by ``check_loss_values``."""
    arr = _as_real_array(W, name)
    want = f"({d}, {'k' if k is None else k})"
    if arr.ndim != 2 or arr.shape[0] != d or (k is not None and arr.shape[1] != k):
        raise ValueError(f"`{name}` must have shape {want} (n_features, n_classes), got "
                         f"shape {arr.shape}")
    if arr.shape[1] < 2:
        raise ValueError(f"`{name}` must have at least 2 columns (one per class), got shape "
                         f"{arr.shape}")
    return np.ascontiguousarray(arr, dtype=dtype)


def as_intercepts(b: Any, name: str, k: int) -> np.ndarray:
    """Intercepts of a k-output model: None -> zeros, else a length-k vector, as a
    float64 copy; its values are checked by ``check_loss_values``."""
    if b is None:
        return np.zeros(k)
    arr = _as_real_array(b, name)
    if arr.ndim != 1 or arr.shape[0] != k:
        raise ValueError(f"`{name}` must have shape ({k},) (one intercept per class), got "
                         f"shape {arr.shape}")
    return np.array(arr, dtype=np.float64)


def check_loss_values(loss: str, y: np.ndarray | None, W: np.ndarray | None, b: Any, *,
                      names: tuple[str, str, str] = ("y", "w", "b"), what: str = "") -> None:
    """Apply the value rules of a loss's inputs to inputs already in the kernels' form.

    The rules are stated once, in ``fastgrad._linear.value_fault``, which the compiled
    common case of the losses applies too: W and b finite, logistic targets in [0, 1],
    softmax class labels in 0..k-1 (k the columns of W, or the length of b).  y None
    (or W None) skips its rule.  A ValueError names the input that breaks one; ``what``
    completes the message on y (the loss, or where k comes from).
    """
    bv = np.array(b, dtype=np.float64, ndmin=1).reshape(-1)
    dtype = W.dtype if W is not None else np.float64 if y is None else y.dtype
    Wflat = np.zeros(1, dtype) if W is None else W.reshape(-1)
    y2 = np.empty((0, 1), dtype) if y is None else y.reshape(y.shape[0], -1)
    fault = _linear.FAULTS[_linear.value_fault(loss, y2, Wflat, bv)]
    if fault == "W":
        check_finite_array(Wflat, names[1])
    elif fault == "b":
        if np.ndim(b) == 0:
            raise ValueError(f"`{names[2]}` must be finite, got {b}")
        check_finite_array(bv, names[2])
    elif fault == "y" and loss == "logistic":
        raise ValueError(f"`{names[0]}` must lie in [0, 1] for {what}")
    elif fault == "y":
        assert y is not None
        k = bv.shape[0]
        bad = np.flatnonzero(~((y >= 0) & (y < k)))
        raise ValueError(f"`{names[0]}` class labels must be in 0..{k - 1} (k = {k}, from "
                         f"{what}), got {y[bad[0]]:g} at indices {bad[:10].tolist()}")


def as_pattern(pattern: Any, name: str, shape: tuple[int, int] | None = None) -> Any:
    """A sparsity pattern (boolean or 0/1 array-like, or any scipy.sparse matrix or array)
    as a boolean ``scipy.sparse.csr_array`` with sorted indices and no explicit zeros;
    ``shape`` (when given) is the shape it must have."""
    import scipy.sparse as sp

    if sp.issparse(pattern):
        csr = sp.csr_array(pattern, copy=True)
        data = csr.data
        if data.dtype.kind not in "biuf":
            raise TypeError(f"`{name}` must hold booleans or 0/1, got dtype {data.dtype}")
    else:
        if isinstance(pattern, (str, bytes)) or pattern is None:
            raise TypeError(f"`{name}` must be a boolean array-like or a scipy.sparse "
                            f"matrix, got {type(pattern).__name__}")
        try:
            arr = np.asarray(pattern)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"`{name}` must be a 2-D boolean array: {exc}") from None
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"`{name}` must hold booleans or 0/1, got dtype {arr.dtype}")
        if arr.ndim != 2:
            raise ValueError(f"`{name}` must be 2-D, got shape {arr.shape}")
        data = arr
        csr = None
    if data.dtype.kind != "b" and data.size and not np.all((data == 0) | (data == 1)):
        raise ValueError(f"`{name}` must hold booleans or 0/1 values only")
    if csr is None:
        csr = sp.csr_array(np.asarray(data, dtype=bool))
    if len(csr.shape) != 2 or 0 in csr.shape:
        raise ValueError(f"`{name}` must have a non-empty 2-D shape, got {csr.shape}")
    if shape is not None and tuple(csr.shape) != tuple(shape):
        raise ValueError(f"`{name}` must have shape {tuple(shape)}, got {tuple(csr.shape)}")
    csr.sum_duplicates()
    csr.eliminate_zeros()
    csr = sp.csr_array((np.ones(csr.nnz, dtype=bool), csr.indices.astype(np.intp),
                        csr.indptr.astype(np.intp)), shape=csr.shape)
    csr.has_sorted_indices = True
    return csr


def check_batch_size(value: Any, name: str = "batch_size") -> int | None:
    """None (full batch) or an integer >= 1."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be None or an integer >= 1, got "
                        f"{type(value).__name__}")
    return check_positive_int(value, name)


def check_bool(value: Any, name: str) -> bool:
    """A Python or NumPy bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be a bool, got {type(value).__name__}")
    return bool(value)


def as_generator(random_state: Any, name: str = "random_state") -> np.random.Generator:
    """A ``numpy.random.Generator`` from None (fresh entropy), an int >= 0 (its seed) or a
    Generator (used as given: drawing from it advances it)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, (bool, np.bool_)) or not isinstance(random_state,
                                                                    numbers.Integral):
        raise TypeError(f"`{name}` must be None, an int or a numpy.random.Generator, got "
                        f"{type(random_state).__name__}")
    if random_state < 0:
        raise ValueError(f"`{name}` must be >= 0, got {random_state}")
    return np.random.default_rng(int(random_state))
