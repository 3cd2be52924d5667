"""Optimizers for fastgrad's gradient descents: plain steps, momentum, Nesterov, AdaGrad,
RMSProp and Adam.

Each optimizer is a small frozen object that holds its settings; the learning rate
stays the ``lr`` keyword of the descent.  Pass one (or its name) as ``optimizer=`` to
:func:`fastgrad.fit_linear_regression`, :func:`fastgrad.fit_logistic_regression` or
:func:`fastgrad.gradient_descent`::

    "gd"        GD()
    "momentum"  Momentum()
    "nesterov"  Momentum(nesterov=True)
    "adagrad"   AdaGrad()
    "rmsprop"   RMSProp()
    "adam"      Adam()

The update rules are PyTorch's documented ones (``torch.optim.SGD`` with
``dampening=0``, ``Adagrad``, ``RMSprop`` with ``alpha=decay``, ``Adam``), so the same
settings give the same iterates.  The gradient is clipped to ``max_norm`` (when given)
before the step, as ``torch.nn.utils.clip_grad_norm_`` before ``opt.step()``; g below
is that clipped gradient.  The optimizer's state (moments and step count) starts at
zero at the start of each run and lives in the compiled loop; the rules are written once,
in ``src/_optim_rules.pxd``, and applied there in double precision.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from ._validation import check_finite_scalar

__all__ = ["GD", "Momentum", "AdaGrad", "RMSProp", "Adam"]


def _unit_interval(value: Any, name: str) -> float:
    """A float in [0, 1), else a TypeError/ValueError naming the argument."""
    out = check_finite_scalar(value, name)
    if not 0.0 <= out < 1.0:
        raise ValueError(f"`{name}` must be in [0, 1), got {out}")
    return out


def _positive_eps(value: Any, name: str = "eps") -> float:
    out = check_finite_scalar(value, name)
    if not out > 0.0:
        raise ValueError(f"`{name}` must be > 0, got {out}")
    return out


@dataclasses.dataclass(frozen=True)
class GD:
    """Plain gradient descent: ``x <- x - lr * g``.

    The default optimizer, the steps fastgrad has always taken (with ``max_norm``,
    g is the clipped gradient: ``x <- x - (lr * c) * grad`` with c the clip factor).
    The same as ``torch.optim.SGD(params, lr)``.

    Attributes
    ----------
    name : str
        ``"gd"``, the name ``optimizer=`` also accepts.

    Examples
    --------
    >>> import fastgrad as fg
    >>> from fastgrad.optimizers import GD
    >>> r = fg.gradient_descent(lambda v: (v[0] - 3.0)**2, [0.0], lr=0.25, epochs=1,
    ...                         grad=lambda v: 2 * (v - 3.0), optimizer=GD())
    >>> r.x.tolist()      # 0 - 0.25 * (-6)
    [1.5]
    """

    @property
    def name(self) -> str:
        return "gd"


@dataclasses.dataclass(frozen=True)
class Momentum:
    """Gradient descent with momentum (heavy ball) or Nesterov momentum.

    With momentum buffer b (``b = g`` on the first step)::

        b <- momentum * b + g
        x <- x - lr * b                     (nesterov=False)
        x <- x - lr * (g + momentum * b)    (nesterov=True)

    PyTorch's ``torch.optim.SGD(params, lr, momentum, dampening=0, nesterov)``.

    Parameters
    ----------
    momentum : float
        In [0, 1); 0 gives plain gradient descent.
    nesterov : bool
        Nesterov's look-ahead form (needs momentum > 0).

    Attributes
    ----------
    momentum : float
        The momentum factor.
    nesterov : bool
        Whether the Nesterov form is used.
    name : str
        ``"nesterov"`` or ``"momentum"``.

    Raises
    ------
    ValueError
        momentum outside [0, 1), or nesterov with momentum 0.
    TypeError
        momentum not a real number, or nesterov not a bool.

    Examples
    --------
    >>> import fastgrad as fg
    >>> from fastgrad.optimizers import Momentum
    >>> Momentum(momentum=0.5, nesterov=True)
    Momentum(momentum=0.5, nesterov=True)
    >>> r = fg.gradient_descent(lambda v: v[0]**2, [1.0], grad=lambda v: 2 * v, lr=0.1,
    ...                         epochs=2, optimizer=Momentum(momentum=0.5))
    >>> r.x.round(12).tolist()   # b = 2, x = 0.8; b = 0.5 * 2 + 1.6 = 2.6, x = 0.54
    [0.54]
    """

    momentum: float = 0.9
    nesterov: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "momentum", _unit_interval(self.momentum, "momentum"))
        if not isinstance(self.nesterov, bool):
            raise TypeError(f"`nesterov` must be a bool, got {type(self.nesterov).__name__}")
        if self.nesterov and self.momentum == 0.0:
            raise ValueError("`nesterov` needs a momentum > 0, got momentum=0.0")

    @property
    def name(self) -> str:
        return "nesterov" if self.nesterov else "momentum"


@dataclasses.dataclass(frozen=True)
class AdaGrad:
    """AdaGrad: steps scaled by the root of each coordinate's sum of squared gradients.

    With the sum s starting at 0::

        s <- s + g**2
        x <- x - lr * g / (sqrt(s) + eps)

    PyTorch's ``torch.optim.Adagrad(params, lr, lr_decay=0, initial_accumulator_value=0,
    eps)``.

    Parameters
    ----------
    eps : float
        Added to the root, > 0.

    Attributes
    ----------
    eps : float
        The term added to the root.
    name : str
        ``"adagrad"``.

    Raises
    ------
    ValueError
        eps <= 0.

    Examples
    --------
    >>> import fastgrad as fg
    >>> from fastgrad.optimizers import AdaGrad
    >>> r = fg.gradient_descent(lambda v: v[0]**2, [1.0], grad=lambda v: 2 * v, lr=0.1,
    ...                         epochs=1, optimizer=AdaGrad())
    >>> r.x.round(8).tolist()    # the first step has length lr: 1 - 0.1 * 2 / 2
    [0.9]
    """

    eps: float = 1e-10

    def __post_init__(self) -> None:
        object.__setattr__(self, "eps", _positive_eps(self.eps))

    @property
    def name(self) -> str:
        return "adagrad"


@dataclasses.dataclass(frozen=True)
class RMSProp:
    """RMSProp: steps scaled by the root of a running average of squared gradients.

    With the average v starting at 0::

        v <- decay * v + (1 - decay) * g**2
        x <- x - lr * g / (sqrt(v) + eps)

    PyTorch's ``torch.optim.RMSprop(params, lr, alpha=decay, eps, centered=False,
    momentum=0)``.

    Parameters
    ----------
    decay : float
        Weight of the past in the average, in [0, 1).
    eps : float
        Added to the root, > 0.

    Attributes
    ----------
    decay : float
        Weight of the past in the average.
    eps : float
        The term added to the root.
    name : str
        ``"rmsprop"``.

    Raises
    ------
    ValueError
        decay outside [0, 1), or eps <= 0.

    Examples
    --------
    >>> import fastgrad as fg
    >>> from fastgrad.optimizers import RMSProp
    >>> r = fg.gradient_descent(lambda v: v[0]**2, [1.0], grad=lambda v: 2 * v, lr=0.01,
    ...                         epochs=1, optimizer=RMSProp(decay=0.75))
    >>> r.x.round(8).tolist()    # v = 0.25 * 4 = 1: 1 - 0.01 * 2 / 1
    [0.98]
    """

    decay: float = 0.99
    eps: float = 1e-8

    def __post_init__(self) -> None:
        object.__setattr__(self, "decay", _unit_interval(self.decay, "decay"))
        object.__setattr__(self, "eps", _positive_eps(self.eps))

    @property
    def name(self) -> str:
        return "rmsprop"


@dataclasses.dataclass(frozen=True)
class Adam:
    """Adam: momentum on the gradient and on its square, with bias correction.

    With m and v starting at 0 and t the step count (1 on the first step)::

        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g**2
        x <- x - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    PyTorch's ``torch.optim.Adam(params, lr, betas=(beta1, beta2), eps)``, computed as
    PyTorch computes it (the last line is ``m_hat / (sqrt(v_hat) + eps)`` with the
    bias-corrected moments).

    Parameters
    ----------
    beta1 : float
        Decay of the first moment, in [0, 1).
    beta2 : float
        Decay of the second moment, in [0, 1).
    eps : float
        Added to the root, > 0.

    Attributes
    ----------
    beta1, beta2 : float
        The decays of the two moments.
    eps : float
        The term added to the root.
    name : str
        ``"adam"``.

    Raises
    ------
    ValueError
        beta1 or beta2 outside [0, 1), or eps <= 0.

    Examples
    --------
    >>> import fastgrad as fg
    >>> from fastgrad.optimizers import Adam
    >>> r = fg.gradient_descent(lambda v: v[0]**2, [1.0], grad=lambda v: 2 * v, lr=0.1,
    ...                         epochs=1, optimizer=Adam())
    >>> r.x.round(6).tolist()    # the first step has length lr (times 1 - 5e-9)
    [0.9]
    """

    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    def __post_init__(self) -> None:
        object.__setattr__(self, "beta1", _unit_interval(self.beta1, "beta1"))
        object.__setattr__(self, "beta2", _unit_interval(self.beta2, "beta2"))
        object.__setattr__(self, "eps", _positive_eps(self.eps))

    @property
    def name(self) -> str:
        return "adam"


Optimizer = GD | Momentum | AdaGrad | RMSProp | Adam

#: The names ``optimizer=`` accepts, and the object each stands for.
_BY_NAME: dict[str, Optimizer] = {
    "gd": GD(), "momentum": Momentum(), "nesterov": Momentum(nesterov=True),
    "adagrad": AdaGrad(), "rmsprop": RMSProp(), "adam": Adam(),
}


def _resolve(value: Any, name: str = "optimizer") -> Optimizer:
    """The optimizer object an ``optimizer=`` argument stands for (a name or an object),
    else a ValueError (unknown name, listing the known ones) or a TypeError naming it."""
    if isinstance(value, str):
        try:
            return _BY_NAME[value]
        except KeyError:
            known = ", ".join(repr(k) for k in _BY_NAME)
            raise ValueError(f"`{name}` must be one of {known} or an object of "
                             f"fastgrad.optimizers, got {value!r}") from None
    if isinstance(value, (GD, Momentum, AdaGrad, RMSProp, Adam)):
        return value
    raise TypeError(f"`{name}` must be a name ({', '.join(repr(k) for k in _BY_NAME)}) or "
                    "one of fastgrad.optimizers.GD, Momentum, AdaGrad, RMSProp, Adam, got "
                    f"{type(value).__name__}")


def _rule(opt: Optimizer) -> tuple[str, float, float, float]:
    """(rule name, mu, beta2, eps): the constants of the compiled rule
    (``src/_optim_rules.pxd``; mu is the momentum, RMSProp's decay or Adam's beta1)."""
    if isinstance(opt, Momentum):
        return opt.name, opt.momentum, 0.0, 1.0
    if isinstance(opt, AdaGrad):
        return "adagrad", 0.0, 0.0, opt.eps
    if isinstance(opt, RMSProp):
        return "rmsprop", opt.decay, 0.0, opt.eps
    if isinstance(opt, Adam):
        return "adam", opt.beta1, opt.beta2, opt.eps
    return "gd", 0.0, 0.0, 1.0

