"""pytest set-up for the doctests of the installed package.

``pytest --doctest-modules --pyargs fastgrad`` runs the Examples sections of every
docstring against the installed fastgrad.  This file is only read by pytest:

- pictures are drawn with matplotlib's Agg backend (no display needed) and every figure
  is closed after each example;
- examples that need an optional package are skipped when it is not installed
  (``fastgrad.sklearn`` needs scikit-learn, ``fastgrad.plot`` matplotlib).
"""
from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator

import pytest

os.environ["MPLBACKEND"] = "Agg"  # before anything imports matplotlib.pyplot

#: Modules whose examples need an optional package, by the package they need.
_NEEDS = {"sklearn": "sklearn", "plot": "matplotlib"}


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # ValueError: blocked by sys.modules[name] = None
        return False


# The module cannot even be imported without its package, so it is not collected.
collect_ignore = [] if _installed("sklearn") else ["sklearn.py"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for module, package in _NEEDS.items():
            mine = item.name == f"fastgrad.{module}" or item.name.startswith(f"fastgrad.{module}.")
            if mine and not _installed(package):
                item.add_marker(pytest.mark.skip(reason=f"needs {package}"))


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")
