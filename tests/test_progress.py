"""Progress bars and callbacks of long work: ``progress=True`` on the fits and on
gradient_descent (a tqdm bar with the current loss), ``callback=`` / ``callback_every``
on the fits, and the message when tqdm is missing.

The cost of the bar (< 2% of a fit at 100000x10, 500 epochs) is a timing, measured by
hand or in a benchmark, not asserted here.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import fastgrad as fg

tqdm_auto = pytest.importorskip("tqdm.auto")

RNG = np.random.default_rng(7)
X = RNG.normal(size=(300, 4))
Y = X @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.25 + 0.1 * RNG.normal(size=300)
LABELS = (Y > 0).astype(np.float64)
#: Run on two threads (workers=2) in the tests that compare a fit with and without a bar.
XB = RNG.normal(size=(20_000, 8))
YB = XB @ np.linspace(-1.0, 1.0, 8) + 0.5


def bowl(v: np.ndarray) -> float:
    return float((v[0] - 3.0) ** 2 + 2.0 * (v[1] + 1.0) ** 2)


def bowl_grad(v: np.ndarray) -> np.ndarray:
    return np.array([2.0 * (v[0] - 3.0), 4.0 * (v[1] + 1.0)])


#: name -> run(progress: bool, **kw) -> result with loss_history
RUNS: dict[str, Callable[..., Any]] = {
    "fit_linear_regression": lambda progress, **kw: fg.fit_linear_regression(
        X, Y, lr=0.05, progress=progress, **{"epochs": 200, **kw}),
    "fit_logistic_regression": lambda progress, **kw: fg.fit_logistic_regression(
        X, LABELS, lr=0.5, progress=progress, **{"epochs": 200, **kw}),
    "gradient_descent": lambda progress, **kw: fg.gradient_descent(
        bowl, [0.0, 0.0], lr=0.05, progress=progress, **{"epochs": 200, **kw}),
}
DESC = {"fit_linear_regression": "fit mse", "fit_logistic_regression": "fit logistic",
        "gradient_descent": "gradient_descent"}


def n_done(result: Any) -> int:
    return int(getattr(result, "n_epochs", getattr(result, "n_iter", -1)))


def assert_same(a: Any, b: Any) -> None:
    """Bitwise the same result (every array field, every scalar field)."""
    for field in vars(a):
        va, vb = getattr(a, field), getattr(b, field)
        if isinstance(va, np.ndarray):
            assert va.dtype == vb.dtype and np.array_equal(va, vb, equal_nan=True), field
            assert va.tobytes() == vb.tobytes(), field
        elif isinstance(va, float) and np.isnan(va):
            assert np.isnan(vb), field
        else:
            assert va == vb, field


@pytest.fixture
def bars(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every tqdm bar fastgrad makes, redrawn at every update (no 0.1 s throttle); each
    records its position after every update in ``positions``."""
    made: list[Any] = []
    base = tqdm_auto.tqdm

    class EagerBar(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.update(mininterval=0.0, miniters=1)
            super().__init__(*args, **kwargs)
            self.positions: list[int] = []
            made.append(self)

        def update(self, n: float | None = 1) -> bool | None:
            out = super().update(n)
            self.positions.append(self.n)
            return out

    monkeypatch.setattr(tqdm_auto, "tqdm", EagerBar)
    yield made


# --------------------------------------------------------------------------- the bar
class TestProgressBar:
    @pytest.mark.parametrize("name", list(RUNS))
    def test_shows_a_tqdm_bar_on_stderr(self, name: str, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
        RUNS[name](True)
        out = capsys.readouterr()
        assert f"{DESC[name]}:" in out.err
        assert "/200" in out.err and "epoch" in out.err
        assert out.out == ""

    @pytest.mark.parametrize("name", list(RUNS))
    def test_no_bar_by_default(self, name: str, capsys: pytest.CaptureFixture[str]) -> None:
        RUNS[name](False)
        assert capsys.readouterr().err == ""

    @pytest.mark.parametrize("name", list(RUNS))
    def test_bar_shows_the_current_loss(self, name: str, bars: list[Any],
                                        capsys: pytest.CaptureFixture[str]) -> None:
        result = RUNS[name](True)
        assert len(bars) == 1
        bar = bars[0]
        assert bar.total == 200 and bar.n == n_done(result) == 200
        assert bar.postfix == f"loss={result.loss_history[-1]:.4g}"
        assert "loss=" in capsys.readouterr().err

    @pytest.mark.parametrize("name", list(RUNS))
    def test_bar_is_closed_after_the_fit(self, name: str, bars: list[Any]) -> None:
        RUNS[name](True)
        assert bars[0].disable  # tqdm sets this on close()

    @pytest.mark.parametrize("name", list(RUNS))
    def test_bar_stops_where_the_fit_converged(self, name: str, bars: list[Any]) -> None:
        result = RUNS[name](True, epochs=5000, tol=1e-2)
        assert result.status == "converged"
        assert bars[0].n <= n_done(result) < 5000

    @pytest.mark.parametrize("name", ["fit_linear_regression", "fit_logistic_regression"])
    def test_fit_bar_moves_between_chunks_of_epochs(self, name: str, bars: list[Any]) -> None:
        RUNS[name](True, epochs=1000)
        # about a hundred updates, each after a chunk of epochs run without the GIL
        positions = bars[0].positions
        assert positions == sorted(set(positions)) and positions[-1] == 1000
        assert 50 <= len(positions) <= 1000

    def test_gradient_descent_bar_moves_every_epoch(self, bars: list[Any]) -> None:
        fg.gradient_descent(bowl, [0.0, 0.0], grad=bowl_grad, lr=0.05, epochs=30,
                            progress=True)
        assert bars[0].positions == list(range(1, 31))

    @pytest.mark.parametrize("name", list(RUNS))
    def test_zero_epochs(self, name: str, bars: list[Any]) -> None:
        result = RUNS[name](True, epochs=0)
        assert n_done(result) == 0 and bars[0].n == 0 and bars[0].disable


# --------------------------------------------------------------------------- same numbers
class TestSameResults:
    @pytest.mark.parametrize("name", list(RUNS))
    def test_bitwise_identical_with_and_without_progress(self, name: str) -> None:
        assert_same(RUNS[name](False), RUNS[name](True))

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("kw", [{}, {"max_norm": 1.0}, {"tol": 1e-3, "l2": 0.01},
                                    {"sample_weight": np.linspace(0.5, 2.0, 300)}],
                             ids=["plain", "max_norm", "tol-l2", "sample_weight"])
    def test_fits_identical_across_options(self, dtype: type, kw: dict[str, Any]) -> None:
        Xd, Yd = X.astype(dtype), Y.astype(dtype)
        a = fg.fit_linear_regression(Xd, Yd, lr=0.05, epochs=700, **kw)
        b = fg.fit_linear_regression(Xd, Yd, lr=0.05, epochs=700, progress=True, **kw)
        assert_same(a, b)

    def test_threaded_fit_identical(self) -> None:
        a = fg.fit_linear_regression(XB, YB, lr=0.1, epochs=60, max_norm=5.0, workers=2)
        b = fg.fit_linear_regression(XB, YB, lr=0.1, epochs=60, max_norm=5.0, progress=True,
                                    workers=2)
        assert_same(a, b)

    def test_identical_with_a_callback_too(self) -> None:
        a = fg.fit_logistic_regression(X, LABELS, lr=0.5, epochs=300)
        b = fg.fit_logistic_regression(X, LABELS, lr=0.5, epochs=300, progress=True,
                                       callback=lambda e, loss, w: False, callback_every=7)
        assert_same(a, b)

    def test_gradient_descent_numerical_gradient_identical(self) -> None:
        a = fg.gradient_descent(bowl, [0.0, 0.0], lr=0.05, epochs=100, max_norm=1.0)
        b = fg.gradient_descent(bowl, [0.0, 0.0], lr=0.05, epochs=100, max_norm=1.0,
                                progress=True)
        assert_same(a, b)


# --------------------------------------------------------------------------- callbacks
FITS = {"fit_linear_regression": (fg.fit_linear_regression, Y, 0.05),
        "fit_logistic_regression": (fg.fit_logistic_regression, LABELS, 0.5)}


@pytest.mark.parametrize("name", list(FITS))
class TestFitCallback:
    def fit(self, name: str, **kw: Any) -> fg.FitResult:
        fit, y, lr = FITS[name]
        return fit(X, y, lr=lr, **kw)

    def test_called_every_callback_every_epochs(self, name: str) -> None:
        calls: list[tuple[int, float, np.ndarray]] = []
        res = self.fit(name, epochs=40, callback_every=8,
                       callback=lambda e, loss, w: calls.append((e, loss, w)))
        assert [c[0] for c in calls] == [8, 16, 24, 32, 40]
        assert res.status == "max_epochs"

    def test_callback_every_is_kept_with_a_progress_bar(self, name: str,
                                                        bars: list[Any]) -> None:
        epochs: list[int] = []
        self.fit(name, epochs=100, callback_every=4, progress=True,
                 callback=lambda e, loss, w: epochs.append(e))
        assert epochs == list(range(4, 101, 4))
        assert bars[0].n == 100

    def test_every_epoch_by_default(self, name: str) -> None:
        epochs: list[int] = []
        self.fit(name, epochs=25, callback=lambda e, loss, w: epochs.append(e))
        assert epochs == list(range(1, 26))

    def test_receives_epoch_loss_and_weights(self, name: str) -> None:
        calls: list[tuple[int, float, np.ndarray]] = []
        res = self.fit(name, epochs=30, callback_every=10,
                       callback=lambda e, loss, w: calls.append((e, loss, w)))
        for epoch, loss, w in calls:
            assert isinstance(epoch, int) and isinstance(float(loss), float)
            assert loss == res.loss_history[epoch - 1]  # the loss of the last epoch run
            assert isinstance(w, np.ndarray) and w.shape == (4,) and w.dtype == X.dtype
            # the weights after `epoch` updates: those of a fit that stops there
            assert np.array_equal(w, self.fit(name, epochs=epoch).w)
        assert np.array_equal(calls[-1][2], res.w)

    def test_weights_are_a_copy(self, name: str) -> None:
        seen: list[np.ndarray] = []

        def cb(e: int, loss: float, w: np.ndarray) -> None:
            seen.append(w)
            w[:] = 1e9  # must not disturb the fit

        res = self.fit(name, epochs=20, callback_every=5, callback=cb)
        assert np.array_equal(res.w, self.fit(name, epochs=20).w)
        assert len({id(w) for w in seen}) == len(seen)

    def test_returning_true_stops_with_status_stopped(self, name: str) -> None:
        res = self.fit(name, epochs=500, callback_every=10,
                       callback=lambda e, loss, w: e >= 30)
        assert res.status == "stopped" and not res.converged
        assert res.n_epochs == 30 and res.loss_history.shape == (30,)
        short = self.fit(name, epochs=30)
        assert np.array_equal(res.w, short.w) and res.b == short.b

    def test_truthy_return_stops_falsy_does_not(self, name: str) -> None:
        assert self.fit(name, epochs=50, callback=lambda e, loss, w: "yes").n_epochs == 1
        res = self.fit(name, epochs=50, callback=lambda e, loss, w: 0)
        assert res.status == "max_epochs" and res.n_epochs == 50

    def test_stopping_closes_the_bar(self, name: str, bars: list[Any]) -> None:
        res = self.fit(name, epochs=500, progress=True, callback=lambda e, loss, w: e >= 12)
        assert res.status == "stopped" and res.n_epochs == 12
        assert bars[0].n == 12 and bars[0].disable

    def test_exception_propagates_and_closes_the_bar(self, name: str, bars: list[Any]) -> None:
        class Boom(Exception):
            pass

        def cb(e: int, loss: float, w: np.ndarray) -> None:
            raise Boom

        with pytest.raises(Boom):
            self.fit(name, epochs=50, progress=True, callback=cb)
        assert bars[0].disable

    def test_bad_callback(self, name: str) -> None:
        with pytest.raises(TypeError, match="`callback` must be callable"):
            self.fit(name, epochs=5, callback=3)
        with pytest.raises(ValueError, match="`callback_every` must be >= 1"):
            self.fit(name, epochs=5, callback=lambda e, loss, w: None, callback_every=0)
        with pytest.raises(TypeError, match="`callback_every` must be an integer"):
            self.fit(name, epochs=5, callback=lambda e, loss, w: None, callback_every=2.5)


# --------------------------------------------------------------------------- no tqdm
@pytest.fixture
def no_tqdm(monkeypatch: pytest.MonkeyPatch) -> None:
    for mod in [m for m in sys.modules if m == "tqdm" or m.startswith("tqdm.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)


class TestWithoutTqdm:
    @pytest.mark.parametrize("name", list(RUNS))
    def test_progress_true_says_how_to_install(self, name: str, no_tqdm: None) -> None:
        with pytest.raises(ImportError, match=r"progress=True needs tqdm: "
                                              r"pip install 'fastgrad\[progress\]'"):
            RUNS[name](True)

    @pytest.mark.parametrize("name", list(RUNS))
    def test_without_progress_tqdm_is_not_needed(self, name: str, no_tqdm: None) -> None:
        assert n_done(RUNS[name](False)) == 200

    def test_import_error_is_raised_before_any_work(self, no_tqdm: None) -> None:
        calls: list[int] = []
        with pytest.raises(ImportError):
            fg.fit_linear_regression(X, Y, epochs=10, progress=True,
                                     callback=lambda e, loss, w: calls.append(e))
        with pytest.raises(ImportError):
            fg.gradient_descent(bowl, [0.0, 0.0], grad=bowl_grad, epochs=10, progress=True,
                                callback=lambda x: calls.append(1))
        assert calls == []
