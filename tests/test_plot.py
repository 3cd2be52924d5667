"""fastgrad.plot: loss surfaces with the gradient field and descent paths, loss curves.

Pictures are rendered with the Agg backend to PNG and the files checked (size, not
blank); the Axes are inspected for the arrows (a Quiver), the path line and the curve.
matplotlib is optional: without it these functions raise ImportError naming the extra,
and ``import fastgrad`` never imports it.
"""
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose

import fastgrad as fg
from fastgrad import plot


@pytest.fixture
def mpl():
    """matplotlib with the Agg backend; figures are closed after each test."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    yield matplotlib
    plt.close("all")


def bowl(v):
    return v[0] ** 2 + 3 * v[1] ** 2


def rosenbrock(v):
    return (1 - v[0]) ** 2 + 100 * (v[1] - v[0] ** 2) ** 2


def quivers(ax):
    from matplotlib.quiver import Quiver

    return [c for c in ax.collections if isinstance(c, Quiver)]


def descent_path(f, x0, **kw):
    points = [np.asarray(x0, dtype=float)]
    fg.gradient_descent(f, x0, callback=points.append, **kw)
    return np.array(points)


def assert_png_not_blank(path, min_kb=10):
    import matplotlib.image

    assert path.exists()
    assert path.stat().st_size > min_kb * 1024
    pixels = matplotlib.image.imread(str(path))
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert float(pixels[..., :3].std()) > 0.05


class TestLossSurface:
    def test_returns_axes_with_gradient_field(self, mpl):
        from matplotlib.axes import Axes

        ax = plot.loss_surface(bowl, (-2, 2), (-1, 1), resolution=30)
        assert isinstance(ax, Axes)
        (q,) = quivers(ax)
        assert q.N == 20 * 20

    def test_arrow_count_follows_arrows(self, mpl):
        ax = plot.loss_surface(bowl, (-2, 2), (-1, 1), resolution=20, arrows=7)
        assert quivers(ax)[0].N == 49

    def test_arrows_point_along_the_gradient(self, mpl):
        ax = plot.loss_surface(bowl, (-2, 2), (-1, 1), resolution=20, arrows=8)
        q = quivers(ax)[0]
        X, Y = np.ravel(q.X), np.ravel(q.Y)
        U, V = np.ravel(q.U), np.ravel(q.V)
        gx, gy = 2 * X, 6 * Y
        cos = (U * gx + V * gy) / (np.hypot(U, V) * np.hypot(gx, gy))
        assert_allclose(cos, 1.0, rtol=1e-6)

    def test_arrow_vanishes_at_the_minimum(self, mpl):
        ax = plot.loss_surface(bowl, (-1, 1), (-1, 1), resolution=20, arrows=5)
        q = quivers(ax)[0]
        centre = (np.ravel(q.X) == 0) & (np.ravel(q.Y) == 0)
        assert centre.sum() == 1
        assert np.hypot(np.ravel(q.U), np.ravel(q.V))[centre][0] < 1e-6

    def test_no_arrows_without_gradient_field(self, mpl):
        ax = plot.loss_surface(bowl, (-2, 2), (-1, 1), resolution=20, gradient_field=False)
        assert quivers(ax) == []

    def test_analytic_grad_is_used_for_the_arrows(self, mpl):
        calls = []

        def grad(v):
            calls.append(v.copy())
            return np.array([2 * v[0], 6 * v[1]])

        plot.loss_surface(bowl, (-2, 2), (-1, 1), resolution=10, arrows=6, grad=grad)
        assert len(calls) == 36

    def test_path_line_present(self, mpl):
        path = descent_path(bowl, [1.8, 0.9], lr=0.1, epochs=25)
        ax = plot.loss_surface(bowl, (-2, 2), (-1, 1), path=path, resolution=20)
        lines = [ln for ln in ax.lines if len(ln.get_xdata()) == len(path)]
        assert len(lines) == 1
        assert_allclose(lines[0].get_xdata(), path[:, 0])
        assert_allclose(lines[0].get_ydata(), path[:, 1])

    def test_draws_on_the_given_axes(self, mpl):
        import matplotlib.pyplot as plt

        fig, (left, right) = plt.subplots(1, 2)
        ax = plot.loss_surface(bowl, (-2, 2), (-1, 1), ax=right, resolution=10, arrows=4)
        assert ax is right
        assert quivers(right) and not quivers(left)

    def test_levels_are_logarithmic_over_many_decades(self, mpl):
        from matplotlib.contour import ContourSet

        ax = plot.loss_surface(rosenbrock, (-2, 2), (-1, 3), resolution=40, arrows=4)
        levels = [c for c in ax.collections if isinstance(c, ContourSet)][0].levels
        ratios = levels[1:] / levels[:-1]
        assert_allclose(ratios, ratios[0], rtol=1e-9)

    def test_levels_are_linear_for_a_narrow_range(self, mpl):
        from matplotlib.contour import ContourSet

        ax = plot.loss_surface(lambda v: 10 + v[0] + v[1], (0, 1), (0, 1), resolution=20,
                                  arrows=4)
        levels = [c for c in ax.collections if isinstance(c, ContourSet)][0].levels
        assert_allclose(np.diff(levels), np.diff(levels)[0], rtol=1e-9)

    def test_png_is_written_and_not_blank(self, mpl, tmp_path):
        path = descent_path(rosenbrock, [-1.5, 2.0], lr=1e-3, max_norm=50.0, epochs=200)
        ax = plot.loss_surface(rosenbrock, (-2, 2), (-1, 3), path=path, resolution=40)
        out = tmp_path / "surface.png"
        ax.figure.savefig(out, dpi=80)
        assert_png_not_blank(out)


class TestLossSurfaceBadInput:
    def test_f_not_callable(self, mpl):
        with pytest.raises(TypeError, match="`f` must be callable"):
            plot.loss_surface(3.0, (-1, 1), (-1, 1))

    @pytest.mark.parametrize("lim", [(1, -1), (0, np.inf), (0,)])
    def test_bad_limits(self, mpl, lim):
        with pytest.raises((TypeError, ValueError), match="`xlim`"):
            plot.loss_surface(bowl, lim, (-1, 1))

    def test_path_must_be_k_by_2(self, mpl):
        with pytest.raises(ValueError, match=r"`path` must have shape \(k, 2\)"):
            plot.loss_surface(bowl, (-1, 1), (-1, 1), path=np.zeros((4, 3)))

    def test_f_must_return_a_scalar(self, mpl):
        with pytest.raises(TypeError, match="real scalar"):
            plot.loss_surface(lambda v: np.array([1.0, 2.0]), (-1, 1), (-1, 1))

    def test_exception_from_f_propagates(self, mpl):
        def f(v):
            raise KeyError("from f")

        with pytest.raises(KeyError, match="from f"):
            plot.loss_surface(f, (-1, 1), (-1, 1))


class TestLossHistory:
    @pytest.fixture(scope="class")
    def fit(self):
        rng = np.random.default_rng(0)
        X = rng.normal(size=(200, 3))
        y = X @ [1.0, -2.0, 0.5] + 0.3
        return fg.fit_linear_regression(X, y, lr=0.1, epochs=60)

    def test_fit_result_curve(self, mpl, fit):
        from matplotlib.axes import Axes

        ax = plot.loss_history(fit)
        assert isinstance(ax, Axes)
        (line,) = ax.lines
        assert_allclose(line.get_ydata(), fit.loss_history, rtol=0, atol=0)
        assert_allclose(line.get_xdata(), np.arange(fit.loss_history.size))

    def test_positive_losses_use_a_log_axis(self, mpl, fit):
        assert plot.loss_history(fit).get_yscale() == "log"

    def test_descent_result_curve(self, mpl):
        res = fg.gradient_descent(bowl, [1.0, 1.0], lr=0.1, epochs=20)
        (line,) = plot.loss_history(res).lines
        assert_allclose(line.get_ydata(), res.loss_history, rtol=0, atol=0)

    def test_non_positive_losses_keep_a_linear_axis(self, mpl):
        ax = plot.loss_history(np.array([1.0, 0.0, -1.0]))
        assert ax.get_yscale() == "linear"

    def test_label_adds_a_legend_and_curves_share_axes(self, mpl, fit):
        ax = plot.loss_history(fit, label="first")
        assert plot.loss_history(fit, ax=ax, label="second") is ax
        assert len(ax.lines) == 2
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["first", "second"]

    def test_history_must_be_1d(self, mpl):
        with pytest.raises(ValueError, match="1-D"):
            plot.loss_history(np.zeros((2, 2)))

    def test_png_is_written_and_not_blank(self, mpl, fit, tmp_path):
        out = tmp_path / "loss.png"
        plot.loss_history(fit).figure.savefig(out, dpi=80)
        assert_png_not_blank(out, min_kb=5)


class TestWithoutMatplotlib:
    @pytest.mark.parametrize("call", [
        lambda: plot.loss_surface(bowl, (-1, 1), (-1, 1)),
        lambda: plot.loss_history(np.ones(3)),
    ], ids=["loss_surface", "loss_history"])
    def test_import_error_names_the_extra(self, monkeypatch, call):
        monkeypatch.setitem(sys.modules, "matplotlib", None)
        with pytest.raises(ImportError, match=r"pip install fastgrad\[plot\]"):
            call()

    def test_import_fastgrad_does_not_import_matplotlib(self):
        code = ("import sys, fastgrad, fastgrad.plot, fastgrad.demo, fastgrad.__main__; "
                "print('matplotlib' in sys.modules)")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True)
        assert out.stdout.strip() == "False"
