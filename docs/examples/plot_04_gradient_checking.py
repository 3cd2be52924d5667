"""
Numerical gradients and gradient checking
=========================================

A numerical gradient is the standard way to verify a hand-derived one: compute both and
compare.  The tutorials' loop perturbs one coordinate at a time by ``h = 1e-5`` and asks
for a difference norm below 1e-7.  This example shows that:

- :func:`fastgrad.numerical_gradient` with ``h=1e-5`` gives the tutorial loop's numbers
  (and its default step gives more accurate ones);
- :func:`fastgrad.check_gradient` accepts a correct analytic gradient, and for a gradient
  with a bug it names the wrong coordinate;
- the error of a central difference against the step h is V-shaped: truncation error
  (:math:`\\propto h^2`) on the right, rounding error (:math:`\\propto \\epsilon / h`) on
  the left; fastgrad's default step sits on the floor of the V, where the relative
  error is below 1e-9.
"""
import matplotlib.pyplot as plt
import numpy as np

import fastgrad as fg


def loss(w):
    return float(np.sum(np.sin(w) * w**2))


def analytic(w):
    return np.cos(w) * w**2 + 2 * w * np.sin(w)


def tutorial_numerical_gradient(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for i in range(len(x)):
        x_plus, x_minus = x.copy(), x.copy()
        x_plus[i] += h
        x_minus[i] -= h
        grad[i] = (f(x_plus) - f(x_minus)) / (2 * h)
    return grad


w = np.array([0.3, -1.2, 2.5])
loop = tutorial_numerical_gradient(loss, w)
same_step = fg.numerical_gradient(loss, w, h=1e-5)
print("tutorial loop   :", loop)
print("fastgrad h=1e-5 :", same_step)
assert np.allclose(same_step, loop, rtol=1e-8)

difference = np.linalg.norm(analytic(w) - fg.numerical_gradient(loss, w))
print(f"|analytic - numerical| = {difference:.2e}  (the tutorials ask for < 1e-7)")
assert difference < 1e-7

# %%
# check_gradient
# --------------
# One call compares the two with a relative and an absolute tolerance per coordinate.
good = fg.check_gradient(loss, analytic, w)
print(good)
assert good.ok


def buggy(w):                      # forgot the factor 2 in the product rule
    return np.cos(w) * w**2 + w * np.sin(w)


bad = fg.check_gradient(loss, buggy, w)
print(bad)
assert not bad.ok and bad.worst_index == 2    # sin(2.5)·2.5 is the largest missing term

# %%
# How the error depends on the step
# ---------------------------------
# For one coordinate of the same loss, the error of the central difference against the
# exact derivative, over steps from 1e-12 to 1e-1.
steps = np.logspace(-12, -1, 45)
x1 = np.array([1.3])
exact = analytic(x1)[0]
errors = [abs(fg.numerical_gradient(loss, x1, h=s)[0] - exact) for s in steps]
r = fg.numerical_gradient(loss, x1, full_output=True)
default_error = abs(r.value[0] - exact)
print(f"default step {r.step[0]:.2e}: error {default_error:.1e};"
      f" best over the sweep {min(errors):.1e}")
assert default_error < 1e-9 * abs(exact)          # on the floor of the V
assert errors[0] > 1e3 * default_error          # a tiny step drowns in rounding error
assert errors[-1] > 1e3 * default_error         # a large step in truncation error

fig, ax = plt.subplots(figsize=(6, 4))
ax.loglog(steps, np.maximum(errors, 1e-17), "o-", ms=3, label="central difference")
ax.axvline(r.step[0], color="k", ls="--", label="fastgrad's default step")
ax.set_xlabel("step h")
ax.set_ylabel("absolute error")
ax.legend()
ax.set_title("Rounding error (left) against truncation error (right)")
fig.tight_layout()
