"""Reliability, guarantee 5: threads.

* 8 threads calling each public function concurrently (1000 calls per function in all,
  125 per thread, on 8 different inputs, each thread in its own order) get results
  bitwise identical to the serial ones.  The interpreter's switch interval is made tiny
  so that threads interleave as often as possible inside fastgrad's Python layer.
* The GIL is released in every kernel that runs no Python (the fits, native-f
  gradients and Hessians): while one runs in a worker thread, a second Python thread
  makes progress, and it does so while the worker is inside fastgrad (its innermost
  frame), with a switch interval so long that only a released GIL lets it run.  No
  timing: what two threads gain in speed is the benchmark's business.

Each test can fail: shared scratch buffers (a module-level work array in a kernel, a
cached objective reused across calls) give cross-talk between threads and results that
differ from serial; a kernel without ``with nogil`` never lets the second thread run
while it computes.
"""
from __future__ import annotations

import inspect
import sys
import threading
import time

import numpy as np
import pytest

import fastgrad as fg

N_THREADS = 8
CALLS_PER_FUNCTION = 1000
RNG = np.random.default_rng(11)


def f(v, *args):
    return float(np.sum(np.sin(v) * (1.0 + 0.1 * np.arange(v.shape[0])) + 0.5 * v * v))


def g(v, *args):
    return np.cos(v) * (1.0 + 0.1 * np.arange(v.shape[0])) + v


def fv(v):
    return np.array([f(v), float(v[0] * v[-1])])


_NATIVE: dict = {}


def native():
    """A native f (numba cfunc as a scipy.LowLevelCallable), compiled once."""
    if "f" not in _NATIVE:
        numba = pytest.importorskip("numba")
        from scipy import LowLevelCallable

        sig = numba.types.float64(numba.types.intc, numba.types.CPointer(numba.types.float64))

        @numba.cfunc(sig)
        def fn(n, x):
            t = 0.0
            for i in range(n):
                t += (x[i] - 0.5) * x[i] * (1.0 + 0.001 * i)
            return t
        _NATIVE["cfunc"] = fn
        _NATIVE["f"] = LowLevelCallable(fn.ctypes)
    return _NATIVE["f"]


def inputs(k):
    """The k-th of 8 inputs: points, data and gradients that differ from each other."""
    r = np.random.default_rng(100 + k)
    n = 3 + k % 3
    X = r.normal(size=(40 + k, 3))
    return {"x": r.normal(size=n), "X": X, "y": r.normal(size=X.shape[0]),
            "labels": (r.uniform(size=X.shape[0]) > 0.5).astype(float),
            "w": r.normal(size=3) * 0.1, "d": r.normal(size=n) + 0.1}


CASES = {
    "numerical_gradient": lambda a: fg.numerical_gradient(f, a["x"]),
    "partial_derivative": lambda a: fg.partial_derivative(f, a["x"], 1),
    "directional_derivative": lambda a: fg.directional_derivative(f, a["x"], a["d"]),
    "jacobian": lambda a: fg.jacobian(fv, a["x"]),
    "hessian": lambda a: fg.hessian(f, a["x"]),
    "hessian-grad": lambda a: fg.hessian(f, a["x"], grad=g),
    "check_gradient": lambda a: fg.check_gradient(f, g, a["x"]),
    "mse_loss": lambda a: fg.mse_loss(a["X"], a["y"], a["w"], 0.1, l2=0.01),
    "mse_gradient": lambda a: fg.mse_gradient(a["X"], a["y"], a["w"], 0.1, l2=0.01),
    "logistic_loss": lambda a: fg.logistic_loss(a["X"], a["labels"], a["w"], -0.2),
    "logistic_gradient": lambda a: fg.logistic_gradient(a["X"], a["labels"], a["w"], -0.2),
    "clip_by_norm": lambda a: fg.clip_by_norm((a["w"] * 100, 3.0), 1.0),
    "fit_linear_regression": lambda a: fg.fit_linear_regression(a["X"], a["y"], lr=0.05, epochs=30, max_norm=1.0),
    "fit_logistic_regression": lambda a: fg.fit_logistic_regression(a["X"], a["labels"], lr=0.1, epochs=30),
    "gradient_descent": lambda a: fg.gradient_descent(f, a["x"], grad=g, lr=0.05, epochs=10),
    "native-numerical_gradient": lambda a: fg.numerical_gradient(native(), a["x"]),
    "native-hessian": lambda a: fg.hessian(native(), a["x"]),
    "native-partial_derivative": lambda a: fg.partial_derivative(native(), a["x"], 0),
}
if "vectorized" in inspect.signature(fg.numerical_gradient).parameters:
    CASES["numerical_gradient-vectorized"] = lambda a: fg.numerical_gradient(
        lambda P: np.array([f(p) for p in P]), a["x"], vectorized=True)
    CASES["numerical_gradient-workers-map"] = lambda a: fg.numerical_gradient(f, a["x"], workers=map)
    CASES["native-numerical_gradient-threads"] = lambda a: fg.numerical_gradient(native(), a["x"], workers=2)


def same(a, b) -> bool:
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same(p, q) for p, q in zip(a, b))
    if hasattr(a, "__dataclass_fields__"):
        return all(same(getattr(a, k), getattr(b, k)) for k in a.__dataclass_fields__)
    if isinstance(a, (np.ndarray, float, np.floating)):
        return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)
    return a == b


@pytest.fixture
def tiny_switch_interval():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


class TestConcurrentCallsMatchSerial:
    @pytest.mark.parametrize("name", list(CASES))
    def test_eight_threads(self, name, tiny_switch_interval):
        run = CASES[name]
        data = [inputs(k) for k in range(8)]
        serial = [run(a) for a in data]
        per_thread = CALLS_PER_FUNCTION // N_THREADS
        barrier = threading.Barrier(N_THREADS)
        errors, mismatches = [], []

        def worker(t):
            order = np.random.default_rng(t).integers(0, 8, size=per_thread)
            try:
                barrier.wait()
                for k in order:
                    if not same(run(data[k]), serial[k]):
                        mismatches.append((t, int(k)))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(f"thread {t}: {type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(N_THREADS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert not errors, errors[:3]
        assert not mismatches, (f"{name}: {len(mismatches)} of {CALLS_PER_FUNCTION} concurrent "
                                f"results differ from serial, e.g. (thread, input) {mismatches[:5]}")

    def test_many_native_callables_from_eight_threads(self, tiny_switch_interval):
        # 200 distinct native callables, cycled by 8 threads: whatever fastgrad keeps per
        # callable (a cache of parsed signatures, say) is read, filled and evicted
        # concurrently all the time.  80000 cheap calls.
        from scipy import LowLevelCallable
        native()
        cfunc = _NATIVE["cfunc"]
        callables = [LowLevelCallable(cfunc.ctypes) for _ in range(200)]
        x = np.array([0.75, -0.5])
        expected = fg.numerical_gradient(callables[0], x)
        errors, wrong = [], []
        barrier = threading.Barrier(N_THREADS)

        def worker(t):
            try:
                barrier.wait()
                for k in range(10000):
                    got = fg.numerical_gradient(callables[(7 * k + 13 * t) % 200], x)
                    if not np.array_equal(got, expected):
                        wrong.append(got)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(f"{type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(N_THREADS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert not errors, f"{len(errors)} threads failed, e.g. {errors[:3]}"
        assert not wrong, wrong[:3]

    def test_threaded_kernels_inside_threads(self):
        # fits on X big enough for the kernel's own threads, from 4 Python threads
        data = []
        for k in range(4):
            r = np.random.default_rng(k)
            X = r.normal(size=(30000, 6))
            data.append((X, X @ r.normal(size=6) + r.normal(size=30000)))

        def run(X, y):
            return fg.fit_linear_regression(X, y, lr=0.05, epochs=15, workers=2)

        serial = [run(*d) for d in data]
        results = [None] * 4
        threads = [threading.Thread(target=lambda k=k: results.__setitem__(k, run(*data[k])))
                   for k in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        for k in range(4):
            assert same(results[k], serial[k]), f"fit {k} differs from serial"


# ------------------------------------------------------------------ the GIL is released
def progress_inside(call):
    """How often a second Python thread ran while `call` was inside fastgrad.

    `call` runs in a worker thread; this thread loops, each time noting whether the
    worker's innermost Python frame is in fastgrad, and yields the GIL (``sleep(0)``).
    The switch interval is made long, so the worker gives the GIL up only where it
    releases it itself: with a kernel that holds the GIL, this thread never runs while
    the worker is inside fastgrad (the count is 0); with ``nogil`` kernels it runs all
    along.  Returns (iterations while inside fastgrad, all iterations).
    """
    old = sys.getswitchinterval()
    sys.setswitchinterval(5.0)
    started, done = threading.Event(), threading.Event()
    errors = []

    def run():
        started.set()
        try:
            call()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        done.set()

    inside = loops = 0
    try:
        th = threading.Thread(target=run)
        th.start()
        started.wait()
        while not done.is_set():
            loops += 1
            frame = sys._current_frames().get(th.ident)
            if frame is not None and "fastgrad" in frame.f_code.co_filename:
                inside += 1
            time.sleep(0)
        th.join()
    finally:
        sys.setswitchinterval(old)
    assert not errors, errors
    return inside, loops


class TestGilReleased:
    @pytest.mark.parametrize("kind", ["fit-linear", "fit-logistic", "native-gradient",
                                      "native-hessian"])
    def test_another_thread_runs_while_the_kernel_does(self, kind):
        if kind.startswith("fit"):
            r = np.random.default_rng(5)
            X = r.normal(size=(2000, 20))
            y = X @ r.normal(size=20) + r.normal(size=2000)
            if kind == "fit-logistic":
                y = (y > 0).astype(float)
            fit = fg.fit_linear_regression if kind == "fit-linear" else fg.fit_logistic_regression

            def call():
                fit(X, y, lr=1e-3, epochs=3000, workers=1)
        else:
            fn = native()
            x = np.linspace(-1.0, 1.0, 4000 if kind == "native-gradient" else 200)

            def call():
                if kind == "native-gradient":
                    fg.numerical_gradient(fn, x)
                else:
                    fg.hessian(fn, x)
        call()     # warm-up: compilation, caches
        inside, loops = progress_inside(call)
        print(f"{kind}: {inside} of {loops} iterations while the worker was inside fastgrad")
        assert inside >= 5, (f"{kind}: a second thread ran {inside} times while the kernel "
                             "ran: the GIL is not released")
