"""
The gradient vector
===================

The gradient collects all the partial derivatives into one vector,
:math:`\\nabla f = (\\partial f/\\partial x_1, \\dots, \\partial f/\\partial x_n)`.
:func:`fastgrad.numerical_gradient` computes it with central differences (2n calls of
``f``).  This example checks it against the closed forms of the tutorials:

- :math:`\\nabla (x^2 + y^2) = (2x, 2y)`, so (6, 8) at (3, 4) and (4, 6) at (2, 3);
- :math:`\\nabla (x^2 + xy + y^2) = (2x + y, x + 2y)`, so (4, 5) at (1, 2);
- :math:`\\nabla (x^2 y + e^{xy}) = (2xy + y e^{xy}, x^2 + x e^{xy})` at (1, 2);
- :math:`\\nabla (x^2 z + y^3 - 5z) = (2xz, 3y^2, x^2 - 5)` in three variables;

and shows the two geometric facts: the gradient is perpendicular to the contour lines,
and it points where f increases fastest.
"""
import matplotlib.pyplot as plt
import numpy as np

import fastgrad as fg
from fastgrad import plot

# %%
# Closed forms
# ------------
cases = [
    ("x² + y² at (3, 4)", lambda v: v[0] ** 2 + v[1] ** 2, [3.0, 4.0], [6.0, 8.0]),
    ("x² + y² at (2, 3)", lambda v: v[0] ** 2 + v[1] ** 2, [2.0, 3.0], [4.0, 6.0]),
    ("x² + xy + y² at (1, 2)", lambda v: v[0] ** 2 + v[0] * v[1] + v[1] ** 2,
     [1.0, 2.0], [4.0, 5.0]),
    ("x²y + e^(xy) at (1, 2)", lambda v: v[0] ** 2 * v[1] + np.exp(v[0] * v[1]),
     [1.0, 2.0], [2 * 2 + 2 * np.exp(2), 1 + np.exp(2)]),
    ("x²z + y³ - 5z at (1.5, -2, 0.7)", lambda v: v[0] ** 2 * v[2] + v[1] ** 3 - 5 * v[2],
     [1.5, -2.0, 0.7], [2 * 1.5 * 0.7, 3 * 4.0, 1.5**2 - 5]),
]
for name, f, x, exact in cases:
    g = fg.numerical_gradient(f, x)
    print(f"{name:34s} numerical {np.round(g, 8)}   exact {np.round(exact, 8)}")
    assert np.allclose(g, exact, rtol=1e-8)

# %%
# The gradient is perpendicular to the contour lines
# --------------------------------------------------
# On the circle :math:`x^2 + y^2 = 25` through (3, 4), the tangent direction is
# (-4, 3).  The gradient (6, 8) is orthogonal to it: their dot product is zero.
g = fg.numerical_gradient(lambda v: v[0] ** 2 + v[1] ** 2, [3.0, 4.0])
tangent = np.array([-4.0, 3.0]) / 5.0
print("gradient · tangent =", g @ tangent)
assert abs(g @ tangent) < 1e-8

# %%
# The picture: contours of :math:`x^2 + xy + y^2` with its gradient field drawn by
# :func:`fastgrad.plot.loss_surface`.  Every arrow crosses the contour lines at a right
# angle and points uphill; the arrows vanish at the minimum (0, 0).


def bowl(v):
    return v[0] ** 2 + v[0] * v[1] + v[1] ** 2


fig, ax = plt.subplots(figsize=(6, 5))
plot.loss_surface(bowl, (-3, 3), (-3, 3), ax=ax, arrows=15, resolution=80)
ax.set_title("x² + xy + y²: the gradient field is normal to the contours")
fig.tight_layout()
