"""The OpenMP runtime of fastgrad's kernels (compiled as ``fastgrad._openmp``).

``max_threads()`` is ``omp_get_max_threads()`` of the calling thread: the limit set by
``OMP_NUM_THREADS`` or by ``threadpoolctl.threadpool_limits(n, user_api="openmp")``
(which calls ``omp_set_num_threads``), asked at each call, as that limit may change
while the process runs.  Only ``fastgrad._threads`` calls it.
"""

import numpy as np

cdef extern from "_openmp.h" nogil:
    int fg_omp_max_threads()
    int fg_omp_enabled()
    void fg_team_tids(int n, long *out)


def max_threads():
    """omp_get_max_threads() of the calling thread (1 when built without OpenMP)."""
    return fg_omp_max_threads()


def enabled():
    """True when the kernels were compiled with OpenMP."""
    return bool(fg_omp_enabled())


def team_tids(int n):
    """Kernel thread ids of the OpenMP team of n threads the calling thread starts (the
    threads a parallel pass of fastgrad runs on); 0 for a thread not started."""
    cdef long[::1] out = np.zeros(max(n, 1), dtype=np.int_)
    with nogil:
        fg_team_tids(n, &out[0])
    return [int(t) for t in out[:n] if t > 0]
