"""What every section shares: result rows with their targets, the run context,
optional imports of the anchors, and the test functions.

A section module defines ``TITLE``, ``DESCRIPTION`` and ``cases(ctx)``, which returns a
list of ``Case``; running a case returns its ``Row`` objects.  The runner shows one
progress step per case.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._timing import Timing, TimingConfig, measure

PASS, FAIL, INFO, SKIP, NA = "PASS", "FAIL", "info", "skipped", "not available"


@dataclass(frozen=True)
class Target:
    """A target from the issue, on one number of a row.

    ``op`` is ``"<="`` or ``">="``; ``value`` the threshold; ``text`` how the table shows
    it (``"≤ 1.10"``, ``"≥ 2x faster"``).
    """

    op: str
    value: float
    text: str

    def met(self, x: float) -> bool:
        return x <= self.value if self.op == "<=" else x >= self.value


def at_most(value: float, text: str | None = None) -> Target:
    return Target("<=", value, text or f"≤ {value:g}")


def at_least(value: float, text: str | None = None) -> Target:
    return Target(">=", value, text or f"≥ {value:g}x")


@dataclass
class Row:
    """One comparison: fastgrad (``subject``) against one ``baseline`` for one case.

    ``value`` is the number the target is stated on, described by ``value_label``
    (``"speed-up"`` = baseline time / fastgrad time; ``"fastgrad / baseline"``;
    ``"share of np.sum rate"``; ``"% of X"``).  ``speedup`` (baseline / fastgrad time)
    and ``chart_target`` (the target as a speed-up) feed the chart.
    """

    case: str
    subject: str
    baseline: str
    t_subject: float | None = None
    t_baseline: float | None = None
    value: float | None = None
    value_label: str = "speed-up"
    target: Target | None = None
    status: str = INFO
    note: str = ""
    extra: dict = field(default_factory=dict)
    speedup: float | None = None
    chart_target: float | None = None
    noise: float | None = None    # worst (max - min) / median of the two timings
    out_of_reach: str = ""        # why a failed target cannot be met (see mark_out_of_reach)

    def judge(self) -> Row:
        """Set ``status`` from value and target (INFO when there is no target)."""
        if self.status in (SKIP, NA):
            return self
        if self.target is None or self.value is None:
            self.status = INFO
        else:
            self.status = PASS if self.target.met(self.value) else FAIL
        return self


def timed_row(case: str, subject: str, baseline: str, t: Timing | None, tb: Timing | None,
              *, form: str = "speedup", target: Target | None = None,
              note: str = "", extra: dict | None = None) -> Row:
    """A row from two timings.

    ``form="speedup"``: value = baseline / fastgrad time (target "≥ k x faster").
    ``form="ratio"``: value = fastgrad / baseline time (target "≤ r").
    """
    row = Row(case, subject, baseline, note=note, extra=dict(extra or {}))
    if t is None or tb is None:
        row.status = SKIP
        return row
    row.t_subject, row.t_baseline = t.median, tb.median
    row.speedup = tb.median / t.median
    row.noise = max(t.spread, tb.spread)
    if form == "speedup":
        row.value, row.value_label = row.speedup, "speed-up"
        if target is not None:
            row.chart_target = target.value if target.op == ">=" else None
    else:
        row.value, row.value_label = t.median / tb.median, "fastgrad / baseline"
        if target is not None and target.op == "<=":
            row.chart_target = 1.0 / target.value
    row.target = target
    return row.judge()


def mark_out_of_reach(row: Row, ceiling: Row | None, what: str) -> Row:
    """Note on a failed target that no implementation doing the same calls can meet it in
    this run: ``ceiling`` times those calls alone against the same baseline (same form
    of value as ``row``)."""
    if (row.status == FAIL and row.target is not None and ceiling is not None
            and ceiling.value is not None and not row.target.met(ceiling.value)):
        if ceiling.value_label == "speed-up":
            how = f"are only {fmt_num(ceiling.value)}x faster than the baseline"
        else:
            how = f"take {fmt_num(ceiling.value)}x the baseline's time"
        row.out_of_reach = f"out of reach in this run: {what} alone {how}"
        row.note = "; ".join(n for n in (row.out_of_reach, row.note) if n)
    return row


def skipped_row(case: str, subject: str, baseline: str, why: str,
                target: Target | None = None, status: str = SKIP) -> Row:
    return Row(case, subject, baseline, status=status, note=why, target=target)


@dataclass
class Case:
    """One progress step: ``run()`` returns the rows of this case."""

    label: str
    run: Callable[[], list[Row]]


class Context:
    """Settings of this run and the notes sections leave for the report."""

    def __init__(self, quick: bool, timing: TimingConfig, out_dir: str) -> None:
        self.quick = quick
        self.timing = timing
        self.out_dir = out_dir
        self.notes: dict[int, list[str]] = {}
        self._modules: dict[str, Any] = {}
        self.missing: dict[str, str] = {}
        self.section = 0

    def measure(self, funcs: dict[str, Callable[[], Any]]) -> dict[str, Timing]:
        return measure(funcs, self.timing)

    def note(self, text: str) -> None:
        """A note under the current section's table (each text once)."""
        notes = self.notes.setdefault(self.section, [])
        if text not in notes:
            notes.append(text)

    def optional(self, name: str) -> Any:
        """Import an anchor; None (and a note) when it is missing or broken."""
        if name in self._modules:
            return self._modules[name]
        try:
            mod = importlib.import_module(name)
        except Exception as exc:  # ImportError, or a broken install raising anything
            mod = None
            self.missing[name] = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        self._modules[name] = mod
        return mod

    def missing_note(self, name: str, extra: str = "") -> str:
        why = self.missing.get(name, "not installed")
        text = f"`{name}` is not available ({why}); its comparisons are skipped{extra}."
        self.note(text)
        return f"{name} not installed"


# --------------------------------------------------------------------------- test data
def rosen_point(n: int, seed: int = 0):
    """A reproducible point for the Rosenbrock function (away from its minimum)."""
    import numpy as np

    return np.random.default_rng(seed).uniform(-1.5, 1.5, n)


def max_abs_err(a: Any, b: Any) -> float:
    import numpy as np

    return float(np.max(np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float))))


def fmt_err(e: float | None) -> str:
    return "—" if e is None else f"{e:.1e}"


def fmt_num(v: float | None, digits: int = 3) -> str:
    if v is None:
        return "—"
    if v >= 100:
        return f"{v:.0f}"
    return f"{v:.{digits}g}"
