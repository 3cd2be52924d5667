"""Pictures of gradients: loss surfaces with their gradient field, and loss curves.

``loss_surface`` draws a contour plot of a 2-D function with the gradient field
(arrows computed by :func:`fastgrad.numerical_gradient`) and, optionally, a descent
path on top; ``loss_history`` draws the loss curve of a fit or of a gradient descent.
Both return the matplotlib ``Axes`` they drew on.  ``python -m fastgrad demo`` uses them
to write its pictures.

matplotlib is an optional dependency (``pip install fastgrad[plot]``).  It is imported
inside these functions, never by ``import fastgrad``; when it is missing they raise an
ImportError that says how to install it.  On a machine without a display the Agg backend
is selected, so pictures can always be saved with ``ax.figure.savefig(...)``.
"""
from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ._gradients import numerical_gradient
from ._validation import check_callable

__all__ = ["loss_surface", "loss_history"]

_INSTALL_HINT = "fastgrad.plot needs matplotlib: pip install fastgrad[plot]"


def _pyplot() -> Any:
    """Import and return matplotlib.pyplot, choosing Agg when there is no display.

    Raises ImportError naming the ``plot`` extra when matplotlib is not installed.
    """
    try:
        import matplotlib
    except ImportError:
        raise ImportError(_INSTALL_HINT) from None
    headless = (sys.platform.startswith("linux")
                and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"))
    # Respect a backend the user chose (MPLBACKEND, or pyplot already in use).
    if headless and "MPLBACKEND" not in os.environ and "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _new_axes(ax: Any) -> Any:
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(7.0, 5.5), layout="constrained")
    return ax


def _limits(lim: Any, name: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in lim)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a pair of numbers (low, high), got {lim!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"`{name}` must be finite with low < high, got ({lo:g}, {hi:g})")
    return lo, hi


def _scalar(f: Callable[..., Any], v: np.ndarray) -> float:
    value = f(v)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError("`f` must return a real scalar for a point v of shape (2,), got "
                        f"{type(value).__name__} {np.shape(value)}") from None


def loss_surface(f: Callable[..., Any], xlim: Any, ylim: Any, *, path: Any = None,
                 gradient_field: bool = True, ax: Any = None, levels: Any = 30,
                 resolution: int = 100, arrows: int = 20,
                 grad: Callable[..., Any] | None = None, log_levels: bool | None = None,
                 colorbar: bool = True) -> Any:
    """Contour plot of a 2-D function with its gradient field and a descent path.

    Parameters
    ----------
    f : callable
        ``f(v) -> float`` with ``v`` a float64 array of shape (2,); a loss of two
        parameters, e.g. ``lambda p: np.mean((p[0] * x + p[1] - t) ** 2)``.  It is
        evaluated at ``resolution**2`` grid points, one call each.
    xlim, ylim : (float, float)
        Range of ``v[0]`` (horizontal) and ``v[1]`` (vertical).
    path : array_like of shape (k, 2), optional
        Points visited by a descent, drawn as a line from a circle (start) to a star
        (end), e.g. ``np.array(points)`` collected by the ``callback`` of
        :func:`fastgrad.gradient_descent`.
    gradient_field : bool
        Draw the gradient as arrows on an ``arrows`` x ``arrows`` grid.  Each arrow
        points along ∇f (steepest ascent; descent goes the other way).  Its length
        grows like ``sqrt(|∇f|)`` up to the field's 90th percentile and is capped there,
        so that steep regions do not swamp the picture; arrows shrink to nothing where
        the gradient vanishes, at the minima.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made when omitted.
    levels : int or array_like
        Number of contour levels, or the levels themselves.
    resolution : int
        Grid points per axis for the contours (>= 2).
    arrows : int
        Arrows per axis for the gradient field (>= 2).
    grad : callable, optional
        ``grad(v) -> array of shape (2,)`` for the arrows.  Default:
        :func:`fastgrad.numerical_gradient` (central differences, 4 calls of f per arrow).
    log_levels : bool, optional
        Space an integer number of levels logarithmically (ignored unless f is positive
        on the grid).  Default: when f is positive on the grid and spans more than three
        decades (e.g. Rosenbrock's function).  Grid points where f is not finite are left
        blank, and no arrow is drawn where the gradient is not finite.
    colorbar : bool
        Add a colorbar for the values of f.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on; ``ax.figure.savefig("surface.png")`` writes the picture.

    Raises
    ------
    ImportError
        When matplotlib is not installed (``pip install fastgrad[plot]``).
    TypeError, ValueError
        For a non-callable f, bad limits, a path that is not of shape (k, 2), or f not
        returning a real scalar.  An exception raised by f propagates unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> import fastgrad as fg
    >>> from fastgrad.plot import loss_surface
    >>> f = lambda v: v[0]**2 + 3 * v[1]**2
    >>> points = []
    >>> r = fg.gradient_descent(f, [2.5, 1.5], lr=0.1, epochs=30, callback=points.append)
    >>> ax = loss_surface(f, (-3, 3), (-2, 2), path=np.array([[2.5, 1.5]] + points))
    >>> len(ax.lines) >= 1, len(ax.collections) > 0
    (True, True)
    """
    check_callable(f, "f")
    if grad is not None:
        check_callable(grad, "grad")
    x0, x1 = _limits(xlim, "xlim")
    y0, y1 = _limits(ylim, "ylim")
    resolution, arrows = int(resolution), int(arrows)
    if resolution < 2:
        raise ValueError(f"`resolution` must be >= 2, got {resolution}")
    if gradient_field and arrows < 2:
        raise ValueError(f"`arrows` must be >= 2, got {arrows}")
    if path is not None:
        path = np.asarray(path, dtype=np.float64)
        if path.ndim != 2 or path.shape[1] != 2:
            raise ValueError(f"`path` must have shape (k, 2), got {path.shape}")
    ax = _new_axes(ax)

    # The surface, one call of f per grid point (f need not be vectorized).
    xs, ys = np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution)
    Z = np.empty((resolution, resolution))
    v = np.empty(2)
    for i, yv in enumerate(ys):
        for j, xv in enumerate(xs):
            v[0], v[1] = xv, yv
            Z[i, j] = _scalar(f, v.copy())
    Zm = np.ma.masked_invalid(Z)
    finite = Z[np.isfinite(Z)]
    if finite.size == 0:
        raise ValueError("`f` is not finite anywhere on the grid; check xlim and ylim")
    zmin, zmax = float(finite.min()), float(finite.max())
    if log_levels is None:
        log_levels = zmin > 0 and zmax / zmin > 1e3
    if np.ndim(levels) == 0 and zmax > zmin:
        n_levels = max(int(levels), 2)
        if log_levels and zmin > 0:
            levels = np.geomspace(zmin, zmax, n_levels)
        else:
            levels = np.linspace(zmin, zmax, n_levels)
    norm = None
    if log_levels and zmin > 0:
        from matplotlib.colors import LogNorm
        norm = LogNorm(vmin=zmin, vmax=zmax)
    filled = ax.contourf(xs, ys, Zm, levels=levels, cmap="viridis", norm=norm, alpha=0.9)
    ax.contour(xs, ys, Zm, levels=filled.levels, colors="k", linewidths=0.4, alpha=0.35)
    if colorbar:
        cbar = ax.figure.colorbar(filled, ax=ax, label="f(v)")
        if norm is not None:  # label whole decades, not the (irregular) contour levels
            decades = np.arange(np.ceil(np.log10(zmin)), np.floor(np.log10(zmax)) + 1)
            if decades.size:
                cbar.set_ticks(10.0 ** decades, labels=[f"$10^{{{d:.0f}}}$" for d in decades])
            cbar.minorticks_off()

    if gradient_field:
        gx, gy = np.linspace(x0, x1, arrows), np.linspace(y0, y1, arrows)
        U, V = np.zeros((arrows, arrows)), np.zeros((arrows, arrows))
        with warnings.catch_warnings():
            # Where f is not finite no arrow is drawn; the surface already showed f's warnings.
            warnings.simplefilter("ignore", RuntimeWarning)
            for i, yv in enumerate(gy):
                for j, xv in enumerate(gx):
                    p = np.array([xv, yv])
                    g = numerical_gradient(f, p) if grad is None else np.asarray(grad(p), float)
                    if g.shape != (2,):
                        raise ValueError("`grad` must return an array of shape (2,), got "
                                         f"{g.shape}")
                    U[i, j], V[i, j] = g
        ok = np.isfinite(U) & np.isfinite(V)
        U[~ok], V[~ok] = 0.0, 0.0
        # Arrow lengths are measured in grid cells, so they fit whatever the axes' units;
        # a length grows like sqrt(|grad|) up to the 90th percentile, then stays at 0.85 cell.
        dx, dy = (x1 - x0) / (arrows - 1), (y1 - y0) / (arrows - 1)
        cells = np.hypot(U / dx, V / dy)
        root = np.sqrt(cells)
        cap = float(np.percentile(root[ok], 90)) if ok.any() else 0.0
        if cap > 0:
            length = 0.85 * np.minimum(1.0, root / cap)
            factor = np.divide(length, cells, out=np.zeros_like(cells), where=cells > 0)
            U, V = U * factor, V * factor
        GX, GY = np.meshgrid(gx, gy)
        ax.quiver(GX, GY, U, V, angles="xy", scale_units="xy", scale=1.0, color="white",
                  edgecolor="k", linewidth=0.3, width=0.0045, label="∇f (gradient field)",
                  zorder=3)

    if path is not None and len(path):
        ax.plot(path[:, 0], path[:, 1], "-", color="tab:red", linewidth=1.8,
                marker=".", markersize=3, label=f"descent path ({len(path) - 1} steps)",
                zorder=4)
        ax.plot(path[0, 0], path[0, 1], "o", color="tab:red", markeredgecolor="k",
                markersize=7, label="start", zorder=5)
        ax.plot(path[-1, 0], path[-1, 1], "*", color="gold", markeredgecolor="k",
                markersize=14, label="end", zorder=5)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("v[0]")
    ax.set_ylabel("v[1]")
    if gradient_field or path is not None:
        ax.legend(loc="best", fontsize="small", framealpha=0.85)
    return ax


def loss_history(result: Any, ax: Any = None, *, label: str | None = None) -> Any:
    """Plot a loss curve: the loss before each update against the epoch.

    Parameters
    ----------
    result : FitResult, DescentResult or array_like
        Anything with a ``loss_history`` attribute (the results of
        :func:`fastgrad.fit_linear_regression`, :func:`fastgrad.fit_logistic_regression`
        and :func:`fastgrad.gradient_descent`), or the 1-D history itself.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made when omitted.  Call again with the same
        ``ax`` (and a ``label``) to compare several fits.
    label : str, optional
        Legend entry for this curve (a legend is drawn when given).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.  The y axis is logarithmic when every loss is positive.

    Raises
    ------
    ImportError
        When matplotlib is not installed (``pip install fastgrad[plot]``).
    ValueError
        When the history is not 1-D.

    Examples
    --------
    >>> import numpy as np
    >>> import fastgrad as fg
    >>> from fastgrad.plot import loss_history
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3)); y = X @ [1.0, -2.0, 0.5] + 0.3
    >>> fit = fg.fit_linear_regression(X, y, lr=0.1, epochs=100)
    >>> ax = loss_history(fit)
    >>> ax.get_yscale(), len(ax.lines[0].get_ydata())
    ('log', 100)
    """
    history = np.asarray(getattr(result, "loss_history", result), dtype=np.float64)
    if history.ndim != 1:
        raise ValueError(f"the loss history must be 1-D, got shape {history.shape}")
    ax = _new_axes(ax)
    ax.plot(np.arange(history.size), history, linewidth=1.8, label=label)
    finite = history[np.isfinite(history)]
    if finite.size and np.all(finite > 0):
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.grid(True, which="major", alpha=0.3)
    if label is not None:
        ax.legend(fontsize="small")
    return ax
