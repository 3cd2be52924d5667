#pragma GCC optimize("no-trapping-math")
/* Branch-free exp(-|z|) and log1p(e) for e in [0, 1], written so that GCC vectorises
   the loop that calls them (no libm calls, no data-dependent branches). */
#include <stdint.h>
#include <string.h>
#include <math.h>
static inline double as_double(uint64_t u){ union {uint64_t u; double d;} c; c.u = u; return c.d; }
static inline uint64_t as_u64(double d){ union {uint64_t u; double d;} c; c.d = d; return c.u; }

/* exp(x) for x in [-745, 0]: Cody-Waite reduction, degree-12 Taylor on |r| <= ln2/2. */
__attribute__((always_inline)) static inline double exp_nonpos(double x){
    const double log2e = 1.4426950408889634, ln2hi = 6.93147180369123816490e-01,
                 ln2lo = 1.90821492927058770002e-10, shift = 0x1.8p52;
    double t = x * log2e + shift;
    double k = t - shift;                        /* round(x / ln2) */
    double r = (x - k * ln2hi) - k * ln2lo;
    double p = 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;  p = p * r + 1.0 / 3628800.0;  p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;     p = p * r + 1.0 / 5040.0;     p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;       p = p * r + 1.0 / 24.0;       p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;               p = p * r + 1.0;              p = p * r + 1.0;
    int64_t ki = (int64_t)(as_u64(t) - as_u64(shift));  /* k as integer */
    return p * as_double((uint64_t)(ki + 1023) << 52);
}

/* log1p(e) for e in [0, 1]: 2 atanh(s) with s = e / (2 + e) in [0, 1/3]. */
__attribute__((always_inline)) static inline double log1p_unit(double e){
    double s = e / (2.0 + e), s2 = s * s;
    double p = 1.0 / 35;
    p = p * s2 + 1.0 / 33; p = p * s2 + 1.0 / 31; p = p * s2 + 1.0 / 29; p = p * s2 + 1.0 / 27;
    p = p * s2 + 1.0 / 25; p = p * s2 + 1.0 / 23; p = p * s2 + 1.0 / 21; p = p * s2 + 1.0 / 19;
    p = p * s2 + 1.0 / 17; p = p * s2 + 1.0 / 15; p = p * s2 + 1.0 / 13; p = p * s2 + 1.0 / 11;
    p = p * s2 + 1.0 / 9;  p = p * s2 + 1.0 / 7;  p = p * s2 + 1.0 / 5;  p = p * s2 + 1.0 / 3;
    p = p * s2 + 1.0;
    return 2.0 * s * p;
}

#pragma GCC push_options
#pragma GCC target("avx2,fma")
/* The logistic loss terms of a block: z[i] (raw scores incl. b) -> g[i] = sigmoid(z) - y,
   returns sum log(1 + exp(z)) - y z. */
static double logistic_block_avx2(const double *restrict z, const double *restrict y, double *restrict g,
                      long n, int want_loss){
    double loss = 0.0;
    if (want_loss) {
        for (long i = 0; i < n; i++){
            double zi = z[i], a = fabs(zi);
            double m = (double)(zi >= 0.0);
            a = a - (double)(a > 708.0) * a + (double)(a > 708.0) * 708.0;
            double e = exp_nonpos(-a);
            double inv = 1.0 / (1.0 + e);
            double p = inv * (m + (1.0 - m) * e);
            g[i] = p - y[i];
            loss += 0.5 * (zi + fabs(zi)) + log1p_unit(e) - y[i] * zi;
        }
    } else {
        for (long i = 0; i < n; i++){
            double zi = z[i], a = fabs(zi);
            double m = (double)(zi >= 0.0);
            a = a - (double)(a > 708.0) * a + (double)(a > 708.0) * 708.0;
            double e = exp_nonpos(-a);
            double inv = 1.0 / (1.0 + e);
            double p = inv * (m + (1.0 - m) * e);
            g[i] = p - y[i];
        }
    }
    return loss;
}
#pragma GCC pop_options
/* The logistic loss terms of a block: z[i] (raw scores incl. b) -> g[i] = sigmoid(z) - y,
   returns sum log(1 + exp(z)) - y z. */
static double logistic_block_generic(const double *restrict z, const double *restrict y, double *restrict g,
                      long n, int want_loss){
    double loss = 0.0;
    if (want_loss) {
        for (long i = 0; i < n; i++){
            double zi = z[i], a = fabs(zi);
            double m = (double)(zi >= 0.0);
            a = a - (double)(a > 708.0) * a + (double)(a > 708.0) * 708.0;
            double e = exp_nonpos(-a);
            double inv = 1.0 / (1.0 + e);
            double p = inv * (m + (1.0 - m) * e);
            g[i] = p - y[i];
            loss += 0.5 * (zi + fabs(zi)) + log1p_unit(e) - y[i] * zi;
        }
    } else {
        for (long i = 0; i < n; i++){
            double zi = z[i], a = fabs(zi);
            double m = (double)(zi >= 0.0);
            a = a - (double)(a > 708.0) * a + (double)(a > 708.0) * 708.0;
            double e = exp_nonpos(-a);
            double inv = 1.0 / (1.0 + e);
            double p = inv * (m + (1.0 - m) * e);
            g[i] = p - y[i];
        }
    }
    return loss;
}

double logistic_block(const double *restrict z, const double *restrict y, double *restrict g,
                      long n, int want_loss){
    static int has_avx2 = -1;
    if (has_avx2 < 0) { __builtin_cpu_init(); has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
    return has_avx2 ? logistic_block_avx2(z, y, g, n, want_loss) : logistic_block_generic(z, y, g, n, want_loss);
}
