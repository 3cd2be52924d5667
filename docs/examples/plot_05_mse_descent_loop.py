"""
The MSE gradient and the hand-written descent loop
==================================================

For one data point (x, y) and the model :math:`wx + b`, the squared error
:math:`L(w, b) = (wx + b - y)^2` has the partial derivatives

.. math:: \\frac{\\partial L}{\\partial w} = 2(wx + b - y)\\,x, \\qquad
          \\frac{\\partial L}{\\partial b} = 2(wx + b - y).

:func:`fastgrad.mse_gradient` computes them (averaged over N points, in one pass over
the data).  This example shows:

- ``grad_mse(1, 0, 2, 3) = (-4, -2)`` from the tutorial, reproduced;
- the tutorial's ten steps of ``w -= lr * dw`` with lr = 0.1 from (0, 0) on x = 2, y = 4
  end at (1.6, 0.8), and :func:`fastgrad.fit_linear_regression` with ``epochs=10`` makes
  the same ten steps in compiled code;
- one update on four points gives the tutorial's "Updated w, b".
"""
import matplotlib.pyplot as plt
import numpy as np

import fastgrad as fg


def grad_mse(w, b, x, y):
    error = w * x + b - y
    return 2 * error * x, 2 * error


dw, db = fg.mse_gradient(np.array([[2.0]]), np.array([3.0]), np.array([1.0]), 0.0)
print("grad_mse(1, 0, 2, 3) =", grad_mse(1, 0, 2, 3), "  fastgrad:", (dw[0], db))
assert (dw[0], db) == (-4.0, -2.0)

# %%
# Ten steps by hand and in the compiled loop
# ------------------------------------------
w, b, lr = 0.0, 0.0, 0.1
path = [(w, b)]
for _ in range(10):
    gw, gb = grad_mse(w, b, 2.0, 4.0)
    w -= lr * gw
    b -= lr * gb
    path.append((w, b))
print(f"by hand : w = {w:.12f}, b = {b:.12f}")
fit = fg.fit_linear_regression(np.array([[2.0]]), np.array([4.0]), lr=0.1, epochs=10)
print(f"fastgrad: w = {fit.w[0]:.12f}, b = {fit.b:.12f}   ({fit.status})")
assert np.allclose([w, b], [1.6, 0.8], rtol=1e-12)
assert np.allclose([fit.w[0], fit.b], [w, b], rtol=1e-12)

# %%
# One step on several points
# --------------------------
# With N points the gradient is the mean: :math:`\frac{2}{N}\sum (wx_i + b - t_i)x_i`
# and :math:`\frac{2}{N}\sum (wx_i + b - t_i)`.
x = np.array([1.0, 2.0, 3.0, 4.0])
t = np.array([2.3, 4.1, 5.9, 8.2])
error = 0.5 * x - t
by_hand = (0.5 - 0.01 * (2 / 4) * error @ x, 0.0 - 0.01 * (2 / 4) * error.sum())
one = fg.fit_linear_regression(x[:, None], t, lr=0.01, epochs=1, w0=[0.5], b0=0.0)
print("Updated w, b:", by_hand, "  fastgrad:", (one.w[0], one.b))
assert np.allclose([one.w[0], one.b], by_hand, rtol=1e-13)

# %%
# Why ten steps end where one does: each step multiplies the residual
# :math:`r = 2w + b - 4` by :math:`1 - \mathrm{lr}\cdot 2\,(x^2 + 1) = 1 - 0.2 \cdot 5 = 0`.
# The first step lands on a line through the data point, and the nine others leave
# (w, b) where it is: the tutorial's (1.6, 0.8) is already the result after one step.
losses = [(2 * pw + pb - 4.0) ** 2 for pw, pb in path]
print("loss by step:", np.round(losses, 12))
assert losses[0] == 16.0 and max(losses[1:]) < 1e-20

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.8))
pw, pb = np.array(path).T
ax1.plot(pw, pb, "o-")
ax1.set_xlabel("w")
ax1.set_ylabel("b")
ax1.set_title("(w, b) over the ten steps")
xs = np.linspace(0, 3, 20)
ax2.plot([2.0], [4.0], "ks", label="data point (2, 4)")
ax2.plot(xs, fit.w[0] * xs + fit.b, label=f"fit: y = {fit.w[0]:.2f} x + {fit.b:.2f}")
ax2.legend()
ax2.set_title("the fitted line")
fig.tight_layout()
