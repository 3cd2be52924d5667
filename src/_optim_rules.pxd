# The update rules of fastgrad's optimizers, written once (cimported by _optim.pyx, the
# step of ``gradient_descent``, and by _linear.pyx, the compiled fit loop).
#
# One step of an optimizer on a parameter vector x with gradient g:
#
#   1. the caller computes the clip factor c of the whole gradient (max_norm / ||g||
#      when ||g|| > max_norm, else 1) and calls ``rule_begin`` once per step: it stores
#      c and the step's scalars (the step count t, Adam's bias corrections);
#   2. for every element, ``rule_delta(rule, g_i, &m_i, &v_i)`` updates that element's
#      state (m: momentum buffer / first moment; v: sum or average of squares) and
#      returns the amount to subtract, delta_i; x_i <- x_i - delta_i.
#
# The rules are PyTorch's documented ones, with g the clipped gradient c * g:
#
#   GD        delta = (lr * c) * g            (fastgrad's plain step, unchanged)
#   Momentum  m = g on the first step, else m = mu * m + g   (torch.optim.SGD, dampening=0)
#             delta = lr * m, or lr * (g + mu * m) with nesterov
#   AdaGrad   v = v + g^2;  delta = lr * g / (sqrt(v) + eps)            (torch.optim.Adagrad)
#   RMSProp   v = a * v + (1 - a) g^2;  delta = lr * g / (sqrt(v) + eps)  (torch.optim.RMSprop)
#   Adam      m = b1 * m + (1 - b1) g;  v = b2 * v + (1 - b2) g^2;
#             delta = (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)  (torch.optim.Adam)
#
# Everything is computed in double, whatever the dtype of x; state starts at zero.
# The caller applies the deltas only when every x_i - delta_i is finite (else the run
# stops with status "diverged"), so a step is all or nothing.

from libc.math cimport pow, sqrt

cdef enum:
    OPT_GD = 0
    OPT_MOMENTUM = 1
    OPT_NESTEROV = 2
    OPT_ADAGRAD = 3
    OPT_RMSPROP = 4
    OPT_ADAM = 5


cdef struct OptRule:
    int kind          # OPT_*
    double lr         # learning rate
    double mu         # Momentum: momentum; RMSProp: decay; Adam: beta1
    double beta2      # Adam: beta2
    double eps        # AdaGrad, RMSProp, Adam
    # set by rule_begin, once per step
    long long t       # step count, 1 on the first step
    double clip       # clip factor of this step's gradient (1: not clipped)
    double a1         # GD: lr * clip; Adam: lr / (1 - beta1^t)
    double a2         # Adam: sqrt(1 - beta2^t)


cdef inline OptRule rule_make(int kind, double lr, double mu, double beta2,
                              double eps) noexcept nogil:
    """An optimizer's constants (the per-step fields are set by ``rule_begin``)."""
    cdef OptRule r
    r.kind = kind
    r.lr = lr
    r.mu = mu
    r.beta2 = beta2
    r.eps = eps
    r.t = 0
    r.clip = 1.0
    r.a1 = lr
    r.a2 = 1.0
    return r


cdef inline void rule_begin(OptRule *r, long long t, double clip) noexcept nogil:
    """Start step t (1 on the first step) with the gradient's clip factor."""
    r.t = t
    r.clip = clip
    if r.kind == OPT_ADAM:
        r.a1 = r.lr / (1.0 - pow(r.mu, <double>t))
        r.a2 = sqrt(1.0 - pow(r.beta2, <double>t))
    else:
        r.a1 = r.lr * clip


cdef inline double rule_delta(const OptRule *r, double g, double *m,
                              double *v) noexcept nogil:
    """One element's step: update its state m[0], v[0] and return delta (x -= delta).
    g is the unclipped gradient; the clip factor of ``rule_begin`` is applied first."""
    cdef int kind = r.kind
    if kind == OPT_GD:
        return r.a1 * g      # (lr * c) * g, as before the optimizers existed
    g = g * r.clip
    if kind == OPT_MOMENTUM or kind == OPT_NESTEROV:
        m[0] = g if r.t == 1 else r.mu * m[0] + g
        if kind == OPT_NESTEROV:
            return r.lr * (g + r.mu * m[0])
        return r.lr * m[0]
    if kind == OPT_ADAGRAD:
        v[0] = v[0] + g * g
        return r.lr * (g / (sqrt(v[0]) + r.eps))
    if kind == OPT_RMSPROP:
        v[0] = r.mu * v[0] + (1.0 - r.mu) * (g * g)
        return r.lr * (g / (sqrt(v[0]) + r.eps))
    # OPT_ADAM
    m[0] = r.mu * m[0] + (1.0 - r.mu) * g
    v[0] = r.beta2 * v[0] + (1.0 - r.beta2) * (g * g)
    return r.a1 * (m[0] / (sqrt(v[0]) / r.a2 + r.eps))

