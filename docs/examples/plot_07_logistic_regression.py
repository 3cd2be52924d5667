"""
Logistic regression
===================

With :math:`p = \\sigma(w_1 x_1 + w_2 x_2 + b)` and the mean cross-entropy
:math:`L = -\\frac1n \\sum [y \\log p + (1-y) \\log(1-p)]`, the gradient is remarkably
simple:

.. math:: \\nabla_w L = \\frac1n X^\\top (p - y), \\qquad \\partial_b L = \\overline{p - y}.

This example shows that :func:`fastgrad.logistic_gradient` equals the tutorial's
``logistic_gradients`` and the chain rule of a single sigmoid neuron
(:math:`\\partial L/\\partial a \\cdot \\partial a/\\partial z \\cdot x`), and that
:func:`fastgrad.fit_logistic_regression` reaches the optimum of the loss (its gradient
vanishes) on two overlapping classes, drawn with the decision boundary.
"""
import matplotlib.pyplot as plt
import numpy as np

import fastgrad as fg


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


rng = np.random.default_rng(1)
n = 400
X = np.vstack([rng.normal([-1.0, -0.5], 1.0, size=(n // 2, 2)),
               rng.normal([1.0, 1.0], 1.0, size=(n // 2, 2))])
y = np.repeat([0.0, 1.0], n // 2)

weights, bias = np.array([0.8, -0.5]), 0.1
error = sigmoid(X @ weights + bias) - y
dw, db = fg.logistic_gradient(X, y, weights, bias)
print("fastgrad:", dw, db)
print("tutorial:", X.T @ error / len(X), np.mean(error))
assert np.allclose([*dw, db], [*(X.T @ error / len(X)), np.mean(error)], rtol=1e-12)

# %%
# One neuron, by the chain rule
# -----------------------------
x1, w1, b1, t1 = np.array([0.4, -1.3]), np.array([0.5, 0.2]), 0.1, 1.0
a = sigmoid(w1 @ x1 + b1)
dL_da = -(t1 / a) + (1 - t1) / (1 - a)
da_dz = a * (1 - a)
dW, dB = fg.logistic_gradient(x1[None, :], [t1], w1, b1)
print("chain rule:", dL_da * da_dz * x1, dL_da * da_dz, "  fastgrad:", dW, dB)
assert np.allclose([*dW, dB], [*(dL_da * da_dz * x1), dL_da * da_dz], rtol=1e-12)

# %%
# Fitting
# -------
fit = fg.fit_logistic_regression(X, y, lr=1.0, epochs=5000, tol=1e-9)
gw, gb = fg.logistic_gradient(X, y, fit.w, fit.b)
accuracy = np.mean((X @ fit.w + fit.b > 0) == (y == 1))
print(fit)
print(f"gradient norm at the fit {np.linalg.norm([*gw, gb]):.1e}, accuracy {accuracy:.3f}")
assert fit.status == "converged" and np.linalg.norm([*gw, gb]) < 1e-8
assert accuracy > 0.85

fig, ax = plt.subplots(figsize=(6, 5))
ax.scatter(*X[y == 0].T, s=10, label="class 0")
ax.scatter(*X[y == 1].T, s=10, label="class 1")
xs = np.linspace(X[:, 0].min(), X[:, 0].max(), 2)
ax.plot(xs, -(fit.w[0] * xs + fit.b) / fit.w[1], "k-", label="p = 0.5")
ax.set_ylim(X[:, 1].min(), X[:, 1].max())
ax.legend()
ax.set_title(f"fit_logistic_regression: accuracy {accuracy:.1%}")
fig.tight_layout()
