"""Analytic losses, gradients and the batch gradient-descent loop of fastgrad
(compiled as ``fastgrad._linear``).

Called only by ``fastgrad._api``, which has checked shapes, dtypes and values and
converted y, w and sample weights to X's dtype (float32 or float64, one fused source).

Layer 1, per-sample helpers (``noexcept nogil``): ``sample_loss_grad`` and the BLAS
wrapper ``rows_gemv``.
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


# --------------------------------------------------------------------------- layer 1
cdef inline double sample_loss_grad(int kind, double z, double y, double *dz) noexcept nogil:
    """Loss of one sample at raw prediction z (0 under SKIP_LOSS); d loss / d z to dz[0].

    Logistic: one exp per sample, e = exp(-|z|), gives both sigmoid(z) and
    log(1 + exp(z)) = max(z, 0) + log1p(e), without overflow for any finite z.
    """
    cdef double r, e, p
    if kind & LOSS_KIND == LOSS_MSE:
        r = z - y
        dz[0] = 2.0 * r
        return r * r
    e = exp(-fabs(z))
    p = 1.0 / (1.0 + e) if z >= 0.0 else e / (1.0 + e)
    dz[0] = p - y
    if kind & SKIP_LOSS:
        return 0.0
    return (z if z > 0.0 else 0.0) + log1p(e) - y * z


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


cdef double block_pass(int kind, const floating[:, ::1] X, const floating[::1] y,
                       const floating *sw, const floating *w, double b,
                       Py_ssize_t r0, Py_ssize_t r1, floating *scratch,
                       double *gw_out, double *gb_out) noexcept nogil:
    """Rows r0:r1, read from memory once: z = X_b @ w, per-sample loss and dloss/dz,
    then X_b.T @ (sw * dloss/dz) while the block is still in cache.

    Returns sum_i sw_i loss_i; writes the gradient sum to gw_out (length d, overwritten)
    and sum_i sw_i dloss_i/dz to gb_out.  ``scratch`` holds r1 - r0 + d values.
    Narrow X (d < SMALL_D) is walked four rows at a time (four independent dot
    products, one fused gradient update); wider X goes through BLAS gemv.
    """
    cdef Py_ssize_t i, j, d = X.shape[1]
    cdef int rows = <int>(r1 - r0)
    cdef double g, l, loss = 0.0, gb = 0.0
    cdef double z0, z1, z2, z3, g0, g1, g2, g3, wj
    cdef const floating *x0
    cdef const floating *x1
    cdef const floating *x2
    cdef const floating *x3
    cdef floating *z = scratch
    cdef floating *gw = scratch + rows
    cdef bint grad = not (kind & SKIP_GRAD)
    if d >= SMALL_D:
        rows_gemv(c'T', &X[r0, 0], rows, <int>d, w, z)
        for i in range(rows):
            l = sample_loss_grad(kind, z[i] + b, y[r0 + i], &g)
            if sw != NULL:
                l *= sw[r0 + i]
                g *= sw[r0 + i]
            loss += l
            gb += g
            z[i] = <floating>g
        if grad:
            rows_gemv(c'N', &X[r0, 0], rows, <int>d, z, gw)
        for j in range(d):
            gw_out[j] = gw[j] if grad else 0.0
        gb_out[0] = gb
        return loss
    for j in range(d):
        gw_out[j] = 0.0
    i = r0
    while i < r1:
        if i + 4 <= r1:
            x0 = &X[i, 0]
            x1 = x0 + d
            x2 = x1 + d
            x3 = x2 + d
            z0 = b
            z1 = b
            z2 = b
            z3 = b
            for j in range(d):
                wj = w[j]
                z0 += x0[j] * wj
                z1 += x1[j] * wj
                z2 += x2[j] * wj
                z3 += x3[j] * wj
            loss += _weighted(kind, z0, y, sw, i, &g0)
            loss += _weighted(kind, z1, y, sw, i + 1, &g1)
            loss += _weighted(kind, z2, y, sw, i + 2, &g2)
            loss += _weighted(kind, z3, y, sw, i + 3, &g3)
            gb += (g0 + g1) + (g2 + g3)
            if grad:
                for j in range(d):
                    gw_out[j] += (g0 * x0[j] + g1 * x1[j]) + (g2 * x2[j] + g3 * x3[j])
            i += 4
        else:
            x0 = &X[i, 0]
            z0 = b
            for j in range(d):
                z0 += x0[j] * w[j]
            loss += _weighted(kind, z0, y, sw, i, &g0)
            gb += g0
            if grad:
                for j in range(d):
                    gw_out[j] += g0 * x0[j]
            i += 1
    gb_out[0] = gb
    return loss


cdef inline double _weighted(int kind, double z, const floating[::1] y, const floating *sw,
                             Py_ssize_t i, double *g) noexcept nogil:
    """sample_loss_grad of row i, times its sample weight (if any)."""
    cdef double l = sample_loss_grad(kind, z, y[i], g)
    if sw != NULL:
        l *= sw[i]
        g[0] *= sw[i]
    return l


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


cdef object _loss_grad_run(int kind, const floating[:, ::1] X, const floating[::1] y,
                           const floating[::1] w, double b, const floating *psw,
                           double inv_sumw, double l2, bint want_grad, int nthreads):
    """Allocate the scratch, run the fused pass without the GIL, wrap the result:
    (loss, dw, db, all finite).

    Computes the loss only (want_grad False) or the gradient only (want_grad True)."""
    cdef Py_ssize_t d = X.shape[1]
    cdef Py_ssize_t nb = n_blocks(X.shape[0], d)
    cdef double[:, ::1] partial = np.empty((nb, d + 2))
    cdef floating[:, ::1] scratch = np.empty(
        (max(nthreads, 1), (X.shape[0] + nb - 1) // nb + d),
        dtype=np.float32 if floating is float else np.float64)
    cdef double[::1] gw = np.empty(d)
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


def loss_grad_fast(str loss, X, y, w, b, double l2, bint want_grad,
                   Py_ssize_t parallel_min, int max_threads):
    """The common case of the loss functions, checked and computed in one compiled call.

    X a C-contiguous float64/float32 2-D array, y and w C-contiguous 1-D arrays of the
    same dtype and matching lengths, b a Python float or int, no sample weights.  Checks
    what a pass over X does not: w finite, logistic y in [0, 1].  Returns None when the
    input is anything else, or when the result is not finite, so that the general path
    checks everything and says what is wrong.
    """
    cdef int t, nthreads, kind = LOSSES[loss]
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
    nthreads = 1 if n * d < parallel_min else max_threads
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
    cdef Py_ssize_t nb = n_blocks(X.shape[0], d)
    cdef double[:, ::1] partial = np.empty((nb, d + 2))
    cdef floating[:, ::1] scratch = np.empty(
        (max(nthreads, 1), (X.shape[0] + nb - 1) // nb + d),
        dtype=np.float32 if floating is float else np.float64)
    cdef double[::1] gw = np.empty(d)
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
