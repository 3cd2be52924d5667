"""``python -m benchmarks``: run fastgrad's benchmark suite and write RESULTS.md.

Before NumPy is imported, ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` are removed
from this process's environment (and so from the child process of the memory
section): some machines set them to force an old, slower OpenBLAS kernel, which would
handicap the NumPy side of every comparison.  ``--keep-blas-env`` keeps them.  Nothing
outside this process is changed.
"""
import os
import sys

_BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def _main() -> int:
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
