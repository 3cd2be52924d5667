"""Memory of one fit, measured in a fresh interpreter (run by ``s7_memory``).

Usage: ``python _memory_child.py N D EPOCHS``; prints one JSON object.

A fresh process is used so that the resident-set high-water mark (``ru_maxrss``)
starts at "interpreter + X + y" and not at whatever earlier benchmarks peaked at.
For each of fastgrad's fit and the NumPy loop of the same algorithm:

- ``rss_growth``: growth of ``ru_maxrss`` over the fit (run without tracemalloc);
- ``traced_peak``: peak of the memory traced by ``tracemalloc`` during a second run
  (NumPy reports its array buffers to tracemalloc, so a copy of X would show here).
"""
import json
import os
import resource
import sys
import tracemalloc


def _maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def main() -> None:
    n, d, epochs = (int(a) for a in sys.argv[1:4])
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.dirname(here))
    import numpy as np
    import fastgrad as fg
    from benchmarks.s6_fit import numpy_fit

    rng = np.random.default_rng(2)
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)
    kw = dict(lr=0.1, epochs=epochs, max_norm=10.0)
    # warm-up on a slice large enough to start the thread pool and load every module
    fg.fit_linear_regression(X[: min(n, 20_000)], y[: min(n, 20_000)], **kw)
    numpy_fit("mse", X[:1000], y[:1000], epochs=2)

    out = {"n": n, "d": d, "epochs": epochs, "x_bytes": int(X.nbytes)}
    for name, run in (("fastgrad", lambda: fg.fit_linear_regression(X, y, **kw)),
                      ("numpy", lambda: numpy_fit("mse", X, y, epochs=epochs))):
        before = _maxrss_bytes()
        run()
        rss_growth = _maxrss_bytes() - before
        tracemalloc.start()
        run()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out[name] = {"rss_growth": int(rss_growth), "traced_peak": int(peak)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
