"""The demo command: ``python -m fastgrad demo`` and ``fastgrad.demo.run``.

One subprocess runs the command exactly as CI does (``--quick --out DIR --no-progress``)
and checks its tables and pictures; the rest call :func:`fastgrad.demo.run` and
:func:`fastgrad.__main__.main` in-process to keep the suite fast.
"""
import io
import shutil
import subprocess
import sys

import numpy as np
import pytest

from fastgrad.__main__ import main
from fastgrad.demo import run

PICTURES = ["loss_surface.png", "rosenbrock.png", "loss_curves.png", "softmax_regions.png",
            "optimizers.png"]


def quick(tmp_path, **kw):
    """run(quick=True) without progress bars or pictures unless asked; (summary, text)."""
    kw = {"progress": False, "plots": False, **kw}
    stream = io.StringIO()
    summary = run(str(tmp_path / "out"), quick=True, stream=stream, **kw)
    return summary, stream.getvalue()


class TestCommand:
    def test_demo_quick_subprocess_prints_tables_and_writes_pictures(self, tmp_path):
        pytest.importorskip("matplotlib")
        import matplotlib.image

        out = tmp_path / "pictures"
        proc = subprocess.run(
            [sys.executable, "-m", "fastgrad", "demo", "--quick", "--out", str(out),
             "--no-progress"],
            capture_output=True, text=True, encoding="utf-8", cwd=tmp_path, timeout=120)
        assert proc.returncode == 0, proc.stderr
        text = proc.stdout
        for heading in ("a) Gradients", "b) Gradient check", "c) Hessians",
                        "d) Directional derivative", "e) The tutorial's gradient-descent loop",
                        "f) Linear and logistic regression", "g) Three classes", "h) Optimizers",
                        "i) Pictures"):
            assert heading in text
        assert "fastgrad ∇f" in text and "closed form ∇f" in text
        assert "x²y + e^(xy)" in text
        assert "fastgrad.fit_linear_regression:  w = 1.6, b = 0.8" in text
        assert "logistic regression" in text and "accuracy" in text
        assert str(out) in text
        for name in PICTURES:
            path = out / name
            assert name in text
            assert path.stat().st_size > 20 * 1024
            pixels = matplotlib.image.imread(str(path))
            assert float(pixels[..., :3].std()) > 0.05

    def test_help(self, capsys):
        with pytest.raises(SystemExit) as exit_:
            main(["--help"])
        assert exit_.value.code == 0
        assert "demo" in capsys.readouterr().out

    def test_demo_help_lists_the_options(self, capsys):
        with pytest.raises(SystemExit) as exit_:
            main(["demo", "--help"])
        assert exit_.value.code == 0
        text = capsys.readouterr().out
        for option in ("--out", "--quick", "--no-progress", "--no-plots", "--seed"):
            assert option in text

    def test_no_command_prints_help(self, capsys):
        assert main([]) == 0
        assert "demo" in capsys.readouterr().out

    def test_unknown_option_is_an_error(self, capsys):
        with pytest.raises(SystemExit) as exit_:
            main(["demo", "--fast"])
        assert exit_.value.code == 2

    def test_main_runs_the_demo(self, tmp_path, capsys):
        out = tmp_path / "out"
        assert main(["demo", "--quick", "--no-plots", "--no-progress", "--out", str(out)]) == 0
        assert "(pictures skipped)" in capsys.readouterr().out
        assert not out.exists()

    @pytest.mark.skipif(shutil.which("fastgrad") is None, reason="console script not installed")
    def test_console_script_help(self):
        proc = subprocess.run(["fastgrad", "demo", "--help"], capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert "--quick" in proc.stdout


class TestStory:
    @pytest.fixture(scope="class")
    def story(self, tmp_path_factory):
        return quick(tmp_path_factory.mktemp("demo"))

    def test_gradients_match_closed_forms(self, story):
        assert story[0]["max_gradient_error"] < 1e-6

    def test_every_tutorial_function_is_in_the_table(self, story):
        for label in ("x² + y²", "x² + 3y", "x² + xy + y²", "x³y²", "x²z + y³ − 5z",
                      "x²y + e^(xy)", "3x²y + 2y", "x² − y²"):
            assert f"\n  {label} " in story[1]

    def test_gradient_check_accepts_the_right_gradient_and_catches_the_bug(self, story):
        assert story[0]["checks"] == {"good": True, "bad": False}

    def test_hessians_match_closed_forms(self, story):
        assert story[0]["max_hessian_error"] < 1e-4

    def test_directional_derivative(self, story):
        assert story[0]["directional_error"] < 1e-8
        assert "7.0710678" in story[1]

    def test_tutorial_loop_gives_1_6_and_0_8(self, story):
        assert story[0]["tutorial_loop"] == (1.6, 0.8)

    def test_fits_recover_the_synthetic_models(self, story):
        summary = story[0]
        assert summary["linear"].status in ("converged", "max_epochs")
        np.testing.assert_allclose(summary["linear"].w, [1.5, -2.0, 0.5, 0.0, 3.0], atol=0.1)
        assert summary["r2"] > 0.95
        assert summary["accuracy"] > 0.75

    def test_three_class_softmax_fit_separates_the_classes(self, story):
        summary = story[0]
        fit = summary["softmax"]
        assert fit.w.shape == (2, 3) and fit.b.shape == (3,)
        assert summary["softmax_accuracy"] > 0.85
        X, y = summary["softmax_data"]
        assert summary["softmax_accuracy"] == np.mean(np.argmax(X @ fit.w + fit.b, 1) == y)
        assert "softmax regression, 3 classes" in story[1]

    def test_momentum_and_adam_reach_the_loss_gd_does_not(self, story):
        fits = story[0]["optimizers"]
        assert list(fits) == ["GD", "momentum 0.9", "Adam"]
        assert fits["GD"].loss_history.min() > 1e-6
        for name in ("momentum 0.9", "Adam"):
            assert fits[name].loss_history.min() < 1e-6
        assert "h) Optimizers" in story[1] and "epochs to loss < 1e-6" in story[1]

    def test_no_pictures_when_plots_are_off(self, story):
        assert story[0]["files"] == []

    def test_seed_changes_the_data(self, tmp_path, story):
        other, _ = quick(tmp_path, seed=1)
        assert not np.array_equal(other["linear"].w, story[0]["linear"].w)


class TestOptionalDependencies:
    def test_missing_matplotlib_is_a_note_not_a_failure(self, tmp_path, monkeypatch):
        monkeypatch.setitem(sys.modules, "matplotlib", None)
        summary, text = quick(tmp_path, plots=True)
        assert 'pip install "fastgrad[plot]"' in text
        assert summary["files"] == []
        assert summary["tutorial_loop"] == (1.6, 0.8)

    def test_missing_tqdm_is_a_note_not_a_failure(self, tmp_path, monkeypatch):
        monkeypatch.setitem(sys.modules, "tqdm", None)
        summary, text = quick(tmp_path, progress=True)
        assert 'pip install "fastgrad[progress]"' in text
        assert summary["linear"].n_epochs > 0

    def test_progress_bars_go_to_stderr(self, tmp_path, capsys):
        pytest.importorskip("tqdm")
        quick(tmp_path, progress=True)
        assert "fit" in capsys.readouterr().err
