"""The Python examples of the user guide (docs/guide/*.rst) run as written.

Like tests/test_readme.py for the README: each page's ``.. code-block:: python`` blocks
run in order in one namespace, against the installed package.  Blocks that need a C
library built by the reader are not run (tests/test_modes.py builds those objectives).
The pages that describe interfaces from their specification show their code without
running it; every guide page must be in one of the two lists.
"""
import pathlib
import textwrap

import pytest

GUIDE = pathlib.Path(__file__).resolve().parents[1] / "docs" / "guide"
RUN = ["derivatives", "modes", "fits", "integrations", "threads", "sparse", "multiclass",
       "optimizers", "scale"]
SHOWN_ONLY = ["index", "guarantees", "benchmarks"]
NEEDS_A_BUILT_LIBRARY = ("import myobj", 'CDLL("./libf.so")')


def python_blocks(text: str) -> list[str]:
    """The bodies of the ``.. code-block:: python`` directives of an rst text."""
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].strip() == ".. code-block:: python":
            i += 1
            while i < len(lines) and (not lines[i].strip() or lines[i].strip().startswith(":")):
                i += 1
            body = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith("   ")):
                body.append(lines[i])
                i += 1
            blocks.append(textwrap.dedent("\n".join(body)).strip() + "\n")
        else:
            i += 1
    return blocks


def test_python_blocks_parser():
    text = ("Title\n=====\n\n.. code-block:: python\n\n   a = 1\n\n   b = a + 1\n"
            "Text.\n\n.. code-block:: bash\n\n   ls\n\n.. code-block:: python\n\n   c = 3\n")
    assert python_blocks(text) == ["a = 1\n\nb = a + 1\n", "c = 3\n"]


def test_every_guide_page_is_listed():
    pages = sorted(p.stem for p in GUIDE.glob("*.rst"))
    assert pages == sorted(RUN + SHOWN_ONLY)
    for page in RUN:
        assert python_blocks((GUIDE / f"{page}.rst").read_text(encoding="utf-8")), page


@pytest.mark.parametrize("page", RUN)
def test_guide_examples_run(page, tmp_path, monkeypatch):
    pytest.importorskip("numba")
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    pytest.importorskip("tqdm")
    pytest.importorskip("distributed")
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__main__"}
    blocks = python_blocks((GUIDE / f"{page}.rst").read_text(encoding="utf-8"))
    for i, block in enumerate(blocks):
        if any(marker in block for marker in NEEDS_A_BUILT_LIBRARY):
            continue
        try:
            exec(compile(block, f"{page}.rst block {i}", "exec"), namespace)
        except Exception as exc:  # name the block that failed
            raise AssertionError(f"{page}.rst python block {i} failed:\n{block}") from exc
