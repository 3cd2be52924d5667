"""Type stubs of ``fastgrad._diff``, the finite-difference kernels compiled from
``src/_diff.pyx``.

Keep in step with the ``def`` entry points and ``cdef class`` objectives there;
``tests/test_typing.py`` compares the names, parameters and defaults of both.
Typed memoryview parameters (``double[::1]``) accept any C-contiguous float64 buffer
and are written here as float64 arrays.
"""
import threading
from collections.abc import Callable
from typing import Any, NoReturn, TypeAlias

import numpy as np
import numpy.typing as npt

_F64: TypeAlias = npt.NDArray[np.float64]

#: Stencil ids by name: central2, central4, central6, forward1, backward1, forward2, backward2.
ST: dict[str, int]
#: Weights of each stencil, per unit step.
STENCIL_WEIGHTS: list[list[float]]
#: Whether each stencil uses f(x) itself.
STENCIL_USES_CENTER: npt.NDArray[np.bool_]
#: Offsets of each stencil, in units of the step.
STENCIL_OFFSETS: list[list[float]]
#: Per thread: the exception a signal handler raised inside a native kernel (``exc``),
#: raised by the entry point once the kernel has returned.
_interrupted: threading.local

class PyObjective:
    """A Python f, its extra arguments and the exception f raised, if any."""

    error: BaseException | None
    def __init__(self, f: Callable[..., Any], args: tuple[Any, ...], n: int,
                 out_shape: tuple[int, ...], name: str = "f") -> None: ...
    def reraise(self) -> None: ...

class NativeObjective:
    """A C function ``double f(int n, double *x[, void *user_data])``."""

    error: BaseException | None
    def __init__(self, address: int, user_data: int, with_user_data: bool, n: int,
                 keepalive: Any) -> None: ...
    def reraise(self) -> None: ...

class RecordObjective:
    """Stands in for f in a record pass: stores evaluation points lo:hi."""

    points: _F64
    error: BaseException | None
    def __init__(self, n: int, m: int, lo: int = 0, hi: int = 0) -> None: ...
    @property
    def count(self) -> int: ...
    def reraise(self) -> None: ...

class ReplayObjective:
    """Stands in for f in a replay pass: returns precomputed values in order."""

    error: BaseException | None
    def __init__(self, n: int, values: npt.ArrayLike) -> None: ...
    def reraise(self) -> NoReturn: ...

Objective: TypeAlias = PyObjective | NativeObjective | RecordObjective | ReplayObjective

def int_to_float(r: int) -> float: ...
def evaluate_shape(po: PyObjective, x: _F64) -> tuple[_F64, tuple[int, ...]]: ...
def make_python_objective(f: Callable[..., Any], args: tuple[Any, ...], n: int,
                          out_shape: tuple[int, ...] = (), name: str = "f") -> PyObjective: ...
def make_native_objective(address: int, user_data: int, with_user_data: bool, n: int,
                          keepalive: Any = None) -> NativeObjective: ...
def evaluate_at(objective: Objective, x: _F64) -> _F64: ...
def finite_differences(objective: Objective, x: _F64, h: _F64, coords: npt.NDArray[np.intp],
                       sid: npt.NDArray[np.int8], f0: _F64 | None = None,
                       nthreads: int = 1, groups: npt.NDArray[np.intp] | None = None
                       ) -> _F64: ...
def default_gradient(f: NativeObjective | Callable[..., Any], args: tuple[Any, ...],
                     x: object, stencil: int, rel: float,
                     nthreads: int = 1) -> tuple[_F64, bool] | None: ...
def representable(x: _F64, h: _F64 | None = None, rel: float = 0.0) -> _F64 | None: ...
def hessian_from_f(objective: Objective, x: _F64, h: _F64, f0: float,
                   nthreads: int = 1) -> _F64: ...
def pair_values(objective: Objective, x: _F64, h: _F64, pi: npt.NDArray[np.intp],
                pj: npt.NDArray[np.intp], nthreads: int = 1) -> _F64: ...
def directional(objective: Objective, x: _F64, direction: _F64, step: float, stencil: int,
                f0: Any = None) -> _F64: ...
def capsule_pointers(capsule: object) -> tuple[int, int]: ...
def call_rows(f: Callable[..., Any], args: tuple[Any, ...], points: npt.NDArray[Any]
              ) -> list[Any]: ...
