/* Per-sample terms of the logistic loss over a block of samples, written so that the
 * compiler vectorises the loop (used by _linear.pyx).
 *
 * For raw scores z (X @ w + b), labels y in [0, 1] and optional sample weights sw,
 * fg_logistic_terms_{d,f} overwrite z[i] with sw_i * (sigmoid(z_i) - y_i) (the
 * derivative of the loss with respect to z_i), add the sum of those to *gsum and
 * return sum_i sw_i * (log(1 + exp(z_i)) - y_i z_i) (0 when want_loss is 0).
 *
 * One e = exp(-|z|) per sample gives both the sigmoid and the loss:
 *   sigmoid(z)       = 1 / (1 + e)  for z >= 0,   e / (1 + e)  for z < 0,
 *   log(1 + exp(z))  = max(z, 0) + log1p(e),
 * which cannot overflow for any finite z.  exp and log1p are evaluated by the inline
 * polynomials below instead of libm calls, with no data-dependent branches, so GCC
 * turns the loop into SIMD code: SSE2 everywhere, and AVX2 + FMA when the CPU has it
 * (chosen at run time: the build needs no -march flag).  Accuracy, measured against
 * libm over z in [-745, 745]: exp within 2 ulp, log1p(e) within 2 ulp, so sigmoid and
 * loss agree with the libm formulas to a few units in the last place.  NaN in z gives
 * NaN in both the gradient term and the loss, as with libm.
 *
 * The functions are compiled with -fno-trapping-math (GCC may then turn the selects
 * into blends); this changes no result, only whether a comparison with NaN may raise
 * the "invalid" floating-point flag, which fastgrad never reads.
 */
#ifndef FASTGRAD_LOGISTIC_H
#define FASTGRAD_LOGISTIC_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#endif

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define FG_HAVE_AVX2_VARIANT 1
#endif

#if defined(__GNUC__)
#define FG_INLINE static inline __attribute__((always_inline))
#define FG_RESTRICT __restrict__
#elif defined(_MSC_VER)
#define FG_INLINE static __forceinline
#define FG_RESTRICT __restrict
#else
#define FG_INLINE static inline
#define FG_RESTRICT
#endif

static inline double fg_bits_to_double(uint64_t u) { double d; memcpy(&d, &u, 8); return d; }
static inline uint64_t fg_double_to_bits(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }

/* exp(x) for x in [-708, 0]: x = k ln2 + r with |r| <= ln2 / 2 (Cody-Waite, ln2 split
 * in two so k ln2 is exact), exp(r) by its degree-12 Taylor polynomial (truncation
 * error below 2e-16 relative), 2^k built from the exponent bits. */
FG_INLINE double fg_exp_nonpos(double x)
{
    const double log2e = 1.4426950408889634, ln2hi = 6.93147180369123816490e-01,
                 ln2lo = 1.90821492927058770002e-10, shift = 0x1.8p52;
    double t = x * log2e + shift;            /* k = round(x / ln2) in the low bits */
    double k = t - shift;
    double r = (x - k * ln2hi) - k * ln2lo;
    double p = 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    int64_t ki = (int64_t)(fg_double_to_bits(t) - fg_double_to_bits(shift));
    return p * fg_bits_to_double((uint64_t)(ki + 1023) << 52);
}

/* log1p(e) for e in [0, 1]: 2 atanh(s) with s = e / (2 + e) in [0, 1/3], by the odd
 * series of atanh up to s^35 (truncation error below 1e-17 relative). */
FG_INLINE double fg_log1p_unit(double e)
{
    double s = e / (2.0 + e), s2 = s * s;
    double p = 1.0 / 35;
    p = p * s2 + 1.0 / 33;
    p = p * s2 + 1.0 / 31;
    p = p * s2 + 1.0 / 29;
    p = p * s2 + 1.0 / 27;
    p = p * s2 + 1.0 / 25;
    p = p * s2 + 1.0 / 23;
    p = p * s2 + 1.0 / 21;
    p = p * s2 + 1.0 / 19;
    p = p * s2 + 1.0 / 17;
    p = p * s2 + 1.0 / 15;
    p = p * s2 + 1.0 / 13;
    p = p * s2 + 1.0 / 11;
    p = p * s2 + 1.0 / 9;
    p = p * s2 + 1.0 / 7;
    p = p * s2 + 1.0 / 5;
    p = p * s2 + 1.0 / 3;
    p = p * s2 + 1.0;
    return 2.0 * s * p;
}

/* One sample: e = exp(-|z|), set to 0 beyond |z| = 708 (the true value is below
 * 3.4e-308 there); the selects keep NaN: a NaN z fails every comparison and flows
 * into e.  Writes the gradient term to *g and returns the loss term, unweighted. */
FG_INLINE double
fg_logistic_sample(double zi, double yi, int want_loss, double *g)
{
    double a = fabs(zi);
    double e = fg_exp_nonpos(-(a > 708.0 ? 708.0 : a));
    e = a > 708.0 ? 0.0 : e;
    double inv = 1.0 / (1.0 + e);
    *g = (zi >= 0.0 ? inv : e * inv) - yi;
    return want_loss ? (zi > 0.0 ? zi : 0.0) + fg_log1p_unit(e) - yi * zi : 0.0;
}

/* The block loop for one element type T (double or float; arithmetic in double).
 * Sums run in FG_LANES interleaved partial sums (lane l takes samples i = l mod
 * FG_LANES), added in a fixed order at the end: the compiler may then keep each lane
 * in a SIMD register without reordering any single sum, and the result does not
 * depend on the SIMD width the CPU offers. */
#define FG_LANES 4
#define FG_LOGISTIC_LOOP(T, WANT_LOSS, WEIGHT)                                    \
    {                                                                             \
        double ls[FG_LANES] = {0.0}, gl[FG_LANES] = {0.0};                        \
        long i = 0, l;                                                            \
        for (; i + FG_LANES <= n; i += FG_LANES) {                                \
            for (l = 0; l < FG_LANES; l++) {                                      \
                double g, t = fg_logistic_sample((double)z[i + l] + b,            \
                                                 (double)y[i + l], WANT_LOSS, &g); \
                double w = WEIGHT(i + l);                                         \
                g *= w;                                                           \
                gl[l] += g;                                                       \
                ls[l] += w * t;                                                   \
                z[i + l] = (T)g;                                                  \
            }                                                                     \
        }                                                                         \
        for (; i < n; i++) {                                                      \
            double g, t = fg_logistic_sample((double)z[i] + b, (double)y[i],      \
                                             WANT_LOSS, &g);                      \
            double w = WEIGHT(i);                                                 \
            g *= w;                                                               \
            gs += g;                                                              \
            loss += w * t;                                                        \
            z[i] = (T)g;                                                          \
        }                                                                         \
        loss += (ls[0] + ls[1]) + (ls[2] + ls[3]);                                \
        gs += (gl[0] + gl[1]) + (gl[2] + gl[3]);                                  \
    }

#define FG_UNWEIGHTED(i) 1.0
#define FG_WEIGHTED(i) ((double)sw[i])

#define FG_LOGISTIC_FUNC(NAME, T, ATTR)                                           \
    static ATTR double NAME(T *FG_RESTRICT z, double b,                  \
                                       const T *FG_RESTRICT y, const T *FG_RESTRICT sw, \
                                       long n, int want_loss, double *gsum)       \
    {                                                                             \
        double loss = 0.0, gs = 0.0;                                              \
        if (sw == NULL) {                                                         \
            if (want_loss) FG_LOGISTIC_LOOP(T, 1, FG_UNWEIGHTED)                  \
            else FG_LOGISTIC_LOOP(T, 0, FG_UNWEIGHTED)                            \
        } else {                                                                  \
            if (want_loss) FG_LOGISTIC_LOOP(T, 1, FG_WEIGHTED)                    \
            else FG_LOGISTIC_LOOP(T, 0, FG_WEIGHTED)                              \
        }                                                                         \
        *gsum += gs;                                                              \
        return loss;                                                              \
    }

FG_LOGISTIC_FUNC(fg_logistic_terms_d_generic, double, )
FG_LOGISTIC_FUNC(fg_logistic_terms_f_generic, float, )

#ifdef FG_HAVE_AVX2_VARIANT
FG_LOGISTIC_FUNC(fg_logistic_terms_d_avx2, double, __attribute__((target("avx2,fma"))))
FG_LOGISTIC_FUNC(fg_logistic_terms_f_avx2, float, __attribute__((target("avx2,fma"))))

static int fg_cpu_has_avx2(void)
{
    static int known = -1;     /* a benign race: every thread computes the same value */
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return known;
}
#define FG_DISPATCH(NAME, ...) \
    (fg_cpu_has_avx2() ? NAME##_avx2(__VA_ARGS__) : NAME##_generic(__VA_ARGS__))
#else
#define FG_DISPATCH(NAME, ...) NAME##_generic(__VA_ARGS__)
#endif

static inline double fg_logistic_terms_d(double *z, double b, const double *y,
                                         const double *sw, long n, int want_loss,
                                         double *gsum)
{
    return FG_DISPATCH(fg_logistic_terms_d, z, b, y, sw, n, want_loss, gsum);
}

static inline double fg_logistic_terms_f(float *z, double b, const float *y,
                                         const float *sw, long n, int want_loss,
                                         double *gsum)
{
    return FG_DISPATCH(fg_logistic_terms_f, z, b, y, sw, n, want_loss, gsum);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#endif
