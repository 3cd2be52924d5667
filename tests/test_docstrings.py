"""Every public function and class has a numpydoc docstring with an Examples section.

The examples themselves run as doctests: ``pytest --doctest-modules --pyargs fastgrad``
(a CI stage).  This file checks that none is missing.
"""
from __future__ import annotations

import importlib
import inspect
from typing import Any

import pytest

import fastgrad
import fastgrad.__main__
import fastgrad.demo
import fastgrad.optimizers
import fastgrad.plot


def _public() -> list[tuple[str, Any]]:
    out = [(f"fastgrad.{n}", getattr(fastgrad, n)) for n in fastgrad.__all__
           if inspect.isroutine(getattr(fastgrad, n)) or inspect.isclass(getattr(fastgrad, n))]
    for module in (fastgrad.plot, fastgrad.optimizers, fastgrad.demo, fastgrad.__main__):
        out += [(f"{module.__name__}.{n}", getattr(module, n)) for n in module.__all__]
    return out


def _estimators() -> list[tuple[str, Any]]:
    pytest.importorskip("sklearn")  # fastgrad.sklearn imports it
    mod = importlib.import_module("fastgrad.sklearn")
    out = []
    for cname in mod.__all__:
        cls = getattr(mod, cname)
        out.append((f"fastgrad.sklearn.{cname}", cls))
        out += [(f"fastgrad.sklearn.{cname}.{m}", f) for m, f in vars(cls).items()
                if not m.startswith("_") and inspect.isfunction(f)]
    return out


def _sections(obj: Any) -> str:
    doc = inspect.getdoc(obj)
    assert doc, "no docstring"
    return doc


PUBLIC = _public()


@pytest.mark.parametrize(("name", "obj"), PUBLIC, ids=[n for n, _ in PUBLIC])
def test_public_name_has_examples(name: str, obj: Any) -> None:
    doc = _sections(obj)
    assert "Examples\n--------\n" in doc and ">>> " in doc.split("Examples\n--------\n")[1]


@pytest.mark.parametrize(("name", "obj"), [p for p in PUBLIC if inspect.isroutine(p[1])],
                         ids=[n for n, o in PUBLIC if inspect.isroutine(o)])
def test_public_function_has_parameters_and_returns(name: str, obj: Any) -> None:
    doc = _sections(obj)
    assert "Parameters\n----------\n" in doc
    assert "Returns\n-------\n" in doc


def test_public_classes_document_their_attributes() -> None:
    for name, obj in PUBLIC:
        if inspect.isclass(obj):
            assert "Attributes\n----------\n" in _sections(obj), name


def test_estimators_have_examples() -> None:
    for name, obj in _estimators():
        doc = _sections(obj)
        assert "Examples\n--------\n" in doc, name


def test_examples_of_the_command_line_run() -> None:
    # pytest --doctest-modules never collects a __main__.py; its examples run here.
    import doctest

    result = doctest.testmod(fastgrad.__main__, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_docs_say_f_may_keep_its_array_not_that_each_call_gets_a_fresh_one():
    """A Python f is handed the array of an earlier call again when it kept no reference
    to it (that saves an allocation per call), so no text may promise a fresh array at
    every call; what holds, and what tests/test_reliability_data.py checks, is that f
    may keep (or write to) what it is given."""
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1]
    guarantees = (root / "docs" / "guide" / "guarantees.rst").read_text(encoding="utf-8")
    texts = {"docs/guide/guarantees.rst": guarantees,
             "numerical_gradient": fastgrad.numerical_gradient.__doc__ or "",
             "fastgrad._modes": importlib.import_module("fastgrad._modes").__doc__ or "",
             "fastgrad._objectives": importlib.import_module("fastgrad._objectives").__doc__
             or ""}
    for name, text in texts.items():
        flat = " ".join(text.split())
        assert "fresh array" not in flat, name
        assert "may keep" in flat, name
