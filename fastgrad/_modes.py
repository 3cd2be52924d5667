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

``workers`` thus means **threads** for a native f (the compiled loop runs on that many
OpenMP threads, their count decided by ``fastgrad._threads``) and **processes** for a
Python f (a ``multiprocessing`` pool).  The pool of a given size is created at its first
use and kept for the next calls in the same process (a gradient called in a loop does
not start a pool per call); it is shut down at interpreter exit, or at once by
:func:`close_pools`.

Vectorized calls are chunked so that one chunk of points holds at most
``VECTORIZED_CHUNK_BYTES`` bytes (16 MiB).
"""
from __future__ import annotations

import atexit
import multiprocessing
import multiprocessing.pool
import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _diff, _objectives, _threads, _validation
from ._validation import check_returned

__all__ = ["Evaluator", "check_workers", "close_pools", "VECTORIZED_CHUNK_BYTES"]

#: Largest block of points handed to a vectorized f in one call, in bytes.
VECTORIZED_CHUNK_BYTES = 1 << 24


def check_workers(workers: Any) -> int | Callable[..., Any]:
    """1 (serial, for None), a positive number of workers (-1 = all CPUs), or a map-like
    callable.  The cost of f is unknown, so None means one worker here."""
    workers = _validation.check_workers(workers, allow_map=True)
    if callable(workers):
        return workers
    return _threads.n_threads(None, workers)


_POOLS: dict[tuple[int, int], multiprocessing.pool.Pool] = {}
_POOLS_LOCK = threading.Lock()


def _pool(n: int) -> multiprocessing.pool.Pool:
    """The process pool of n workers of this process, created at its first use."""
    key = (os.getpid(), n)        # a forked child does not use its parent's pools
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = multiprocessing.get_context().Pool(n)
    return pool


def _pool_map(n: int, call: Callable[[Any], Any], items: list, chunksize: int = 1) -> list:
    """pool.map on the kept pool of n workers.  An exception raised by f leaves the pool
    usable; an interrupt (KeyboardInterrupt, SystemExit) discards it, as its workers may
    still be busy with the abandoned points."""
    pool = _pool(n)
    try:
        return pool.map(call, items, chunksize=chunksize)
    except Exception:
        raise
    except BaseException:
        with _POOLS_LOCK:
            if _POOLS.get((os.getpid(), n)) is pool:
                del _POOLS[(os.getpid(), n)]
        pool.terminate()
        raise


@atexit.register
def close_pools() -> None:
    """Shut down the process pools kept for Python f's ``workers=`` (done at exit)."""
    with _POOLS_LOCK:
        mine = [p for (pid, _), p in _POOLS.items() if pid == os.getpid()]
        _POOLS.clear()
    for pool in mine:
        pool.terminate()
        pool.join()


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
            results = _reraise(_pool_map(self.workers, call, rows,
                                         chunksize=max(1, k // (4 * self.workers))))
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
            return _reraise(_pool_map(self.workers, call, [row.copy() for row in points]))
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
