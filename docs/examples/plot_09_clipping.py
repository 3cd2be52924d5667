"""
Gradient clipping
=================

When a gradient is huge (a bad starting point, badly scaled features, a large learning
rate), one update can throw the parameters so far that the next gradient is larger still:
the loss explodes.  Clipping by the global norm rescales the gradient to at most
``max_norm`` and keeps its direction:

.. math:: g \\leftarrow g \\cdot \\min(1, \\mathrm{max\\_norm} / \\|g\\|).

This example shows that :func:`fastgrad.clip_by_norm` equals the tutorial's
``clip_gradients`` (and clips a (dw, db) pair by one global norm), and that on features
of scale 30 a learning rate that makes the plain fit diverge (``status="diverged"``,
with a warning that says what to change) keeps the clipped fit bounded: its loss falls
from 261 to below 1.  Clipping is a safety net; the cure is to scale the features, after
which a far larger learning rate converges.
"""
import warnings

import matplotlib.pyplot as plt
import numpy as np

import fastgrad as fg
from fastgrad import plot


def clip_gradients(gradients, max_norm=1.0):
    total_norm = np.linalg.norm(gradients)
    if total_norm > max_norm:
        gradients = gradients * (max_norm / total_norm)
    return gradients


for g in (np.array([3.0, 4.0]), np.array([0.3, -0.4, 0.2])):
    clipped, norm = fg.clip_by_norm(g, 1.0)
    print(f"{g} (norm {norm:.3f}) -> {clipped}")
    assert np.allclose(clipped, clip_gradients(g), rtol=1e-15)

(dw, db), norm = fg.clip_by_norm((np.array([6.0, 0.0]), 8.0), max_norm=5.0)
print("pair:", dw, db, "global norm before:", norm)
assert norm == 10.0 and np.allclose([*dw, db], [3.0, 0.0, 4.0])

# %%
# A fit that explodes, and the same fit clipped
# ---------------------------------------------
rng = np.random.default_rng(0)
X = 30.0 * rng.normal(size=(200, 2))
y = X @ [0.5, -0.25] + 1.0

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    plain = fg.fit_linear_regression(X, y, lr=0.002, epochs=500)
print(plain)
print("warning:", caught[0].message if caught else None)
assert plain.status == "diverged" and caught

clipped = fg.fit_linear_regression(X, y, lr=0.002, epochs=500, max_norm=1.0)
print(clipped)
assert clipped.status == "max_epochs" and np.all(np.isfinite(clipped.loss_history))
assert clipped.loss_history[0] > 250 and clipped.loss_history[-1] < 1.0

# %%
# Each clipped step moves the parameters by at most ``lr * max_norm``, so the loss stays
# bounded, but the learning rate is still too large for this curvature and the fit does
# not settle.  Standardising the features removes the cause:
Xs = (X - X.mean(axis=0)) / X.std(axis=0)
scaled = fg.fit_linear_regression(Xs, y, lr=0.1, epochs=500, tol=1e-10)
print(scaled)
assert scaled.status == "converged" and scaled.loss_history[-1] < 1e-18

fig, ax = plt.subplots(figsize=(6, 4))
shown = plain.loss_history[plain.loss_history < 1e12]     # it goes on to 5e305
plot.loss_history(shown, ax=ax, label=f"no clipping: diverged at epoch {plain.n_epochs}")
plot.loss_history(clipped, ax=ax, label="max_norm=1.0")
plot.loss_history(scaled, ax=ax, label="standardised X, lr=0.1")
ax.set_yscale("log")
ax.set_title("lr=0.002 on features of scale 30, clipped and not")
fig.tight_layout()
