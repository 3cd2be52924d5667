"""
Partial derivatives
===================

A partial derivative measures how a function changes when **one** variable moves and all
the others are held fixed.  For :math:`f(x, y) = x^2 + 3y`:

.. math:: \\frac{\\partial f}{\\partial x} = 2x, \\qquad \\frac{\\partial f}{\\partial y} = 3.

:func:`fastgrad.partial_derivative` differentiates along one coordinate with a central
difference (two calls of ``f``).  This example shows that it gives
:math:`\\partial f/\\partial x (2, 3) = 4` and :math:`\\partial f/\\partial y (2, 5) = 3`,
that with the step ``h = 1e-5`` it reproduces the hand-written central difference
``(f(x + h, y) - f(x - h, y)) / (2h)`` of :math:`x^2 - y^2` at (1, 2) (2 and -4), and
draws the partial derivative as the slope of a slice of the surface.
"""
import matplotlib.pyplot as plt
import numpy as np

import fastgrad as fg

# %%
# fastgrad's functions take the point as one array ``v``; ``v[0]`` is x and ``v[1]`` is y.


def f(v):
    return v[0] ** 2 + 3 * v[1]


dfdx = fg.partial_derivative(f, [2.0, 3.0], 0)   # d f / d x at (2, 3)
dfdy = fg.partial_derivative(f, [2.0, 5.0], 1)   # d f / d y at (2, 5)
print(f"df/dx(2, 3) = {dfdx:.10f}   (exact: 2x = 4)")
print(f"df/dy(2, 5) = {dfdy:.10f}   (exact: 3)")
assert abs(dfdx - 4.0) < 1e-8 and abs(dfdy - 3.0) < 1e-8

# %%
# The same numbers by hand
# ------------------------
# A central difference with step ``h`` along ``x`` only, for :math:`x^2 - y^2` at (1, 2):


def numerical_partial(g, x, y, var="x", h=1e-5):
    if var == "x":
        return (g(x + h, y) - g(x - h, y)) / (2 * h)
    return (g(x, y + h) - g(x, y - h)) / (2 * h)


def g2(x, y):
    return x**2 - y**2


by_hand = [numerical_partial(g2, 1.0, 2.0, "x"), numerical_partial(g2, 1.0, 2.0, "y")]
with_fastgrad = [fg.partial_derivative(lambda v: g2(v[0], v[1]), [1.0, 2.0], i, h=1e-5)
                 for i in (0, 1)]
print("by hand:      ", by_hand)
print("fastgrad h=1e-5:", with_fastgrad)
assert np.allclose(with_fastgrad, by_hand, rtol=1e-9)
assert np.allclose(with_fastgrad, [2.0, -4.0], rtol=1e-9)

# %%
# fastgrad's default step is chosen for accuracy (about :math:`\epsilon^{1/3}|x|`), so
# without ``h`` the result is closer to the exact value than the fixed ``h = 1e-5``:
default = [fg.partial_derivative(lambda v: g2(v[0], v[1]), [1.0, 2.0], i) for i in (0, 1)]
print("fastgrad, default step:", default)
assert np.allclose(default, [2.0, -4.0], rtol=1e-10)

# %%
# A partial derivative is the slope of a slice
# --------------------------------------------
# Holding y fixed at 2 leaves a function of x alone, :math:`x^2 - 4`.  Its slope at
# x = 1 is :math:`\partial f/\partial x (1, 2) = 2`: the tangent line drawn below.
xs = np.linspace(-1.0, 3.0, 200)
slope = fg.partial_derivative(lambda v: g2(v[0], v[1]), [1.0, 2.0], 0)
fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(xs, g2(xs, 2.0), label="slice  f(x, 2) = x² - 4")
ax.plot(xs, g2(1.0, 2.0) + slope * (xs - 1.0), "--",
        label=f"tangent at x = 1, slope ∂f/∂x = {slope:.6f}")
ax.plot([1.0], [g2(1.0, 2.0)], "ko")
ax.set_xlabel("x  (y held at 2)")
ax.set_ylabel("f")
ax.legend()
ax.set_title("∂f/∂x: the slope along x with y fixed")
fig.tight_layout()
