"""Turning what the user passes as ``f`` into something the kernels can call.

A Python callable becomes a ``PyObjective`` (called with the GIL on a float64 array
that f may keep, see ``_diff._py_evaluate``).  A native C function becomes a
``NativeObjective`` that the kernels call directly with the GIL released.  Accepted
native forms, all with the C signature ``double f(int n, double *x)`` or
``double f(int n, double *x, void *user_data)``:

- ``scipy.LowLevelCallable`` (read through its public ``function``, ``user_data`` and
  ``signature``; the ``user_data`` pointer is passed through),
- a numba ``@cfunc("float64(intc, CPointer(float64))")`` object (or with a third
  ``voidptr`` argument), recognised by its documented ``address`` and ``ctypes``
  attributes (``ctypes`` a function pointer at ``address``, with the C signature),
- a ``ctypes`` function pointer of that signature.
"""
from __future__ import annotations

import ctypes
import datetime
import importlib
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
    if isinstance(f, _CFUNC_PTR):
        return LowLevelCallable(f)
    # A numba cfunc documents ``address`` (of the compiled function) and ``ctypes`` (a
    # ctypes function pointer to it, carrying its C signature): recognised by these.
    cf = getattr(f, "ctypes", None)
    if isinstance(cf, _CFUNC_PTR) and _pointer_value(cf) == getattr(f, "address", None):
        return LowLevelCallable(cf)
    return None


#: The base class of ctypes function pointers (``ctypes.CFUNCTYPE(...)`` instances).
_CFUNC_PTR = ctypes._CFuncPtr  # type: ignore[attr-defined]
#: The type of PyCapsule objects (``types.CapsuleType`` from Python 3.13).
_CAPSULE = getattr(types, "CapsuleType", type(datetime.datetime_CAPI))


def _pointer_value(obj: Any) -> int:
    """The address held by a ctypes pointer or function pointer, a cffi pointer or a
    PyCapsule (0 for None or NULL); ValueError for anything else."""
    if obj is None:
        return 0
    if isinstance(obj, (_CFUNC_PTR, ctypes.c_void_p)):
        return ctypes.cast(obj, ctypes.c_void_p).value or 0
    if isinstance(obj, _CAPSULE):
        return int(_diff.capsule_pointers(obj)[0])
    try:
        cffi = importlib.import_module("cffi")
    except ImportError:  # then f cannot be a cffi pointer either
        cffi = None
    if cffi is not None:
        ffi = cffi.FFI()
        if isinstance(obj, ffi.CData):
            return int(ffi.cast("uintptr_t", obj))
    raise ValueError(f"cannot read a C pointer from {type(obj).__name__}")


def _llc_pointers(llc: Any) -> tuple[int, int]:
    """(function address, user_data address) of a LowLevelCallable, from its public
    ``function`` and ``user_data`` (a LowLevelCallable given as ``function`` brings its
    own user_data when none is given)."""
    from scipy import LowLevelCallable

    function, user_data = llc.function, llc.user_data
    if isinstance(function, LowLevelCallable):
        inner_fn, inner_data = _llc_pointers(function)
        return inner_fn, inner_data if user_data is None else _pointer_value(user_data)
    return _pointer_value(function), _pointer_value(user_data)


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
    address, user_data = _llc_pointers(llc)
    return _diff.make_native_objective(address, user_data, _SIGNATURES[sig], n, llc)
