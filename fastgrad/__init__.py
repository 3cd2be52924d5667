"""fastgrad: fast, checked numerical gradients and compiled gradient descent.

Finite-difference gradients, partial and directional derivatives, Jacobians, Hessians
and gradient checks whose loops run in Cython kernels; analytic MSE, logistic and
softmax (multinomial) loss gradients from one fused pass over X; and a batch
gradient-descent loop with gradient-norm clipping that runs entirely in compiled code
without the GIL.

>>> import numpy as np
>>> from fastgrad import numerical_gradient
>>> np.round(numerical_gradient(lambda v: v[0]**2 + v[1]**2, [3.0, 4.0]), 6).tolist()
[6.0, 8.0]
"""
from . import optimizers, plot
from ._descent import gradient_descent
from ._gradients import (
    check_gradient,
    directional_derivative,
    hessian,
    jacobian,
    numerical_gradient,
    partial_derivative,
)
from ._losses import (
    clip_by_norm,
    fit_linear_regression,
    fit_logistic_regression,
    fit_softmax_regression,
    logistic_gradient,
    logistic_loss,
    mse_gradient,
    mse_loss,
    softmax_gradient,
    softmax_loss,
)
from ._optimize import NewtonResult, gradient_of, hessian_of, newton
from ._results import DerivativeResult, DescentResult, FitResult, GradientCheck
from ._sparse import Coloring, coloring, detect_sparsity

__version__ = "0.1.0"

__all__ = [
    "numerical_gradient", "partial_derivative", "directional_derivative", "jacobian",
    "hessian", "check_gradient", "mse_loss", "mse_gradient", "logistic_loss",
    "logistic_gradient", "softmax_loss", "softmax_gradient", "clip_by_norm",
    "fit_linear_regression", "fit_logistic_regression", "fit_softmax_regression",
    "gradient_descent", "gradient_of", "hessian_of", "newton", "optimizers", "plot",
    "GradientCheck", "FitResult", "DescentResult", "DerivativeResult", "NewtonResult",
    "coloring", "Coloring", "detect_sparsity",
    "__version__",
]
