"""Memory of one fit, measured in a fresh interpreter (run by ``s7_memory``).

Usage: ``python _memory_child.py WHO N D EPOCHS`` with WHO ``fastgrad`` or ``numpy``;
prints one JSON object.

One fresh process per measured fit, so that the resident-set high-water mark
(``ru_maxrss``) starts at "interpreter + X + y": X and y are built in row chunks, so
building them leaves no temporaries above that mark.  Then:

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
    who = sys.argv[1]
    n, d, epochs = (int(a) for a in sys.argv[2:5])
    here = os.path.dirname(os.path.abspath(__file__))
    # the checkout's root, for ``benchmarks`` itself: appended, so that an installed
    # fastgrad comes before the root's uncompiled fastgrad/ source folder
    sys.path.append(os.path.dirname(here))
    import numpy as np

    import fastgrad as fg
    from benchmarks.s6_fit import numpy_fit

    rng = np.random.default_rng(2)
    X = np.empty((n, d))
    y = np.empty(n)
    w_true = rng.standard_normal(d)
    for r0 in range(0, n, 10_000):
        block = X[r0:r0 + 10_000]
        block[...] = rng.standard_normal(block.shape)
        y[r0:r0 + 10_000] = block @ w_true + 0.1 * rng.standard_normal(block.shape[0])
    kw = dict(lr=0.1, epochs=epochs, max_norm=10.0)
    if who == "fastgrad":
        # warm-up on a slice large enough to start the thread pool and load every module
        fg.fit_linear_regression(X[: min(n, 20_000)], y[: min(n, 20_000)], **kw)
        run = lambda: fg.fit_linear_regression(X, y, **kw)  # noqa: E731
    else:
        numpy_fit("mse", X[:1000], y[:1000], epochs=2)
        run = lambda: numpy_fit("mse", X, y, epochs=epochs)  # noqa: E731
    before = _maxrss_bytes()
    run()
    rss_growth = _maxrss_bytes() - before
    tracemalloc.start()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(json.dumps({"n": n, "d": d, "epochs": epochs, "x_bytes": int(X.nbytes),
                      "rss_growth": int(rss_growth), "traced_peak": int(peak)}))


if __name__ == "__main__":
    main()
