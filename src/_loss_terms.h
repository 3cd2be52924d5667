/* Per-sample and per-row terms of fastgrad's losses over a block of scores, written
 * so that the compiler vectorises the loops (used by ``loss_terms`` in _linear.pyx).
 *
 * Every function here takes the raw scores of a block of samples (X_b @ W, without the
 * intercept), overwrites them with sw_i * d loss_i / d z_i (the weighted derivative of
 * the loss with respect to the score), adds the sums of those terms over the block to
 * gsum (one per output column) and returns the weighted loss sum of the block.
 *
 * MSE (fg_mse_terms_{d,f}), one output: loss (z + b - y)^2, gradient term 2 (z + b - y).
 *
 * Logistic (fg_logistic_terms_{d,f}), one output, labels y in [0, 1]:
 * loss log(1 + exp(z)) - y z, gradient term sigmoid(z) - y.  One e = exp(-|z|) per
 * sample gives both the sigmoid and the loss:
 *   sigmoid(z)       = 1 / (1 + e)  for z >= 0,   e / (1 + e)  for z < 0,
 *   log(1 + exp(z))  = max(z, 0) + log1p(e),
 * which cannot overflow for any finite z.
 *
 * Softmax (fg_softmax_terms_{d,f}), K outputs, one row of K scores per sample, y a
 * class label (0..K-1, stored as a float) or a row of K class probabilities:
 * loss sum_k y_k (lse - z_k) with lse = m + log(sum_k exp(z_k - m)) and m the row
 * maximum, gradient term p_k sum_k y_k - y_k with p = softmax(z) (p - y when the row
 * sums to 1).  Every exp has a non-positive argument, so nothing overflows for finite
 * scores; the per-row helpers are fg_softmax_row_shift and fg_softmax_row_grad, the
 * exps and logs of a block run in vectorised loops between them.
 *
 * exp, log1p and log are evaluated by the inline polynomials below instead of libm calls,
 * with no data-dependent branches, so GCC turns the loops into SIMD code: SSE2
 * everywhere, and AVX2 + FMA for the logistic and softmax terms when the CPU has it
 * (chosen at run time: the build needs no -march flag).  Accuracy, measured against
 * libm over z in [-745, 745]: exp within 2 ulp, log1p(e) within 2 ulp, so sigmoid and
 * loss agree with the libm formulas to a few units in the last place.  NaN in z gives
 * NaN in both the gradient term and the loss, as with libm.  The MSE terms are compiled
 * once, for the baseline instruction set (no FMA contraction: the same bits on every
 * x86-64 CPU).
 *
 * The functions are compiled with -fno-trapping-math (GCC may then turn the selects
 * into blends); this changes no result, only whether a comparison with NaN may raise
 * the "invalid" floating-point flag, which fastgrad never reads.
 */
#ifndef FASTGRAD_LOSS_TERMS_H
#define FASTGRAD_LOSS_TERMS_H

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

/* ------------------------------------------------------------------ per-sample terms */

/* MSE, one sample at score zi (intercept included): writes the gradient term 2 r to *g
 * and returns the loss term r^2, r = zi - yi, both unweighted.  The loss is always
 * computed (it costs one multiplication), want_loss is there for the common signature. */
FG_INLINE double
fg_mse_sample(double zi, double yi, int want_loss, double *g)
{
    double r = zi - yi;
    (void)want_loss;
    *g = 2.0 * r;
    return r * r;
}

/* Logistic, one sample: e = exp(-|z|), set to 0 beyond |z| = 708 (the true value is
 * below 3.4e-308 there); the selects keep NaN: a NaN z fails every comparison and
 * flows into e.  Writes the gradient term to *g and returns the loss term, unweighted. */
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

/* log(s) for s >= 1 (finite): s = 2^e m with m in [1, 2), log(s) = e ln2 + log1p(m - 1)
 * by fg_log1p_unit, without a libm call or a branch (so a loop of it vectorises); within
 * a few ulp of libm.  NaN gives NaN. */
FG_INLINE double fg_log_ge1(double s)
{
    const double ln2hi = 6.93147180369123816490e-01, ln2lo = 1.90821492927058770002e-10;
    uint64_t u = fg_double_to_bits(s);
    /* the biased exponent (s > 0) as a double without an int64 -> double conversion
     * (none in AVX2): 2^52 + E, exactly, minus 2^52 + 1023 */
    double e = fg_bits_to_double(0x4330000000000000ULL | (u >> 52)) - (0x1p52 + 1023.0);
    double m = fg_bits_to_double((u & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL);
    double r = e * ln2hi + (e * ln2lo + fg_log1p_unit(m - 1.0));
    return s == s ? r : s;
}

/* Softmax, one row of K scores, first half: z[0:K] (doubles, intercepts included)
 * becomes z_k - m with m the row maximum (every entry <= 0, the maximum exactly 0).
 * Returns sum_k y_k (m - z_k) (0 when want_loss is 0), for y a class label (yrow NULL)
 * or a row yrow[0:K] of class probabilities, and writes sum_k y_k to *sy (1 for a
 * label).  The loss of the row is that plus sy log(sum_k exp(z_k - m)) (every term >= 0:
 * nothing cancels); a NaN score makes the row NaN. */
FG_INLINE double
fg_softmax_row_shift(double *FG_RESTRICT z, long K, long label,
                     const double *FG_RESTRICT yrow, int want_loss, double *sy)
{
    double m = z[0], part = 0.0, total = 1.0;
    long k;
    for (k = 1; k < K; k++)
        m = z[k] > m ? z[k] : m;
    if (yrow == NULL) {
        if (want_loss)
            part = m - z[label];
    } else {
        total = 0.0;
        for (k = 0; k < K; k++) {
            total += yrow[k];
            if (want_loss)
                part += yrow[k] * (m - z[k]);
        }
    }
    for (k = 0; k < K; k++)
        z[k] -= m;
    *sy = total;
    return part;
}

/* exp(x) of n shifted scores x <= 0, in place, set to 0 below x = -708 (the true value
 * is below 3.4e-308); NaN stays NaN.  No branch: the loop vectorises. */
FG_INLINE void fg_exp_shifted(double *FG_RESTRICT x, long n)
{
    long i;
    for (i = 0; i < n; i++) {
        double v = x[i];
        double e = fg_exp_nonpos(v < -708.0 ? -708.0 : v);
        x[i] = v < -708.0 ? 0.0 : e;
    }
}

/* Softmax, one row, second half: e[0:K] the exps of the shifted scores, s their sum and
 * sy = sum_k y_k; e becomes the gradient terms p_k sy - y_k with p = e / s (unweighted). */
FG_INLINE void
fg_softmax_row_grad(double *FG_RESTRICT e, long K, long label,
                    const double *FG_RESTRICT yrow, double s, double sy)
{
    double inv = sy / s;
    long k;
    if (yrow == NULL) {
        for (k = 0; k < K; k++)
            e[k] *= inv;
        e[label] -= 1.0;
    } else {
        for (k = 0; k < K; k++)
            e[k] = e[k] * inv - yrow[k];
    }
}

/* ------------------------------------------------------------------ block loops */

/* Sums over a block run in FG_LANES interleaved partial sums (lane l takes samples
 * i = l mod FG_LANES), added in a fixed order at the end (fg_lane_sum): the compiler
 * may then keep each lane in a SIMD register without reordering any single sum, and
 * the result does not depend on the SIMD width the CPU offers. */
#define FG_LANES 4
#if FG_LANES < 1 || (FG_LANES & (FG_LANES - 1)) != 0
#error "FG_LANES must be a power of two"
#endif

/* The sum of the FG_LANES lane sums, pairwise over neighbours: ((l0 + l1) + (l2 + l3))
 * for four lanes. */
FG_INLINE double fg_lane_sum(const double *lanes)
{
    double t[FG_LANES];
    long l, step;
    for (l = 0; l < FG_LANES; l++)
        t[l] = lanes[l];
    for (step = 1; step < FG_LANES; step *= 2)
        for (l = 0; l + step < FG_LANES; l += 2 * step)
            t[l] += t[l + step];
    return t[0];
}

/* The block loop of a one-output loss for one element type T (double or float;
 * arithmetic in double): SAMPLE is fg_mse_sample or fg_logistic_sample. */
#define FG_LANE_LOOP(T, SAMPLE, WANT_LOSS, WEIGHT)                                \
    {                                                                             \
        double ls[FG_LANES] = {0.0}, gl[FG_LANES] = {0.0};                        \
        long i = 0, l;                                                            \
        for (; i + FG_LANES <= n; i += FG_LANES) {                                \
            for (l = 0; l < FG_LANES; l++) {                                      \
                double g, t = SAMPLE((double)z[i + l] + b, (double)y[i + l],      \
                                     WANT_LOSS, &g);                              \
                double w = WEIGHT(i + l);                                         \
                g *= w;                                                           \
                gl[l] += g;                                                       \
                ls[l] += w * t;                                                   \
                z[i + l] = (T)g;                                                  \
            }                                                                     \
        }                                                                         \
        for (; i < n; i++) {                                                      \
            double g, t = SAMPLE((double)z[i] + b, (double)y[i], WANT_LOSS, &g);  \
            double w = WEIGHT(i);                                                 \
            g *= w;                                                               \
            gs += g;                                                              \
            loss += w * t;                                                        \
            z[i] = (T)g;                                                          \
        }                                                                         \
        loss += fg_lane_sum(ls);                                                  \
        gs += fg_lane_sum(gl);                                                    \
    }

#define FG_UNWEIGHTED(i) 1.0
#define FG_WEIGHTED(i) ((double)sw[i])

/* z[0:n] scores without the intercept b, y[0:n] targets, sw[0:n] weights or NULL. */
#define FG_SAMPLES_FUNC(NAME, T, SAMPLE, ATTR)                                    \
    static ATTR double NAME(T *FG_RESTRICT z, double b,                           \
                            const T *FG_RESTRICT y, const T *FG_RESTRICT sw,      \
                            long n, int want_loss, double *gsum)                  \
    {                                                                             \
        double loss = 0.0, gs = 0.0;                                              \
        if (sw == NULL) {                                                         \
            if (want_loss) FG_LANE_LOOP(T, SAMPLE, 1, FG_UNWEIGHTED)              \
            else FG_LANE_LOOP(T, SAMPLE, 0, FG_UNWEIGHTED)                        \
        } else {                                                                  \
            if (want_loss) FG_LANE_LOOP(T, SAMPLE, 1, FG_WEIGHTED)                \
            else FG_LANE_LOOP(T, SAMPLE, 0, FG_WEIGHTED)                          \
        }                                                                         \
        *gsum += gs;                                                              \
        return loss;                                                              \
    }

/* The softmax terms of a block for one element type T, with LABELS (y holds class
 * labels) and WANT_LOSS constants.  Stages over the block, so that the exps and logs of
 * all rows run in vectorised loops: (1) per row, the scores plus intercepts, shifted by
 * the row maximum (fg_softmax_row_shift), into D (rows x K doubles); (2) exp of all of
 * D (fg_exp_shifted); (3) per row, s = sum_k exp; (4) the loss terms
 * part + sy log(s) of all rows (fg_log_ge1); (5) per row, the gradient terms
 * (fg_softmax_row_grad), weighted, added to gsum and written back to Z.  The loss sum
 * runs row by row in order. */
#define FG_SOFTMAX_LOOP(T, LABELS, WANT_LOSS)                                     \
    {                                                                             \
        for (i = 0; i < rows; i++) {                                              \
            T *Zi = Z + i * K;                                                    \
            double *Di = D + i * K;                                               \
            for (k = 0; k < K; k++)                                               \
                Di[k] = (double)Zi[k] + b[k];                                     \
            if (LABELS) {                                                         \
                part[i] = fg_softmax_row_shift(Di, K, (long)y[i], NULL, WANT_LOSS, \
                                               &sy[i]);                           \
            } else {                                                              \
                for (k = 0; k < K; k++)                                           \
                    yr[k] = (double)y[i * K + k];                                 \
                part[i] = fg_softmax_row_shift(Di, K, 0, yr, WANT_LOSS, &sy[i]);  \
            }                                                                     \
        }                                                                         \
        fg_exp_shifted(D, rows * K);                                              \
        for (i = 0; i < rows; i++) {                                              \
            double t = 0.0, *Di = D + i * K;                                      \
            for (k = 0; k < K; k++)                                               \
                t += Di[k];                                                       \
            ssum[i] = t;                                                          \
        }                                                                         \
        if (WANT_LOSS) {                                                          \
            for (i = 0; i < rows; i++)                                            \
                part[i] += sy[i] * fg_log_ge1(ssum[i]);                           \
            for (i = 0; i < rows; i++)                                            \
                loss += (sw == NULL ? 1.0 : (double)sw[i]) * part[i];             \
        }                                                                         \
        for (i = 0; i < rows; i++) {                                              \
            T *Zi = Z + i * K;                                                    \
            double *Di = D + i * K;                                               \
            double w = sw == NULL ? 1.0 : (double)sw[i];                          \
            if (LABELS) {                                                         \
                fg_softmax_row_grad(Di, K, (long)y[i], NULL, ssum[i], sy[i]);     \
            } else {                                                              \
                for (k = 0; k < K; k++)                                           \
                    yr[k] = (double)y[i * K + k];                                 \
                fg_softmax_row_grad(Di, K, 0, yr, ssum[i], sy[i]);                \
            }                                                                     \
            for (k = 0; k < K; k++) {                                             \
                double g = w * Di[k];                                             \
                gsum[k] += g;                                                     \
                Zi[k] = (T)g;                                                     \
            }                                                                     \
        }                                                                         \
    }

/* Z[0:rows*K] the scores (rows, K) without the intercepts b[0:K]; y[0:rows*ycols] the
 * labels (ycols 1) or probabilities (ycols K); sw[0:rows] or NULL; gsum[0:K]; buf holds
 * rows * K + 3 rows + K doubles (FG_SOFTMAX_BUF). */
#define FG_SOFTMAX_BUF(rows, K) ((rows) * (K) + 3 * (rows) + (K))
#define FG_SOFTMAX_FUNC(NAME, T, ATTR)                                            \
    static ATTR double NAME(T *FG_RESTRICT Z, long rows, long K,                  \
                            const double *FG_RESTRICT b, const T *FG_RESTRICT y,  \
                            long ycols, const T *FG_RESTRICT sw, int want_loss,   \
                            double *FG_RESTRICT gsum, double *FG_RESTRICT buf)     \
    {                                                                             \
        double loss = 0.0, *D = buf, *part = buf + rows * K, *sy = part + rows;   \
        double *ssum = sy + rows, *yr = ssum + rows;                              \
        long i, k;                                                                \
        if (ycols == 1) {                                                         \
            if (want_loss) FG_SOFTMAX_LOOP(T, 1, 1)                               \
            else FG_SOFTMAX_LOOP(T, 1, 0)                                         \
        } else {                                                                  \
            if (want_loss) FG_SOFTMAX_LOOP(T, 0, 1)                               \
            else FG_SOFTMAX_LOOP(T, 0, 0)                                         \
        }                                                                         \
        return loss;                                                              \
    }

/* MSE: the baseline instruction set only (see the top of this file). */
FG_SAMPLES_FUNC(fg_mse_terms_d, double, fg_mse_sample, )
FG_SAMPLES_FUNC(fg_mse_terms_f, float, fg_mse_sample, )

FG_SAMPLES_FUNC(fg_logistic_terms_d_generic, double, fg_logistic_sample, )
FG_SAMPLES_FUNC(fg_logistic_terms_f_generic, float, fg_logistic_sample, )
FG_SOFTMAX_FUNC(fg_softmax_terms_d_generic, double, )
FG_SOFTMAX_FUNC(fg_softmax_terms_f_generic, float, )

#ifdef FG_HAVE_AVX2_VARIANT
#define FG_AVX2 __attribute__((target("avx2,fma")))
FG_SAMPLES_FUNC(fg_logistic_terms_d_avx2, double, fg_logistic_sample, FG_AVX2)
FG_SAMPLES_FUNC(fg_logistic_terms_f_avx2, float, fg_logistic_sample, FG_AVX2)
FG_SOFTMAX_FUNC(fg_softmax_terms_d_avx2, double, FG_AVX2)
FG_SOFTMAX_FUNC(fg_softmax_terms_f_avx2, float, FG_AVX2)

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

static inline double fg_softmax_terms_d(double *Z, long rows, long K, const double *b,
                                        const double *y, long ycols, const double *sw,
                                        int want_loss, double *gsum, double *buf)
{
    return FG_DISPATCH(fg_softmax_terms_d, Z, rows, K, b, y, ycols, sw, want_loss, gsum, buf);
}

static inline double fg_softmax_terms_f(float *Z, long rows, long K, const double *b,
                                        const float *y, long ycols, const float *sw,
                                        int want_loss, double *gsum, double *buf)
{
    return FG_DISPATCH(fg_softmax_terms_f, Z, rows, K, b, y, ycols, sw, want_loss, gsum, buf);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#endif
