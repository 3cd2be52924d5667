"""Analytic losses, gradients and the batch gradient-descent loop of fastgrad
(compiled as ``fastgrad._linear``).

Called only by ``fastgrad._api``, which has checked shapes, dtypes and values and
converted y, w and sample weights to X's dtype (float32 or float64, one fused source).

Layer 1, per-sample helpers (``noexcept nogil``): ``mse_sample`` and ``logistic_terms``
(the vectorised per-sample logistic terms of a block, C in ``_logistic.h``).
Layer 2, kernels: ``block_pass`` runs one fused pass over a block of rows (residual,
loss and gradient together, X read once); ``full_pass`` runs it over fixed row blocks,
in parallel when asked, and adds the block partial sums in block order, so the result
does not depend on the number of threads; ``fit_epochs`` is the gradient-descent loop.
Layer 3, the ``def`` entry points ``loss_grad`` and ``fit``.
"""
import numpy as np

cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange, threadid
from scipy.linalg.cython_blas cimport dgemv, sgemv
from cpython.exc cimport PyErr_CheckSignals
from libc.math cimport exp, fabs, log1p, sqrt, isfinite

cnp.import_array()

cdef enum:
    LOSS_MSE = 0
    LOSS_LOGISTIC = 1
    LOSS_KIND = 1       # mask of the two above
    SKIP_LOSS = 2       # flag: the caller needs only the gradient (no log1p per sample)
    SKIP_GRAD = 4       # flag: the caller needs only the loss
    SMALL_D = 32        # below this many features a block is walked 4 rows at a time

cdef enum:
    FIT_RUNNING = 0
    FIT_CONVERGED = 1
    FIT_MAX_EPOCHS = 2
    FIT_DIVERGED = 3
    FIT_STOPPED = 4

# Rows per block: a block holds about BLOCK_ELEMS elements of X (64 KiB of float64),
# so the second use of a row (the gradient update) finds it in L1/L2 cache.
cdef enum:
    BLOCK_ELEMS = 8192

LOSSES = {"mse": LOSS_MSE, "logistic": LOSS_LOGISTIC}
STATUS = {FIT_CONVERGED: "converged", FIT_MAX_EPOCHS: "max_epochs",
          FIT_DIVERGED: "diverged", FIT_STOPPED: "stopped"}


cdef extern from "_logistic.h" nogil:
    double fg_logistic_terms_d(double *z, double b, const double *y, const double *sw,
                               long n, int want_loss, double *gsum)
    double fg_logistic_terms_f(float *z, double b, const float *y, const float *sw,
                               long n, int want_loss, double *gsum)


# --------------------------------------------------------------------------- layer 1
cdef inline double mse_terms(floating *z, double b, const floating *y, const floating *sw,
                             Py_ssize_t n, double *gsum) noexcept nogil:
    """Squared error of n samples at raw predictions z + b: z[i] becomes
    sw_i d loss_i / d z_i = 2 sw_i (z_i + b - y_i), their sum is added to gsum[0], and
    the weighted loss sum is returned.  Sums in four interleaved partial sums, added in
    a fixed order (as in ``_logistic.h``)."""
    cdef Py_ssize_t i, l
    cdef double r, wi, ls[4]
    cdef double gl[4]
    cdef double loss = 0.0, gs = 0.0
    for l in range(4):
        ls[l] = 0.0
        gl[l] = 0.0
    i = 0
    while i + 4 <= n:
        for l in range(4):
            r = z[i + l] + b - y[i + l]
            wi = sw[i + l] if sw != NULL else 1.0
            ls[l] += wi * (r * r)
            r = 2.0 * wi * r
            gl[l] += r
            z[i + l] = <floating>r
        i += 4
    while i < n:
        r = z[i] + b - y[i]
        wi = sw[i] if sw != NULL else 1.0
        loss += wi * (r * r)
        r = 2.0 * wi * r
        gs += r
        z[i] = <floating>r
        i += 1
    gsum[0] += gs + ((gl[0] + gl[1]) + (gl[2] + gl[3]))
    return loss + ((ls[0] + ls[1]) + (ls[2] + ls[3]))


cdef inline double logistic_terms(floating *z, double b, const floating *y,
                                  const floating *sw, Py_ssize_t n, bint want_loss,
                                  double *gsum) noexcept nogil:
    """Logistic loss of n samples at raw predictions z + b (see ``_logistic.h``):
    z[i] becomes sw_i d loss_i / d z_i, their sum is added to gsum[0], and the
    weighted loss sum is returned (0 when not want_loss).  One exp(-|z|) per sample,
    evaluated by an inline polynomial in a loop the compiler vectorises."""
    if floating is double:
        return fg_logistic_terms_d(z, b, y, sw, n, want_loss, gsum)
    else:
        return fg_logistic_terms_f(z, b, y, sw, n, want_loss, gsum)


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


cdef double block_pass(int kind, const floating[:, ::1] X, const floating[::1] y,
                       const floating *sw, const floating *w, double b,
                       Py_ssize_t r0, Py_ssize_t r1, floating *scratch,
                       double *gw_out, double *gb_out) noexcept nogil:
    """Rows r0:r1, read from memory once: z = X_b @ w, per-sample loss and dloss/dz,
    then X_b.T @ (sw * dloss/dz) while the block is still in cache (a block is about
    BLOCK_ELEMS elements).

    Returns sum_i sw_i loss_i; writes the gradient sum to gw_out (length d, overwritten)
    and sum_i sw_i dloss_i/dz to gb_out.  ``scratch`` holds r1 - r0 + d values.
    Three steps: the block's scores z (BLAS gemv for wide X, ``narrow_dots`` below
    SMALL_D features), the per-sample terms in one vectorised loop over z
    (``mse_terms`` / ``logistic_terms``), the gradient (gemv / ``narrow_update``).
    """
    cdef Py_ssize_t j, d = X.shape[1]
    cdef int rows = <int>(r1 - r0)
    cdef double loss, gb = 0.0
    cdef floating *z = scratch
    cdef floating *gw = scratch + rows
    cdef bint grad = not (kind & SKIP_GRAD)
    if d >= SMALL_D:
        rows_gemv(c'T', &X[r0, 0], rows, <int>d, w, z)
    else:
        narrow_dots(X, r0, r1, w, z)
    if kind & LOSS_KIND == LOSS_LOGISTIC:
        loss = logistic_terms(z, b, &y[r0], sw + r0 if sw != NULL else NULL, rows,
                              not (kind & SKIP_LOSS), &gb)
    else:
        loss = mse_terms(z, b, &y[r0], sw + r0 if sw != NULL else NULL, rows, &gb)
    gb_out[0] = gb
    if grad and d >= SMALL_D:
        rows_gemv(c'N', &X[r0, 0], rows, <int>d, z, gw)
        for j in range(d):
            gw_out[j] = gw[j]
    else:
        for j in range(d):
            gw_out[j] = 0.0
        if grad:
            narrow_update(X, r0, r1, z, gw_out)
    return loss


cdef double full_pass(int kind, const floating[:, ::1] X, const floating[::1] y,
                      const floating *sw, const floating *w, double b,
                      double[:, ::1] partial, floating[:, ::1] scratch,
                      double *gw_out, double *gb_out, int nthreads) noexcept nogil:
    """One pass over all of X in fixed row blocks (in parallel when nthreads > 1).

    ``partial`` (n_blocks, d + 2) receives each block's sums, which are then added in
    block order, so the result does not depend on the number of threads.  ``scratch``
    has one row of (rows per block + d) values per thread.
    Returns sum sw_i loss_i; gw_out (d) and gb_out get the summed gradient terms.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], nb = partial.shape[0]
    cdef Py_ssize_t rows = (n + nb - 1) // nb, k, j, r0, r1
    cdef double loss = 0.0, gb = 0.0
    if nthreads > 1:
        for k in prange(nb, num_threads=nthreads, schedule="static"):
            r0 = k * rows
            r1 = min(r0 + rows, n)
            partial[k, d] = block_pass(kind, X, y, sw, w, b, r0, r1, &scratch[threadid(), 0],
                                       &partial[k, 0], &partial[k, d + 1])
    else:
        for k in range(nb):
            r0 = k * rows
            r1 = min(r0 + rows, n)
            partial[k, d] = block_pass(kind, X, y, sw, w, b, r0, r1, &scratch[0, 0],
                                       &partial[k, 0], &partial[k, d + 1])
    for j in range(d):
        gw_out[j] = 0.0
    for k in range(nb):
        loss += partial[k, d]
        gb += partial[k, d + 1]
        for j in range(d):
            gw_out[j] += partial[k, j]
    gb_out[0] = gb
    return loss


cdef double penalised(int kind, const floating[:, ::1] X, const floating[::1] y,
                      const floating *sw, double inv_sumw, double l2,
                      const floating *w, double b, double[:, ::1] partial,
                      floating[:, ::1] scratch, double *gw, double *gb,
                      int nthreads) noexcept nogil:
    """Loss and gradient of the weighted mean loss plus l2 * ||w||^2 (b not penalised)."""
    cdef Py_ssize_t j, d = X.shape[1]
    cdef double loss = full_pass(kind, X, y, sw, w, b, partial, scratch, gw, gb,
                                 nthreads) * inv_sumw
    gb[0] *= inv_sumw
    for j in range(d):
        gw[j] = gw[j] * inv_sumw + 2.0 * l2 * w[j]
        loss += l2 * (<double>w[j]) * w[j]
    return loss


cdef double global_norm(const double *g, Py_ssize_t d, double gb) noexcept nogil:
    """||(g, gb)||_2, scaled by the largest entry so that squares cannot overflow."""
    cdef Py_ssize_t j
    cdef double mx = fabs(gb), s, t
    for j in range(d):
        if fabs(g[j]) > mx:
            mx = fabs(g[j])
    if mx == 0.0 or not isfinite(mx):
        return mx
    t = gb / mx
    s = t * t
    for j in range(d):
        t = g[j] / mx
        s += t * t
    return mx * sqrt(s)


cdef int fit_epochs(int kind, const floating[:, ::1] X, const floating[::1] y,
                    const floating *sw, double inv_sumw, double l2, double lr,
                    double max_norm, double tol, bint fit_intercept,
                    floating[::1] w, double *b, double[::1] gw, double[:, ::1] partial,
                    floating[:, ::1] scratch,
                    double[::1] history, Py_ssize_t e0, Py_ssize_t e1,
                    Py_ssize_t *n_done, double *gnorm, int nthreads) noexcept nogil:
    """Epochs e0:e1 of batch gradient descent; returns a FIT_* status.

    history[e - e0] receives the loss before update e.

    Each epoch: fused loss/gradient pass, stop if the loss or gradient is non-finite
    (diverged) or the unclipped norm is below tol (converged), clip (dw, db) to
    max_norm, update.  An update that would make w or b non-finite is not applied.
    """
    cdef Py_ssize_t e, j, d = X.shape[1]
    cdef double loss, gb, scale, nb
    cdef bint ok
    for e in range(e0, e1):
        loss = penalised(kind, X, y, sw, inv_sumw, l2, &w[0], b[0], partial, scratch,
                         &gw[0], &gb, nthreads)
        gnorm[0] = global_norm(&gw[0], d, gb if fit_intercept else 0.0)
        if not (isfinite(loss) and isfinite(gnorm[0])):
            return FIT_DIVERGED
        if tol >= 0.0 and gnorm[0] < tol:
            return FIT_CONVERGED
        history[e - e0] = loss
        scale = lr
        if max_norm > 0.0 and gnorm[0] > max_norm:
            scale = lr * (max_norm / gnorm[0])
        ok = True
        for j in range(d):
            ok = ok and isfinite(<floating>(w[j] - scale * gw[j]))  # in w's own dtype
        nb = b[0] - scale * gb if fit_intercept else b[0]
        if not (ok and isfinite(nb)):
            return FIT_DIVERGED
        for j in range(d):
            w[j] = <floating>(w[j] - scale * gw[j])
        b[0] = nb
        n_done[0] = e + 1
    return FIT_RUNNING


# --------------------------------------------------------------------------- layer 3
def n_blocks(Py_ssize_t n, Py_ssize_t d):
    """Number of fixed row blocks a pass over an (n, d) X uses."""
    cdef Py_ssize_t rows = max(1, BLOCK_ELEMS // max(d, 1))
    return max(1, (n + rows - 1) // rows)


cdef tuple _workspace(Py_ssize_t n, Py_ssize_t d, int nthreads, dtype):
    """The scratch of a pass over an (n, d) X: the block partial sums (n_blocks, d + 2),
    one buffer of (rows per block + d) values of X's dtype per thread, and dw (d)."""
    cdef Py_ssize_t nb = n_blocks(n, d)
    return (np.empty((nb, d + 2)), np.empty((max(nthreads, 1), (n + nb - 1) // nb + d), dtype=dtype),
            np.empty(d))


cdef object _loss_grad_run(int kind, const floating[:, ::1] X, const floating[::1] y,
                           const floating[::1] w, double b, const floating *psw,
                           double inv_sumw, double l2, bint want_grad, int nthreads):
    """Allocate the scratch, run the fused pass without the GIL, wrap the result:
    (loss, dw, db, all finite).

    Computes the loss only (want_grad False) or the gradient only (want_grad True)."""
    cdef Py_ssize_t d = X.shape[1]
    work = _workspace(X.shape[0], d, nthreads, np.float32 if floating is float else np.float64)
    cdef double[:, ::1] partial = work[0]
    cdef floating[:, ::1] scratch = work[1]
    cdef double[::1] gw = work[2]
    cdef double gb, value
    cdef bint finite = True
    cdef Py_ssize_t j
    kind |= SKIP_LOSS if want_grad else SKIP_GRAD
    with nogil:
        value = penalised(kind, X, y, psw, inv_sumw, l2, &w[0], b, partial, scratch,
                          &gw[0], &gb, nthreads)
        finite = isfinite(value)
        if want_grad:
            finite = finite and isfinite(gb)
            for j in range(d):
                finite = finite and isfinite(gw[j])
    if not want_grad:
        return value, None, None, finite
    if floating is float:
        return value, np.asarray(gw).astype(np.float32), gb, finite
    return value, np.asarray(gw), gb, finite


def loss_grad(str loss, const floating[:, ::1] X, const floating[::1] y,
              const floating[::1] w, double b, sample_weight, double inv_sumw,
              double l2, bint want_grad=True, int nthreads=1):
    """(loss, dw, db) of the weighted mean loss + l2 ||w||^2; dw in X's dtype."""
    cdef const floating[::1] swv
    cdef const floating *psw = NULL
    cdef int kind = LOSSES[loss]
    if sample_weight is not None:
        swv = sample_weight
        psw = &swv[0]
    return _loss_grad_run(kind, X, y, w, b, psw, inv_sumw, l2, want_grad, nthreads)


cdef inline bint _plain(a, int ndim, int typenum):
    """a is an aligned, native-byte-order, C-contiguous ndarray of that ndim and dtype,
    not empty."""
    return (cnp.PyArray_Check(a) and cnp.PyArray_NDIM(<cnp.ndarray>a) == ndim
            and cnp.PyArray_TYPE(<cnp.ndarray>a) == typenum
            and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>a)
            and cnp.PyArray_ISALIGNED(<cnp.ndarray>a)
            and cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>a)
            and cnp.PyArray_SIZE(<cnp.ndarray>a) > 0)


def loss_grad_fast(str loss, X, y, w, b, double l2, bint want_grad, int nthreads):
    """The common case of the loss functions, checked and computed in one compiled call.

    X a C-contiguous float64/float32 2-D array, y and w C-contiguous 1-D arrays of the
    same dtype and matching lengths, b a Python float or int, no sample weights.  Checks
    what a pass over X does not: w finite, logistic y in [0, 1].  Returns None when the
    input is anything else, or when the result is not finite, so that the general path
    checks everything and says what is wrong.  ``nthreads`` comes from
    ``fastgrad._threads``.
    """
    cdef int t, kind = LOSSES[loss]
    cdef Py_ssize_t i, n, d
    cdef double bb
    if type(b) is float:
        bb = b
    elif type(b) is int and -2**53 <= b <= 2**53:
        bb = <double>b
    else:
        return None
    if not cnp.PyArray_Check(X):
        return None
    t = cnp.PyArray_TYPE(<cnp.ndarray>X)
    if not ((t == cnp.NPY_DOUBLE or t == cnp.NPY_FLOAT) and _plain(X, 2, t)
            and _plain(y, 1, t) and _plain(w, 1, t)):
        return None
    n = cnp.PyArray_DIM(<cnp.ndarray>X, 0)
    d = cnp.PyArray_DIM(<cnp.ndarray>X, 1)
    if cnp.PyArray_DIM(<cnp.ndarray>y, 0) != n or cnp.PyArray_DIM(<cnp.ndarray>w, 0) != d:
        return None
    if not (isfinite(bb) and isfinite(l2) and l2 >= 0):
        return None
    cdef void *py = cnp.PyArray_DATA(<cnp.ndarray>y)
    cdef void *pw = cnp.PyArray_DATA(<cnp.ndarray>w)
    cdef bint ok
    cdef bint unit = kind == LOSS_LOGISTIC
    with nogil:
        if t == cnp.NPY_DOUBLE:
            ok = _finite_in_range(<const double *>py, n, <const double *>pw, d, unit)
        else:
            ok = _finite_in_range(<const float *>py, n, <const float *>pw, d, unit)
    if not ok:
        return None
    if t == cnp.NPY_DOUBLE:
        r = _loss_grad_run[double](kind, X, y, w, bb, NULL, 1.0 / n, l2, want_grad, nthreads)
    else:
        r = _loss_grad_run[float](kind, X, y, w, bb, NULL, 1.0 / n, l2, want_grad, nthreads)
    return r if r[3] else None


cdef bint _finite_in_range(const floating *y, Py_ssize_t n, const floating *w,
                           Py_ssize_t d, bint unit_interval) noexcept nogil:
    """w finite, and y in [0, 1] when asked (NaN fails both)."""
    cdef Py_ssize_t i
    cdef bint ok = True
    for i in range(d):
        ok = ok and isfinite(w[i])
    if unit_interval:
        for i in range(n):
            ok = ok and (0.0 <= y[i] <= 1.0)
    return ok


def fit(str loss, const floating[:, ::1] X, const floating[::1] y, sample_weight,
        double inv_sumw, floating[::1] w, double b, double lr, Py_ssize_t epochs,
        double max_norm, double tol, double l2, bint fit_intercept,
        Py_ssize_t chunk, int nthreads, progress=None):
    """Run batch gradient descent; ``w`` is updated in place (a private copy).

    The loop runs without the GIL in chunks of ``chunk`` epochs; between chunks
    it takes the GIL to honour Ctrl-C and to call ``progress(epoch, loss, w, b)``,
    which may return True to stop.  Returns (b, history, n_epochs, grad_norm, status).
    """
    cdef int kind = LOSSES[loss]
    cdef Py_ssize_t d = X.shape[1], e0 = 0, e1, n_done = 0
    work = _workspace(X.shape[0], d, nthreads, np.float32 if floating is float else np.float64)
    cdef double[:, ::1] partial = work[0]
    cdef floating[:, ::1] scratch = work[1]
    cdef double[::1] gw = work[2]
    cdef double[::1] history = np.empty(min(epochs, chunk) if epochs > 0 else 1)
    cdef double gnorm = np.nan, bb = b
    cdef int status = FIT_RUNNING
    cdef const floating[::1] swv
    cdef const floating *psw = NULL
    parts = []
    if sample_weight is not None:
        swv = sample_weight
        psw = &swv[0]
    while status == FIT_RUNNING and e0 < epochs:
        e1 = min(e0 + chunk, epochs)
        with nogil:
            status = fit_epochs(kind, X, y, psw, inv_sumw, l2, lr, max_norm, tol,
                                fit_intercept, w, &bb, gw, partial, scratch, history, e0, e1,
                                &n_done, &gnorm, nthreads)
        done = np.asarray(history[:n_done - e0]).copy()
        parts.append(done)
        e0 = e1
        PyErr_CheckSignals()
        if progress is not None and status == FIT_RUNNING and n_done > 0:
            last = done[done.shape[0] - 1] if done.shape[0] else np.nan
            if progress(n_done, last, np.asarray(w), bb):
                status = FIT_STOPPED
    if status == FIT_RUNNING:
        status = FIT_MAX_EPOCHS
    history_arr = np.concatenate(parts) if parts else np.empty(0)
    return bb, history_arr, n_done, gnorm, STATUS[status]
