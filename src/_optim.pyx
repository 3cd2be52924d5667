"""One optimizer step on a float64 parameter vector (compiled as ``fastgrad._optim``).

Called by ``gradient_descent`` (``fastgrad._descent``) once per update, after it has
evaluated the gradient and its clip factor.  The update rules themselves are in
``_optim_rules.pxd``, which the compiled fit loop (``_linear.pyx``) cimports too, so
both apply the same arithmetic.
"""
from libc.math cimport isfinite

from _optim_rules cimport (OPT_ADAGRAD, OPT_ADAM, OPT_GD, OPT_MOMENTUM, OPT_NESTEROV,
                           OPT_RMSPROP, OptRule, rule_begin, rule_delta, rule_make)

#: Optimizer ids by name, as ``fastgrad.optimizers`` names them.
KINDS = {"gd": OPT_GD, "momentum": OPT_MOMENTUM, "nesterov": OPT_NESTEROV,
         "adagrad": OPT_ADAGRAD, "rmsprop": OPT_RMSPROP, "adam": OPT_ADAM}


def step(int kind, double lr, double mu, double beta2, double eps, long long t,
         double clip, const double[::1] x, const double[::1] g, double[:, ::1] state,
         double[::1] out):
    """Step t (1 on the first) of optimizer ``kind``: out = x - delta(g).

    Parameters
    ----------
    kind : int
        An id of ``KINDS``.
    lr, mu, beta2, eps : float
        Learning rate and the optimizer's constants (mu: momentum, decay or beta1).
    t : int
        Step count, 1 on the first step.
    clip : float
        The clip factor of g (1.0: not clipped).
    x, g : ndarray of float64, shape (n,)
        Parameters and their (unclipped) gradient.
    state : ndarray of float64, shape (2, n)
        The optimizer's state (row 0: momentum / first moment, row 1: squares), zero
        before the first step; updated in place.
    out : ndarray of float64, shape (n,)
        Receives the new parameters.

    Returns
    -------
    bool
        Whether every entry of ``out`` is finite.
    """
    cdef Py_ssize_t i, n = x.shape[0]
    cdef OptRule rule = rule_make(kind, lr, mu, beta2, eps)
    cdef bint ok = True
    if g.shape[0] != n or out.shape[0] != n or state.shape[0] != 2 or state.shape[1] != n:
        raise ValueError("x, g, out and state must have n, n, n and (2, n) entries")
    with nogil:
        rule_begin(&rule, t, clip)
        for i in range(n):
            out[i] = x[i] - rule_delta(&rule, g[i], &state[0, i], &state[1, i])
            ok = ok and isfinite(out[i])
    return ok
