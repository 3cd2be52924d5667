"""How many threads a compiled pass runs on: the one place that decides it.

Every parallel loop of fastgrad (the fused loss/gradient pass, the fit loop, the
native-f gradients and Hessians) takes its thread count from :func:`n_threads`:

- ``workers`` given as an int >= 1 is used as given; -1 means all the CPUs this process
  may use (:func:`available_cpus`).
- ``workers=None`` lets the policy choose the smallest of

  * the work of the call divided by :data:`MIN_WORK_PER_THREAD` (so that each thread
    gets enough work to pay for waking it: a call is never slower on threads than on
    one); a call of unknown cost (a native f) runs on one thread;
  * the CPUs this process may use: its affinity mask and its cgroup CPU quota
    (``cpu.max`` of cgroup v2, ``cpu.cfs_quota_us / cpu.cfs_period_us`` of v1);
  * the OpenMP limit in force in the calling thread, ``omp_get_max_threads()``, which
    ``OMP_NUM_THREADS`` and ``threadpoolctl.threadpool_limits(n, user_api="openmp")``
    set.

The affinity and the OpenMP limit are asked at each call (both can change while the
process runs); the cgroup quota is read once.  Nothing here changes a process-wide
setting.
"""
from __future__ import annotations

import math
import os
from typing import Any

from . import _openmp
from ._validation import check_workers

__all__ = ["MIN_WORK_PER_THREAD", "available_cpus", "cgroup_cpu_limit", "n_threads",
           "openmp_max_threads"]

#: Elements of X (n_samples * n_features) each thread of a pass must get before a second
#: thread is used.  Calibrated with ``python -m benchmarks.s8_threads --calibrate``
#: (mse_gradient on 1 and 2 threads timed in alternation, 15 rounds, on a 2-core machine
#: under load): time(2) / time(1) was, median (75th percentile), at 16384 elements per
#: thread 8.4 (24) for d = 10 and 0.86 (0.95) for d = 100; at 32768, 0.82 (1.40) and
#: 0.71 (0.75); at 65536, 0.69 (0.80) and 0.66 (0.68); at 131072, 0.80 (0.84) and
#: 0.66 (0.71).  65536 is the smallest work per thread at which two threads were faster
#: in three rounds out of four.
MIN_WORK_PER_THREAD = 1 << 16

_CGROUP_V2 = "/sys/fs/cgroup/cpu.max"
_CGROUP_V1 = ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us")


def _read(path: str) -> str | None:
    try:
        with open(path) as fh:
            return fh.read().strip()
    except (OSError, UnicodeDecodeError):
        return None


def cgroup_cpu_limit(v2_path: str = _CGROUP_V2,
                     v1_paths: tuple[str, str] = _CGROUP_V1) -> int | None:
    """CPUs allowed by the cgroup CPU quota (rounded up, at least 1), or None if unlimited.

    cgroup v2: ``cpu.max`` holds ``"<quota> <period>"`` or ``"max <period>"``.
    cgroup v1: ``cpu.cfs_quota_us`` (-1 when unlimited) and ``cpu.cfs_period_us``.
    Unreadable or malformed files count as no limit.
    """
    text = _read(v2_path)
    if text is not None:
        parts = text.split()
        if len(parts) != 2 or parts[0] == "max":
            return None
        quota_s, period_s = parts
    else:
        quota_t, period_t = _read(v1_paths[0]), _read(v1_paths[1])
        if quota_t is None or period_t is None:
            return None
        quota_s, period_s = quota_t, period_t
    try:
        quota, period = int(quota_s), int(period_s)
    except ValueError:
        return None
    if quota <= 0 or period <= 0:
        return None
    return max(1, math.ceil(quota / period))


_CGROUP: list[int | None] = []


def available_cpus() -> int:
    """CPUs this process may use: its affinity mask, capped by its cgroup CPU quota."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    if not _CGROUP:
        _CGROUP.append(cgroup_cpu_limit())
    quota = _CGROUP[0]
    return max(1, cpus if quota is None else min(cpus, quota))


def openmp_max_threads() -> int:
    """``omp_get_max_threads()`` of the calling thread (1 without OpenMP)."""
    return max(1, int(_openmp.max_threads()))


def n_threads(work: int | None, workers: Any = None, *,
              min_work: int = MIN_WORK_PER_THREAD) -> int:
    """Thread count of one compiled pass.

    Parameters
    ----------
    work : int or None
        Size of the call (elements of X read per pass); None for a call of unknown
        cost (a native f), which then runs on one thread unless ``workers`` says more.
    workers : None, int >= 1 or -1
        As given by the user (checked here): an int is used as given, -1 is all
        available CPUs, None lets the policy choose.
    min_work : int
        Work each thread must get.

    Returns
    -------
    int >= 1
    """
    workers = check_workers(workers)
    if workers is not None:
        return available_cpus() if workers == -1 else workers
    if work is None or work < 2 * min_work:
        return 1
    return max(1, min(work // min_work, available_cpus(), openmp_max_threads()))
