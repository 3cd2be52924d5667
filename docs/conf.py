"""Sphinx configuration of fastgrad's documentation site.

Build it with (from the repository root, after ``pip install ".[docs]"``)::

    sphinx-build -W -b html docs docs/_build/html

The build never needs the network: no intersphinx inventories are fetched, and the
gallery examples use only fastgrad, NumPy and matplotlib.

The API reference is driven by ``fastgrad.__all__``: before the build, this file writes
``api.rst`` with one autosummary entry per public name (grouped by the module that
defines it), so a name added to ``__all__`` gets its page without any edit here.
``fastgrad.plot``, ``fastgrad.optimizers`` and ``fastgrad.sklearn`` get module pages
listing their own ``__all__``.
"""
from __future__ import annotations

import importlib
import inspect
import os
import pathlib
import warnings

import matplotlib

matplotlib.use("Agg")

try:  # the installed package, with its compiled kernels
    import fastgrad
except ImportError as exc:  # e.g. the uncompiled source folder found first on sys.path
    raise ImportError(
        "the documentation is built from the installed fastgrad: pip install \".[docs]\" "
        "and run sphinx-build (python -m sphinx from the checkout's root would find the "
        f"uncompiled fastgrad/ folder first): {exc}") from exc

HERE = pathlib.Path(__file__).resolve().parent

# -- Project ------------------------------------------------------------------------------
project = "fastgrad"
author = "the fastgrad developers"
copyright = "the fastgrad developers"  # noqa: A001
release = fastgrad.__version__
version = ".".join(release.split(".")[:2])

# -- General ------------------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "examples/GALLERY_HEADER.rst"]
# `name` in a docstring links to the Python object when it can be imported, and is shown
# as code otherwise (NumPy's and SciPy's convention).
default_role = "autolink"
# Without the inventories of NumPy, SciPy and scikit-learn (none is fetched: the build is
# offline), their names are written out in full and shown as code; no missing-reference
# warnings are wanted for them.
nitpicky = False

# -- autodoc / autosummary / numpydoc ------------------------------------------------------
autosummary_generate = True
autosummary_ignore_module_all = False   # a module's __all__ decides what it documents
autosummary_imported_members = True
autodoc_typehints = "none"              # the numpydoc Parameters sections carry the types
numpydoc_show_class_members = False     # the class template lists the members instead
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# -- sphinx-gallery -----------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",       # every example is executed
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "backreferences_dir": "generated/backrefs",
    "doc_module": ("fastgrad",),
    "reference_url": {"fastgrad": None},
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "show_memory": False,
    "show_signature": False,
    "plot_gallery": "True",
    "capture_repr": ("_repr_html_", "__repr__"),
}

# -- HTML ---------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"fastgrad {release}"
html_static_path: list[str] = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
    "icon_links": [],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "auto_examples/index": []}
html_show_sourcelink = False

# plt.show() under Agg (in an example run by the gallery) only says it cannot show.
warnings.filterwarnings("ignore", message="Matplotlib is currently using agg")


# -- The API reference, written from the modules' __all__ ---------------------------------

#: Headings of the API reference, by the private module that defines a name.  A name from
#: a module not listed here goes under "More".
_GROUPS = [
    ("Derivatives", ("fastgrad._gradients", "fastgrad._modes", "fastgrad._steps")),
    ("Losses, gradients and fits", ("fastgrad._losses",)),
    ("Optimisation", ("fastgrad._descent", "fastgrad._optimize")),
    ("Result objects", ("fastgrad._results",)),
]
#: Submodules documented beside fastgrad's own names (not imported by ``import fastgrad``).
EXTRA_MODULES = ["fastgrad.sklearn"]


def _group_of(obj: object) -> str:
    module = getattr(obj, "__module__", None) or ""
    for heading, modules in _GROUPS:
        if module in modules:
            return heading
    return "More"


def _autosummary(names: list[str], template: str | None = None) -> str:
    lines = [".. autosummary::", "   :toctree: generated"]
    if template:
        lines.append(f"   :template: {template}")
    lines.append("")
    lines += [f"   {n}" for n in names]
    return "\n".join(lines) + "\n"


def public_names() -> dict[str, list[str]]:
    """Every documented name, by module: ``fastgrad.__all__`` and the extra modules'."""
    out = {"fastgrad": list(fastgrad.__all__)}
    for modname in [f"fastgrad.{n}" for n in fastgrad.__all__
                    if inspect.ismodule(getattr(fastgrad, n))] + EXTRA_MODULES:
        out[modname] = list(importlib.import_module(modname).__all__)
    return out


def write_api_index() -> None:
    """Write ``api.rst``: one autosummary table per group of ``fastgrad.__all__``."""
    groups: dict[str, list[str]] = {}
    modules: list[str] = []
    data: list[str] = []
    for name in fastgrad.__all__:
        obj = getattr(fastgrad, name)
        if inspect.ismodule(obj):
            modules.append(obj.__name__)
        elif inspect.isroutine(obj) or inspect.isclass(obj):
            groups.setdefault(_group_of(obj), []).append(f"fastgrad.{name}")
        else:
            data.append(f"fastgrad.{name}")
    order = [g for g, _ in _GROUPS] + ["More"]
    parts = [
        ".. This file is written by conf.py from fastgrad.__all__ at each build: do not edit.",
        "",
        "API reference",
        "=============",
        "",
        "Every public name of :mod:`fastgrad`, :mod:`fastgrad.plot`,",
        ":mod:`fastgrad.optimizers` and :mod:`fastgrad.sklearn`, with its full docstring",
        "(parameters, returns, errors and a worked example) on its own page.  The user",
        "guide explains how they fit together.",
        "",
    ]
    for heading in order:
        if heading in groups:
            parts += [heading, "-" * len(heading), "", _autosummary(groups[heading])]
    all_modules = modules + [m for m in EXTRA_MODULES if m not in modules]
    if all_modules:
        parts += ["Modules", "-------", "",
                  _autosummary(all_modules, template="autosummary/fastgrad_module.rst")]
    if data:
        parts += ["Package data", "------------", "", _autosummary(data)]
    text = "\n".join(parts)
    target = HERE / "api.rst"
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")


write_api_index()

# Gallery examples and any interpreter they start draw without a display.
os.environ.setdefault("MPLBACKEND", "Agg")


def _skip_routing_methods(app, what, name, obj, skip, options):  # noqa: ANN001, ANN202
    """scikit-learn adds ``set_<method>_request`` to every estimator class; they are its
    metadata-routing API, documented by scikit-learn, not fastgrad's."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):  # noqa: ANN001, ANN201
    app.connect("autodoc-skip-member", _skip_routing_methods)
