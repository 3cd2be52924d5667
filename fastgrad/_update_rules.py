"""The rules of one gradient-descent update, stated once on the Python side.

The compiled fits (``fit_epochs`` in ``src/_linear.pyx``) apply the same rules in C,
without the GIL; ``gradient_descent`` (any Python f) and ``clip_by_norm`` use these.
The step itself (plain, momentum, Nesterov, AdaGrad, RMSProp, Adam) is written once, in
``src/_optim_rules.pxd``: the compiled fits cimport it, and Python code takes a step with
``fastgrad._optim.step`` (``gradient_descent`` does); ``updated`` below is the plain step
of that rule (``"gd"``), operation for operation:

- the gradient norm is the L2 norm of all parts together, scaled by the largest entry
  so that squares cannot overflow (``global_norm``; non-finite entries give a
  non-finite norm);
- a non-finite loss or norm stops with status "diverged", then a norm below ``tol``
  with status "converged" (``stop_status``);
- the update is clipped to ``max_norm`` (``clip_factor``), and an update that would
  make the parameters non-finite is not applied (status "diverged").
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["global_norm", "clip_factor", "stop_status", "updated"]


def global_norm(parts: Sequence[np.ndarray]) -> float:
    """L2 norm of all parts together, scaled by the largest |entry| (no overflow)."""
    scale = max((float(np.max(np.abs(p))) if p.size else 0.0) for p in parts)
    if scale == 0.0 or not math.isfinite(scale):
        return scale
    return scale * math.sqrt(sum(float(np.sum(np.square(p / scale))) for p in parts))


def clip_factor(norm: float, max_norm: float | None) -> float:
    """The factor that scales a gradient of this norm to at most max_norm (None: no clip)."""
    return max_norm / norm if max_norm is not None and norm > max_norm else 1.0


def stop_status(loss: float, norm: float, tol: float | None) -> str | None:
    """"diverged", "converged" or None (go on), before an update."""
    if not (math.isfinite(loss) and math.isfinite(norm)):
        return "diverged"
    if tol is not None and norm < tol:
        return "converged"
    return None


def updated(params: np.ndarray, grad: np.ndarray, step: float) -> np.ndarray | None:
    """params - step * grad, or None when that is not finite everywhere (the update is
    then not applied and the run stops with status "diverged")."""
    new = params - step * grad
    return new if np.all(np.isfinite(new)) else None
