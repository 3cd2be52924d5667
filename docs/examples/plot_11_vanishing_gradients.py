"""
Why gradients vanish at a minimum
=================================

At a minimum of a smooth function the gradient is zero: if it were not, a small step
against it would lower f further.  Near the minimum, f is close to the quadratic
:math:`\\tfrac12 (x - x^*)^\\top H (x - x^*)`, so :math:`\\nabla f \\approx H (x - x^*)`
shrinks in proportion to the distance.  Gradient descent's steps
:math:`\\mathrm{lr}\\cdot\\nabla f` therefore shrink by themselves as it approaches the
minimum, which is why a fixed learning rate can converge, and why the gradient norm is
the natural stopping test (``tol``).

This example shows, for a least-squares loss, that the gradient norm along the descent
is proportional to the distance to the minimum (the ratio stays between the extreme
eigenvalues of H), that both fall geometrically, and that the gradient at the exact
minimiser is zero to rounding.  It ends with the other kind of vanishing gradient the
tutorials warn about: a saturated sigmoid, far from any minimum.
"""
import matplotlib.pyplot as plt
import numpy as np

import fastgrad as fg

rng = np.random.default_rng(7)
X = rng.normal(size=(200, 2)) * [1.0, 0.4]
t = X @ [1.0, -3.0] + 0.05 * rng.normal(size=200)


def loss(w):
    return float(np.mean((X @ w - t) ** 2))


w_star = np.linalg.lstsq(X, t, rcond=None)[0]
H = fg.hessian(loss, w_star)
eig = np.linalg.eigvalsh(H)
g_star = fg.numerical_gradient(loss, w_star)
print("minimiser", w_star, " gradient there", g_star, " Hessian eigenvalues", eig)
assert np.linalg.norm(g_star) < 1e-8

path = [np.array([-2.0, 2.0])]
res = fg.gradient_descent(loss, path[0], lr=0.5, epochs=100,
                          callback=lambda w: path.append(w.copy()))
path = np.array(path)
distance = np.linalg.norm(path - w_star, axis=1)
gnorm = np.array([np.linalg.norm(fg.numerical_gradient(loss, w)) for w in path])
ratio = gnorm / distance
print(f"|∇f| / distance along the path: min {ratio.min():.3f}, max {ratio.max():.3f}")
assert np.all(ratio >= 0.99 * eig[0]) and np.all(ratio <= 1.01 * eig[-1])
assert gnorm[-1] < 1e-4 * gnorm[0]

# %%
# A different vanishing gradient: saturation
# ------------------------------------------
# A logistic model with huge weights predicts p ≈ 1 with certainty.  For a point it gets
# right, the gradient :math:`(p - y)x` is essentially zero although nothing has been
# learned; for a point it gets wrong, it is not.  This is the "vanishing gradients" of the
# tutorials' pitfalls, caused by the sigmoid's flat tails, not by a minimum.
x1 = np.array([[1.0, 2.0]])
for scale in (0.1, 1.0, 10.0, 30.0):
    w = scale * np.array([1.0, 1.0])
    dw, _ = fg.logistic_gradient(x1, [1.0], w)
    print(f"weights {scale:5.1f}·(1, 1): |gradient| = {np.linalg.norm(dw):.3e}")
dw_sat, _ = fg.logistic_gradient(x1, [1.0], 30.0 * np.array([1.0, 1.0]))
dw_wrong, _ = fg.logistic_gradient(x1, [0.0], 30.0 * np.array([1.0, 1.0]))
assert np.linalg.norm(dw_sat) < 1e-30 and np.linalg.norm(dw_wrong) > 1.0

fig, ax = plt.subplots(figsize=(6, 4))
ax.semilogy(distance, label="distance to the minimum")
ax.semilogy(gnorm, label="|∇f|")
ax.set_xlabel("step of gradient descent")
ax.legend()
ax.set_title("The gradient vanishes as the minimum approaches")
fig.tight_layout()
