"""Timing: timeit-style autorange plus interleaved repeats, medians reported.

``measure({"fastgrad": f1, "numpy": f2})`` calls each function once (warm-up: JIT
compilation, caches, thread pools), picks for each an inner loop count the way
``timeit.Timer.autorange`` does (1, 2, 5, 10, 20, 50, ... calls until the loop lasts at
least ``min_time``), then runs ``repeats`` rounds; in each round every function's loop
runs once, in turn, so that a change of machine load during the case hits all the
competitors alike.  The garbage collector is off while a loop runs, as in timeit.
"""
from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TimingConfig:
    """How long and how often to time; ``quick`` makes CI runs short."""

    min_time: float = 0.2     # seconds one inner loop should last at least
    repeats: int = 7          # rounds; the median of these is reported
    min_repeats: int = 5      # never fewer, even for slow calls
    long_call: float = 1.0    # a call slower than this gets only min_repeats rounds

    @classmethod
    def quick(cls) -> TimingConfig:
        return cls(min_time=0.01, repeats=5, min_repeats=5, long_call=0.2)


@dataclass(frozen=True)
class Timing:
    """Seconds per call: the median and best of the repeats, and the raw samples."""

    median: float
    best: float
    number: int                       # calls per inner loop
    samples: tuple = field(repr=False, default=())

    @property
    def spread(self) -> float:
        """(max - min) / median of the repeats: how noisy this measurement was."""
        return (max(self.samples) - min(self.samples)) / self.median if self.samples else 0.0


def _loop(fn: Callable[[], Any], number: int) -> float:
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        return time.perf_counter() - t0
    finally:
        if gc_was_enabled:
            gc.enable()


def autorange(fn: Callable[[], Any], min_time: float, first: float | None = None) -> int:
    """Inner loop count (1, 2, 5, 10, 20, 50, ...) making one loop last >= min_time."""
    if first is not None and first >= min_time:
        return 1
    base = 1
    while True:
        for k in (1, 2, 5):
            number = base * k
            if _loop(fn, number) >= min_time:
                return number
        base *= 10


def measure(funcs: dict[str, Callable[[], Any]], cfg: TimingConfig) -> dict[str, Timing]:
    """Time every function of ``funcs``; see the module docstring."""
    numbers: dict[str, int] = {}
    single: dict[str, float] = {}
    for name, fn in funcs.items():
        first = _loop(fn, 1)              # warm-up, also a first estimate
        numbers[name] = autorange(fn, cfg.min_time, first)
        single[name] = first
    repeats = cfg.repeats
    if max(single.values(), default=0.0) > cfg.long_call:
        repeats = cfg.min_repeats
    repeats = max(repeats, cfg.min_repeats)
    samples: dict[str, list[float]] = {name: [] for name in funcs}
    for _ in range(repeats):
        for name, fn in funcs.items():
            samples[name].append(_loop(fn, numbers[name]) / numbers[name])
    return {name: Timing(median=statistics.median(s), best=min(s), number=numbers[name],
                         samples=tuple(s))
            for name, s in samples.items()}


def fmt_time(seconds: float | None) -> str:
    """A time with a unit that keeps three significant digits: '12.3 µs'."""
    if seconds is None:
        return "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale or unit == "ns":
            value = seconds / scale
            return f"{value:.3g} {unit}" if value < 1000 else f"{value:.0f} {unit}"
    return f"{seconds:.3g} s"  # pragma: no cover
