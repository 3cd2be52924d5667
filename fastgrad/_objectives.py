"""Turning what the user passes as ``f`` into something the kernels can call.

A Python callable becomes a ``PyObjective`` (called with the GIL, a fresh float64 array
per evaluation).  A native C function becomes a ``NativeObjective`` that the kernels call
directly with the GIL released.  Accepted native forms, all with the C signature
``double f(int n, double *x)`` or ``double f(int n, double *x, void *user_data)``:

- ``scipy.LowLevelCallable`` (its ``user_data`` pointer is passed through),
- a numba ``@cfunc("float64(intc, CPointer(float64))")`` object (or with a third
  ``voidptr`` argument),
- a ``ctypes`` function pointer of that signature.
"""
from __future__ import annotations

import ctypes
import threading
import types
from typing import Any

from . import _diff
from ._validation import check_callable

__all__ = ["make_objective", "is_native"]

_SIGNATURES = {
    "double(int,double*)": False,
    "double(int,constdouble*)": False,
    "double(int,double*,void*)": True,
    "double(int,constdouble*,void*)": True,
}


def native_callable(f: Any) -> Any:
    """A scipy.LowLevelCallable for a native f, or None when f is a plain Python callable."""
    if isinstance(f, _FUNCTION_TYPES):
        return None
    from scipy import LowLevelCallable

    if isinstance(f, LowLevelCallable):
        return f
    if isinstance(f, ctypes._CFuncPtr):  # type: ignore[attr-defined]
        return LowLevelCallable(f)
    # numba cfunc objects (numba.core.ccallback.CFunc) expose .ctypes and .address
    if type(f).__name__ == "CFunc" and hasattr(f, "ctypes") and hasattr(f, "address"):
        return LowLevelCallable(f.ctypes)
    return None


_FUNCTION_TYPES = (types.FunctionType, types.BuiltinFunctionType, types.MethodType)


def is_native(f: Any) -> bool:
    """True when f is a native C objective fastgrad can call without the GIL."""
    try:
        return native_callable(f) is not None
    except Exception:
        return False


_NATIVE_CACHE: dict = {}
_NATIVE_CACHE_SIZE = 64
_NATIVE_CACHE_LOCK = threading.Lock()


def cached_native(f: Any) -> Any:
    """The NativeObjective for a native f, built once per f object; None for Python f.

    Only for ``_diff.default_gradient``, which sets n per call on a private copy.
    Building one means parsing a LowLevelCallable's signature, which costs more than a
    whole gradient of a cheap native f; the cache keeps the last 64 (with f itself, so an
    id cannot be reused while its entry lives).
    """
    if isinstance(f, _FUNCTION_TYPES):
        return None
    hit = _NATIVE_CACHE.get(id(f))
    if hit is not None and hit[0] is f:
        return hit[1]
    if native_callable(f) is None:
        return None
    obj = make_objective(f, (), 1)
    with _NATIVE_CACHE_LOCK:  # threads may fill the cache at the same time
        while len(_NATIVE_CACHE) >= _NATIVE_CACHE_SIZE:
            _NATIVE_CACHE.pop(next(iter(_NATIVE_CACHE)), None)
        _NATIVE_CACHE[id(f)] = (f, obj)
    return obj


def make_objective(f: Any, args: tuple, n: int, out_shape: tuple = (), name: str = "f",
                   allow_native: bool = True) -> Any:
    """Wrap f for the kernels; raise TypeError/ValueError naming ``name`` when it can't be."""
    llc = native_callable(f)
    if llc is None:
        check_callable(f, name)
        return _diff.make_python_objective(f, args, n, out_shape, name)
    if not allow_native:
        raise TypeError(f"`{name}` must be a Python callable here; native objectives are "
                        "supported by numerical_gradient, partial_derivative, "
                        "directional_derivative and hessian")
    if args:
        raise ValueError("`args` cannot be used with a native `f`; pass data through "
                         "the LowLevelCallable's user_data pointer instead")
    if out_shape not in ((), (1,)):
        raise TypeError(f"a native `{name}` returns a scalar; it cannot be used for a Jacobian")
    sig = "".join(llc.signature.split())
    if sig not in _SIGNATURES:
        raise ValueError(f"`{name}` has C signature {llc.signature!r}; expected "
                         "'double (int, double *)' or 'double (int, double *, void *)'")
    address, user_data = _diff.capsule_pointers(tuple.__getitem__(llc, 0))
    return _diff.make_native_objective(address, user_data, _SIGNATURES[sig], n, llc)
