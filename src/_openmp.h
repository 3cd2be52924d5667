/* The OpenMP runtime fastgrad's kernels are compiled against, asked at call time.
   Without OpenMP (FASTGRAD_NO_OPENMP=1) every parallel loop runs on one thread. */
#ifndef FASTGRAD_OPENMP_H
#define FASTGRAD_OPENMP_H
#ifdef _OPENMP
#include <omp.h>
static int fg_omp_max_threads(void) { return omp_get_max_threads(); }
static int fg_omp_enabled(void) { return 1; }
#else
static int fg_omp_max_threads(void) { return 1; }
static int fg_omp_enabled(void) { return 0; }
#endif
#endif
