"""Reliability, guarantee 5: threads.

* 8 threads calling each public function concurrently (1000 calls per function in all,
  125 per thread, on 8 different inputs, each thread in its own order) get results
  bitwise identical to the serial ones.  The interpreter's switch interval is made tiny
  so that threads interleave as often as possible inside fastgrad's Python layer.
* The GIL is released in every kernel that runs no Python: two threads computing fits
  (or native-f gradients) side by side finish in <= 0.7x the time of running them one
  after the other.  This is a timing test, made robust: each task is calibrated to about
  0.5 s of single-threaded work (about 1 s for the pair), each fit is small enough to
  stay on one thread inside the kernel, and the best of 3 runs is compared.  The
  machine has 2 cores: perfect overlap gives 0.5x, a kernel that holds the GIL 1.0x.
  When other processes occupy the cores, no code can reach 0.7x; so when fastgrad
  misses 0.7x, three more rounds time fastgrad and a workload known to release the GIL
  (hashing a large buffer) back to back, and fastgrad passes a round where it is within
  0.15 of that reference (or under 0.7x).  On a quiet machine the bound is 0.7x; a
  kernel that holds the GIL stays near 1.0x while the reference reaches about 0.5x.

Each test can fail: shared scratch buffers (a module-level work array in a kernel, a
cached objective reused across calls) give cross-talk between threads and results that
differ from serial; a kernel without ``with nogil`` serialises the two threads (ratio
about 1.0).
"""
from __future__ import annotations

import hashlib
import inspect
import sys
import threading
import time

import numpy as np
import pytest

import fastgrad as fg
import fastgrad._losses

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
            return fg.fit_linear_regression(X, y, lr=0.05, epochs=15)

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


# ------------------------------------------------------------------ speed-up
def best_of(n, fn):
    best = float("inf")
    for _ in range(n):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def in_parallel(tasks):
    threads = [threading.Thread(target=t) for t in tasks]
    for th in threads:
        th.start()
    for th in threads:
        th.join()


_BUFFER = np.random.default_rng(0).bytes(1 << 24)


def reference_task():
    """About 0.5 s of hashing, which releases the GIL (the machine's parallel capacity)."""
    t = best_of(1, lambda: hashlib.sha256(_BUFFER).digest())
    reps = max(1, int(0.5 / max(t, 1e-4)))

    def task():
        for _ in range(reps):
            hashlib.sha256(_BUFFER).digest()
    return task


def calibrate(make_task, size0, target=0.5, power=1.0):
    """Scale a task's size so that one run takes about `target` seconds (measured again
    after each scaling: a first estimate from a short run is easily off on a busy machine)."""
    size = size0
    for _ in range(4):
        t = best_of(2, make_task(size))
        if t >= 0.8 * target:
            break
        size = max(size, int(size * (target / max(t, 1e-4)) ** (1.0 / power)))
    return size


class TestGilReleased:
    @pytest.mark.parametrize("kind", ["fit-linear", "native-gradient"])
    def test_two_threads_take_at_most_70_percent_of_serial(self, kind):
        if kind.startswith("fit"):
            r = np.random.default_rng(5)
            X = r.normal(size=(2000, 20))    # one thread inside the kernel:
            assert X.size < fastgrad._losses.PARALLEL_MIN_ELEMENTS
            y = X @ r.normal(size=20) + r.normal(size=2000)
            if kind == "fit-logistic":
                y = (y > 0).astype(float)
            fit = fg.fit_linear_regression if kind == "fit-linear" else fg.fit_logistic_regression

            def make(epochs):
                return lambda: fit(X, y, lr=1e-3, epochs=epochs)
            size = calibrate(make, 200)
        else:
            fn = native()

            def make(n):
                x = np.linspace(-1.0, 1.0, n)
                return lambda: fg.numerical_gradient(fn, x)
            size = calibrate(make, 3000, power=2.0)   # cost ~ n**2
        a, b = make(size), make(size)
        serial = best_of(3, lambda: (a(), b()))
        parallel = best_of(3, lambda: in_parallel([a, b]))
        assert serial > 0.6, f"calibration too small: serial {serial:.3f} s"
        ratio = parallel / serial
        print(f"{kind}: serial {serial:.3f} s, parallel {parallel:.3f} s, ratio {ratio:.2f}")
        if ratio <= 0.7:
            return
        # Missed: is the machine able to run two threads at once right now?  Three more
        # rounds, each timing fastgrad and a GIL-free reference back to back.
        ref_a, ref_b = reference_task(), reference_task()
        rounds = []
        for _ in range(3):
            r_f = best_of(1, lambda: in_parallel([a, b])) / best_of(1, lambda: (a(), b()))
            r_ref = (best_of(1, lambda: in_parallel([ref_a, ref_b]))
                     / best_of(1, lambda: (ref_a(), ref_b())))
            rounds.append((r_f, r_ref))
            print(f"  round: fastgrad {r_f:.2f}, GIL-free reference {r_ref:.2f}")
            if r_f <= max(0.7, r_ref + 0.15):
                return
        pytest.fail(f"{kind}: two threads took {ratio:.2f}x the serial time (> 0.7); rounds of "
                    f"(fastgrad, GIL-free reference) ratios: "
                    f"{[(round(x, 2), round(y, 2)) for x, y in rounds]}: the GIL is not released")
