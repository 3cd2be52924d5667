"""Analytic losses, gradients and the batch gradient-descent loop of fastgrad
(compiled as ``fastgrad._linear``).

Called by ``fastgrad._losses``, which has checked shapes, dtypes and values and
converted y, W and sample weights to X's dtype (float32 or float64, one fused source).

The model is linear with K outputs: scores ``X @ W + b`` with W of shape (d, K) in X's
dtype and b of shape (K,) in float64; K = 1 for the MSE and logistic losses, K = the
number of classes for the softmax (multinomial logistic) loss.  A loss is an id
(``LOSSES``); what a pass computes (loss, gradient) is a separate set of flags.

Layer 1, per-sample / per-row helpers (``noexcept nogil``, C in ``_loss_terms.h``):
``fg_mse_sample``, ``fg_logistic_sample``, and for the softmax loss
``fg_softmax_row_shift`` / ``fg_softmax_row_grad`` (the row maximum subtracted, the
log-sum-exp, the gradient terms) with the exps and logs of a block in vectorised loops
between them; the block loops there run them over the scores of a block, and
``loss_terms`` picks the loss.
Layer 2, kernels: ``block_pass`` runs one fused pass over a block of rows (scores,
loss terms and gradient together, X read once); ``full_pass`` runs it over fixed row
blocks, in parallel when asked, and adds the block partial sums in block order, so the
result does not depend on the number of threads; ``finalize`` turns the raw sums into
the penalised mean loss and its gradient; ``fit_epochs`` is the gradient-descent loop
(full batch or mini-batches), whose steps are the optimizer rules of
``_optim_rules.pxd`` (``optimizer_step``).
Layer 3, the ``def`` entry points ``block_sums`` (raw sums), ``loss_grad``,
``loss_grad_fast`` and ``fit``.
"""
import numpy as np

cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange, threadid
from scipy.linalg.cython_blas cimport dgemm, dgemv, sgemm, sgemv
from cpython.exc cimport PyErr_CheckSignals
from libc.math cimport fabs, sqrt, isfinite, INFINITY, NAN

from _optim_rules cimport OptRule, rule_begin, rule_delta, rule_make

cnp.import_array()

cdef enum:              # loss ids
    LOSS_MSE = 0
    LOSS_LOGISTIC = 1
    LOSS_SOFTMAX = 2

cdef enum:              # what a pass computes: flags, apart from the loss id
    WANT_LOSS = 1       # the loss sum (without it the logistic and softmax terms skip their logs)
    WANT_GRAD = 2       # the gradient sums

cdef enum:
    SMALL_D = 32        # below this many features a one-output block is walked 4 rows at a time

cdef enum:
    FIT_RUNNING = 0
    FIT_CONVERGED = 1
    FIT_MAX_EPOCHS = 2
    FIT_DIVERGED = 3
    FIT_STOPPED = 4

# Rows per block: a block holds about BLOCK_ELEMS elements of X (64 KiB of float64),
# so the second use of a row (the gradient update) finds it in L1/L2 cache.  With K > 1
# outputs, up to four times that (fewer, larger gemm calls: each packs its operands),
# and at most GEMM_ELEMS multiply-adds per gemm (rows * d * K): half of OpenBLAS's
# threshold for threading a gemm (65536 * 4), so each gemm runs on the calling thread.
cdef enum:
    BLOCK_ELEMS = 8192
    GEMM_ELEMS = 131072
    PERM_ELEMS = 1 << 18    # shuffled mini-batches: row indices drawn ahead at a time

LOSSES = {"mse": LOSS_MSE, "logistic": LOSS_LOGISTIC, "softmax": LOSS_SOFTMAX}
#: Features from which a one-output pass calls BLAS gemv (below: the four-row loops).
GEMV_MIN_D = SMALL_D
STATUS = {FIT_CONVERGED: "converged", FIT_MAX_EPOCHS: "max_epochs",
          FIT_DIVERGED: "diverged", FIT_STOPPED: "stopped"}


cdef extern from "_loss_terms.h" nogil:
    double fg_mse_terms_d(double *z, double b, const double *y, const double *sw,
                          long n, int want_loss, double *gsum)
    double fg_mse_terms_f(float *z, double b, const float *y, const float *sw,
                          long n, int want_loss, double *gsum)
    double fg_logistic_terms_d(double *z, double b, const double *y, const double *sw,
                               long n, int want_loss, double *gsum)
    double fg_logistic_terms_f(float *z, double b, const float *y, const float *sw,
                               long n, int want_loss, double *gsum)
    double fg_softmax_terms_d(double *Z, long rows, long K, const double *b,
                              const double *y, long ycols, const double *sw,
                              int want_loss, double *gsum, double *buf)
    double fg_softmax_terms_f(float *Z, long rows, long K, const double *b,
                              const float *y, long ycols, const float *sw,
                              int want_loss, double *gsum, double *buf)
    long FG_SOFTMAX_BUF(long rows, long K)


# --------------------------------------------------------------------------- layer 1
cdef inline double loss_terms(int loss, int flags, floating *Z, Py_ssize_t rows,
                              Py_ssize_t K, const double *b, const floating *y,
                              Py_ssize_t ycols, const floating *sw, double *gsum,
                              double *buf) noexcept nogil:
    """The per-sample terms of a block of scores Z (rows, K), intercepts b (K) not yet
    added: Z becomes sw_i d loss_i / d z_i, the column sums of that are added to
    gsum[0:K], and the weighted loss sum is returned (0 for the logistic and softmax
    losses when WANT_LOSS is not set).  y holds ycols values per row (1, or K class
    probabilities for the softmax loss); ``buf`` holds FG_SOFTMAX_BUF(rows, K) doubles."""
    cdef int want_loss = (flags & WANT_LOSS) != 0
    if loss == LOSS_SOFTMAX:
        if floating is double:
            return fg_softmax_terms_d(Z, rows, K, b, y, ycols, sw, want_loss, gsum, buf)
        else:
            return fg_softmax_terms_f(Z, rows, K, b, y, ycols, sw, want_loss, gsum, buf)
    if loss == LOSS_LOGISTIC:
        if floating is double:
            return fg_logistic_terms_d(Z, b[0], y, sw, rows, want_loss, gsum)
        else:
            return fg_logistic_terms_f(Z, b[0], y, sw, rows, want_loss, gsum)
    if floating is double:
        return fg_mse_terms_d(Z, b[0], y, sw, rows, want_loss, gsum)
    else:
        return fg_mse_terms_f(Z, b[0], y, sw, rows, want_loss, gsum)


# --------------------------------------------------------------------------- layer 2
cdef inline void rows_gemv(char trans, const floating *Xb, int rows, int d,
                           const floating *v, floating *out) noexcept nogil:
    """BLAS gemv on a C-contiguous block Xb of shape (rows, d), seen by BLAS as the
    column-major (d, rows) matrix Xb.T: trans b'T' gives out[0:rows] = Xb @ v,
    trans b'N' gives out[0:d] = Xb.T @ v."""
    cdef int inc = 1
    cdef floating one = 1.0, zero = 0.0
    if floating is double:
        dgemv(&trans, &d, &rows, &one, <double *>Xb, &d, <double *>v, &inc, &zero, out, &inc)
    else:
        sgemv(&trans, &d, &rows, &one, <float *>Xb, &d, <float *>v, &inc, &zero, out, &inc)


cdef inline void rows_gemm(bint grad, const floating *Xb, int rows, int d, int K,
                           const floating *A, floating *out) noexcept nogil:
    """BLAS gemm on a C-contiguous block Xb (rows, d) and a C-contiguous A, all seen by
    BLAS column-major (as their transposes).  grad False: out (rows, K) = Xb @ A with A
    (d, K); grad True: out (d, K) = Xb.T @ A with A (rows, K)."""
    cdef char nn = b'N'
    cdef char transb = b'T' if grad else b'N'
    cdef int n_out = d if grad else rows     # columns of out.T
    cdef int inner = rows if grad else d
    cdef floating one = 1.0, zero = 0.0
    # not grad: out.T (K, rows) = A.T (K, d) @ Xb.T (d, rows)
    # grad:     out.T (K, d) = A.T (K, rows) @ Xb (rows, d)
    if floating is double:
        dgemm(&nn, &transb, &K, &n_out, &inner, &one, <double *>A, &K, <double *>Xb, &d,
              &zero, out, &K)
    else:
        sgemm(&nn, &transb, &K, &n_out, &inner, &one, <float *>A, &K, <float *>Xb, &d,
              &zero, out, &K)


cdef void narrow_dots(const floating[:, ::1] X, Py_ssize_t r0, Py_ssize_t r1,
                      const floating *w, floating *z) noexcept nogil:
    """z[0:r1-r0] = X[r0:r1] @ w for narrow X, four rows at a time (four independent
    dot products, each summed in column order)."""
    cdef Py_ssize_t i, j, d = X.shape[1]
    cdef double z0, z1, z2, z3, wj
    cdef const floating *x0
    i = r0
    while i + 4 <= r1:
        x0 = &X[i, 0]
        z0 = 0.0
        z1 = 0.0
        z2 = 0.0
        z3 = 0.0
        for j in range(d):
            wj = w[j]
            z0 += x0[j] * wj
            z1 += x0[d + j] * wj
            z2 += x0[2 * d + j] * wj
            z3 += x0[3 * d + j] * wj
        z[i - r0] = <floating>z0
        z[i - r0 + 1] = <floating>z1
        z[i - r0 + 2] = <floating>z2
        z[i - r0 + 3] = <floating>z3
        i += 4
    while i < r1:
        x0 = &X[i, 0]
        z0 = 0.0
        for j in range(d):
            z0 += x0[j] * w[j]
        z[i - r0] = <floating>z0
        i += 1


cdef void narrow_update(const floating[:, ::1] X, Py_ssize_t r0, Py_ssize_t r1,
                        const floating *g, double *gw) noexcept nogil:
    """gw[0:d] += X[r0:r1].T @ g[0:r1-r0] for narrow X, four rows at a time."""
    cdef Py_ssize_t i, j, d = X.shape[1]
    cdef double g0, g1, g2, g3
    cdef const floating *x0
    i = r0
    while i + 4 <= r1:
        x0 = &X[i, 0]
        g0 = g[i - r0]
        g1 = g[i - r0 + 1]
        g2 = g[i - r0 + 2]
        g3 = g[i - r0 + 3]
        for j in range(d):
            gw[j] += (g0 * x0[j] + g1 * x0[d + j]) + (g2 * x0[2 * d + j] + g3 * x0[3 * d + j])
        i += 4
    while i < r1:
        x0 = &X[i, 0]
        g0 = g[i - r0]
        for j in range(d):
            gw[j] += g0 * x0[j]
        i += 1


cdef double block_pass(int loss, int flags, const floating[:, ::1] X,
                       const floating[:, ::1] y, const floating *sw, const floating *W,
                       Py_ssize_t K, const double *b, Py_ssize_t r0, Py_ssize_t r1,
                       floating *scratch, double *buf, double *gW_out,
                       double *gb_out) noexcept nogil:
    """Rows r0:r1, read from memory once: scores Z = X_b @ W (rows, K), per-sample
    loss and dloss/dZ (``loss_terms``), then X_b.T @ (sw * dloss/dZ) while the block is
    still in cache (a block is about BLOCK_ELEMS elements).

    Returns sum_i sw_i loss_i; writes the gradient sums to gW_out (d * K, overwritten)
    and sum_i sw_i dloss_i/dZ_i to gb_out (K, overwritten).  ``scratch`` holds
    (r1 - r0) * K + d * K values of X's dtype, ``buf`` FG_SOFTMAX_BUF(rows, K) doubles.
    Scores and gradient by BLAS gemv for one output (four rows at a time below SMALL_D
    features: ``narrow_dots`` / ``narrow_update``), by BLAS gemm for K > 1.
    """
    cdef Py_ssize_t j, d = X.shape[1], p = X.shape[1] * K
    cdef int rows = <int>(r1 - r0)
    cdef double loss_sum
    cdef floating *Z = scratch
    cdef floating *gW = scratch + rows * K
    cdef bint grad = (flags & WANT_GRAD) != 0
    if K > 1:
        rows_gemm(False, &X[r0, 0], rows, <int>d, <int>K, W, Z)
    elif d >= SMALL_D:
        rows_gemv(c'T', &X[r0, 0], rows, <int>d, W, Z)
    else:
        narrow_dots(X, r0, r1, W, Z)
    for j in range(K):
        gb_out[j] = 0.0
    loss_sum = loss_terms(loss, flags, Z, rows, K, b, &y[r0, 0], y.shape[1],
                          sw + r0 if sw != NULL else NULL, gb_out, buf)
    if grad and (K > 1 or d >= SMALL_D):
        if K > 1:
            rows_gemm(True, &X[r0, 0], rows, <int>d, <int>K, Z, gW)
        else:
            rows_gemv(c'N', &X[r0, 0], rows, <int>d, Z, gW)
        for j in range(p):
            gW_out[j] = gW[j]
    else:
        for j in range(p):
            gW_out[j] = 0.0
        if grad:
            narrow_update(X, r0, r1, Z, gW_out)
    return loss_sum


cdef double full_pass(int loss, int flags, const floating[:, ::1] X,
                      const floating[:, ::1] y, const floating *sw, const floating *W,
                      Py_ssize_t K, const double *b, double[:, ::1] partial,
                      floating[:, ::1] scratch, double[:, ::1] bufs, double *gW_out,
                      double *gb_out, int nthreads) noexcept nogil:
    """One pass over all of X in fixed row blocks (in parallel when nthreads > 1).

    Block k holds rows k * R to (k + 1) * R with R = ceil(n / n_blocks): the blocks are
    fixed by the shape of X alone.  ``partial`` (n_blocks, d K + K + 1) receives each
    block's sums (gW, gb, loss), which are then added in block order, so the result
    does not depend on the number of threads.  ``scratch`` and ``bufs`` have one row
    per thread (see ``block_pass``).
    Returns sum sw_i loss_i; gW_out (d K) and gb_out (K) get the summed gradient terms.
    """
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1] * K, nb = partial.shape[0]
    cdef Py_ssize_t rows = (n + nb - 1) // nb, k, j, r0, r1
    cdef double loss_sum = 0.0
    if nthreads > 1:
        for k in prange(nb, num_threads=nthreads, schedule="static"):
            r0 = k * rows
            r1 = min(r0 + rows, n)
            partial[k, p + K] = block_pass(loss, flags, X, y, sw, W, K, b, r0, r1,
                                           &scratch[threadid(), 0], &bufs[threadid(), 0],
                                           &partial[k, 0], &partial[k, p])
    else:
        for k in range(nb):
            r0 = k * rows
            r1 = min(r0 + rows, n)
            partial[k, p + K] = block_pass(loss, flags, X, y, sw, W, K, b, r0, r1,
                                           &scratch[0, 0], &bufs[0, 0],
                                           &partial[k, 0], &partial[k, p])
    for j in range(p):
        gW_out[j] = 0.0
    for j in range(K):
        gb_out[j] = 0.0
    for k in range(nb):
        loss_sum += partial[k, p + K]
        for j in range(K):
            gb_out[j] += partial[k, p + j]
        for j in range(p):
            gW_out[j] += partial[k, j]
    return loss_sum


cdef double finalize(double loss_sum, double *gW, double *gb, Py_ssize_t p, Py_ssize_t K,
                     double inv_sumw, double l2, const floating *W) noexcept nogil:
    """The raw sums of a pass made the penalised weighted mean loss and its gradient,
    in place: loss = loss_sum / sum(sw) + l2 ||W||_F^2, dW = gW / sum(sw) + 2 l2 W,
    db = gb / sum(sw) (b not penalised); division as multiplication by inv_sumw.
    ``fastgrad._losses.finalize`` states the same rule, operation for operation."""
    cdef Py_ssize_t j
    cdef double loss = loss_sum * inv_sumw
    for j in range(K):
        gb[j] *= inv_sumw
    for j in range(p):
        gW[j] = gW[j] * inv_sumw + 2.0 * l2 * W[j]
        loss += l2 * (<double>W[j]) * W[j]
    return loss


cdef double penalised(int loss, int flags, const floating[:, ::1] X,
                      const floating[:, ::1] y, const floating *sw, const floating *W,
                      Py_ssize_t K, const double *b, double inv_sumw, double l2,
                      double[:, ::1] partial, floating[:, ::1] scratch, double[:, ::1] bufs,
                      double *gW, double *gb, int nthreads) noexcept nogil:
    """Loss and gradient of the weighted mean loss plus l2 ||W||_F^2: ``full_pass`` then
    ``finalize``."""
    cdef double loss_sum = full_pass(loss, flags, X, y, sw, W, K, b, partial, scratch, bufs,
                                     gW, gb, nthreads)
    return finalize(loss_sum, gW, gb, X.shape[1] * K, K, inv_sumw, l2, W)


cdef double global_norm(const double *g, Py_ssize_t p, const double *gb,
                        Py_ssize_t nb) noexcept nogil:
    """||(g[0:p], gb[0:nb])||_2, scaled by the largest entry so that squares cannot
    overflow; NaN when an entry is NaN."""
    cdef Py_ssize_t j
    cdef double mx = 0.0, s = 0.0, t, a
    cdef bint nan = False
    for j in range(nb):
        a = fabs(gb[j])
        if a > mx:
            mx = a
        elif a != a:
            nan = True
    for j in range(p):
        a = fabs(g[j])
        if a > mx:
            mx = a
        elif a != a:
            nan = True
    if nan:
        return NAN
    if mx == 0.0 or not isfinite(mx):
        return mx
    for j in range(nb):
        t = gb[j] / mx
        s += t * t
    for j in range(p):
        t = g[j] / mx
        s += t * t
    return mx * sqrt(s)


cdef bint optimizer_step(OptRule *rule, long long t, double gnorm, double max_norm,
                         floating *W, Py_ssize_t p, double *b, Py_ssize_t K,
                         bint fit_intercept, double *gW, double *gb,
                         double[:, ::1] state) noexcept nogil:
    """Step t of the optimizer on (W, b) with gradient (gW, gb) of norm gnorm: the clip
    factor, then each element's delta (``rule_delta`` of ``_optim_rules.pxd``, written
    over gW and gb), then the update, all or nothing: returns False, with W and b
    untouched, when a new value would be non-finite (in W's own dtype).  ``state`` (2,
    p + K) holds the optimizer's moments of W (columns 0:p) and b (p:p + K)."""
    cdef Py_ssize_t j
    cdef double clip = 1.0
    cdef bint ok = True
    if max_norm > 0.0 and gnorm > max_norm:
        clip = max_norm / gnorm
    rule_begin(rule, t, clip)
    for j in range(p):
        gW[j] = rule_delta(rule, gW[j], &state[0, j], &state[1, j])
        ok = ok and isfinite(<floating>(W[j] - gW[j]))
    if fit_intercept:
        for j in range(K):
            gb[j] = rule_delta(rule, gb[j], &state[0, p + j], &state[1, p + j])
            ok = ok and isfinite(b[j] - gb[j])
    if not ok:
        return False
    for j in range(p):
        W[j] = <floating>(W[j] - gW[j])
    if fit_intercept:
        for j in range(K):
            b[j] = b[j] - gb[j]
    return True


cdef struct Batches:
    # How an epoch is cut into mini-batches (size 0: full batch), and the scratch of a
    # shuffled order.  Set up by ``fit``; read by ``fit_epochs``.
    Py_ssize_t size             # rows per batch (the last one may have fewer); 0: full batch
    Py_ssize_t nb_full          # fixed row blocks of a full batch
    Py_ssize_t nb_last          # ... and of the last batch of an epoch
    Py_ssize_t n_iter_no_change
    const cnp.int64_t *perms    # (epochs of this call, n) visiting orders, or NULL: row order
    double best                 # the best epoch mean so far (tol with mini-batches)
    Py_ssize_t no_improve       # epochs since it improved by more than tol


cdef inline void gather_rows(const floating[:, ::1] X, const floating[:, ::1] y,
                             const floating *sw, const cnp.int64_t *rows, Py_ssize_t m,
                             floating[:, ::1] Xs, floating[:, ::1] ys,
                             floating *sws) noexcept nogil:
    """Rows rows[0:m] of X, y and sw into the first m rows of the scratch Xs, ys, sws."""
    cdef Py_ssize_t i, j, r, d = X.shape[1], c = y.shape[1]
    for i in range(m):
        r = rows[i]
        for j in range(d):
            Xs[i, j] = X[r, j]
        for j in range(c):
            ys[i, j] = y[r, j]
        if sw != NULL:
            sws[i] = sw[r]


cdef int fit_epochs(int loss, const floating[:, ::1] X, const floating[:, ::1] y,
                    const floating *sw, double inv_sumw, double l2, OptRule *rule,
                    double max_norm, double tol, bint fit_intercept,
                    floating[::1] W, Py_ssize_t K, double[::1] b, double[::1] gW,
                    double[::1] gb, double[:, ::1] state, long long *t, Batches *bt,
                    double[:, ::1] partial, floating[:, ::1] scratch,
                    double[:, ::1] bufs, floating[:, ::1] Xs, floating[:, ::1] ys,
                    floating[::1] sws, double[::1] history, Py_ssize_t e0, Py_ssize_t e1,
                    Py_ssize_t *n_done, double *gnorm, int nthreads) noexcept nogil:
    """Epochs e0:e1 of gradient descent on W (d K, flat) and b (K); returns a FIT_*
    status.  ``t`` counts the optimizer's steps (across calls).

    Full batch (bt.size 0), each epoch: fused loss/gradient pass, stop if the loss or
    gradient is non-finite (diverged) or the unclipped norm of (dW, db) is below tol
    (converged), history[e - e0] = the loss, then the optimizer's step
    (``optimizer_step``: clip to max_norm, the rule, an update that would make W or b
    non-finite is not applied and the fit stops, diverged).

    Mini-batches: the same for each batch of bt.size rows (rows in order, read in place
    from X, or gathered in the order bt.perms[e - e0] into Xs, ys, sws), the loss and
    gradient being the batch's weighted mean; history[e - e0] = the mean of the epoch's
    batch losses; with tol, the fit stops (converged) when that mean has not improved
    by more than tol for bt.n_iter_no_change epochs in a row (scikit-learn's rule).
    """
    cdef Py_ssize_t e, j, s, m, nb, n = X.shape[0], p = W.shape[0]
    cdef double value, sumw, total
    cdef Py_ssize_t count
    cdef const cnp.int64_t *order
    cdef const floating *swb
    for e in range(e0, e1):
        if bt.size == 0:
            value = penalised(loss, WANT_LOSS | WANT_GRAD, X, y, sw, &W[0], K, &b[0],
                              inv_sumw, l2, partial, scratch, bufs, &gW[0], &gb[0], nthreads)
            gnorm[0] = global_norm(&gW[0], p, &gb[0], K if fit_intercept else 0)
            if not (isfinite(value) and isfinite(gnorm[0])):
                return FIT_DIVERGED
            if tol >= 0.0 and gnorm[0] < tol:
                return FIT_CONVERGED
            history[e - e0] = value
            t[0] += 1
            if not optimizer_step(rule, t[0], gnorm[0], max_norm, &W[0], p, &b[0], K,
                                  fit_intercept, &gW[0], &gb[0], state):
                return FIT_DIVERGED
            n_done[0] = e + 1
            continue
        order = bt.perms + (e - e0) * n if bt.perms != NULL else NULL
        total = 0.0
        count = 0
        s = 0
        while s < n:
            m = min(bt.size, n - s)
            nb = bt.nb_full if m == bt.size else bt.nb_last
            if order != NULL:
                gather_rows(X, y, sw, order + s, m, Xs, ys, &sws[0])
                swb = &sws[0] if sw != NULL else NULL
            else:
                swb = sw + s if sw != NULL else NULL
            if swb != NULL:
                sumw = 0.0
                for j in range(m):
                    sumw += swb[j]
                if not sumw > 0.0:       # a batch of zero weights: no step
                    s += m
                    continue
            else:
                sumw = <double>m
            if order != NULL:
                value = penalised(loss, WANT_LOSS | WANT_GRAD, Xs[:m], ys[:m], swb, &W[0], K,
                                  &b[0], 1.0 / sumw, l2, partial[:nb], scratch, bufs,
                                  &gW[0], &gb[0], nthreads)
            else:
                value = penalised(loss, WANT_LOSS | WANT_GRAD, X[s:s + m], y[s:s + m], swb,
                                  &W[0], K, &b[0], 1.0 / sumw, l2, partial[:nb], scratch,
                                  bufs, &gW[0], &gb[0], nthreads)
            gnorm[0] = global_norm(&gW[0], p, &gb[0], K if fit_intercept else 0)
            if not (isfinite(value) and isfinite(gnorm[0])):
                return FIT_DIVERGED
            total += value
            count += 1
            t[0] += 1
            if not optimizer_step(rule, t[0], gnorm[0], max_norm, &W[0], p, &b[0], K,
                                  fit_intercept, &gW[0], &gb[0], state):
                return FIT_DIVERGED
            s += m
        value = total / count if count > 0 else 0.0
        history[e - e0] = value
        n_done[0] = e + 1
        if tol >= 0.0:
            if value > bt.best - tol:
                bt.no_improve += 1
            else:
                bt.no_improve = 0
            if value < bt.best:
                bt.best = value
            if bt.no_improve >= bt.n_iter_no_change:
                return FIT_CONVERGED
    return FIT_RUNNING


# --------------------------------------------------------------------------- layer 3
cdef Py_ssize_t _block_rows(Py_ssize_t d, Py_ssize_t k) noexcept:
    """Rows per block of a pass over an (n, d) X with k outputs."""
    if k <= 1:
        return max(1, BLOCK_ELEMS // max(d, 1))
    return max(1, min(4 * BLOCK_ELEMS // max(d, 1), GEMM_ELEMS // (max(d, 1) * k)))


def n_blocks(Py_ssize_t n, Py_ssize_t d, Py_ssize_t k=1):
    """Number of fixed row blocks a pass over an (n, d) X with k outputs uses."""
    cdef Py_ssize_t rows = _block_rows(d, k)
    return max(1, (n + rows - 1) // rows)


cdef int _loss_id(str loss) except -1:
    """The id of a loss name; ValueError for an unknown one."""
    if loss not in LOSSES:
        raise ValueError(f"`loss` must be one of {', '.join(map(repr, LOSSES))}, got {loss!r}")
    return LOSSES[loss]


cdef class _Problem:
    """The arrays of one call, in the forms the kernels take: y as (n, ycols), W flat
    (d K) with its shape kept, b as a float64 (K,) copy, the sample weights or None."""
    cdef public object y2, W, Wflat, b, scalar_b, sw
    cdef public Py_ssize_t K


cdef _Problem _problem(int loss, Py_ssize_t n, Py_ssize_t d, dtype, y, W, b, sample_weight):
    """Check the shapes and dtypes the kernels rely on (cheap: no pass over data)."""
    cdef _Problem pr = _Problem()
    W = np.asarray(W)
    if W.ndim not in (1, 2) or W.shape[0] != d:
        raise ValueError(f"`W` must have shape ({d}, K), got {W.shape}")
    pr.K = W.shape[1] if W.ndim == 2 else 1
    if pr.K < 1:
        raise ValueError(f"`W` must have at least one column, got shape {W.shape}")
    if loss != LOSS_SOFTMAX and pr.K != 1:
        raise ValueError(f"`W` must have one column for this loss, got shape {W.shape}")
    if loss == LOSS_SOFTMAX and pr.K < 2:
        raise ValueError(f"`W` must have at least 2 columns for the softmax loss, got shape "
                         f"{W.shape}")
    pr.W = W
    pr.Wflat = W.reshape(-1)
    pr.scalar_b = np.ndim(b) == 0
    pr.b = np.array(b, dtype=np.float64, ndmin=1).reshape(-1)
    if pr.b.shape[0] != pr.K:
        raise ValueError(f"`b` must have length {pr.K}, got {pr.b.shape[0]}")
    y = np.asarray(y)
    y2 = y.reshape(y.shape[0], 1) if y.ndim == 1 else y
    if y2.ndim != 2 or y2.shape[0] != n or y2.shape[1] not in (1, pr.K):
        raise ValueError(f"`y` must have shape ({n},) or ({n}, {pr.K}), got {y.shape}")
    pr.y2 = y2
    pr.sw = sample_weight
    if sample_weight is not None and np.shape(sample_weight) != (n,):
        raise ValueError(f"`sample_weight` must have shape ({n},), got {np.shape(sample_weight)}")
    return pr


cdef tuple _workspace(Py_ssize_t n, Py_ssize_t d, Py_ssize_t K, int nthreads, dtype):
    """The scratch of a pass over an (n, d) X with K outputs: the block partial sums
    (n_blocks, d K + K + 1); per thread, (rows per block + d) K values of X's dtype and
    the doubles of the softmax terms of a block (none for one output); dW (d K) and db
    (K)."""
    cdef Py_ssize_t nb = n_blocks(n, d, K), nt = max(nthreads, 1)
    cdef Py_ssize_t rows = (n + nb - 1) // nb
    return (np.empty((nb, d * K + K + 1)),
            np.empty((nt, (rows + d) * K), dtype=dtype),
            np.empty((nt, FG_SOFTMAX_BUF(rows, K) if K > 1 else 1)), np.empty(d * K),
            np.empty(K))


def block_sums(str loss, const floating[:, ::1] X, y, sample_weight, W, b, int nthreads=1):
    """Raw sums of one fused pass over the rows of X, no normalisation, no penalty.

    Parameters
    ----------
    loss : {"mse", "logistic", "softmax"}
    X : ndarray (n, d), float32 or float64, C-contiguous
    y : ndarray (n,) in X's dtype (targets, labels in [0, 1], or softmax class labels
        0..K-1 stored as floats), or (n, K) class probabilities (softmax)
    sample_weight : ndarray (n,) in X's dtype, or None
    W : ndarray (d, K) in X's dtype (K = 1 for mse and logistic; (d,) is taken as K = 1)
    b : float or ndarray (K,), the intercepts
    nthreads : int
        Threads of the pass (from ``fastgrad._threads``); the sums are bitwise the same
        for every count: they are taken over row blocks fixed by the shape of X and
        added in block order.

    Returns
    -------
    loss_sum : float
        ``sum_i sw_i loss_i``.
    gW : ndarray (d, K), float64
        ``sum_i sw_i x_i (dloss_i / dz_i)``.
    gb : ndarray (K,), float64
        ``sum_i sw_i dloss_i / dz_i``.
    weight_sum : float
        ``sum_i sw_i`` (NumPy's sum in float64), or n without weights.

    ``fastgrad._losses.finalize`` turns these into the penalised mean loss and its
    gradient by the rule of the compiled fit loop.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgrad._linear import block_sums
    >>> X = np.array([[1.0], [2.0]]); y = np.array([1.0, 1.0])
    >>> loss_sum, gW, gb, weight_sum = block_sums("mse", X, y, None, np.ones((1, 1)), 0.0)
    >>> loss_sum, gW.tolist(), gb.tolist(), weight_sum
    (1.0, [[4.0]], [2.0], 2.0)
    """
    cdef int lid = _loss_id(loss)
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1]
    dtype = np.float32 if floating is float else np.float64
    cdef _Problem pr = _problem(lid, n, d, dtype, y, W, b, sample_weight)
    cdef Py_ssize_t K = pr.K
    cdef const floating[:, ::1] yv = pr.y2
    cdef const floating[::1] Wv = pr.Wflat
    cdef const floating[::1] swv
    cdef const floating *psw = NULL
    cdef double[::1] bv = pr.b
    if sample_weight is not None:
        swv = sample_weight
        psw = &swv[0]
    work = _workspace(n, d, K, nthreads, dtype)
    cdef double[:, ::1] partial = work[0]
    cdef floating[:, ::1] scratch = work[1]
    cdef double[:, ::1] bufs = work[2]
    cdef double[::1] gW = work[3]
    cdef double[::1] gb = work[4]
    cdef double loss_sum
    with nogil:
        loss_sum = full_pass(lid, WANT_LOSS | WANT_GRAD, X, yv, psw, &Wv[0], K, &bv[0],
                             partial, scratch, bufs, &gW[0], &gb[0], nthreads)
    weight_sum = float(n) if sample_weight is None else float(np.sum(sample_weight,
                                                                      dtype=np.float64))
    return loss_sum, work[3].reshape(d, K), work[4], weight_sum


cdef object _loss_grad_run(int lid, const floating[:, ::1] X, const floating[:, ::1] y,
                           const floating[::1] W, Py_ssize_t K, const double[::1] b,
                           const floating *psw, double inv_sumw, double l2, bint want_grad,
                           int nthreads):
    """Allocate the scratch, run the fused pass and ``finalize`` without the GIL:
    (loss, dW flat float64, db (K) float64, all finite).

    Computes the loss only (want_grad False) or the gradient only (want_grad True)."""
    cdef Py_ssize_t j, d = X.shape[1], p = X.shape[1] * K
    work = _workspace(X.shape[0], d, K, nthreads, np.float32 if floating is float else np.float64)
    cdef double[:, ::1] partial = work[0]
    cdef floating[:, ::1] scratch = work[1]
    cdef double[:, ::1] bufs = work[2]
    cdef double[::1] gW = work[3]
    cdef double[::1] gb = work[4]
    cdef double value
    cdef bint finite = True
    cdef int flags = WANT_GRAD if want_grad else WANT_LOSS
    # dW is returned in X's dtype: for float32 X "finite" means below the magnitude
    # (FLT_MAX + half an ulp) from which a double rounds to float32 infinity
    cdef double top = 3.4028235677973366e38 if floating is float else INFINITY
    with nogil:
        value = penalised(lid, flags, X, y, psw, &W[0], K, &b[0], inv_sumw, l2, partial,
                          scratch, bufs, &gW[0], &gb[0], nthreads)
        finite = isfinite(value)
        if want_grad:
            for j in range(K):
                finite = finite and isfinite(gb[j])
            for j in range(p):
                finite = finite and fabs(gW[j]) < top
    if not want_grad:
        return value, None, None, finite
    return value, work[3], work[4], finite


cdef object _narrowed(gW, dtype, bint finite):
    """The float64 gradient sums in X's dtype; a result already known not to be finite
    (the caller warns of it) is cast without NumPy's own overflow warning."""
    if finite:
        return gW.astype(dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        return gW.astype(dtype)


cdef tuple _shaped(r, shape, bint scalar_b, dtype):
    """(loss, dW, db, finite) with dW of ``shape`` (W's) in X's dtype and db a float when
    b was a scalar, else a (K,) float64 array."""
    value, gW, gb, finite = r
    if gW is None:
        return r
    dW = gW if len(shape) == 1 else gW.reshape(shape)     # gW is flat (d K)
    if dtype is not np.float64:
        dW = _narrowed(dW, dtype, finite)
    return value, dW, float(gb[0]) if scalar_b else gb, finite


def loss_grad(str loss, const floating[:, ::1] X, y, W, b, sample_weight, double inv_sumw,
              double l2, bint want_grad=True, int nthreads=1):
    """(loss, dW, db, all finite) of the weighted mean loss + l2 ||W||_F^2.

    W (d,) or (d, K) and y, sample_weight in X's dtype, b a float or a (K,) array; dW
    comes back shaped like W in X's dtype, db a float when b is one, else (K,) float64.
    ``inv_sumw`` is 1 / sum of the weights (1 / n without weights).
    """
    cdef int lid = _loss_id(loss)
    dtype = np.float32 if floating is float else np.float64
    cdef _Problem pr = _problem(lid, X.shape[0], X.shape[1], dtype, y, W, b, sample_weight)
    cdef const floating[::1] swv
    cdef const floating *psw = NULL
    if sample_weight is not None:
        swv = sample_weight
        psw = &swv[0]
    cdef const floating[:, ::1] yv = pr.y2
    cdef const floating[::1] Wv = pr.Wflat
    cdef const double[::1] bv = pr.b
    r = _loss_grad_run(lid, X, yv, Wv, pr.K, bv, psw, inv_sumw, l2, want_grad, nthreads)
    return _shaped(r, pr.W.shape, pr.scalar_b, dtype)


cdef inline bint _plain(a, int ndim, int typenum):
    """a is an aligned, native-byte-order, C-contiguous ndarray of that ndim and dtype,
    not empty."""
    return (cnp.PyArray_Check(a) and cnp.PyArray_NDIM(<cnp.ndarray>a) == ndim
            and cnp.PyArray_TYPE(<cnp.ndarray>a) == typenum
            and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>a)
            and cnp.PyArray_ISALIGNED(<cnp.ndarray>a)
            and cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>a)
            and cnp.PyArray_SIZE(<cnp.ndarray>a) > 0)


#: What ``value_fault`` finds wrong with the values of a loss's inputs.
FAULTS = {0: None, 1: "W", 2: "b", 3: "y"}


cdef int _value_fault(int lid, const floating *y, Py_ssize_t n, Py_ssize_t ycols,
                      const floating *W, Py_ssize_t p, const double *b,
                      Py_ssize_t K) noexcept nogil:
    """The value rules of a loss's inputs that its result would not reveal, stated
    once for every entry (the plain case here, the converted one through
    ``value_fault``): 1 when W is not finite, 2 when b is not, 3 when y is out of the
    loss's domain (logistic: [0, 1]; softmax labels, one column of floats: 0 <= y < K),
    else 0.  NaN breaks every rule.  Branch-free loops: the common case reads all."""
    cdef Py_ssize_t i
    cdef int ok = 1
    for i in range(p):
        ok &= isfinite(W[i]) != 0
    if not ok:
        return 1
    for i in range(K):
        ok &= isfinite(b[i]) != 0
    if not ok:
        return 2
    if lid == LOSS_LOGISTIC:
        for i in range(n):
            ok &= (y[i] >= 0.0) & (y[i] <= 1.0)
    elif lid == LOSS_SOFTMAX and ycols == 1:
        for i in range(n):
            ok &= (y[i] >= 0.0) & (y[i] < <double>K)
    return 0 if ok else 3


def value_fault(str loss, const floating[:, ::1] y, const floating[::1] W,
                const double[::1] b):
    """``_value_fault`` for inputs already in the kernels' form: y (n, ycols) in W's
    dtype (n may be 0: the y rule is then skipped), W flat (d K), b (K,) float64.
    Returns the key of ``FAULTS``."""
    cdef int lid = _loss_id(loss)
    cdef int fault
    with nogil:
        fault = _value_fault(lid, &y[0, 0] if y.shape[0] > 0 else NULL, y.shape[0],
                             y.shape[1], &W[0], W.shape[0], &b[0], b.shape[0])
    return fault


def loss_grad_fast(str loss, X, y, w, b, double l2, bint want_grad, int nthreads):
    """The loss functions' common case, recognised and computed in one compiled call.

    Takes X a C-contiguous float64/float32 2-D array, no sample weights, and for the
    one-output losses y and w C-contiguous 1-D arrays of X's dtype and matching lengths
    and b a Python float or int; for the softmax loss y C-contiguous int64 labels, w a
    C-contiguous (d, k) array of X's dtype with k >= 2, b None or a C-contiguous (k,)
    float64 array.  ``l2`` has been checked by the caller.  Returns None when the input
    is in any other form, or breaks a rule of ``_value_fault`` (the general path, which
    converts the input and applies the same rules, then says what is wrong); else what
    ``loss_grad`` returns, ``(loss, dW, db, all finite)``.  ``nthreads`` comes from
    ``fastgrad._threads``.
    """
    cdef int t, fault, lid = _loss_id(loss)
    cdef Py_ssize_t i, n, d, k = 1
    cdef double bb = 0.0
    if not cnp.PyArray_Check(X):
        return None
    t = cnp.PyArray_TYPE(<cnp.ndarray>X)
    if not ((t == cnp.NPY_DOUBLE or t == cnp.NPY_FLOAT) and _plain(X, 2, t)):
        return None
    n = cnp.PyArray_DIM(<cnp.ndarray>X, 0)
    d = cnp.PyArray_DIM(<cnp.ndarray>X, 1)
    if lid == LOSS_SOFTMAX:
        if not (_plain(w, 2, t) and cnp.PyArray_DIM(<cnp.ndarray>w, 0) == d
                and _plain(y, 1, cnp.NPY_INT64) and cnp.PyArray_DIM(<cnp.ndarray>y, 0) == n):
            return None
        k = cnp.PyArray_DIM(<cnp.ndarray>w, 1)
        if k < 2:
            return None
        if b is None:
            b = np.zeros(k)
        elif not (_plain(b, 1, cnp.NPY_DOUBLE) and cnp.PyArray_DIM(<cnp.ndarray>b, 0) == k):
            return None
        y = _as_float_labels(y, t)
    else:
        if type(b) is float:
            bb = b
        elif type(b) is int and -2**53 <= b <= 2**53:
            bb = <double>b
        else:
            return None
        if not (_plain(y, 1, t) and _plain(w, 1, t)):
            return None
        if cnp.PyArray_DIM(<cnp.ndarray>y, 0) != n or cnp.PyArray_DIM(<cnp.ndarray>w, 0) != d:
            return None
        b = np.array([bb])
    cdef void *py = cnp.PyArray_DATA(<cnp.ndarray>y)
    cdef void *pw = cnp.PyArray_DATA(<cnp.ndarray>w)
    cdef const double *pb = <const double *>cnp.PyArray_DATA(<cnp.ndarray>b)
    with nogil:
        if t == cnp.NPY_DOUBLE:
            fault = _value_fault(lid, <const double *>py, n, 1, <const double *>pw, d * k,
                                 pb, k)
        else:
            fault = _value_fault(lid, <const float *>py, n, 1, <const float *>pw, d * k,
                                 pb, k)
    if fault:
        return None
    y2 = y.reshape(n, 1)
    wflat = w if k == 1 else w.reshape(-1)
    if t == cnp.NPY_DOUBLE:
        r = _loss_grad_run[double](lid, X, y2, wflat, k, b, NULL, 1.0 / n, l2, want_grad,
                                   nthreads)
    else:
        r = _loss_grad_run[float](lid, X, y2, wflat, k, b, NULL, 1.0 / n, l2, want_grad,
                                  nthreads)
    return _shaped(r, (<object>w).shape, k == 1, np.float64 if t == cnp.NPY_DOUBLE
                   else np.float32)


cdef object _as_float_labels(y, int t):
    """int64 labels as floats of X's dtype (typenum t), the form the kernels take (the
    range rule of ``_value_fault`` is then applied to these floats)."""
    cdef Py_ssize_t i, n = cnp.PyArray_DIM(<cnp.ndarray>y, 0)
    labels = np.empty(n, dtype=np.float64 if t == cnp.NPY_DOUBLE else np.float32)
    cdef const long long *py = <const long long *>cnp.PyArray_DATA(<cnp.ndarray>y)
    cdef double[::1] l64
    cdef float[::1] l32
    if t == cnp.NPY_DOUBLE:
        l64 = labels
        with nogil:
            for i in range(n):
                l64[i] = <double>py[i]
    else:
        l32 = labels
        with nogil:
            for i in range(n):
                l32[i] = <float>py[i]
    return labels


cdef object _b_out(_Problem pr):
    """The intercepts as the caller gave them: a float, or a (K,) float64 copy."""
    return float(pr.b[0]) if pr.scalar_b else pr.b.copy()


def fit(str loss, const floating[:, ::1] X, y, sample_weight, double inv_sumw, W, b,
        double lr, Py_ssize_t epochs, double max_norm, double tol, double l2,
        bint fit_intercept, Py_ssize_t chunk, int nthreads, progress=None,
        tuple rule=(0, 0.0, 0.0, 1.0), Py_ssize_t batch_size=0, rng=None,
        Py_ssize_t n_iter_no_change=5, recount=None):
    """Run gradient descent; ``W`` ((d,) or (d, K), C-contiguous, X's dtype, a private
    copy) is updated in place.

    ``rule`` is (kind, mu, beta2, eps) of the optimizer (kind from
    ``fastgrad._optim.KINDS``, constants as in ``src/_optim_rules.pxd``; the default is
    plain gradient descent); its state starts at zero.
    ``batch_size`` 0 (or >= n) is full batch; otherwise each epoch runs mini-batches of
    that many rows, in row order when ``rng`` is None, else in the order of one
    ``rng.permutation(n)`` per epoch (drawn here, a few epochs at a time, so the fit
    does not depend on the number of threads).  With mini-batches, tol >= 0 stops when
    the epoch's mean loss has not improved by more than tol for ``n_iter_no_change``
    epochs.

    The loop runs without the GIL in chunks of ``chunk`` epochs; between chunks
    it takes the GIL to honour Ctrl-C and to call ``progress(epoch, loss, W, b)``,
    which may return True to stop.  ``nthreads`` is the most threads a pass may use (the
    workspace is sized for it); ``recount()``, when given, is asked before each run of
    epochs without the GIL for the count to use next (at most ``nthreads``): the
    result does not depend on it.  Returns (b, history, n_epochs, grad_norm, status),
    b a float when given as one, else a (K,) float64 array.
    """
    cdef int lid = _loss_id(loss)
    dtype = np.float32 if floating is float else np.float64
    if not (isinstance(W, np.ndarray) and W.flags.c_contiguous and W.flags.writeable):
        raise ValueError("`W` must be a writeable C-contiguous ndarray (it is updated in place)")
    cdef OptRule orule = rule_make(rule[0], lr, rule[1], rule[2], rule[3])
    cdef _Problem pr = _problem(lid, X.shape[0], X.shape[1], dtype, y, W, b, sample_weight)
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], K = pr.K, e0 = 0, e1, es, ee
    cdef Py_ssize_t n_done = 0, last, per_call = chunk
    cdef int top = nthreads
    cdef Batches bt
    bt.size = batch_size if 0 < batch_size < n else 0
    bt.n_iter_no_change = n_iter_no_change
    bt.best = INFINITY
    bt.no_improve = 0
    bt.perms = NULL
    bt.nb_full = bt.nb_last = 0
    work = _workspace(n, d, K, nthreads, dtype)
    scratch_arr = work[1]
    if bt.size:
        last = n - ((n - 1) // bt.size) * bt.size
        bt.nb_full = n_blocks(bt.size, d, K)
        bt.nb_last = n_blocks(last, d, K)
        for rows in (bt.size, last):     # the widest per-thread scratch of the three
            other = _workspace(rows, d, K, nthreads, dtype)[1]
            if other.shape[1] > scratch_arr.shape[1]:
                scratch_arr = other
    shuffled = bt.size > 0 and rng is not None
    if shuffled:   # the permutations of at most about PERM_ELEMS rows are held at once
        per_call = max(1, PERM_ELEMS // n)
    cdef double[:, ::1] partial = work[0]
    cdef floating[:, ::1] scratch = scratch_arr
    cdef double[:, ::1] bufs = work[2]
    cdef double[::1] gW = work[3]
    cdef double[::1] gb = work[4]
    cdef const floating[:, ::1] yv = pr.y2
    cdef floating[::1] Wv = pr.Wflat
    cdef double[::1] bv = pr.b
    cdef double[:, ::1] state = np.zeros((2, Wv.shape[0] + K))
    cdef long long t = 0
    # a shuffled batch is gathered here (X itself is never copied or reordered)
    cdef Py_ssize_t srows = bt.size if shuffled else 1
    cdef floating[:, ::1] Xs = np.empty((srows, d), dtype=dtype)
    cdef floating[:, ::1] ys = np.empty((srows, yv.shape[1]), dtype=dtype)
    cdef floating[::1] sws = np.empty(srows, dtype=dtype)
    cdef const cnp.int64_t[:, ::1] perms
    cdef double[::1] history = np.empty(min(epochs, chunk) if epochs > 0 else 1)
    cdef double gnorm = np.nan
    cdef int status = FIT_RUNNING
    cdef const floating[::1] swv
    cdef const floating *psw = NULL
    parts = []
    if sample_weight is not None:
        swv = sample_weight
        psw = &swv[0]

    while status == FIT_RUNNING and e0 < epochs:
        e1 = min(e0 + chunk, epochs)
        es = e0
        while status == FIT_RUNNING and es < e1:
            ee = min(es + per_call, e1)
            if shuffled:
                order = np.empty((ee - es, n), dtype=np.int64)
                for k in range(ee - es):
                    order[k] = rng.permutation(n)
                perms = order
                bt.perms = &perms[0, 0]
            if recount is not None:
                nthreads = max(1, min(top, <int>recount()))
            with nogil:
                status = fit_epochs(lid, X, yv, psw, inv_sumw, l2, &orule, max_norm, tol,
                                    fit_intercept, Wv, K, bv, gW, gb, state, &t, &bt,
                                    partial, scratch, bufs, Xs, ys, sws, history[es - e0:],
                                    es, ee, &n_done, &gnorm, nthreads)
            es = ee
            if es < e1:
                PyErr_CheckSignals()
        done = np.asarray(history[:n_done - e0]).copy()
        parts.append(done)
        e0 = e1
        PyErr_CheckSignals()
        if progress is not None and status == FIT_RUNNING and n_done > 0:
            last_loss = done[done.shape[0] - 1] if done.shape[0] else np.nan
            if progress(n_done, last_loss, pr.W, _b_out(pr)):
                status = FIT_STOPPED
    if status == FIT_RUNNING:
        status = FIT_MAX_EPOCHS
    history_arr = np.concatenate(parts) if parts else np.empty(0)
    return _b_out(pr), history_arr, n_done, gnorm, STATUS[status]
