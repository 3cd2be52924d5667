"""The built documentation site has an API page for every public name and the gallery's
pictures.

Run by .ci/run right after ``sphinx-build -W -b html docs <dir>``, with
``FASTGRAD_DOCS_HTML=<dir>``::

    FASTGRAD_DOCS_HTML=docs/_build/html pytest -m docs_site tests/test_docs_site.py

The plain ``pytest`` run deselects these tests (marker ``docs_site``): they check a build,
not the package.  Selected without the variable, or with a directory that holds no
built site, they fail instead of passing vacuously.
"""
from __future__ import annotations

import importlib
import inspect
import os
import pathlib
import re

import pytest

import fastgrad

pytestmark = pytest.mark.docs_site

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "docs" / "examples"
GUIDE = pathlib.Path(__file__).resolve().parents[1] / "docs" / "guide"
# Resolved at collection, before the tests move to an empty working folder (conftest.py).
_WHERE = os.environ.get("FASTGRAD_DOCS_HTML")
HTML = pathlib.Path(_WHERE).resolve() if _WHERE else None


@pytest.fixture(scope="module")
def html() -> pathlib.Path:
    assert HTML is not None, ("FASTGRAD_DOCS_HTML is not set: build the site with "
                              "sphinx-build -W -b html docs <dir> and point it at <dir>")
    root = HTML
    assert (root / "index.html").is_file(), f"no built site in {root} (index.html missing)"
    return root


def _documented() -> list[tuple[str, object]]:
    """Every name the reference must have a page for, with its object."""
    out = [(f"fastgrad.{n}", getattr(fastgrad, n)) for n in fastgrad.__all__]
    modules = [getattr(fastgrad, n) for n in fastgrad.__all__
               if inspect.ismodule(getattr(fastgrad, n))]
    pytest.importorskip("sklearn")   # fastgrad.sklearn needs it; the docs extra installs it
    modules.append(importlib.import_module("fastgrad.sklearn"))
    for module in modules:
        out += [(f"{module.__name__}.{n}", getattr(module, n)) for n in module.__all__]
        if (module.__name__, module) not in out:
            out.append((module.__name__, module))
    return out


def _anchor(name: str, obj: object) -> str:
    return f'id="module-{name}"' if inspect.ismodule(obj) else f'id="{name}"'


def test_every_public_name_has_an_api_page(html: pathlib.Path) -> None:
    documented = _documented()
    assert "fastgrad.numerical_gradient" in dict(documented)
    assert "fastgrad.sklearn.GDRegressor" in dict(documented)
    assert "fastgrad.plot.loss_surface" in dict(documented)
    missing, empty = [], []
    for name, obj in documented:
        page = html / "generated" / f"{name}.html"
        if not page.is_file():
            missing.append(name)
        elif _anchor(name, obj) not in page.read_text(encoding="utf-8"):
            empty.append(name)
    assert not missing, f"no API page for {missing}"
    assert not empty, f"API page without the object's description for {empty}"


def test_api_index_links_every_page(html: pathlib.Path) -> None:
    index = (html / "api.html").read_text(encoding="utf-8")
    top = [n for n, obj in _documented() if n.count(".") == 1 or inspect.ismodule(obj)]
    unlinked = [n for n in top if f'href="generated/{n}.html' not in index]
    assert not unlinked, f"api.html does not link to {unlinked}"


def test_the_gallery_ran_every_example_and_embedded_its_figures(html: pathlib.Path) -> None:
    examples = sorted(p.stem for p in EXAMPLES.glob("plot_*.py"))
    assert len(examples) >= 10
    gallery = (html / "auto_examples" / "index.html").read_text(encoding="utf-8")
    for name in examples:
        page = html / "auto_examples" / f"{name}.html"
        assert page.is_file(), f"gallery page of {name} missing"
        text = page.read_text(encoding="utf-8")
        figures = re.findall(rf'src="(\.\./_images/sphx_glr_{name}_\d+\.png)"', text)
        assert figures, f"{name}: no figure embedded"
        for src in figures:
            assert (html / "auto_examples" / src).resolve().is_file(), src
        assert f"{name}.html" in gallery, f"{name} is not in the gallery's index"


def test_every_guide_page_is_built(html: pathlib.Path) -> None:
    pages = sorted(p.stem for p in GUIDE.glob("*.rst"))
    assert "derivatives" in pages
    missing = [p for p in pages if not (html / "guide" / f"{p}.html").is_file()]
    assert not missing, f"guide pages not built: {missing}"
