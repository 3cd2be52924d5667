"""The reference the optimizer tests compare with: PyTorch's documented update rules
(torch.optim.SGD with dampening=0, Adagrad, RMSprop, Adam) in plain NumPy, one step at
a time, and the optimizer settings the tests use."""
from __future__ import annotations

import numpy as np

from fastgrad.optimizers import GD, AdaGrad, Adam, Momentum, RMSProp

#: Every optimizer, with settings other than the defaults where that shows more.
OPTIMIZERS = {
    "gd": GD(),
    "momentum": Momentum(momentum=0.8),
    "nesterov": Momentum(momentum=0.7, nesterov=True),
    "adagrad": AdaGrad(eps=1e-3),
    "rmsprop": RMSProp(decay=0.9, eps=1e-4),
    "adam": Adam(beta1=0.8, beta2=0.95, eps=1e-6),
}
NAMES = list(OPTIMIZERS)


class Reference:
    """The documented update rules in plain NumPy (PyTorch's documentation of
    torch.optim.SGD, Adagrad, RMSprop and Adam), one step at a time."""

    def __init__(self, opt, lr: float, shape) -> None:
        self.opt, self.lr, self.t = opt, lr, 0
        self.m = np.zeros(shape)
        self.v = np.zeros(shape)

    def step(self, x: np.ndarray, g: np.ndarray, max_norm: float | None = None) -> np.ndarray:
        opt, lr = self.opt, self.lr
        self.t += 1
        norm = np.sqrt(np.sum(g * g))
        c = max_norm / norm if max_norm is not None and norm > max_norm else 1.0
        if isinstance(opt, GD):
            return x - (lr * c) * g
        g = g * c
        if isinstance(opt, Momentum):
            self.m = g.copy() if self.t == 1 else opt.momentum * self.m + g
            d = g + opt.momentum * self.m if opt.nesterov else self.m
            return x - lr * d
        if isinstance(opt, AdaGrad):
            self.v = self.v + g ** 2
            return x - lr * g / (np.sqrt(self.v) + opt.eps)
        if isinstance(opt, RMSProp):
            self.v = opt.decay * self.v + (1 - opt.decay) * g ** 2
            return x - lr * g / (np.sqrt(self.v) + opt.eps)
        assert isinstance(opt, Adam)
        self.m = opt.beta1 * self.m + (1 - opt.beta1) * g
        self.v = opt.beta2 * self.v + (1 - opt.beta2) * g ** 2
        m_hat = self.m / (1 - opt.beta1 ** self.t)
        v_hat = self.v / (1 - opt.beta2 ** self.t)
        return x - lr * m_hat / (np.sqrt(v_hat) + opt.eps)
