"""Finite-difference kernels of fastgrad (compiled as ``fastgrad._diff``).

Called only by fastgrad's Python modules, which have already checked every input, chosen the
steps (``fastgrad._steps``) and made a private float64 copy of ``x``.

Layer 1, per-point helpers (``noexcept nogil``): ``evaluate`` (one call of f),
``fd_group`` (one stencil along one coordinate, or along a group of coordinates moved
together), ``hess_row`` (one row of the dense Hessian), ``pair_point`` (the points of
the sparse Hessian from f).
Layer 2, kernels: ``fd_serial`` / ``fd_parallel`` and ``hess_serial`` / ``hess_parallel``
are plain loops over coordinates that call the same layer-1 helpers, so a serial and a
threaded run compute every entry with the same floating-point operations.
Layer 3, the ``def`` entry points at the bottom, which hold no numerics of their own.
"""
import threading

import numpy as np

cimport numpy as cnp
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_Check
from cpython.exc cimport PyErr_CheckSignals
from cpython.ref cimport Py_REFCNT, PyObject
from cpython.pycapsule cimport PyCapsule_GetContext, PyCapsule_GetName, PyCapsule_GetPointer
from cython.parallel cimport parallel, prange, threadid
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset
from libc.math cimport fabs, isfinite, nextafter, INFINITY
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC

from _diff_types cimport *

cnp.import_array()

cdef extern from "Python.h":
    # The documented type slot: where an instance keeps the head of its list of weak
    # references (0 when the type has none, negative for a managed list).
    ctypedef struct _TypeSlots "PyTypeObject":
        Py_ssize_t tp_weaklistoffset
    _TypeSlots *_type_of "Py_TYPE"(object o)


cdef inline bint _no_weakrefs(object a) noexcept:
    """a has no weak references, as far as its type's documented weak-list slot tells;
    False whenever that cannot be decided (a managed list): the caller then gives up
    reusing a."""
    cdef Py_ssize_t off = _type_of(a).tp_weaklistoffset
    if off == 0:
        return True         # the type takes no weak references at all
    if off < 0:
        return False
    return (<PyObject **>((<char *><PyObject *>a) + off))[0] == NULL

# --------------------------------------------------------------------------- stencils
cdef Stencil STENCILS[N_STENCILS]


cdef void _set_stencil(int sid, int npts, list offsets, list weights):
    cdef int j
    STENCILS[sid].npts = npts
    for j in range(npts):
        STENCILS[sid].offset[j] = offsets[j]
        STENCILS[sid].weight[j] = weights[j]


# Classic Fornberg weights for the first derivative.
_set_stencil(ST_CENTRAL2, 2, [-1.0, 1.0], [-0.5, 0.5])
_set_stencil(ST_CENTRAL4, 4, [-2.0, -1.0, 1.0, 2.0],
             [1.0 / 12.0, -8.0 / 12.0, 8.0 / 12.0, -1.0 / 12.0])
_set_stencil(ST_CENTRAL6, 6, [-3.0, -2.0, -1.0, 1.0, 2.0, 3.0],
             [-1.0 / 60.0, 9.0 / 60.0, -45.0 / 60.0, 45.0 / 60.0, -9.0 / 60.0, 1.0 / 60.0])
_set_stencil(ST_FORWARD1, 2, [0.0, 1.0], [-1.0, 1.0])
_set_stencil(ST_BACKWARD1, 2, [-1.0, 0.0], [-1.0, 1.0])
_set_stencil(ST_FORWARD2, 3, [0.0, 1.0, 2.0], [-1.5, 2.0, -0.5])
_set_stencil(ST_BACKWARD2, 3, [-2.0, -1.0, 0.0], [0.5, -2.0, 1.5])

#: Weights of each stencil (per unit step); fastgrad._steps derives its tables from them.
STENCIL_WEIGHTS = [[STENCILS[s].weight[j] for j in range(STENCILS[s].npts)]
                   for s in range(N_STENCILS)]
#: Whether a stencil uses f(x) itself (evaluated once per call and shared).
STENCIL_USES_CENTER = np.array(
    [any(STENCILS[s].offset[j] == 0.0 for j in range(STENCILS[s].npts))
     for s in range(N_STENCILS)], dtype=bool)
#: Offsets of each stencil, in units of the step (used for bounds checks).
STENCIL_OFFSETS = [[STENCILS[s].offset[j] for j in range(STENCILS[s].npts)]
                   for s in range(N_STENCILS)]
ST = dict(central2=ST_CENTRAL2, central4=ST_CENTRAL4, central6=ST_CENTRAL6,
          forward1=ST_FORWARD1, backward1=ST_BACKWARD1,
          forward2=ST_FORWARD2, backward2=ST_BACKWARD2)


# --------------------------------------------------------------------------- objectives
cdef class PyObjective:
    """Holds a Python f, its extra arguments and the exception f raised, if any.

    ``out_shape`` is ``()`` when f must return a scalar, ``(m,)`` for a Jacobian.
    """
    cdef object f
    cdef tuple args
    cdef public object error
    cdef cnp.npy_intp n
    cdef Py_ssize_t m
    cdef tuple out_shape
    cdef str name
    cdef cnp.ndarray spare
    cdef Objective c

    def __cinit__(self, f, tuple args, Py_ssize_t n, tuple out_shape, str name="f"):
        self.f = f
        self.name = name
        self.args = args
        self.error = None
        self.n = n
        self.out_shape = out_shape
        self.m = 1
        for s in out_shape:
            self.m *= s
        self.c.kind = OBJ_PYTHON
        self.c.n = <int>n
        self.c.m = self.m
        self.c.fn = NULL
        self.c.user_data = NULL
        self.c.pyobj = <void *>self

    def reraise(self):
        """Raise the exception f raised inside a kernel, unchanged, and forget it."""
        err, self.error = self.error, None
        if err is not None:
            raise err


cdef class NativeObjective:
    """A C function ``double f(int n, double *x[, void *user_data])``.

    ``keepalive`` holds whatever owns the function and its user data (a
    LowLevelCallable, a numba cfunc, a ctypes pointer) for as long as this lives.
    """
    cdef Objective c
    cdef object keepalive
    cdef public object error

    def __cinit__(self, size_t address, size_t user_data, bint with_user_data,
                  Py_ssize_t n, keepalive):
        if address == 0:
            raise ValueError("`f` is a NULL function pointer")
        self.c.kind = OBJ_NATIVE if with_user_data else OBJ_NATIVE_NOUSER
        self.c.n = <int>n
        self.c.m = 1
        self.c.fn = <void *>address
        self.c.user_data = <void *>user_data
        self.c.pyobj = NULL
        self.keepalive = keepalive
        self.error = None

    def reraise(self):
        err, self.error = self.error, None
        if err is not None:
            raise err


cdef class RecordObjective:
    """Stands in for f in a RECORD pass: stores evaluation points lo:hi, returns zeros.

    After the pass, ``count`` is the number of evaluations the kernel made and
    ``points`` holds rows lo:hi of them, shape (hi - lo, n).
    """
    cdef Objective c
    cdef public object points
    cdef public object error

    def __cinit__(self, Py_ssize_t n, Py_ssize_t m, Py_ssize_t lo=0, Py_ssize_t hi=0):
        self.points = np.empty((max(hi - lo, 0), n), dtype=np.float64)
        self.c.kind = OBJ_RECORD
        self.c.n = <int>n
        self.c.m = m
        self.c.table = <double *>cnp.PyArray_DATA(<cnp.ndarray>self.points)
        self.c.cursor = 0
        self.c.lo = lo
        self.c.hi = hi
        self.error = None

    @property
    def count(self):
        return self.c.cursor

    def reraise(self):
        pass


cdef class ReplayObjective:
    """Stands in for f in a REPLAY pass: returns precomputed values in order."""
    cdef Objective c
    cdef object values
    cdef public object error

    def __cinit__(self, Py_ssize_t n, values):
        self.values = np.ascontiguousarray(values, dtype=np.float64)
        if self.values.ndim != 2:
            raise ValueError("internal error: replay values must be 2-D")
        self.c.kind = OBJ_REPLAY
        self.c.n = <int>n
        self.c.m = self.values.shape[1]
        self.c.table = <double *>cnp.PyArray_DATA(<cnp.ndarray>self.values)
        self.c.cursor = 0
        self.c.count = self.values.shape[0]
        self.error = None

    def reraise(self):
        raise RuntimeError("internal error: the replay pass asked for more values "
                           "than the record pass produced")


cdef Objective *_objective_ptr(obj) except NULL:
    if isinstance(obj, PyObjective):
        return &(<PyObjective>obj).c
    if isinstance(obj, NativeObjective):
        return &(<NativeObjective>obj).c
    if isinstance(obj, RecordObjective):
        return &(<RecordObjective>obj).c
    if isinstance(obj, ReplayObjective):
        return &(<ReplayObjective>obj).c
    raise TypeError("internal error: not an objective")


def int_to_float(r):
    """A Python int of any size as a float (+-inf beyond the float range)."""
    try:
        return float(r)
    except OverflowError:
        return float("inf") if r > 0 else float("-inf")


cdef object _result_array(r, str name):
    """What f returned, as an array of real numbers; TypeError otherwise."""
    if type(r) is int:
        r = int_to_float(r)
    if isinstance(r, (str, bytes)) or r is None:
        raise TypeError(f"`{name}` must return a real number, got {type(r).__name__}")
    a = np.asarray(r)
    if a.dtype.kind not in "iuf":
        raise TypeError(
            f"`{name}` must return a real number, got {type(r).__name__} of dtype {a.dtype}")
    return a


cdef int _convert_result(PyObjective po, r, double *out) except -1:
    """Store what f returned into out[0:m]; raise if it is not what f must return."""
    cdef Py_ssize_t k
    a = _result_array(r, po.name)
    if a.shape != po.out_shape:
        if po.out_shape == ():
            raise ValueError(f"`{po.name}` must return a scalar, got an array of shape {a.shape}")
        raise ValueError(
            f"`{po.name}` must return an array of shape {po.out_shape}, got shape {a.shape}")
    a = np.ascontiguousarray(a, dtype=np.float64).reshape(-1)
    for k in range(po.m):
        out[k] = (<double *>cnp.PyArray_DATA(<cnp.ndarray>a))[k]
    return 0


def evaluate_shape(PyObjective po, const double[::1] x):
    """f(x) for a vector-valued f whose output shape is not known yet.

    Returns (values as float64 array of shape (m,), shape) where shape is () or (m,).
    """
    a = _result_array(po.f(np.array(x), *po.args), po.name)
    if a.ndim > 1:
        raise ValueError(f"`{po.name}` must return a scalar or a 1-D array, got shape {a.shape}")
    if a.ndim == 1 and a.shape[0] == 0:
        raise ValueError(f"`{po.name}` must return a non-empty array")
    return np.ascontiguousarray(a, dtype=np.float64).reshape(-1), a.shape


cdef inline bint _untouched(cnp.ndarray a, cnp.npy_intp n) noexcept:
    """a is still the plain, writeable, owned 1-D float64 array of n entries it was made as,
    with no weak references to it."""
    return (cnp.PyArray_NDIM(a) == 1 and cnp.PyArray_DIM(a, 0) == n
            and cnp.PyArray_TYPE(a) == cnp.NPY_DOUBLE and cnp.PyArray_ISNOTSWAPPED(a)
            and cnp.PyArray_CHKFLAGS(a, cnp.NPY_ARRAY_C_CONTIGUOUS | cnp.NPY_ARRAY_WRITEABLE
                                     | cnp.NPY_ARRAY_OWNDATA | cnp.NPY_ARRAY_ALIGNED)
            and _no_weakrefs(a))


cdef int _py_evaluate(PyObjective po, const double *x, double *out) noexcept:
    """One call of a Python f at a copy of x (GIL held). 0, or EVAL_ERROR.

    The array f gets is kept for the next call only when f let go of it (reference count
    back to 1, no weak references) and left it as it was made; otherwise f keeps it and
    the next call gets a new one.  So an array f holds on to is never refilled, and the
    common f (which keeps nothing) costs no allocation per call.
    """
    cdef cnp.ndarray arr
    try:
        if po.spare is None:
            arr = cnp.PyArray_EMPTY(1, &po.n, cnp.NPY_DOUBLE, 0)
        else:
            arr, po.spare = po.spare, None
        memcpy(cnp.PyArray_DATA(arr), x, po.n * sizeof(double))
        if po.args:
            r = po.f(arr, *po.args)
        else:
            r = po.f(arr)
        if Py_REFCNT(arr) == 1 and _untouched(arr, po.n):
            po.spare = arr
        # float and its subclasses (numpy.float64, which most numpy code returns)
        # hold their value in the float struct: read it without building an array.
        if po.m == 1 and PyFloat_Check(r) and not po.out_shape:
            out[0] = PyFloat_AS_DOUBLE(r)
        else:
            _convert_result(po, r, out)
    except BaseException as exc:  # stored and re-raised unchanged by the API
        po.error = exc
        return EVAL_ERROR
    return EVAL_OK


cdef inline int evaluate(Objective *obj, double *x, double *out) noexcept nogil:
    """f at x into out[0:m]. Native: a C call. Python: takes the GIL (cheap if held)."""
    if obj.kind == OBJ_NATIVE:
        out[0] = (<objective_t>obj.fn)(obj.n, x, obj.user_data)
        return EVAL_OK
    if obj.kind == OBJ_NATIVE_NOUSER:
        out[0] = (<objective_nouser_t>obj.fn)(obj.n, x)
        return EVAL_OK
    if obj.kind == OBJ_RECORD:
        if obj.lo <= obj.cursor < obj.hi:
            memcpy(&obj.table[(obj.cursor - obj.lo) * obj.n], x, obj.n * sizeof(double))
        obj.cursor += 1
        memset(out, 0, obj.m * sizeof(double))
        return EVAL_OK
    if obj.kind == OBJ_REPLAY:
        if obj.cursor >= obj.count:
            return EVAL_ERROR
        memcpy(out, &obj.table[obj.cursor * obj.m], obj.m * sizeof(double))
        obj.cursor += 1
        return EVAL_OK
    with gil:
        return _py_evaluate(<PyObjective>obj.pyobj, x, out)


cdef int check_signals(Objective *obj) noexcept nogil:
    """Run Python's signal handlers (Ctrl-C) from a kernel; EVAL_INTERRUPT if one raised.

    Handlers run only in the main thread, so the exception belongs to the call running
    there: it is kept on the Python objective, or (native f, whose objective struct is
    a per-call copy) in a slot of the calling thread, which ``_raise_status`` empties.
    """
    with gil:
        try:
            PyErr_CheckSignals()
        except BaseException as exc:
            if obj.kind == OBJ_PYTHON:
                (<PyObjective>obj.pyobj).error = exc
            else:
                _interrupted.exc = exc
            return EVAL_INTERRUPT
    return EVAL_OK


_interrupted = threading.local()

# How many coordinates a native kernel differentiates between two checks for Ctrl-C.
cdef enum:
    SIGNAL_CHECK_EVERY = 32
# A first coordinate slower than this (seconds) makes the serial kernel check for Ctrl-C
# after every coordinate.
cdef double SLOW_COORDINATE = 0.002


cdef inline double monotonic() noexcept nogil:
    """Seconds on the monotonic clock (a vDSO call on Linux: tens of nanoseconds)."""
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec + 1e-9 * ts.tv_nsec


# --------------------------------------------------------------------------- layer 1
cdef inline void _move(double *xbuf, const Py_ssize_t *members, Py_ssize_t nmem,
                       double xi, const double *x0, const double *h,
                       double offset) noexcept nogil:
    """Set the group's coordinates to x + offset * h (offset 0: restore them)."""
    cdef Py_ssize_t t, i
    if nmem == 1:
        xbuf[members[0]] = xi + offset * h[members[0]] if offset != 0.0 else xi
        return
    for t in range(nmem):
        i = members[t]
        xbuf[i] = x0[i] + offset * h[i] if offset != 0.0 else x0[i]


cdef inline int fd_group(Objective *obj, double *xbuf, double *fv, const double *f0,
                         const Py_ssize_t *members, Py_ssize_t nmem, const double *x0,
                         const double *h, double scale, const Stencil *s,
                         double *out) noexcept nogil:
    """sum_j weight_j f(x + offset_j * d) / scale into out[0:m], d = sum_i h[i] e_i over
    the nmem coordinates `members` moved together (x0: their unperturbed values, needed
    when nmem > 1).  One coordinate i with scale h[i]: d f / d x_i.  xbuf is restored on
    return."""
    cdef double xi = xbuf[members[0]]
    cdef double w, acc = 0.0
    cdef int j, status
    cdef Py_ssize_t k, m = obj.m
    if m == 1:
        # scalar f: the same sums as below, kept in a register
        for j in range(s.npts):
            if s.offset[j] == 0.0:
                acc += s.weight[j] * f0[0]
                continue
            _move(xbuf, members, nmem, xi, x0, h, s.offset[j])
            status = evaluate(obj, xbuf, fv)
            if status != EVAL_OK:
                _move(xbuf, members, nmem, xi, x0, h, 0.0)
                return status
            acc += s.weight[j] * fv[0]
        _move(xbuf, members, nmem, xi, x0, h, 0.0)
        out[0] = acc / scale
        return EVAL_OK
    for k in range(m):
        out[k] = 0.0
    for j in range(s.npts):
        w = s.weight[j]
        if s.offset[j] == 0.0:
            for k in range(m):
                out[k] += w * f0[k]
            continue
        _move(xbuf, members, nmem, xi, x0, h, s.offset[j])
        status = evaluate(obj, xbuf, fv)
        if status != EVAL_OK:
            _move(xbuf, members, nmem, xi, x0, h, 0.0)
            return status
        for k in range(m):
            out[k] += w * fv[k]
    _move(xbuf, members, nmem, xi, x0, h, 0.0)
    for k in range(m):
        out[k] /= scale
    return EVAL_OK


cdef inline int hess_row(Objective *obj, double *xbuf, double f0, Py_ssize_t i,
                         const double *h, Py_ssize_t n, double *row) noexcept nogil:
    """Row i of the Hessian from f alone, entries j >= i, into row[i:n].

    Diagonal: (f(x+h_i) - 2 f(x) + f(x-h_i)) / h_i**2.  Off-diagonal: the four-point
    cross stencil (f(++) - f(+-) - f(-+) + f(--)) / (4 h_i h_j).  2 + 4 (n - i - 1)
    evaluations, so 2 n**2 + 1 for the whole matrix with f(x).
    """
    cdef double xi = xbuf[i], hi = h[i], xj, hj, fp, fm, fpp, fpm, fmp, fmm
    cdef Py_ssize_t j
    cdef int st
    xbuf[i] = xi + hi
    st = evaluate(obj, xbuf, &fp)
    if st == EVAL_OK:
        xbuf[i] = xi - hi
        st = evaluate(obj, xbuf, &fm)
    xbuf[i] = xi
    if st != EVAL_OK:
        return st
    row[i] = ((fp - f0) + (fm - f0)) / (hi * hi)
    for j in range(i + 1, n):
        xj = xbuf[j]
        hj = h[j]
        xbuf[i] = xi + hi
        xbuf[j] = xj + hj
        st = evaluate(obj, xbuf, &fpp)
        if st == EVAL_OK:
            xbuf[j] = xj - hj
            st = evaluate(obj, xbuf, &fpm)
        if st == EVAL_OK:
            xbuf[i] = xi - hi
            st = evaluate(obj, xbuf, &fmm)
        if st == EVAL_OK:
            xbuf[j] = xj + hj
            st = evaluate(obj, xbuf, &fmp)
        xbuf[i] = xi
        xbuf[j] = xj
        if st != EVAL_OK:
            return st
        row[j] = ((fpp - fpm) - (fmp - fmm)) / (4.0 * hi * hj)
    return EVAL_OK


cdef inline int pair_point(Objective *obj, double *xbuf, Py_ssize_t i, Py_ssize_t j,
                           const double *h, double *out) noexcept nogil:
    """f(x + h_i e_i + h_j e_j) and f(x - h_i e_i - h_j e_j) into out[0:2] (j < 0: along
    e_i alone); xbuf restored on return.  The points of the sparse Hessian from f."""
    cdef double xi = xbuf[i], xj = 0.0
    cdef int st
    if j >= 0:
        xj = xbuf[j]
        xbuf[j] = xj + h[j]
    xbuf[i] = xi + h[i]
    st = evaluate(obj, xbuf, &out[0])
    if st == EVAL_OK:
        if j >= 0:
            xbuf[j] = xj - h[j]
        xbuf[i] = xi - h[i]
        st = evaluate(obj, xbuf, &out[1])
    xbuf[i] = xi
    if j >= 0:
        xbuf[j] = xj
    return st


# --------------------------------------------------------------------------- layer 2
cdef inline int fd_one(Objective *obj, double *xbuf, double *fv, const FDPlan *p,
                       Py_ssize_t k) noexcept nogil:
    """Entry k of the plan into out[k, :]: the derivative along coordinate coords[k], or
    group k's compressed column (see FDPlan)."""
    cdef Py_ssize_t i
    cdef int s
    if p.gptr == NULL:
        i = k if p.coords == NULL else p.coords[k]
        s = p.stencil if p.sid == NULL else p.sid[i]
        return fd_group(obj, xbuf, fv, p.f0, &i, 1, p.x0, p.h, p.h[i], &STENCILS[s],
                        &p.out[k * obj.m])
    i = p.coords[p.gptr[k]]
    s = p.stencil if p.sid == NULL else p.sid[i]
    return fd_group(obj, xbuf, fv, p.f0, &p.coords[p.gptr[k]], p.gptr[k + 1] - p.gptr[k],
                    p.x0, p.h, 1.0, &STENCILS[s], &p.out[k * obj.m])


cdef int fd_serial(Objective *obj, double *xbuf, double *fv, const FDPlan *p) noexcept nogil:
    """The plan's coordinates one after the other.

    A native f never returns to Python on its own, so the loop checks for Ctrl-C: every
    SIGNAL_CHECK_EVERY coordinates, or every coordinate when the first one took longer
    than SLOW_COORDINATE seconds (so that an expensive f is interrupted promptly too).
    """
    cdef Py_ssize_t k, every = SIGNAL_CHECK_EVERY, since = 0
    cdef int st
    cdef bint native = obj.kind == OBJ_NATIVE or obj.kind == OBJ_NATIVE_NOUSER
    cdef double t0 = monotonic() if native else 0.0
    for k in range(p.ncoords):
        st = fd_one(obj, xbuf, fv, p, k)
        if st != EVAL_OK:
            return st
        if not native:
            continue
        if k == 0 and monotonic() - t0 > SLOW_COORDINATE:
            every = 1
        since += 1
        if since >= every:
            since = 0
            st = check_signals(obj)
            if st != EVAL_OK:
                return st
    return EVAL_OK


cdef int fd_parallel(Objective *obj, const double *x0, const FDPlan *p,
                     int nthreads) noexcept nogil:
    """fd_serial over threads: each thread perturbs its own copy of x (native f only)."""
    cdef int status = EVAL_OK
    cdef int *pstatus = &status
    cdef Py_ssize_t n = obj.n, m = obj.m, k
    cdef double *xbuf
    cdef double *fv
    cdef int st
    with parallel(num_threads=nthreads):
        xbuf = <double *>malloc(n * sizeof(double))
        fv = <double *>malloc(m * sizeof(double))
        if xbuf != NULL:
            memcpy(xbuf, x0, n * sizeof(double))
        for k in prange(p.ncoords, schedule="static"):
            if pstatus[0] != EVAL_OK:
                continue
            if xbuf == NULL or fv == NULL:
                pstatus[0] = EVAL_NOMEM
                continue
            st = fd_one(obj, xbuf, fv, p, k)
            if st == EVAL_OK and threadid() == 0 and (k + 1) % SIGNAL_CHECK_EVERY == 0:
                st = check_signals(obj)  # the thread that took the GIL before: Ctrl-C
            if st != EVAL_OK:
                pstatus[0] = st
        free(xbuf)
        free(fv)
    return status


cdef int representable_steps(const double *x, const double *h, double rel, double *out,
                             Py_ssize_t n) noexcept nogil:
    """out = (x + h) - x, the step floating point actually takes (h = rel * max(1, |x|)
    when h is NULL); a step that vanishes is enlarged to one ulp of x.  -1 on overflow."""
    cdef Py_ssize_t i
    cdef double hi, ax
    for i in range(n):
        ax = fabs(x[i])
        hi = rel * (ax if ax > 1.0 else 1.0) if h == NULL else h[i]
        out[i] = (x[i] + hi) - x[i]
        if out[i] == 0.0:
            out[i] = nextafter(ax, INFINITY) - ax
        if not isfinite(out[i]):
            return -1
    return 0


cdef int hess_serial(Objective *obj, double *xbuf, double f0, const double[::1] h,
                     double[:, ::1] out) noexcept nogil:
    cdef Py_ssize_t i, n = h.shape[0]
    cdef int st
    for i in range(n):
        st = hess_row(obj, xbuf, f0, i, &h[0], n, &out[i, 0])
        if st != EVAL_OK:
            return st
        if obj.kind != OBJ_PYTHON:
            st = check_signals(obj)
            if st != EVAL_OK:
                return st
    return EVAL_OK


cdef int hess_parallel(Objective *obj, const double[::1] x0, double f0, const double[::1] h,
                       double[:, ::1] out, int nthreads) noexcept nogil:
    cdef int status = EVAL_OK
    cdef int *pstatus = &status
    cdef Py_ssize_t n = h.shape[0], i
    cdef double *xbuf
    cdef int st
    with parallel(num_threads=nthreads):
        xbuf = <double *>malloc(n * sizeof(double))
        if xbuf != NULL:
            memcpy(xbuf, &x0[0], n * sizeof(double))
        for i in prange(n, schedule="dynamic"):
            if pstatus[0] != EVAL_OK:
                continue
            if xbuf == NULL:
                pstatus[0] = EVAL_NOMEM
                continue
            st = hess_row(obj, xbuf, f0, i, &h[0], n, &out[i, 0])
            if st == EVAL_OK and threadid() == 0:
                st = check_signals(obj)
            if st != EVAL_OK:
                pstatus[0] = st
        free(xbuf)
    return status


cdef int pairs_serial(Objective *obj, double *xbuf, const double *h, const Py_ssize_t *pi,
                      const Py_ssize_t *pj, Py_ssize_t npairs, double *out) noexcept nogil:
    cdef Py_ssize_t k
    cdef int st
    cdef bint native = obj.kind == OBJ_NATIVE or obj.kind == OBJ_NATIVE_NOUSER
    for k in range(npairs):
        st = pair_point(obj, xbuf, pi[k], pj[k], h, &out[2 * k])
        if st != EVAL_OK:
            return st
        if native and (k + 1) % SIGNAL_CHECK_EVERY == 0:
            st = check_signals(obj)
            if st != EVAL_OK:
                return st
    return EVAL_OK


cdef int pairs_parallel(Objective *obj, const double *x0, const double *h,
                        const Py_ssize_t *pi, const Py_ssize_t *pj, Py_ssize_t npairs,
                        double *out, int nthreads) noexcept nogil:
    """pairs_serial over threads, each perturbing its own copy of x (native f only)."""
    cdef int status = EVAL_OK
    cdef int *pstatus = &status
    cdef Py_ssize_t n = obj.n, k
    cdef double *xbuf
    cdef int st
    with parallel(num_threads=nthreads):
        xbuf = <double *>malloc(n * sizeof(double))
        if xbuf != NULL:
            memcpy(xbuf, x0, n * sizeof(double))
        for k in prange(npairs, schedule="static"):
            if pstatus[0] != EVAL_OK:
                continue
            if xbuf == NULL:
                pstatus[0] = EVAL_NOMEM
                continue
            st = pair_point(obj, xbuf, pi[k], pj[k], h, &out[2 * k])
            if st == EVAL_OK and threadid() == 0 and (k + 1) % SIGNAL_CHECK_EVERY == 0:
                st = check_signals(obj)
            if st != EVAL_OK:
                pstatus[0] = st
        free(xbuf)
    return status


# --------------------------------------------------------------------------- layer 3
cdef _raise_status(int status, objective):
    if status == EVAL_OK:
        return
    exc = getattr(_interrupted, "exc", None)
    if exc is not None:       # Ctrl-C during this call wins over any other failure
        _interrupted.exc = None
        raise exc
    if status == EVAL_NOMEM:
        raise MemoryError("fastgrad could not allocate a scratch buffer")
    objective.reraise()
    raise RuntimeError(f"fastgrad kernel failed with status {status}")


def make_python_objective(f, tuple args, Py_ssize_t n, tuple out_shape=(), str name="f"):
    """Wrap a Python callable ``f(x, *args)`` for the kernels; ``name`` is used in errors."""
    return PyObjective(f, args, n, out_shape, name)


def make_native_objective(size_t address, size_t user_data, bint with_user_data,
                          Py_ssize_t n, keepalive=None):
    """Wrap a C function pointer ``double (int, double *[, void *])`` for the kernels."""
    return NativeObjective(address, user_data, with_user_data, n, keepalive)


def evaluate_at(objective, double[::1] x):
    """f(x) as a float64 array of shape (m,), through the same path the kernels use."""
    cdef Objective *obj = _objective_ptr(objective)
    out = np.empty(obj.m, dtype=np.float64)
    cdef double[::1] o = out
    cdef int st
    if obj.kind == OBJ_PYTHON:
        st = evaluate(obj, &x[0], &o[0])
    else:
        with nogil:
            st = evaluate(obj, &x[0], &o[0])
    _raise_status(st, objective)
    return out


def finite_differences(objective, double[::1] x, const double[::1] h,
                       const Py_ssize_t[::1] coords, const signed char[::1] sid,
                       f0=None, int nthreads=1, groups=None):
    """First derivatives along the coordinates ``coords``: an array (len(coords), m).

    Parameters
    ----------
    objective : PyObjective, NativeObjective, RecordObjective or ReplayObjective
    x : float64 array (n,), the point; a private copy the kernel may perturb.
    h : float64 array (n,), representable steps (chosen by ``fastgrad._steps``).
    coords : intp array, the coordinates to differentiate.
    sid : int8 array (n,), the stencil id of each coordinate.
    f0 : float64 array (m,) or None, f(x); required when a stencil uses the centre.
    nthreads : int, threads over coordinates (native objectives only).
    groups : intp array (k + 1,) or None.  Given: coords holds k perturbation groups,
        group g being coords[groups[g]:groups[g+1]] (one stencil: that of its first
        coordinate), and the result (k, m) holds the compressed columns
        ``sum_j w_j f(x + offset_j * sum_{i in g} h_i e_i)``, not divided by the steps.
    """
    cdef Objective *obj = _objective_ptr(objective)
    cdef Objective local
    cdef Py_ssize_t[::1] gp
    cdef Py_ssize_t ngroups = coords.shape[0], k, t, n = x.shape[0]
    cdef double[::1] x0
    if groups is not None:
        gp = groups
        ngroups = gp.shape[0] - 1
        if ngroups < 0 or gp[0] != 0 or gp[ngroups] != coords.shape[0]:
            raise ValueError("internal error: bad perturbation groups")
        for k in range(ngroups):
            if gp[k + 1] <= gp[k]:
                raise ValueError("internal error: an empty perturbation group")
            for t in range(gp[k] + 1, gp[k + 1]):
                if sid[coords[t]] != sid[coords[gp[k]]]:
                    raise ValueError("internal error: one group, several stencils")
    out = np.empty((ngroups, obj.m), dtype=np.float64)
    cdef double[:, ::1] o = out
    cdef double[::1] f0v
    cdef double[::1] fv = np.empty(obj.m, dtype=np.float64)
    cdef FDPlan plan
    cdef int st
    if ngroups == 0:
        return out
    if h.shape[0] != n or sid.shape[0] != n:
        raise ValueError("internal error: h and sid must have x's length")
    # checked whether or not f0 is given: the kernel trusts these indices
    for k in range(coords.shape[0]):
        if not (0 <= coords[k] < n):
            raise ValueError("internal error: coordinate out of range")
        if not (0 <= sid[coords[k]] < N_STENCILS):
            raise ValueError("internal error: unknown stencil id")
        if f0 is None and STENCIL_USES_CENTER[sid[coords[k]]]:
            raise ValueError("internal error: a one-sided stencil needs f(x)")
    plan.ncoords = ngroups
    plan.coords = &coords[0]
    plan.gptr = NULL
    plan.x0 = NULL
    if groups is not None:
        plan.gptr = &gp[0]
        x0 = np.array(x)          # pristine: x itself is perturbed by the serial kernel
        plan.x0 = &x0[0]
    plan.h = &h[0]
    plan.sid = &sid[0]
    plan.stencil = 0
    plan.f0 = NULL
    plan.out = &o[0, 0]
    if f0 is not None:
        f0v = f0
        if f0v.shape[0] != obj.m:
            raise ValueError("internal error: f0 has the wrong length")
        plan.f0 = &f0v[0]
    if obj.kind == OBJ_PYTHON:
        st = fd_serial(obj, &x[0], &fv[0], &plan)
    elif obj.kind == OBJ_NATIVE or obj.kind == OBJ_NATIVE_NOUSER:
        local = obj[0]          # per call: the cached objective is shared between threads
        local.n = <int>x.shape[0]
        with nogil:
            if nthreads > 1:
                st = fd_parallel(&local, &x[0], &plan, nthreads)
            else:
                st = fd_serial(&local, &x[0], &fv[0], &plan)
    else:
        with nogil:
            st = fd_serial(obj, &x[0], &fv[0], &plan)
    _raise_status(st, objective)
    return out


cdef int _default_gradient_body(Objective *obj, const double *xv, double rel, double *work,
                                double *steps, const FDPlan *plan,
                                int nthreads) noexcept nogil:
    """x finite? steps, stencil, result finite?  -1: x not finite; 1: some entry of the
    result not finite; 100 + status: the kernel failed."""
    cdef Py_ssize_t i, n = obj.n
    cdef double fv
    cdef int st
    for i in range(n):
        if not isfinite(xv[i]):
            return -1
    if representable_steps(xv, NULL, rel, steps, n) != 0:
        return -1
    memcpy(work, xv, n * sizeof(double))
    if nthreads > 1:
        st = fd_parallel(obj, work, plan, nthreads)
    else:
        st = fd_serial(obj, work, &fv, plan)
    if st != EVAL_OK:
        return 100 + st
    for i in range(n):
        if not isfinite(plan.out[i]):
            return 1
    return 0


def default_gradient(f, tuple args, x, int stencil, double rel, int nthreads=1):
    """The gradient in ``numerical_gradient``'s default case, in one compiled call.

    f is a NativeObjective (run without the GIL) or a Python callable.  Checks x,
    chooses the steps ``(x + h) - x`` with ``h = rel * max(1, |x_i|)`` and runs the
    stencil.  Returns (gradient, all entries finite), or None when x is not a finite,
    non-empty, 1-D, C-contiguous, native float64 array: the general path then handles
    (or rejects) it.
    """
    if not (cnp.PyArray_Check(x) and cnp.PyArray_NDIM(<cnp.ndarray>x) == 1
            and cnp.PyArray_TYPE(<cnp.ndarray>x) == cnp.NPY_DOUBLE
            and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>x)
            and cnp.PyArray_ISALIGNED(<cnp.ndarray>x)
            and cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>x)
            and cnp.PyArray_DIM(<cnp.ndarray>x, 0) > 0
            and cnp.PyArray_DIM(<cnp.ndarray>x, 0) < 2147483647):
        return None
    cdef const double *xv = <const double *>cnp.PyArray_DATA(<cnp.ndarray>x)
    cdef cnp.npy_intp n = cnp.PyArray_DIM(<cnp.ndarray>x, 0)
    cdef Objective local
    cdef Objective *obj
    cdef FDPlan plan
    cdef int st
    cdef bint native = isinstance(f, NativeObjective)
    if native:
        local = (<NativeObjective>f).c   # a private copy: the objective is shared
        local.n = <int>n
        obj = &local
        owner = f
    else:
        owner = PyObjective(f, args, n, ())
        obj = &(<PyObjective>owner).c
    out = cnp.PyArray_EMPTY(1, &n, cnp.NPY_DOUBLE, 0)
    work = cnp.PyArray_EMPTY(1, &n, cnp.NPY_DOUBLE, 0)
    steps = cnp.PyArray_EMPTY(1, &n, cnp.NPY_DOUBLE, 0)
    plan.ncoords = n
    plan.coords = NULL
    plan.gptr = NULL
    plan.x0 = NULL
    plan.h = <double *>cnp.PyArray_DATA(steps)
    plan.sid = NULL
    plan.stencil = stencil
    plan.f0 = NULL
    plan.out = <double *>cnp.PyArray_DATA(out)
    cdef double *pw = <double *>cnp.PyArray_DATA(work)
    cdef double *ps = <double *>cnp.PyArray_DATA(steps)
    if native:
        with nogil:
            st = _default_gradient_body(obj, xv, rel, pw, ps, &plan, nthreads)
    else:
        st = _default_gradient_body(obj, xv, rel, pw, ps, &plan, 1)
    if st == -1:
        return None
    if st >= 100:
        _raise_status(st - 100, owner)
    return out, st == 0


def representable(const double[::1] x, const double[::1] h=None, double rel=0.0):
    """(x + h) - x per coordinate, vanishing steps enlarged to one ulp; None on overflow.

    h None: the relative steps ``rel * max(1, |x_i|)``, computed by the same C code as
    ``default_gradient``'s (one statement of that rule)."""
    out = np.empty(x.shape[0])
    cdef double[::1] o = out
    cdef const double *ph = NULL
    cdef int st
    if x.shape[0] == 0:
        return out
    if h is not None:
        ph = &h[0]
    with nogil:
        st = representable_steps(&x[0], ph, rel, &o[0], x.shape[0])
    return None if st != 0 else out


def hessian_from_f(objective, double[::1] x, const double[::1] h, double f0,
                   int nthreads=1):
    """Hessian of a scalar f from f alone (upper triangle computed, then mirrored)."""
    cdef Objective *obj = _objective_ptr(objective)
    cdef Py_ssize_t n = x.shape[0], i, j
    out = np.zeros((n, n), dtype=np.float64)
    cdef double[:, ::1] o = out
    cdef int st
    if obj.kind == OBJ_PYTHON:
        st = hess_serial(obj, &x[0], f0, h, o)
    elif nthreads > 1 and (obj.kind == OBJ_NATIVE or obj.kind == OBJ_NATIVE_NOUSER):
        with nogil:
            st = hess_parallel(obj, x, f0, h, o, nthreads)
    else:
        with nogil:
            st = hess_serial(obj, &x[0], f0, h, o)
    _raise_status(st, objective)
    for i in range(n):
        for j in range(i):
            o[i, j] = o[j, i]
    return out


def pair_values(objective, double[::1] x, const double[::1] h, const Py_ssize_t[::1] pi,
                const Py_ssize_t[::1] pj, int nthreads=1):
    """f at x + (h_i e_i + h_j e_j) and at x - (h_i e_i + h_j e_j) for each pair
    (pi[k], pj[k]) (pj[k] < 0: along e_i alone): an array (len(pi), 2), scalar f only."""
    cdef Objective *obj = _objective_ptr(objective)
    cdef Objective local
    cdef Py_ssize_t n = x.shape[0], npairs = pi.shape[0], k
    out = np.empty((npairs, 2), dtype=np.float64)
    cdef double[:, ::1] o = out
    cdef int st
    if obj.m != 1:
        raise ValueError("internal error: second differences need a scalar f")
    if pj.shape[0] != npairs or h.shape[0] != n:
        raise ValueError("internal error: pairs and steps do not match")
    for k in range(npairs):
        if not (0 <= pi[k] < n) or not (pj[k] < n) or pj[k] == pi[k]:
            raise ValueError("internal error: coordinate pair out of range")
    if npairs == 0:
        return out
    if obj.kind == OBJ_PYTHON:
        st = pairs_serial(obj, &x[0], &h[0], &pi[0], &pj[0], npairs, &o[0, 0])
    elif obj.kind == OBJ_NATIVE or obj.kind == OBJ_NATIVE_NOUSER:
        local = obj[0]
        local.n = <int>n
        with nogil:
            if nthreads > 1:
                st = pairs_parallel(&local, &x[0], &h[0], &pi[0], &pj[0], npairs, &o[0, 0],
                                    nthreads)
            else:
                st = pairs_serial(&local, &x[0], &h[0], &pi[0], &pj[0], npairs, &o[0, 0])
    else:
        with nogil:
            st = pairs_serial(obj, &x[0], &h[0], &pi[0], &pj[0], npairs, &o[0, 0])
    _raise_status(st, objective)
    return out


def directional(objective, const double[::1] x, const double[::1] direction, double step,
                int stencil, f0=None):
    """Derivatives of f's m values along ``direction`` (an array (m,)): the stencil
    kernel on one perturbation group, the coordinates the direction moves, each by
    ``step * direction[i]``.  f0 (f(x), m values) is needed by stencils that use it."""
    cdef Py_ssize_t n = x.shape[0]
    if direction.shape[0] != n:
        raise ValueError("internal error: direction must have x's length")
    if not (0 <= stencil < N_STENCILS):
        raise ValueError("internal error: unknown stencil id")
    d = np.asarray(direction)
    coords = np.flatnonzero(d).astype(np.intp)
    if coords.shape[0] == 0:
        raise ValueError("internal error: a zero direction")
    h = np.ascontiguousarray(step * d, dtype=np.float64)
    sid = np.full(n, stencil, dtype=np.int8)
    if f0 is not None:
        f0 = np.ascontiguousarray(np.atleast_1d(np.asarray(f0, dtype=np.float64)))
    groups = np.array([0, coords.shape[0]], dtype=np.intp)
    out = finite_differences(objective, np.array(x), h, coords, sid, f0, 1, groups)
    return out[0] / step


def capsule_pointers(capsule):
    """(function address, context address) of a LowLevelCallable's PyCapsule."""
    cdef const char *name = PyCapsule_GetName(capsule)
    cdef void *fn = PyCapsule_GetPointer(capsule, name)
    cdef void *ctx = PyCapsule_GetContext(capsule)
    return <size_t>fn, <size_t>ctx


def call_rows(f, tuple args, points):
    """[f(row, *args) for row in points], each row a fresh copy; the raw results."""
    cdef Py_ssize_t k
    results = []
    for k in range(points.shape[0]):
        results.append(f(points[k].copy(), *args))
    return results
