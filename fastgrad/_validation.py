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

__all__ = [
    "check_callable", "check_args", "as_point", "as_matrix", "as_vector",
    "as_sample_weight", "check_positive", "check_nonnegative", "check_optional_positive",
    "check_optional_nonnegative", "check_epochs", "check_method", "check_finite_scalar",
]

_REAL_KINDS = "biuf"


def _dtype_of(a: Any) -> np.dtype:
    return np.asarray(a).dtype if not isinstance(a, np.ndarray) else a.dtype


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


_EPS64 = float(np.finfo(np.float64).eps)
_EPS = {np.dtype(t): float(np.finfo(t).eps) for t in (np.float16, np.float32, np.float64)}


def as_point(x: Any, name: str = "x") -> tuple[np.ndarray, float]:
    """A private float64 copy of a 1-D, non-empty, finite point, and the machine epsilon
    of its dtype (float32 input -> float32 eps; integers and bools -> float64 eps)."""
    arr = x if type(x) is np.ndarray and x.dtype.kind == "f" else _as_real_array(x, name)
    if arr.ndim != 1:
        raise ValueError(f"`{name}` must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"`{name}` must not be empty")
    eps = _EPS.get(arr.dtype, _EPS64)
    out = np.array(arr, dtype=np.float64, order="C", copy=True)
    if not math.isfinite(out.sum()) and not np.all(np.isfinite(out)):
        bad = np.flatnonzero(~np.isfinite(out))
        raise ValueError(f"`{name}` must be finite, got non-finite values at indices "
                         f"{bad[:10].tolist()}")
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
    if finite and not np.all(np.isfinite(arr)):
        bad = np.flatnonzero(~np.isfinite(arr))
        raise ValueError(f"`{name}` must be finite, got non-finite values at indices "
                         f"{bad[:10].tolist()}")
    return arr


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


def check_finite_scalar(value: Any, name: str) -> float:
    """A finite real number as a float (Python or NumPy number, or a 0-d real array)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be a real number, got bool")
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        value = value[()]
    if not isinstance(value, numbers.Real):
        shape = f" of shape {value.shape}" if isinstance(value, np.ndarray) else ""
        raise TypeError(f"`{name}` must be a real number, got {type(value).__name__}{shape}")
    try:
        out = float(value)
    except OverflowError:
        out = math.inf
    if not math.isfinite(out):
        raise ValueError(f"`{name}` must be finite, got {value}")
    return out


def check_positive(value: Any, name: str) -> float:
    out = check_finite_scalar(value, name)
    if out <= 0:
        raise ValueError(f"`{name}` must be > 0, got {out}")
    return out


def check_nonnegative(value: Any, name: str) -> float:
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
