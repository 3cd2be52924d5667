"""
The loss surface, its gradient field and a descent path
=======================================================

A loss of two parameters is a surface; its gradient at each point is an arrow pointing
uphill, perpendicular to the contour through that point, and gradient descent walks
against the arrows.  This example fits the line :math:`t \\approx w x + b` to noisy data,
draws the MSE surface over (w, b) with :func:`fastgrad.plot.loss_surface`, and adds the
path of :func:`fastgrad.gradient_descent` collected by its ``callback``.  It shows that
the path ends at the least-squares solution, that the loss decreases at every step, and
that the arrows vanish at the minimum.
"""
import matplotlib.pyplot as plt
import numpy as np

import fastgrad as fg
from fastgrad import plot

rng = np.random.default_rng(3)
x = rng.uniform(-1.0, 3.0, size=60)
t = 2.0 * x - 1.0 + 0.3 * rng.normal(size=60)


def loss(p):
    return float(np.mean((p[0] * x + p[1] - t) ** 2))


path = [np.array([-2.0, 3.0])]
res = fg.gradient_descent(loss, path[0], lr=0.08, epochs=500, tol=1e-8,
                          callback=lambda p: path.append(p.copy()))
path = np.array(path)
exact = np.polyfit(x, t, 1)                      # least squares (w, b)
print(res)
print("least squares:", exact)
assert res.converged and np.allclose(res.x, exact, atol=1e-6)
assert np.all(np.diff(res.loss_history) <= 0)    # every step goes downhill
assert np.linalg.norm(fg.numerical_gradient(loss, res.x)) < 1e-8

# %%
# The picture: contours, arrows along :math:`\nabla L` (uphill), and the path from the
# circle to the star.  The path first runs down the steep direction, then along the
# valley, as the elongated contours predict.
fig, ax = plt.subplots(figsize=(6.5, 5))
plot.loss_surface(loss, (-2.5, 4.0), (-3.0, 3.5), path=path, ax=ax, arrows=16,
                  resolution=80)
ax.set_xlabel("w")
ax.set_ylabel("b")
ax.set_title(f"MSE over (w, b): {res.n_iter} steps of gradient descent")
fig.tight_layout()
