"""
Hessians and Newton's method
============================

The Hessian holds all second partial derivatives,
:math:`H_{ij} = \\partial^2 f / \\partial x_i \\partial x_j`.  It tells the curvature: a
positive definite Hessian means f is convex there, and Newton's method uses it to take
steps :math:`x \\leftarrow x - H^{-1} \\nabla f` that converge in a handful of iterations
where gradient descent needs thousands.

This example shows that :func:`fastgrad.hessian` of :math:`x^3 y^2` matches
:math:`\\begin{pmatrix} 6xy^2 & 6x^2y \\\\ 6x^2y & 2x^3 \\end{pmatrix}` and is exactly
symmetric, that the Hessian of a convex quadratic is its (positive definite) matrix, and
that :func:`fastgrad.newton` minimises the Rosenbrock function in a few dozen steps
where :func:`fastgrad.gradient_descent` with a stable learning rate is still far away
after 2000.
"""
import matplotlib.pyplot as plt
import numpy as np
from scipy.optimize import rosen

import fastgrad as fg
from fastgrad import plot

x, y = 1.2, -0.8
H = fg.hessian(lambda v: v[0] ** 3 * v[1] ** 2, [x, y])
exact = np.array([[6 * x * y**2, 6 * x**2 * y], [6 * x**2 * y, 2 * x**3]])
print("fastgrad:\n", H, "\nexact:\n", exact)
assert np.allclose(H, exact, rtol=1e-5, atol=1e-5)
assert np.array_equal(H, H.T)                       # symmetric bit for bit

# %%
# Convexity
# ---------
# :math:`f(v) = \tfrac12 v^\top A v` has the Hessian A everywhere; A is positive
# definite, so f is convex.
A = np.array([[3.0, 1.0], [1.0, 2.0]])
HA = fg.hessian(lambda v: 0.5 * v @ A @ v, [0.3, -0.7])
print("Hessian of ½vᵀAv:\n", HA, "\neigenvalues:", np.linalg.eigvalsh(HA))
assert np.allclose(HA, A, atol=1e-6) and np.all(np.linalg.eigvalsh(HA) > 0)

# %%
# Newton's method against gradient descent
# ----------------------------------------
# On Rosenbrock's banana valley, from the classic start (-1.2, 1).  Newton's steps use
# the numerical gradient and Hessian (with a backtracking line search); gradient descent
# uses a learning rate small enough to be stable in the valley.
newton_path = [np.array([-1.2, 1.0])]
res = fg.newton(rosen, newton_path[0])
print(res)
assert res.success and np.allclose(res.x, [1.0, 1.0], atol=1e-6) and res.nit < 50

gd_path = [np.array([-1.2, 1.0])]
gd = fg.gradient_descent(rosen, gd_path[0], lr=1e-3, epochs=2000,
                         callback=lambda p: gd_path.append(p.copy()))
print(gd)
assert np.linalg.norm(gd.x - 1.0) > 1e3 * np.linalg.norm(res.x - 1.0)

# %%
# The Newton iterates themselves, step by step: :math:`x_{k+1} = x_k + t_k d_k` with
# :math:`H d_k = -\nabla f`.
xk = newton_path[0]
for _ in range(res.nit):
    step = fg.newton(rosen, xk, maxiter=1)
    xk = step.x
    newton_path.append(xk)
assert np.allclose(newton_path[-1], res.x, atol=1e-8)

fig, ax = plt.subplots(figsize=(6.5, 5))
plot.loss_surface(rosen, (-2.0, 2.0), (-1.0, 3.0), ax=ax, gradient_field=False,
                  resolution=120)
ax.plot(*np.array(gd_path).T, "-", color="tab:orange", lw=2,
        label=f"gradient descent, 2000 steps: f = {gd.fun:.2g}")
ax.plot(*np.array(newton_path).T, "o-", color="tab:red", ms=3,
        label=f"Newton, {res.nit} steps: f = {res.fun:.1g}")
ax.legend(loc="lower right")
ax.set_title("Rosenbrock: Newton's method against gradient descent")
fig.tight_layout()
