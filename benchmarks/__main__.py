"""``python -m benchmarks``: run fastgrad's benchmark suite and write RESULTS.md.

Before NumPy is imported, ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` are removed
from this process's environment (and so from the child process of the memory
section): some machines set them to force an old, slower OpenBLAS kernel, which would
handicap the NumPy side of every comparison.  ``--keep-blas-env`` keeps them.  Nothing
outside this process is changed.

Run from the repository root, ``python -m benchmarks`` would find the uncompiled
``fastgrad/`` source folder before the installed package; unless that folder holds the
compiled kernels (an in-place ``pip install -e .`` build), the root is taken off
``sys.path`` first, so the installed fastgrad is the one measured.
"""
import importlib.machinery
import os
import sys

_BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def _prefer_installed_fastgrad() -> None:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    source = os.path.join(root, "fastgrad")
    if not os.path.isdir(source):
        return
    built = any(name.startswith("_diff") and name.endswith(suffix)
                for name in os.listdir(source)
                for suffix in importlib.machinery.EXTENSION_SUFFIXES)
    if not built:
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != root]


def _main() -> int:
    _prefer_installed_fastgrad()
    removed = {}
    if "--keep-blas-env" not in sys.argv[1:]:
        if "numpy" in sys.modules:  # pragma: no cover - only when imported oddly
            print("warning: NumPy was imported before the benchmark could reset the "
                  "BLAS environment", file=sys.stderr)
        removed = {k: os.environ.pop(k) for k in _BLAS_VARS if k in os.environ}
    from ._runner import main

    return main(sys.argv[1:], removed_env=removed)


if __name__ == "__main__":
    sys.exit(_main())
