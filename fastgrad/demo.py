"""The fastgrad demo: the tutorials' story, end to end, on built-in synthetic data.

``python -m fastgrad demo`` (or the ``fastgrad demo`` console script) calls :func:`run`,
which prints, in order:

a. the gradient of each tutorial function by fastgrad next to its closed form;
b. gradient checks of an analytic MSE gradient, a correct one and one with a bug;
c. Hessians against their closed forms;
d. a directional derivative;
e. the tutorial's ten-step gradient-descent loop, by hand and by fastgrad;
f. linear and logistic regression fitted by batch gradient descent with gradient
   clipping and a progress bar, with a table of results;
g. three classes: softmax (multinomial logistic) regression on 2-D data;
h. PNG pictures in an output folder: loss surfaces with their gradient field and a
   gradient-descent path, the loss curves of the fits, and the decision regions of the
   three-class model.

Nothing is downloaded; the data are generated from ``seed``.  matplotlib (pictures) and
tqdm (progress bars) are optional: without them the demo says how to install them and
runs the rest.  ``fastgrad.__main__`` holds the command line; this module holds the story.
"""
from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

import numpy as np

import fastgrad as fg

__all__ = ["run"]


# ----------------------------------------------------------------------------- printing
def _num(v: float, fmt: str = ".6g") -> str:
    v = float(v)
    if v == 0.0:
        return "0"
    return format(v, fmt)


def _vec(a: Any, fmt: str = ".6g") -> str:
    return "[" + ", ".join(_num(v, fmt) for v in np.ravel(a)) + "]"


def _mat(a: Any, fmt: str = ".6g") -> str:
    return "[" + ", ".join(_vec(row, fmt) for row in np.atleast_2d(a)) + "]"


def _err(v: float) -> str:
    return "0" if v == 0 else f"{v:.1e}"


class _Printer:
    """Section headers and plain-text tables on one stream."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, text: str = "") -> None:
        print(text, file=self.stream, flush=True)

    def section(self, letter: str, title: str) -> None:
        self()
        self(f"{letter}) {title}")
        self("-" * (len(title) + 3))

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]],
              right: Sequence[int] = ()) -> None:
        widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]

        def line(cells: Sequence[str]) -> str:
            out = []
            for k, (c, w) in enumerate(zip(cells, widths)):
                out.append(str(c).rjust(w) if k in right else str(c).ljust(w))
            return "  ".join(out).rstrip()

        self("  " + line(headers))
        self("  " + "  ".join("-" * w for w in widths))
        for r in rows:
            self("  " + line(r))


# ----------------------------------------------------------------------------- the story
#: (label, f, point, closed-form gradient): every function the tutorials differentiate.
SEED_FUNCTIONS: list[tuple[str, Callable[[np.ndarray], float], tuple, Callable[..., Any]]] = [
    ("x² + y²", lambda v: v[0]**2 + v[1]**2, (3.0, 4.0),
     lambda x, y: [2*x, 2*y]),
    ("x² + 3y", lambda v: v[0]**2 + 3*v[1], (2.0, 3.0),
     lambda x, y: [2*x, 3.0]),
    ("x² + xy + y²", lambda v: v[0]**2 + v[0]*v[1] + v[1]**2, (1.0, 2.0),
     lambda x, y: [2*x + y, x + 2*y]),
    ("x² + 3xy + y²", lambda v: v[0]**2 + 3*v[0]*v[1] + v[1]**2, (1.0, 2.0),
     lambda x, y: [2*x + 3*y, 3*x + 2*y]),
    ("x³y²", lambda v: v[0]**3 * v[1]**2, (2.0, 1.0),
     lambda x, y: [3*x**2 * y**2, 2*x**3 * y]),
    ("x²z + y³ − 5z", lambda v: v[0]**2 * v[2] + v[1]**3 - 5*v[2], (1.0, 2.0, 3.0),
     lambda x, y, z: [2*x*z, 3*y**2, x**2 - 5]),
    ("x²y + e^(xy)", lambda v: v[0]**2 * v[1] + np.exp(v[0]*v[1]), (1.0, 2.0),
     lambda x, y: [2*x*y + y*math.exp(x*y), x**2 + x*math.exp(x*y)]),
    ("3x²y + 2y", lambda v: 3*v[0]**2 * v[1] + 2*v[1], (1.0, 1.0),
     lambda x, y: [6*x*y, 3*x**2 + 2]),
    ("x² − y²", lambda v: v[0]**2 - v[1]**2, (1.0, 2.0),
     lambda x, y: [2*x, -2*y]),
    ("(2w + b − 3)² at (w, b)", lambda p: (p[0]*2 + p[1] - 3)**2, (1.0, 0.0),
     lambda w, b: [2*(2*w + b - 3)*2, 2*(2*w + b - 3)]),
]

#: The four data points of the tutorial's "gradient of a loss" example.
TUTORIAL_X = np.array([1.0, 2.0, 3.0, 4.0])
TUTORIAL_T = np.array([2.3, 4.1, 5.9, 8.2])
#: The minimum of the MSE on those points (np.polyfit(TUTORIAL_X, TUTORIAL_T, 1)).
LEAST_SQUARES = (1.95, 0.25)


def tutorial_mse(p: np.ndarray) -> float:
    """L(w, b) = mean((w x_i + b - t_i)^2) on the tutorial's four points."""
    return float(np.mean((p[0] * TUTORIAL_X + p[1] - TUTORIAL_T) ** 2))


def tutorial_mse_grad(p: np.ndarray) -> np.ndarray:
    """The tutorial's analytic gradient: (2/N) sum(err x), (2/N) sum(err)."""
    err = p[0] * TUTORIAL_X + p[1] - TUTORIAL_T
    n = TUTORIAL_X.size
    return np.array([2 / n * np.dot(err, TUTORIAL_X), 2 / n * np.sum(err)])


def buggy_mse_grad(p: np.ndarray) -> np.ndarray:
    """The same gradient with a common bug: the factor 2 of the square is forgotten."""
    err = p[0] * TUTORIAL_X + p[1] - TUTORIAL_T
    n = TUTORIAL_X.size
    return np.array([1 / n * np.dot(err, TUTORIAL_X), 1 / n * np.sum(err)])


def rosenbrock(v: np.ndarray) -> float:
    """Rosenbrock's banana function, minimum 0 at (1, 1)."""
    return float((1 - v[0]) ** 2 + 100 * (v[1] - v[0] ** 2) ** 2)


def _seed_gradients(say: _Printer) -> float:
    rows, worst = [], 0.0
    for label, f, point, closed in SEED_FUNCTIONS:
        g = fg.numerical_gradient(f, np.array(point))
        exact = np.array(closed(*point), dtype=float)
        err = float(np.max(np.abs(g - exact)))
        worst = max(worst, err)
        rows.append([label, _vec(point, "g"), _vec(g, ".10g"), _vec(exact, ".10g"), _err(err)])
    say.table(["function", "point", "fastgrad ∇f", "closed form ∇f", "max |error|"], rows,
              right=[4])
    return worst


def _gradient_checks(say: _Printer) -> dict[str, Any]:
    p = np.array([0.5, 0.0])
    good = fg.check_gradient(tutorial_mse, tutorial_mse_grad, p)
    bad = fg.check_gradient(tutorial_mse, buggy_mse_grad, p)
    say("  L(w, b) = mean((w·x + b − t)²) on x = [1, 2, 3, 4], t = [2.3, 4.1, 5.9, 8.2], "
        "at (w, b) = (0.5, 0)")
    rows = []
    for name, c in (("(2/N)·Σ err·x, (2/N)·Σ err", good),
                    ("(1/N)·Σ err·x, (1/N)·Σ err  (bug: factor 2 forgotten)", bad)):
        rows.append([name, _vec(c.analytic, ".8g"), _vec(c.numeric, ".8g"),
                     _err(c.max_abs_error), "ok" if c else "FAILED"])
    say.table(["analytic gradient", "analytic", "numerical", "max |error|", "check"], rows,
              right=[3])
    return {"good": bool(good), "bad": bool(bad)}


def _hessians(say: _Printer) -> float:
    def exact_xy_exp(x: float, y: float) -> np.ndarray:
        e = math.exp(x * y)
        return np.array([[2*y + y*y*e, 2*x + e + x*y*e], [2*x + e + x*y*e, x*x*e]])

    cases = [("x² + xy + y²", lambda v: v[0]**2 + v[0]*v[1] + v[1]**2, (1.0, 2.0),
              np.array([[2.0, 1.0], [1.0, 2.0]])),
             ("x²y + e^(xy)", lambda v: v[0]**2 * v[1] + np.exp(v[0]*v[1]), (1.0, 2.0),
              exact_xy_exp(1.0, 2.0))]
    rows, worst = [], 0.0
    for label, f, point, exact in cases:
        H = fg.hessian(f, np.array(point))
        err = float(np.max(np.abs(H - exact)))
        worst = max(worst, err)
        rows.append([label, _vec(point, "g"), _mat(H, ".7g"), _mat(exact, ".7g"), _err(err)])
    say.table(["function", "point", "fastgrad H", "closed form H", "max |error|"], rows,
              right=[4])
    eig = np.linalg.eigvalsh(fg.hessian(cases[0][1], np.array(cases[0][2])))
    say(f"  eigenvalues of the Hessian of x² + xy + y²: {_vec(eig, '.6g')} -> positive "
        "definite, so the function is convex")
    return worst


def _directional(say: _Printer) -> float:
    f = lambda v: v[0]**2 + v[1]**2  # noqa: E731
    d = fg.directional_derivative(f, np.array([2.0, 3.0]), [1.0, 1.0])
    exact = float(np.dot([4.0, 6.0], np.array([1.0, 1.0]) / math.sqrt(2)))
    say("  f = x² + y² at (2, 3) along u = (1, 1)/√2:  ∇f·u = [4, 6]·u")
    say(f"  fastgrad {d:.12g}   closed form 10/√2 = {exact:.12g}   "
        f"|error| {_err(abs(d - exact))}")
    return abs(d - exact)


def _tutorial_loop(say: _Printer) -> tuple[float, float]:
    w, b, lr, x, y = 0.0, 0.0, 0.1, 2.0, 4.0
    for _ in range(10):  # the tutorial's own loop, with its grad_mse
        error = w * x + b - y
        w, b = w - lr * 2 * error * x, b - lr * 2 * error
    fit = fg.fit_linear_regression([[x]], [y], lr=lr, epochs=10)
    say("  w, b = 0, 0; lr = 0.1; x, y = 2, 4; 10 steps of w -= lr·dL/dw, b -= lr·dL/db")
    say(f"  by hand (the tutorial's loop):   w = {w:.10g}, b = {b:.10g}")
    say(f"  fastgrad.fit_linear_regression:  w = {float(fit.w[0]):.10g}, b = {fit.b:.10g}"
        f"   (tutorial: (1.6, 0.8))")
    return float(fit.w[0]), float(fit.b)


def _make_data(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    w_lin, b_lin = np.array([1.5, -2.0, 0.5, 0.0, 3.0]), 0.7
    y_lin = X @ w_lin + b_lin + 0.5 * rng.normal(size=n)
    w_log, b_log = np.array([2.0, -1.0, 0.5, 0.0, 1.5]), -0.5
    p = 1.0 / (1.0 + np.exp(-(X @ w_log + b_log)))
    y_log = (rng.random(n) < p).astype(np.float64)
    return {"X": X, "w_lin": w_lin, "b_lin": np.array(b_lin), "y_lin": y_lin,
            "w_log": w_log, "b_log": np.array(b_log), "y_log": y_log}


def _fits(say: _Printer, *, n: int, epochs: int, seed: int,
          progress: bool) -> dict[str, Any]:
    data = _make_data(n, seed)
    X = data["X"]
    say(f"  synthetic data (seed {seed}): X {X.shape[0]}x{X.shape[1]} standard normal;"
        f" y = X·w + b + noise(σ=0.5) for the linear model,")
    say("  labels ~ Bernoulli(sigmoid(X·w + b)) for the logistic model")
    clip_lin, clip_log = 2.0, 0.2
    zeros = np.zeros(X.shape[1])
    _, norm_lin = fg.clip_by_norm(fg.mse_gradient(X, data["y_lin"], zeros, 0.0), clip_lin)
    _, norm_log = fg.clip_by_norm(fg.logistic_gradient(X, data["y_log"], zeros, 0.0), clip_log)
    say(f"  gradient norm at the start (w = 0, b = 0): {norm_lin:.4g} for the linear model "
        f"(max_norm {clip_lin:g}), {norm_log:.4g} for the logistic one (max_norm {clip_log:g});")
    say("  while the norm is above max_norm, (dw, db) is scaled down to max_norm before the step")
    t0 = time.perf_counter()
    lin = fg.fit_linear_regression(X, data["y_lin"], lr=0.1, epochs=epochs, max_norm=clip_lin,
                                   tol=1e-6, progress=progress)
    t_lin = time.perf_counter() - t0
    t0 = time.perf_counter()
    log = fg.fit_logistic_regression(X, data["y_log"], lr=0.5, epochs=epochs, max_norm=clip_log,
                                     tol=1e-6, progress=progress)
    t_log = time.perf_counter() - t0

    resid = X @ lin.w + lin.b - data["y_lin"]
    r2 = 1.0 - float(np.mean(resid**2) / np.var(data["y_lin"]))
    acc = float(np.mean(((X @ log.w + log.b) > 0) == (data["y_log"] > 0.5)))
    acc_true = float(np.mean(((X @ data["w_log"] + data["b_log"]) > 0) == (data["y_log"] > 0.5)))
    say()
    say.table(
        ["model", "lr", "max_norm", "epochs", "status", "final loss", "quality", "time"],
        [["linear regression (MSE)", "0.1", f"{clip_lin:g}", str(lin.n_epochs), lin.status,
          f"{lin.loss:.6g}", f"R² = {r2:.4f}", f"{t_lin * 1e3:.1f} ms"],
         ["logistic regression", "0.5", f"{clip_log:g}", str(log.n_epochs), log.status,
          f"{log.loss:.6g}", f"accuracy = {acc:.4f} (true weights: {acc_true:.4f})",
          f"{t_log * 1e3:.1f} ms"]],
        right=[3, 5, 7])
    say()
    rows = []
    for k in range(X.shape[1]):
        rows.append([f"w[{k}]", f"{data['w_lin'][k]:g}", f"{lin.w[k]:.4f}",
                     f"{data['w_log'][k]:g}", f"{log.w[k]:.4f}"])
    rows.append(["b", f"{float(data['b_lin']):g}", f"{lin.b:.4f}",
                 f"{float(data['b_log']):g}", f"{log.b:.4f}"])
    say.table(["weight", "linear: true", "linear: fitted", "logistic: true", "logistic: fitted"],
              rows, right=[1, 2, 3, 4])
    return {"linear": lin, "logistic": log, "r2": r2, "accuracy": acc}


#: Centres of the three classes of section g (2-D, so the decision regions can be drawn).
CLASS_CENTRES = np.array([[-2.0, -1.0], [2.0, -1.0], [0.0, 2.0]])


def _three_classes(say: _Printer, *, n: int, epochs: int, seed: int,
                   progress: bool) -> dict[str, Any]:
    rng = np.random.default_rng(seed + 1)
    y = rng.integers(0, 3, size=n)
    X = CLASS_CENTRES[y] + rng.normal(scale=1.2, size=(n, 2))
    say(f"  synthetic data (seed {seed + 1}): {n} points in 2-D, three classes around "
        f"{_mat(CLASS_CENTRES, 'g')} (σ = 1.2)")
    say("  model: P(class k | x) = softmax(x·W + b)_k with W 2x3, b of length 3; "
        "l2 = 1e-3, lr = 0.5")
    t0 = time.perf_counter()
    fit = fg.fit_softmax_regression(X, y, lr=0.5, epochs=epochs, l2=1e-3, tol=1e-6,
                                    progress=progress)
    elapsed = time.perf_counter() - t0
    predicted = np.argmax(X @ fit.w + fit.b, axis=1)
    acc = float(np.mean(predicted == y))
    say()
    say.table(["model", "epochs", "status", "final loss", "accuracy", "time"],
              [["softmax regression, 3 classes", str(fit.n_epochs), fit.status,
                f"{fit.loss:.6g}", f"{acc:.4f}", f"{elapsed * 1e3:.1f} ms"]],
              right=[1, 3, 4, 5])
    say()
    say.table(["class", "centre", "W[:, k]", "b[k]", "share predicted"],
              [[str(k), _vec(CLASS_CENTRES[k], "g"), _vec(fit.w[:, k], ".4f"),
                f"{np.asarray(fit.b)[k]:.4f}", f"{np.mean(predicted == k):.3f}"]
               for k in range(3)],
              right=[3, 4])
    return {"softmax": fit, "softmax_accuracy": acc, "softmax_data": (X, y)}


#: The optimizers compared on one problem: (label, optimizer=, lr).
OPTIMIZER_RUNS = (("GD", "gd", 0.2), ("momentum 0.9", "momentum", 0.2), ("Adam", "adam", 0.1))


def _optimizers(say: _Printer, *, epochs: int, seed: int) -> dict[str, Any]:
    """GD, momentum and Adam on one badly scaled least-squares problem."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(1000, 3)) * [2.0, 1.0, 0.1]     # feature scales 2, 1 and 0.1
    y = X @ [1.5, -2.0, 4.0] + 0.7                        # exact: the least loss is 0
    say("  y = X·w + b exactly, X 1000x3 with feature scales 2, 1 and 0.1 (the Hessian's")
    say("  eigenvalues differ 400-fold): the steep directions cap lr, the flat one crawls")
    fits: dict[str, Any] = {}
    rows = []
    for label, name, lr in OPTIMIZER_RUNS:
        fit = fg.fit_linear_regression(X, y, lr=lr, epochs=epochs, optimizer=name)
        below = np.flatnonzero(fit.loss_history < 1e-6)
        fits[label] = fit
        rows.append([label, f"optimizer={name!r}", f"{lr:g}",
                     str(int(below[0])) if below.size else f"> {epochs}",
                     f"{fit.loss:.3g}", f"{np.abs(fit.w - [1.5, -2.0, 4.0]).max():.2g}"])
    say()
    say.table(["rule", "fit_linear_regression(...)", "lr", "epochs to loss < 1e-6",
               f"loss after {epochs}", "max |w - w_true|"], rows, right=[2, 3, 4, 5])
    return fits


def _descent_path(f: Callable[[np.ndarray], float], x0: Sequence[float], **kw: Any
                  ) -> tuple[np.ndarray, Any]:
    points = [np.asarray(x0, dtype=float)]
    res = fg.gradient_descent(f, x0, callback=points.append, **kw)
    return np.array(points), res


def _pictures(out: str, fits: dict[str, Any], *, quick: bool) -> list[tuple[str, str]]:
    from . import plot

    plt = plot._pyplot()
    os.makedirs(out, exist_ok=True)
    files: list[tuple[str, str]] = []
    res_kw: dict[str, Any] = ({"resolution": 60, "arrows": 16} if quick
                              else {"resolution": 120, "arrows": 20})

    def save(fig: Any, name: str, what: str) -> None:
        path = os.path.join(out, name)
        fig.savefig(path, dpi=90 if quick else 110)
        plt.close(fig)
        files.append((path, what))

    # 1. The tutorial's MSE over (w, b): elongated valley, zig-zagging descent.
    path_mse, res_mse = _descent_path(tutorial_mse, [-1.0, 4.0], lr=0.1,
                                      epochs=150 if quick else 300, tol=1e-8)
    ax = plot.loss_surface(tutorial_mse, (-1.5, 4.5), (-4.0, 6.0), path=path_mse, **res_kw)
    ax.plot(*LEAST_SQUARES, "P", color="white", markeredgecolor="k", markersize=10,
            label="minimum (least squares)", zorder=5)
    ax.legend(loc="lower left", fontsize="small", framealpha=0.85)
    ax.set_xlabel("w")
    ax.set_ylabel("b")
    ax.set_title("L(w, b) = mean((w·x + b − t)²): gradient field and gradient descent "
                 f"(lr=0.1)\n{res_mse.n_iter} steps from (-1, 4), end (w, b) = "
                 f"({res_mse.x[0]:.4f}, {res_mse.x[1]:.4f}), least squares (1.95, 0.25)",
                 fontsize="medium")
    save(ax.figure, "loss_surface.png",
         "MSE of y = w·x + b over (w, b): contours, gradient field, descent path")

    # 2. Rosenbrock: the slow crawl along a curved valley, with clipped steps.
    path_ros, res_ros = _descent_path(rosenbrock, [-1.5, 2.0], lr=1e-3, max_norm=50.0,
                                      epochs=1500 if quick else 5000)
    ax = plot.loss_surface(rosenbrock, (-2.0, 2.0), (-1.0, 3.0), path=path_ros, **res_kw)
    ax.plot(1.0, 1.0, "P", color="white", markeredgecolor="k", markersize=10,
            label="minimum (1, 1)", zorder=5)
    ax.legend(loc="lower right", fontsize="small", framealpha=0.85)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("Rosenbrock (1 − x)² + 100(y − x²)²: gradient descent, lr=1e-3, "
                 f"max_norm=50\n{res_ros.n_iter} steps, end ({res_ros.x[0]:.3f}, "
                 f"{res_ros.x[1]:.3f}), minimum (1, 1)", fontsize="medium")
    save(ax.figure, "rosenbrock.png",
         "Rosenbrock's function: contours, gradient field, clipped descent path")

    # 3. Loss curves.
    fig, axes = plt.subplots(1, 3, figsize=(15.0, 4.5), layout="constrained")
    plot.loss_history(fits["linear"], ax=axes[0])
    axes[0].set_title(f"linear regression (MSE), {fits['linear'].status}", fontsize="medium")
    plot.loss_history(fits["logistic"], ax=axes[1])
    axes[1].set_title(f"logistic regression (cross-entropy), {fits['logistic'].status}",
                      fontsize="medium")
    plot.loss_history(res_mse, ax=axes[2], label="L(w, b), lr=0.1")
    plot.loss_history(res_ros, ax=axes[2], label="Rosenbrock, lr=1e-3, max_norm=50")
    axes[2].set_title("gradient_descent on the two surfaces", fontsize="medium")
    save(fig, "loss_curves.png",
         "loss per epoch of the two fits and of the two descents")

    # 4. Decision regions of the three-class softmax model, with its loss curve.
    X, y = fits["softmax_data"]
    fit = fits["softmax"]
    fig, axes = plt.subplots(1, 2, figsize=(12.0, 5.0), layout="constrained",
                             gridspec_kw={"width_ratios": [1.3, 1.0]})
    lo, hi = X.min(axis=0) - 0.5, X.max(axis=0) + 0.5
    steps = 150 if quick else 300
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], steps), np.linspace(lo[1], hi[1], steps))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    region = np.argmax(grid @ fit.w + fit.b, axis=1).reshape(gx.shape)
    colours = ["tab:blue", "tab:orange", "tab:green"]
    from matplotlib.colors import ListedColormap
    axes[0].contourf(gx, gy, region, levels=[-0.5, 0.5, 1.5, 2.5],
                     cmap=ListedColormap(colours), alpha=0.25)
    for k in range(3):
        axes[0].scatter(*X[y == k].T, s=10, color=colours[k], label=f"class {k}")
    axes[0].legend(loc="upper left", fontsize="small", framealpha=0.85)
    axes[0].set_xlabel("x₁")
    axes[0].set_ylabel("x₂")
    axes[0].set_title(f"softmax regression, 3 classes: decision regions\n"
                      f"accuracy {fits['softmax_accuracy']:.3f}, {fit.status} after "
                      f"{fit.n_epochs} epochs", fontsize="medium")
    plot.loss_history(fit, ax=axes[1])
    axes[1].set_title("softmax loss (cross-entropy + l2) per epoch", fontsize="medium")
    save(fig, "softmax_regions.png",
         "three-class softmax regression: decision regions and loss curve")

    # 5. One problem, three optimizers.
    if fits.get("optimizers"):
        fig, ax = plt.subplots(figsize=(8.0, 4.8), layout="constrained")
        for (label, _, lr), fit in zip(OPTIMIZER_RUNS, fits["optimizers"].values()):
            plot.loss_history(fit, ax=ax, label=f"{label} (lr={lr:g})")
        ax.set_title("Least squares with feature scales 2, 1, 0.1: loss per epoch",
                     fontsize="medium")
        save(fig, "optimizers.png", "loss curves of GD, momentum and Adam on one problem")
    return files


def run(out: str = "fastgrad-demo", *, quick: bool = False, progress: bool = True,
        plots: bool = True, seed: int = 0, stream: TextIO | None = None) -> dict[str, Any]:
    """Run the demo: print the tables and write the pictures.

    Parameters
    ----------
    out : str
        Folder for the PNG pictures (created if needed).
    quick : bool
        Smaller data, fewer epochs and coarser pictures (a few seconds; for CI).
    progress : bool
        Show tqdm progress bars during the fits (skipped with a note when tqdm is
        missing).
    plots : bool
        Write the pictures (skipped with a note when matplotlib is missing).
    seed : int
        Seed of the synthetic regression data.
    stream : file-like, optional
        Where to print (default ``sys.stdout``).

    Returns
    -------
    dict
        ``max_gradient_error``, ``max_hessian_error``, ``directional_error``,
        ``tutorial_loop`` ((w, b)), ``checks`` (the two gradient checks), ``linear``,
        ``logistic``, ``softmax`` (the FitResults), ``r2``, ``accuracy``,
        ``softmax_accuracy``, ``softmax_data`` ((X, y) of section g), ``optimizers`` (the
        FitResults of GD, momentum and Adam by name, section h) and ``files`` (the PNGs
        written, empty when pictures were skipped).

    Examples
    --------
    >>> import io
    >>> from fastgrad.demo import run
    >>> summary = run(quick=True, progress=False, plots=False, stream=io.StringIO())
    >>> summary["tutorial_loop"]
    (1.6, 0.8)
    >>> summary["max_gradient_error"] < 1e-6, summary["checks"]
    (True, {'good': True, 'bad': False})
    """
    say = _Printer(sys.stdout if stream is None else stream)
    started = time.perf_counter()
    say(f"fastgrad {fg.__version__} demo{' (--quick)' if quick else ''}: gradients, "
        "checks, Hessians and gradient descent, the tutorials' examples end to end")

    if progress:
        try:
            import tqdm  # noqa: F401
        except ImportError:
            say("note: tqdm is not installed, so no progress bars; "
                'pip install "fastgrad[progress]"')
            progress = False
    if plots:
        from . import plot
        try:
            plot._pyplot()
        except ImportError:
            say('note: matplotlib is not installed, so no pictures; pip install "fastgrad[plot]"'
                " (or run with --no-plots)")
            plots = False

    summary: dict[str, Any] = {}
    say.section("a", "Gradients of the tutorials' functions: fastgrad (central differences) "
                     "vs closed form")
    summary["max_gradient_error"] = _seed_gradients(say)
    say.section("b", "Gradient check (fastgrad.check_gradient) of an analytic MSE gradient")
    summary["checks"] = _gradient_checks(say)
    say.section("c", "Hessians (fastgrad.hessian) vs closed form")
    summary["max_hessian_error"] = _hessians(say)
    say.section("d", "Directional derivative (fastgrad.directional_derivative)")
    summary["directional_error"] = _directional(say)
    say.section("e", "The tutorial's gradient-descent loop (fastgrad.fit_linear_regression)")
    w, b = _tutorial_loop(say)
    summary["tutorial_loop"] = (round(w, 10), round(b, 10))
    say.section("f", "Linear and logistic regression by batch gradient descent, "
                     "with gradient clipping")
    fits = _fits(say, n=1000 if quick else 5000, epochs=300 if quick else 1000, seed=seed,
                 progress=progress)
    summary.update(fits)
    say.section("g", "Three classes: softmax regression (fastgrad.fit_softmax_regression)")
    fits.update(_three_classes(say, n=600 if quick else 1500, epochs=2000 if quick else 5000,
                               seed=seed, progress=progress))
    summary.update(fits)
    say.section("h", "Optimizers: GD, momentum and Adam on one badly scaled problem")
    summary["optimizers"] = _optimizers(say, epochs=300 if quick else 600, seed=seed)

    files: list[str] = []
    if plots:
        say.section("i", "Pictures (fastgrad.plot)")
        pictures = _pictures(out, summary, quick=quick)
        say(f"  {len(pictures)} PNG files written to {os.path.abspath(out)}{os.sep}")
        for path, what in pictures:
            say(f"    {os.path.basename(path):<18} {os.path.getsize(path) / 1024:6.0f} KB  {what}")
        files = [path for path, _ in pictures]
    else:
        say()
        say("(pictures skipped)")
    summary["files"] = files
    say()
    say(f"done in {time.perf_counter() - started:.1f} s")
    return summary
