"""
Linear regression with several features
=======================================

The model :math:`\\hat y = w_1 x_1 + w_2 x_2 + b` with the loss
:math:`L = \\frac1n \\sum (\\hat y_i - y_i)^2` has the gradient

.. math:: \\frac{\\partial L}{\\partial w_j} = \\frac2n \\sum_i (\\hat y_i - y_i)\\,x_{ij},
          \\qquad \\frac{\\partial L}{\\partial b} = \\frac2n \\sum_i (\\hat y_i - y_i).

This example shows that :func:`fastgrad.mse_gradient` equals the tutorial's
``compute_gradients`` and the numerical gradient of :func:`fastgrad.mse_loss`, and that
:func:`fastgrad.fit_linear_regression` descends to the least-squares solution
(``numpy.linalg.lstsq``) to 1e-8, with its loss curve.
"""
import numpy as np

import fastgrad as fg
from fastgrad import plot

rng = np.random.default_rng(0)
n = 500
X = rng.normal(size=(n, 2))
y = X @ [1.5, -2.0] + 0.7 + 0.1 * rng.normal(size=n)


def compute_gradients(X, y, weights, bias):
    n = len(X)
    error = X @ weights + bias - y
    return [(2 / n) * sum(error * X[:, 0]), (2 / n) * sum(error * X[:, 1])], (2 / n) * sum(error)


weights, bias = np.array([0.3, -1.1]), 0.4
dw, db = fg.mse_gradient(X, y, weights, bias)
tw, tb = compute_gradients(X, y, weights, bias)
numeric = fg.numerical_gradient(lambda p: fg.mse_loss(X, y, p[:2], p[2]), [*weights, bias])
print("fastgrad      :", dw, db)
print("tutorial      :", np.array(tw), tb)
print("numerical     :", numeric)
assert np.allclose([*dw, db], [*tw, tb], rtol=1e-12)
assert np.allclose([*dw, db], numeric, rtol=1e-7)

# %%
# Fitting
# -------
# Full-batch gradient descent, the whole loop in one compiled call; ``tol`` stops it when
# the gradient norm is below 1e-10.
fit = fg.fit_linear_regression(X, y, lr=0.1, epochs=2000, tol=1e-10)
print(fit)
A = np.column_stack([X, np.ones(n)])
exact = np.linalg.lstsq(A, y, rcond=None)[0]
print("least squares :", exact)
assert fit.status == "converged"
assert np.allclose([*fit.w, fit.b], exact, rtol=1e-8, atol=1e-10)

ax = plot.loss_history(fit, label="fit_linear_regression")
ax.set_title(f"converged in {fit.n_epochs} epochs to w = {np.round(fit.w, 3)}, "
             f"b = {fit.b:.3f}")
ax.figure.set_layout_engine("tight")
