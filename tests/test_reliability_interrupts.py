"""Reliability, guarantee 4: Ctrl-C during long work is honoured within 0.5 s.

A child interpreter starts a long call (a fit that would run for minutes, a native-f
gradient or Hessian that would run for many seconds) and prints ``ready`` just before
it; the test then sends SIGINT.  The child catches KeyboardInterrupt and reports the
``time.monotonic()`` at which it did (the clock is system-wide, so the child's timestamp
minus the parent's at ``os.kill`` is the latency measured where it matters: in the child,
not including interpreter shutdown).  The child also reports that its inputs are
unchanged and that the next call gives bitwise the result it gave before the interrupt
(no state left over, no pending interrupt raised later).

All children are started together (imports and numba compilation overlap) and wait on
stdin; they then run one at a time, so the timing is not disturbed by each other.

Each scenario can fail: a fit loop that never calls PyErr_CheckSignals between chunks,
a native kernel that checks only every N coordinates whatever they cost (the heavy-f
scenario: a native f taking ~40 ms per call), a threaded (prange) kernel with no check
at all, all run to completion long after the 0.5 s, and the child reports "completed"
or is killed after the grace period.
"""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import fastgrad as fg

LATENCY = 0.5          # seconds from SIGINT to KeyboardInterrupt caught in the child
SETTLE = 0.3           # seconds between "ready" and the signal
GRACE = 4.0            # seconds to wait for an interrupt that is not honoured

CHILD = textwrap.dedent(r'''
    import json, signal, sys, time
    import numpy as np
    import fastgrad as fg

    signal.alarm(300)      # a safety net: never outlive a killed test run by long
    scenario = sys.argv[1]

    def native(heavy=False):
        from numba import cfunc, types
        from scipy import LowLevelCallable
        sig = types.float64(types.intc, types.CPointer(types.float64))
        if heavy:
            @cfunc(sig)
            def fn(n, x):          # ~40 ms per call: a dependent chain numba cannot skip
                s = 0.0
                for k in range(15_000_000):
                    s = s * 0.9999999 + x[0]
                t = 0.0
                for i in range(n):
                    t += x[i] * x[i]
                return t + 1e-300 * s
        else:
            @cfunc(sig)
            def fn(n, x):
                t = 0.0
                for i in range(n):
                    t += x[i] * x[i]
                return t
        return LowLevelCallable(fn.ctypes)

    rng = np.random.default_rng(0)
    info = {}
    if scenario.startswith("fit"):
        shape = (20000, 10) if scenario.endswith("threaded") else (4000, 25)
        X = rng.normal(size=shape)
        logistic = "logistic" in scenario
        y = (rng.uniform(size=shape[0]) > 0.5).astype(float) if logistic else rng.normal(size=shape[0])
        w0 = rng.normal(size=shape[1]) * 0.01
        fit = fg.fit_logistic_regression if logistic else fg.fit_linear_regression
        inputs = [X, y, w0]
        kw = {"workers": 2} if scenario.endswith("threaded") else {}
        long_call = lambda: fit(X, y, lr=1e-4, epochs=10**7, w0=w0, **kw)
        quick = lambda: fit(X[:50], y[:50], lr=0.1, epochs=20, w0=w0).w
    elif scenario.startswith("native") or scenario == "python-gradient":
        heavy = "heavy" in scenario
        if scenario == "python-gradient":
            def f(v):
                time.sleep(0.005)
                return float(v @ v)
            n = 2000
        else:
            f = native(heavy)
            n = {"native-gradient": 40000, "native-gradient-heavy": 64,
                 "native-gradient-threads": 40000, "native-hessian": 1500}[scenario]
        x = rng.normal(size=n)
        inputs = [x]
        if scenario == "native-hessian":
            long_call = lambda: fg.hessian(f, x)
            quick = lambda: fg.hessian(f, x[:5])
        elif scenario == "native-gradient-threads":
            long_call = lambda: fg.numerical_gradient(f, x, workers=2)
            quick = lambda: fg.numerical_gradient(f, x[:5], workers=2)
        else:
            long_call = lambda: fg.numerical_gradient(f, x)
            quick = lambda: fg.numerical_gradient(f, x[:5])
        if heavy:
            t = time.perf_counter()
            fg.partial_derivative(f, x, 0)      # 2 calls
            info["seconds_per_call"] = (time.perf_counter() - t) / 2
    else:
        raise SystemExit(f"unknown scenario {scenario}")

    before = quick()
    copies = [a.copy() for a in inputs]
    print("prepared", flush=True)
    if sys.stdin.readline() != "go\n":     # the test run is gone (or skipped this one)
        raise SystemExit(0)
    print("ready", flush=True)
    try:
        long_call()
        out = {"outcome": "completed", "t": time.monotonic()}
    except KeyboardInterrupt:
        out = {"outcome": "interrupted", "t": time.monotonic()}
    out["inputs_unchanged"] = all(np.array_equal(a, c) for a, c in zip(inputs, copies))
    try:
        after = quick()
        out["next_call_same"] = bool(np.array_equal(after, before))
    except BaseException as exc:
        out["next_call_same"] = f"{type(exc).__name__}: {exc}"
    out.update(info)
    print(json.dumps(out), flush=True)
''')

SCENARIOS = ["fit-linear", "fit-logistic", "fit-linear-threaded", "native-gradient",
             "native-gradient-heavy", "native-gradient-threads", "native-hessian",
             "python-gradient"]
NEEDS_NUMBA = {s for s in SCENARIOS if s.startswith("native")}


class Child:
    def __init__(self, scenario: str) -> None:
        self.scenario = scenario
        self.proc = subprocess.Popen([sys.executable, "-c", CHILD, scenario],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def expect(self, what: str, timeout: float) -> str:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            line = None
        if line is None or (what and line != what):
            self.kill()
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            pytest.fail(f"{self.scenario}: expected {what!r} from the child, got {line!r}\n{err[-2000:]}")
        return line

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture(scope="module")
def children():
    wanted = list(SCENARIOS)
    try:
        import numba  # noqa: F401
    except ImportError:
        wanted = [s for s in wanted if s not in NEEDS_NUMBA]
    kids = {s: Child(s) for s in wanted}
    yield kids
    for kid in kids.values():
        kid.kill()


def run_scenario(kid: Child) -> dict:
    kid.expect("prepared", timeout=120)
    kid.proc.stdin.write("go\n")
    kid.proc.stdin.flush()
    kid.expect("ready", timeout=30)
    time.sleep(SETTLE)
    t_send = time.monotonic()
    os.kill(kid.proc.pid, signal.SIGINT)
    try:
        line = kid.lines.get(timeout=GRACE)
    except queue.Empty:
        kid.kill()
        pytest.fail(f"{kid.scenario}: no KeyboardInterrupt {GRACE} s after SIGINT; the "
                    "call went on (signals are not checked during this work)")
    if line is None:
        kid.proc.wait()
        pytest.fail(f"{kid.scenario}: the child died (returncode {kid.proc.returncode}):\n"
                    f"{kid.proc.stderr.read()[-3000:]}")
    out = json.loads(line)
    out["latency"] = out["t"] - t_send
    kid.proc.wait(timeout=30)
    return out


class TestSigint:
    @pytest.mark.parametrize("scenario", SCENARIOS)
    def test_keyboard_interrupt_within_half_a_second(self, children, scenario):
        if scenario in NEEDS_NUMBA:
            pytest.importorskip("numba")
        out = run_scenario(children[scenario])
        if "seconds_per_call" in out:   # the requirement must be satisfiable
            assert out["seconds_per_call"] < LATENCY / 2, out
        assert out["outcome"] == "interrupted", f"{scenario}: the call ran to its end: {out}"
        assert out["latency"] <= LATENCY, (
            f"{scenario}: KeyboardInterrupt {out['latency']:.3f} s after SIGINT (> {LATENCY} s)")
        assert out["inputs_unchanged"] is True, f"{scenario}: inputs modified by the interrupt"
        assert out["next_call_same"] is True, f"{scenario}: the next call differs: {out}"


class TestInterruptInPythonF:
    def test_keyboard_interrupt_from_f_is_the_one_raised(self):
        # in-process: f itself raises KeyboardInterrupt (what a SIGINT during f does)
        x = np.linspace(-1, 1, 50)
        calls = [0]

        def f(v):
            calls[0] += 1
            if calls[0] == 17:
                raise KeyboardInterrupt
            return float(v @ v)

        with pytest.raises(KeyboardInterrupt):
            fg.numerical_gradient(f, x)
        assert calls[0] == 17, "f was called again after it raised KeyboardInterrupt"
        np.testing.assert_allclose(fg.numerical_gradient(lambda v: float(v @ v), x), 2 * x,
                                   rtol=1e-6, atol=1e-8)
