"""How many threads a compiled pass runs on: the one place that decides it.

Every parallel loop of fastgrad (the fused loss/gradient pass, the fit loop, the
native-f gradients and Hessians) takes its thread count from :func:`n_threads`:

- ``workers`` given as an int >= 1 is used as given; -1 means all the CPUs this process
  may use (:func:`available_cpus`).
- ``workers=None`` lets the policy choose the smallest of

  * the work of the call (:func:`pass_work`) divided by :data:`MIN_WORK_PER_THREAD` (so
    that each thread gets enough work to pay for waking it: a call is not slower on
    threads than on one); a call of unknown cost (a native f) runs on one thread;
  * the CPUs this process may use: its affinity mask and its cgroup CPU quota
    (``cpu.max`` of cgroup v2, ``cpu.cfs_quota_us / cpu.cfs_period_us`` of v1), less the
    threads of this process that are running at this moment besides the caller and
    fastgrad's own OpenMP workers (:func:`busy_threads`): typically NumPy's BLAS workers,
    which keep spinning for a while after each NumPy call.  Starting a second thread on
    a CPU one of them occupies makes the two pools take turns and the pass slower, from
    a pass of :data:`BUSY_MIN_WORK` on (a smaller pass was faster on two threads even
    beside a spinning worker, and does not read ``/proc``);
  * the OpenMP limit in force in the calling thread, ``omp_get_max_threads()``, which
    ``OMP_NUM_THREADS`` and ``threadpoolctl.threadpool_limits(n, user_api="openmp")``
    set.

The affinity, the running threads and the OpenMP limit are asked at each call that has
the work for more than one thread (they change while the process runs); the cgroup
quota is read once.  Nothing here changes a process-wide setting.
"""
from __future__ import annotations

import math
import os
import threading
from typing import Any

from . import _linear, _openmp
from ._validation import check_workers

__all__ = ["BUSY_MIN_WORK", "MIN_WORK_PER_THREAD", "available_cpus", "busy_threads",
           "cgroup_cpu_limit", "n_threads", "openmp_max_threads", "pass_work"]

#: Work each thread of a pass must get before a second thread is used, in the units of
#: :func:`pass_work` (a float64 element of X read by the four-row loops).  Measured with
#: ``python -m benchmarks.s8_threads --calibrate [--d=N]`` (``mse_gradient`` on 1 and 2
#: threads timed in alternation, no other thread of the process running), t(2)/t(1),
#: median of single calls, at 2**14 / 2**15 / 2**16 units per thread:
#:
#: - a 2-core Intel Xeon (KVM guest, AVX-512), d = 10 and 20: 0.85 / 0.69 / 0.61;
#:   d = 100 (the BLAS path, half a unit per element): 0.82 / 0.71 / 0.49;
#: - a 2-core AMD Zen 4 (EPYC), d = 10 and 20: 0.82-0.89 / 0.70-0.72 / 0.65;
#: - a 2-core AMD Zen 3, d = 10 and 20: 0.74-0.79 from 2**15 on (the mean of a series
#:   of calls, which counts the occasional call where a thread waits for its CPU:
#:   1.03-1.04 at 2**15, 0.93 at 2**16).
#:
#: Below 2**14 units per thread two threads were slower than one (1.04-1.14 at 2**13 on
#: the Xeon).  2**15 keeps a margin on every machine measured.  A thread of another
#: library running at the time of the call (OpenBLAS's workers spin for ~0.1 s after
#: each NumPy call) is handled apart, by :func:`busy_threads`: beside one, two threads of
#: fastgrad took 1.2x to 35x the time of one from 2**18 units per thread.
MIN_WORK_PER_THREAD = 1 << 15

#: Work of a pass (same units) from which the threads of other libraries running at the
#: time of the call (:func:`busy_threads`) take CPUs off; a smaller pass ignores them,
#: and /proc is not read for it.  Beside a spinning OpenBLAS worker (right after a NumPy
#: call), t(2)/t(1) of ``mse_gradient`` on the 2-core Xeon was 0.85 / 0.70 / 0.61 / 0.57
#: at 2**15 / 2**16 / 2**17 / 2**18 units in all, then 22x at 2**19 and 3-7x above (the
#: pipeline column of ``--calibrate``); the Zen 4 machine gave 20-27x from 2**19, and in
#: section 8 ``workers=2`` won inside the pipeline at 10000x10 (10**5 units) on the Xeon
#: and on Zen 3 (1.5x and 1.3x faster than one thread).  2**17 stays two octaves below
#: the cliff.
BUSY_MIN_WORK = 1 << 17


def pass_work(rows: int, d: int, k: int = 1, itemsize: int = 8) -> int:
    """Work of one pass over ``rows`` rows of a ``d``-feature X with ``k`` outputs, in
    units of a float64 element read by the four-row loops: the time of the pass on one
    thread, roughly, wherever X fits in cache (out of cache every path streams X at the
    same bandwidth and gains more from a second thread).

    A float32 element counts half (half the bytes).  A one-output pass of at least
    ``_linear.GEMV_MIN_D`` features calls BLAS gemv, which took half the time per
    element of the four-row loops on cached blocks: its elements count half too.

    >>> pass_work(1000, 10), pass_work(1000, 10, itemsize=4), pass_work(1000, 100)
    (10000, 5000, 50000)
    """
    work = rows * d * k * itemsize // 8
    return work // 2 if k == 1 and d >= _linear.GEMV_MIN_D else work


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
    cpus = _openmp.affinity_cpus()          # sched_getaffinity, -1 where there is none
    if cpus < 1:
        cpus = os.cpu_count() or 1
    if not _CGROUP:
        _CGROUP.append(cgroup_cpu_limit())
    quota = _CGROUP[0]
    return max(1, cpus if quota is None else min(cpus, quota))


def openmp_max_threads() -> int:
    """``omp_get_max_threads()`` of the calling thread (1 without OpenMP)."""
    return max(1, int(_openmp.max_threads()))


#: Kernel thread ids of fastgrad's OpenMP workers, and the team size last learnt for
#: each calling thread: the OpenMP runtime may end workers when a smaller team runs and
#: start new ones (new ids) when the team grows again, so a change of size learns again.
_TEAM: set[int] = set()
_LEARNT: dict[int, int] = {}
_TEAM_LOCK = threading.Lock()


def _learn_team(n: int) -> None:
    me = threading.get_native_id()
    if _LEARNT.get(me) == n:
        return
    tids = _openmp.team_tids(n)           # the team the coming pass runs on, caller first
    with _TEAM_LOCK:
        _TEAM.update(tids[1:])
        _LEARNT[me] = n


def busy_threads(task_dir: str | None = None) -> int:
    """Threads of this process running now (state R), other than the calling thread and
    fastgrad's OpenMP workers; 0 where ``/proc`` cannot tell.

    By default the compiled reader ``fastgrad._openmp.busy_threads`` answers (about
    2 µs: it keeps the ``/proc`` files open between calls and does not read fastgrad's
    workers); where it cannot, and when ``task_dir`` (a folder laid out as
    ``/proc/self/task``) is given, the folder is scanned from Python (about 10 µs).
    """
    if task_dir is None:
        busy = _openmp.busy_threads()
        if busy >= 0:
            return busy
        task_dir = "/proc/self/task"
    me = threading.get_native_id()
    try:
        tids = os.listdir(task_dir)
    except OSError:
        return 0
    busy = 0
    for t in tids:
        if not t.isdigit() or int(t) == me or int(t) in _TEAM:
            continue
        try:
            fd = os.open(f"{task_dir}/{t}/stat", os.O_RDONLY)
            try:
                stat = os.read(fd, 512)
            finally:
                os.close(fd)
        except OSError:
            continue
        end = stat.rfind(b")")
        if stat[end + 2:end + 3] == b"R":
            busy += 1
    return busy


def n_threads(work: int | None, workers: Any = None, *,
              min_work: int = MIN_WORK_PER_THREAD, count_busy: bool = True) -> int:
    """Thread count of one compiled pass.

    Parameters
    ----------
    work : int or None
        Size of the call (:func:`pass_work` of the pass); None for a call of unknown
        cost (a native f), which then runs on one thread unless ``workers`` says more.
    workers : None, int >= 1 or -1
        As given by the user (checked here): an int is used as given, -1 is all
        available CPUs, None lets the policy choose.
    min_work : int
        Work each thread must get.
    count_busy : bool
        Whether CPUs running other threads of the process (:func:`busy_threads`) are
        taken off (only for ``work >= BUSY_MIN_WORK``).  False gives the most threads
        a long call (a fit) may use; the fit then asks again, with
        ``count_busy=True``, before each run of epochs, so that a NumPy call just
        before the fit costs it a few epochs on fewer threads, not the whole fit.

    Returns
    -------
    int >= 1
    """
    workers = check_workers(workers)
    if workers is not None:
        return available_cpus() if workers == -1 else workers
    if work is None or work < 2 * min_work:
        return 1
    cpus = available_cpus()
    n = min(work // min_work, cpus, openmp_max_threads())
    if n > 1 and count_busy and work >= BUSY_MIN_WORK:
        _learn_team(n)
        n = min(n, cpus - busy_threads())
    return max(1, n)
