"""The type information fastgrad ships: py.typed, and .pyi stubs of the compiled modules
that match what the compiled modules define (names, parameters, defaults)."""
from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path
from typing import Any

import pytest

import fastgrad

PACKAGE = Path(fastgrad.__file__).parent
COMPILED = ["_diff", "_linear", "_optim"]


def _stub(name: str) -> ast.Module:
    return ast.parse((PACKAGE / f"{name}.pyi").read_text(encoding="utf-8"))


def _stub_functions(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}


def _stub_classes(tree: ast.Module) -> dict[str, ast.ClassDef]:
    return {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}


def _stub_names(tree: ast.Module) -> set[str]:
    """Module attributes the stub declares (type aliases of the stub itself excluded)."""
    return {n.target.id for n in tree.body
            if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
            and not (isinstance(n.annotation, ast.Name) and n.annotation.id == "TypeAlias")}


def _public_functions(module: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(module).items()
            if not k.startswith("_") and callable(v) and not inspect.isclass(v)
            and getattr(v, "__module__", None) == module.__name__}


def _params(fn: ast.FunctionDef) -> list[tuple[str, Any]]:
    """(name, default or inspect.Parameter.empty) of each parameter of a stub def."""
    args = fn.args.posonlyargs + fn.args.args
    defaults = [inspect.Parameter.empty] * (len(args) - len(fn.args.defaults))
    defaults += [ast.literal_eval(d) for d in fn.args.defaults]
    return [(a.arg, d) for a, d in zip(args, defaults, strict=True)]


def test_py_typed_is_shipped() -> None:
    assert (PACKAGE / "py.typed").is_file()


@pytest.mark.parametrize("name", COMPILED)
class TestStubs:
    def test_stub_is_shipped_next_to_the_module(self, name: str) -> None:
        module = importlib.import_module(f"fastgrad.{name}")
        assert (PACKAGE / f"{name}.pyi").is_file()
        assert Path(module.__file__).parent == PACKAGE

    def test_every_function_has_a_stub(self, name: str) -> None:
        module = importlib.import_module(f"fastgrad.{name}")
        missing = set(_public_functions(module)) - set(_stub_functions(_stub(name)))
        assert not missing, f"add these to fastgrad/{name}.pyi: {sorted(missing)}"

    def test_every_stub_exists(self, name: str) -> None:
        module = importlib.import_module(f"fastgrad.{name}")
        tree = _stub(name)
        declared = set(_stub_functions(tree)) | set(_stub_classes(tree)) | _stub_names(tree)
        gone = {k for k in declared if not hasattr(module, k)}
        assert not gone, f"fastgrad/{name}.pyi declares what the module lacks: {sorted(gone)}"

    def test_parameters_and_defaults_match(self, name: str) -> None:
        module = importlib.import_module(f"fastgrad.{name}")
        for fname, fn in _stub_functions(_stub(name)).items():
            sig = inspect.signature(getattr(module, fname))
            actual = [(p.name, p.default) for p in sig.parameters.values()]
            assert _params(fn) == actual, f"{name}.{fname}: stub {_params(fn)} != {actual}"

    def test_classes_match(self, name: str) -> None:
        module = importlib.import_module(f"fastgrad.{name}")
        classes = {k for k, v in vars(module).items()
                   if inspect.isclass(v) and not k.startswith("_")
                   and v.__module__ == module.__name__}
        stubs = _stub_classes(_stub(name))
        assert classes == set(stubs)
        for cname, node in stubs.items():
            cls = getattr(module, cname)
            members = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
            members |= {n.target.id for n in node.body
                        if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}
            members.discard("__init__")
            instance_only = {m for m in members if not hasattr(cls, m)}
            # `cdef public object` attributes are descriptors on the class.
            assert not instance_only, f"{name}.{cname} lacks {sorted(instance_only)}"
