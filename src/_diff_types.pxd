# Types shared by the finite-difference kernels (cimported by _diff.pyx).
#
# The objective f as the finite-difference kernels see it.
#
# A Python callable or a native C function is wrapped once, by the Python API, into an
# ``Objective`` struct.  The kernels only ever call ``evaluate``: for a native f it is a
# plain C call (no GIL, no Python object); for a Python f it takes the GIL, hands f a
# fresh NumPy array holding the point and converts what f returns.  An exception raised
# by f is stored on the ``PyObjective`` and the status ``EVAL_ERROR`` is returned, so the
# kernel can stop cleanly; the API re-raises the exception unchanged.

# The C signatures accepted for native objectives; the same shapes as the
# ``scipy.LowLevelCallable`` signatures ``double (int, double *)`` and
# ``double (int, double *, void *)``.
ctypedef double (*objective_t)(int n, double *x, void *user_data) noexcept nogil
ctypedef double (*objective_nouser_t)(int n, double *x) noexcept nogil

cdef enum:
    OBJ_PYTHON = 0
    OBJ_NATIVE = 1
    OBJ_NATIVE_NOUSER = 2
    # The two halves of every batched mode (vectorized f, process pools, cluster
    # executors): a RECORD pass runs a kernel and stores the points it would evaluate
    # (rows lo:hi of them); the points are then evaluated in bulk; a REPLAY pass runs the
    # same kernel again, feeding it the values in the same order.  So all modes share one
    # copy of each stencil and give bitwise the same result as the serial path.
    OBJ_RECORD = 3
    OBJ_REPLAY = 4

cdef enum:
    EVAL_OK = 0
    EVAL_ERROR = 1        # f raised; the exception is stored on the PyObjective
    EVAL_NOMEM = 2        # a scratch buffer could not be allocated
    EVAL_INTERRUPT = 3    # a signal handler raised (Ctrl-C) between chunks

cdef struct Objective:
    int kind
    int n                 # length of x
    Py_ssize_t m          # number of values one evaluation returns (1 for a gradient)
    void *fn              # objective_t or objective_nouser_t for native objectives
    void *user_data       # passed through to objective_t
    void *pyobj           # borrowed PyObjective for Python objectives
    double *table         # RECORD: points (hi - lo, n); REPLAY: values (count, m)
    Py_ssize_t cursor     # RECORD / REPLAY: index of the next evaluation
    Py_ssize_t lo, hi     # RECORD: the rows to store
    Py_ssize_t count      # REPLAY: number of values in the table

# A first-derivative stencil: d/dt f(x + t e) ~ sum_j weight[j] * f(x + offset[j] * h e) / h.
# An offset of 0 means "f at the centre", which the kernels evaluate once and reuse.
cdef struct Stencil:
    int npts
    double offset[7]
    double weight[7]

# Stencil ids; the table lives in _diff.pyx and is the only copy of these coefficients.
cdef enum:
    ST_CENTRAL2 = 0
    ST_CENTRAL4 = 1
    ST_CENTRAL6 = 2
    ST_FORWARD1 = 3
    ST_BACKWARD1 = 4
    ST_FORWARD2 = 5
    ST_BACKWARD2 = 6
    N_STENCILS = 7


# What a first-derivative kernel is asked to compute: a list of perturbation groups.
# Group k moves the coordinates coords[gptr[k]:gptr[k+1]] together (each i by
# offset * h[i]) with the stencil of its first coordinate, and stores
# sum_j weight[j] * f(x + offset[j] * d_k) into out[k, :], d_k = sum h[i] e_i over the group
# (a compressed column: the recovery divides by each coordinate's step).  With gptr NULL
# every group is one coordinate and out[k, :] is the derivative itself (divided by h[i]):
# the dense plan.
cdef struct FDPlan:
    Py_ssize_t ncoords          # number of groups (entries of out)
    const Py_ssize_t *coords    # the coordinates of the groups; NULL: coordinate k is k
    const Py_ssize_t *gptr      # group k is coords[gptr[k]:gptr[k+1]]; NULL: singletons
    const double *x0            # an unperturbed copy of x (groups of several coordinates)
    const double *h             # representable step of every coordinate (length n)
    const signed char *sid      # stencil id of every coordinate; NULL: all use `stencil`
    int stencil
    const double *f0            # f(x) (m values), for stencils that use the centre
    double *out                 # (ncoords, m), C order
