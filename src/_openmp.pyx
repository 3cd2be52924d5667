"""The OpenMP runtime of fastgrad's kernels (compiled as ``fastgrad._openmp``).

``max_threads()`` is ``omp_get_max_threads()`` of the calling thread: the limit set by
``OMP_NUM_THREADS`` or by ``threadpoolctl.threadpool_limits(n, user_api="openmp")``
(which calls ``omp_set_num_threads``), asked at each call, as that limit may change
while the process runs.  Only ``fastgrad._threads`` calls it.
"""

cdef extern from "_openmp.h" nogil:
    int fg_omp_max_threads()
    int fg_omp_enabled()


def max_threads():
    """omp_get_max_threads() of the calling thread (1 when built without OpenMP)."""
    return fg_omp_max_threads()


def enabled():
    """True when the kernels were compiled with OpenMP."""
    return bool(fg_omp_enabled())
