"""The README's Python examples run as written (against the installed package).

The blocks run in order in one namespace, as a reader would paste them.  Blocks that
need a C library built by the reader (the Cython and ctypes examples) are not run here;
tests/test_modes.py builds and tests those objectives itself.
"""
import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
NEEDS_A_BUILT_LIBRARY = ("import myobj", 'CDLL("./libf.so")')


def _blocks():
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    return [b for b in blocks if not any(marker in b for marker in NEEDS_A_BUILT_LIBRARY)]


def test_readme_has_examples():
    assert len(_blocks()) >= 5


def test_readme_examples_run(tmp_path, monkeypatch):
    pytest.importorskip("numba")
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    pytest.importorskip("tqdm")
    pytest.importorskip("distributed")
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__main__"}
    for i, block in enumerate(_blocks()):
        try:
            exec(compile(block, f"README block {i}", "exec"), namespace)
        except Exception as exc:  # name the block that failed
            raise AssertionError(f"README python block {i} failed:\n{block}") from exc
