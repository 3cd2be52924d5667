"""The OpenMP runtime of fastgrad's kernels (compiled as ``fastgrad._openmp``).

``max_threads()`` is ``omp_get_max_threads()`` of the calling thread: the limit set by
``OMP_NUM_THREADS`` or by ``threadpoolctl.threadpool_limits(n, user_api="openmp")``
(which calls ``omp_set_num_threads``), asked at each call, as that limit may change
while the process runs.  ``team_tids(n)`` and ``running_tids()`` tell which threads
are fastgrad's OpenMP workers and which threads of the process are running now.  Only
``fastgrad._threads`` calls these.
"""

import numpy as np

cdef extern from "_openmp.h" nogil:
    int fg_omp_max_threads()
    int fg_omp_enabled()
    void fg_team_tids(int n, long *out)
    int fg_affinity_cpus()

# These keep state between calls: called with the GIL held, which serialises them.
cdef extern from "_openmp.h":
    int fg_running_tids(long *out, int cap)
    void fg_add_team(long tid)


def max_threads():
    """omp_get_max_threads() of the calling thread (1 when built without OpenMP)."""
    return fg_omp_max_threads()


def enabled():
    """True when the kernels were compiled with OpenMP."""
    return bool(fg_omp_enabled())


def team_tids(int n):
    """Kernel thread ids of the OpenMP team of n threads the calling thread starts (the
    threads a parallel pass of fastgrad runs on, the caller first); its workers (all but
    the caller) are from now on left out of ``running_tids`` and ``busy_threads``."""
    cdef long[::1] out = np.zeros(max(n, 1), dtype=np.int_)
    cdef int i
    with nogil:
        fg_team_tids(n, &out[0])
    for i in range(1, n):
        fg_add_team(out[i])
    return [int(t) for t in out[:n] if t > 0]


def busy_threads():
    """The number of this process's threads running (state R) at this moment, other
    than the calling thread and fastgrad's OpenMP workers, from /proc with its files
    kept open between calls (a few microseconds); -1 where /proc cannot tell."""
    return fg_running_tids(NULL, 0)


def running_tids():
    """The kernel thread ids of the threads ``busy_threads`` counts (None where /proc
    cannot tell)."""
    cdef long out[256]
    cdef int k = fg_running_tids(out, 256)
    return None if k < 0 else [out[i] for i in range(min(k, 256))]


def affinity_cpus():
    """CPUs in the calling thread's affinity mask; -1 where it cannot be read."""
    return fg_affinity_cpus()
