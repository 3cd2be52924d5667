"""
The directional derivative
==========================

The rate of change of f at x along a unit vector u is the directional derivative,

.. math:: D_u f(x) = \\nabla f(x) \\cdot u .

:func:`fastgrad.directional_derivative` computes it with two calls of ``f`` (a central
difference along u), without forming the gradient.  This example shows:

- for :math:`f = x^2 + y^2` at (2, 3), along :math:`(1, 1)/\\sqrt 2`, the derivative is
  :math:`(4, 6) \\cdot (1, 1)/\\sqrt 2 = 10/\\sqrt 2 \\approx 7.0711`;
- for :math:`x^2 y + e^{xy}` at (1, 2) it equals :math:`\\nabla f \\cdot u` for any u;
- over all directions, :math:`D_u f` is largest along the gradient, where it equals
  :math:`\\|\\nabla f\\|`: the gradient is the direction of steepest ascent.
"""
import matplotlib.pyplot as plt
import numpy as np

import fastgrad as fg


def f(v):
    return v[0] ** 2 + v[1] ** 2


x = np.array([2.0, 3.0])
d = fg.directional_derivative(f, x, [1.0, 1.0])      # the direction is normalised for you
print(f"D_u f(2, 3) along (1, 1)/√2 = {d:.10f};  10/√2 = {10 / np.sqrt(2):.10f}")
assert abs(d - 10 / np.sqrt(2)) < 1e-8

# %%
# It is the gradient dotted with u
# --------------------------------


def h(v):
    return v[0] ** 2 * v[1] + np.exp(v[0] * v[1])


p = np.array([1.0, 2.0])
grad = fg.numerical_gradient(h, p)
for u in ([1.0, 0.0], [0.0, 1.0], [3.0, -4.0], [-1.0, 2.0]):
    u = np.asarray(u) / np.linalg.norm(u)
    du = fg.directional_derivative(h, p, u)
    print(f"u = {np.round(u, 3)}:  D_u f = {du:.8f},  ∇f·u = {grad @ u:.8f}")
    assert np.isclose(du, grad @ u, rtol=1e-7)

# %%
# Steepest ascent
# ---------------
# Sweep u around the unit circle: :math:`D_u f = \|\nabla f\| \cos\theta`, largest at
# the angle of the gradient.
angles = np.linspace(-np.pi, np.pi, 361)
rates = np.array([fg.directional_derivative(f, x, [np.cos(a), np.sin(a)]) for a in angles])
g = fg.numerical_gradient(f, x)
best = angles[np.argmax(rates)]
print(f"largest rate {rates.max():.6f} at {np.degrees(best):.1f}°;"
      f" |∇f| = {np.linalg.norm(g):.6f} at {np.degrees(np.arctan2(g[1], g[0])):.1f}°")
assert abs(rates.max() - np.linalg.norm(g)) < 1e-3
assert abs(best - np.arctan2(g[1], g[0])) <= np.radians(1.0)

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(np.degrees(angles), rates, label="D_u f(2, 3)")
ax.axvline(np.degrees(np.arctan2(g[1], g[0])), color="k", ls="--",
           label="direction of ∇f")
ax.axhline(np.linalg.norm(g), color="gray", ls=":", label="|∇f|")
ax.set_xlabel("angle of u (degrees)")
ax.set_ylabel("rate of change")
ax.legend()
ax.set_title("The directional derivative peaks along the gradient")
fig.tight_layout()
