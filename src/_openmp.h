/* The OpenMP runtime fastgrad's kernels are compiled against, asked at call time.
   Without OpenMP (FASTGRAD_NO_OPENMP=1) every parallel loop runs on one thread. */
#ifndef FASTGRAD_OPENMP_H
#define FASTGRAD_OPENMP_H
#ifdef __linux__
#include <unistd.h>
#include <sys/syscall.h>
static long fg_gettid(void) { return (long)syscall(SYS_gettid); }
#else
static long fg_gettid(void) { return -1; }
#endif
#ifdef _OPENMP
#include <omp.h>
static int fg_omp_max_threads(void) { return omp_get_max_threads(); }
static int fg_omp_enabled(void) { return 1; }
/* Kernel thread ids of the calling thread's team of n threads (out has n slots;
   slots of threads the runtime did not start stay 0). */
static void fg_team_tids(int n, long *out) {
    #pragma omp parallel num_threads(n)
    {
        int t = omp_get_thread_num();
        if (t < n) out[t] = fg_gettid();
    }
}
#else
static int fg_omp_max_threads(void) { return 1; }
static int fg_omp_enabled(void) { return 0; }
static void fg_team_tids(int n, long *out) { if (n > 0) out[0] = fg_gettid(); }
#endif
#endif
