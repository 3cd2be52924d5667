"""How f is evaluated: the one place that decides between the evaluation modes.

- **direct**: the kernel calls f itself, point after point: a Python f with the GIL
  held (on an array f may keep), a native C f without the GIL, on ``workers`` threads
  when asked (each thread perturbs its own copy of x).
- **batched**: ``vectorized=True`` (f takes a (k, n) array of points and returns (k,)
  or (k, m)), or ``workers`` given as a process count or a map-like callable
  (``multiprocessing.Pool.map``, ``concurrent.futures.Executor.map``, a Dask
  ``Client.get_executor().map``).  The kernel runs twice: a *record* pass collects the
  points it would evaluate, they are evaluated in bulk, and a *replay* pass runs the same
  kernel on those values.  So every mode uses the same stencil code and gives bitwise
  the same result as the serial path.

Vectorized calls are chunked so that one chunk of points holds at most
``VECTORIZED_CHUNK_BYTES`` bytes (16 MiB).
"""
from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _diff, _objectives
from ._validation import check_returned

__all__ = ["Evaluator", "check_workers", "VECTORIZED_CHUNK_BYTES"]

#: Largest block of points handed to a vectorized f in one call, in bytes.
VECTORIZED_CHUNK_BYTES = 1 << 24


def available_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def check_workers(workers: Any) -> int | Callable[..., Any]:
    """1 (serial), a positive number of workers (-1 = all CPUs), or a map-like callable."""
    if workers is None:
        return 1
    if callable(workers):
        return workers
    if isinstance(workers, (bool, np.bool_)) or not isinstance(workers, (int, np.integer)):
        raise TypeError("`workers` must be an int or a map-like callable, got "
                        f"{type(workers).__name__}")
    workers = int(workers)
    if workers == -1:
        return available_cpus()
    if workers < 1:
        raise ValueError(f"`workers` must be >= 1 or -1 (all CPUs), got {workers}")
    return workers


class _Raised:
    """Carries a StopIteration raised by f through a map-like, which would otherwise
    take it for the end of its iteration and silently drop the remaining points."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _PointCall:
    """f(x, *args) as a picklable callable, for process pools and cluster executors."""

    def __init__(self, f: Callable[..., Any], args: tuple) -> None:
        self.f = f
        self.args = args

    def __call__(self, x: np.ndarray) -> Any:
        try:
            return self.f(x, *self.args)
        except StopIteration as exc:
            return _Raised(exc)


def _reraise(results: list) -> list:
    """Raise the first exception a map-like carried back as a result."""
    for r in results:
        if isinstance(r, _Raised):
            raise r.exc
    return results


class Evaluator:
    """f wrapped for one call of a public function, in the mode the user asked for."""

    def __init__(self, f: Any, args: tuple, n: int, out_shape: tuple = (), *,
                 vectorized: bool = False, workers: Any = None, name: str = "f",
                 allow_native: bool = True) -> None:
        self.f, self.args, self.n, self.name = f, args, n, name
        self.out_shape = out_shape
        self.m = int(np.prod(out_shape)) if out_shape else 1
        self.vectorized = bool(vectorized)
        self.workers = check_workers(workers)
        self.native = _objectives.native_callable(f) is not None
        if self.native and self.vectorized:
            raise ValueError("`vectorized=True` needs a Python f; a native f is already "
                             "evaluated in C")
        self.direct = self.native or (not self.vectorized and self.workers == 1)
        self.nthreads = self.workers if (self.native and isinstance(self.workers, int)) else 1
        if self.native and callable(self.workers):
            raise ValueError("a native f runs on threads: give `workers` as an int")
        self.obj = _objectives.make_objective(f, args, n, out_shape, name=name,
                                              allow_native=allow_native)

    # -- single points -------------------------------------------------------------
    def at(self, x: np.ndarray) -> np.ndarray:
        """f(x) as a float64 array of shape (m,)."""
        if self.vectorized:
            r = self.f(x[None, :].copy(), *self.args)
            return check_returned(r, (1,) + self.out_shape, self.name,
                                  " for a (1, n) input").reshape(-1)
        return _diff.evaluate_at(self.obj, x)

    # -- many points ---------------------------------------------------------------
    def _rows(self, points: np.ndarray) -> np.ndarray:
        k = points.shape[0]
        if self.vectorized:
            r = self.f(points, *self.args)
            return check_returned(r, (k,) + self.out_shape, self.name,
                                  f" for a ({k}, {self.n}) input").reshape(k, self.m)
        call = _PointCall(self.f, self.args)
        rows = list(points)
        if callable(self.workers):
            results = _reraise(list(self.workers(call, rows)))
        else:
            with multiprocessing.get_context().Pool(self.workers) as pool:
                results = _reraise(pool.map(call, rows, chunksize=max(1, k // (4 * self.workers))))
        if len(results) != k:
            raise ValueError(f"`workers` returned {len(results)} results for {k} points")
        out = np.empty((k, self.m))
        for j, r in enumerate(results):
            out[j] = check_returned(r, self.out_shape, self.name).reshape(-1)
        return out

    def raw(self, points: np.ndarray) -> list:
        """f at each row of ``points`` (any dtype), raw results, in this mode."""
        if self.native:
            raise ValueError(f"a native `{self.name}` cannot be evaluated at these points")
        if self.vectorized:
            return list(self.f(points, *self.args))
        call = _PointCall(self.f, self.args)
        if callable(self.workers):
            return _reraise(list(self.workers(call, [row.copy() for row in points])))
        if self.workers > 1:
            with multiprocessing.get_context().Pool(self.workers) as pool:
                return _reraise(pool.map(call, [row.copy() for row in points]))
        return _diff.call_rows(self.f, self.args, points)

    def run(self, kernel: Callable[[Any, int], Any], count: bool = False) -> Any:
        """kernel(objective, nthreads) in this mode; (result, nfev) when count is True."""
        if self.direct:
            result = kernel(self.obj, self.nthreads)
            if not count:
                return result
            probe = _diff.RecordObjective(self.n, self.m, 0, 0)
            kernel(probe, 1)
            return result, probe.count
        probe = _diff.RecordObjective(self.n, self.m, 0, 0)
        kernel(probe, 1)
        total = probe.count
        values = np.empty((total, self.m))
        chunk = total
        if self.vectorized:
            chunk = max(1, VECTORIZED_CHUNK_BYTES // (8 * self.n))
        for lo in range(0, total, chunk):
            hi = min(total, lo + chunk)
            rec = _diff.RecordObjective(self.n, self.m, lo, hi)
            kernel(rec, 1)
            values[lo:hi] = self._rows(rec.points)
        result = kernel(_diff.ReplayObjective(self.n, values), 1)
        return (result, total) if count else result
