"""The command line of ``python -m benchmarks``: choose sections, run their cases with a
progress bar, write the report."""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback

from . import SECTIONS
from ._common import FAIL, Context, Row
from ._timing import TimingConfig

HERE = os.path.dirname(os.path.abspath(__file__))


def _section_number(text: str) -> int:
    for number, key, module in SECTIONS:
        if text.strip().lower() in (str(number), key, module):
            return number
    names = ", ".join(f"{n} ({k})" for n, k, _ in SECTIONS)
    raise argparse.ArgumentTypeError(f"unknown section {text!r}; choose from {names}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark fastgrad against scipy, numdifftools, NumPy, numba, JAX and "
                    "PyTorch; write RESULTS.md and a chart of the ratios.")
    p.add_argument("--quick", action="store_true",
                   help="reduced sizes and inner-loop time, for CI (under a minute)")
    p.add_argument("--only", action="append", metavar="SECTION", default=None,
                   help="run only this section (number or name; repeat or comma-separate)")
    p.add_argument("--out", default=HERE, metavar="DIR",
                   help="directory for RESULTS.md, RESULTS.json and ratios.png "
                        "(default: benchmarks/)")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed rounds per case (>= 5; default 7, 5 with --quick)")
    p.add_argument("--min-time", type=float, default=None,
                   help="seconds one inner loop lasts at least (default 0.2, 0.01 with --quick)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar or lines")
    p.add_argument("--keep-blas-env", action="store_true",
                   help="keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE if they are set")
    p.add_argument("--list", action="store_true", help="list the sections and exit")
    args = p.parse_args(argv)
    if args.only:
        wanted = []
        for item in args.only:
            for part in item.split(","):
                if part.strip():
                    try:
                        wanted.append(_section_number(part))
                    except argparse.ArgumentTypeError as exc:
                        p.error(str(exc))
        args.only = sorted(set(wanted))
    if args.repeats is not None and args.repeats < 5:
        p.error("--repeats must be at least 5")
    return args


class _Progress:
    """tqdm when installed, else one line per case on stderr."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.done, self.enabled, self.bar = total, 0, enabled, None
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=total, unit="case", file=sys.stderr,
                                dynamic_ncols=True, leave=True)

    def start(self, label: str) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.set_description(label)
        else:
            print(f"[{self.done + 1}/{self.total}] {label} ...", file=sys.stderr, flush=True)

    def finish(self, seconds: float) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
        elif self.enabled:
            print(f"    done in {seconds:.1f} s", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def main(argv: list[str], removed_env: dict | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for number, key, module in SECTIONS:
            mod = importlib.import_module(f".{module}", __package__)
            print(f"{number} {key:<11} {mod.TITLE}")
        return 0
    base = TimingConfig.quick() if args.quick else TimingConfig()
    timing = TimingConfig(min_time=args.min_time if args.min_time else base.min_time,
                          repeats=args.repeats or base.repeats,
                          min_repeats=base.min_repeats, long_call=base.long_call)

    import fastgrad  # noqa: F401  (fail early and clearly when fastgrad is not importable)

    from . import _machine, _report

    ctx = Context(args.quick, timing, args.out)
    machine = _machine.describe(removed_env or {})
    selected = [(n, k, m) for n, k, m in SECTIONS if not args.only or n in args.only]
    plans = []
    for number, _key, module in selected:
        mod = importlib.import_module(f".{module}", __package__)
        ctx.section = number
        plans.append((number, mod, mod.cases(ctx)))

    progress = _Progress(sum(len(c) for _, _, c in plans), not args.no_progress)
    sections = []
    t_start = time.perf_counter()
    try:
        for number, mod, cases in plans:
            ctx.section = number
            t_section = time.perf_counter()
            rows: list[Row] = []
            for case in cases:
                progress.start(f"{number}. {case.label}")
                t0 = time.perf_counter()
                try:
                    rows.extend(case.run())
                except Exception as exc:  # one broken case must not lose the whole run
                    tb = traceback.format_exc(limit=3).strip().splitlines()[-1]
                    ctx.note(f"Case `{case.label}` raised {type(exc).__name__}: {exc} ({tb})")
                    rows.append(Row(case.label, "—", "—", status=FAIL,
                                    note=f"raised {type(exc).__name__}"))
                progress.finish(time.perf_counter() - t0)
            ctx.note(f"Section run time: {time.perf_counter() - t_section:.0f} s.")
            sections.append({"number": number, "key": mod.__name__.rsplit(".", 1)[-1],
                             "title": mod.TITLE, "description": mod.DESCRIPTION,
                             "rows": rows, "notes": ctx.notes.get(number, [])})
    finally:
        progress.close()
    elapsed = time.perf_counter() - t_start

    try:
        machine["load"] = machine.get("load", "") + ", at end: " + ", ".join(
            f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        pass
    out_dir = _report.ensure_dir(args.out)
    md_name, png_name, json_name = _report.output_names(args.quick, args.only)
    command = "python -m benchmarks" + ("".join(f" {a}" for a in argv) if argv else "")
    timing_text = (
        f"Each case: one warm-up call per function, an autoranged inner loop (1, 2, 5, 10, "
        f"... calls, until one loop lasts ≥ {timing.min_time:g} s), then {timing.repeats} "
        f"interleaved rounds ({timing.min_repeats} when one call takes over "
        f"{timing.long_call:g} s); the median per call is reported. Run time {elapsed:.0f} s. "
        "Rows whose repeats spread by more than 50% of the median are marked noisy.")
    chart_note = _report.write_chart(os.path.join(out_dir, png_name), sections,
                                     f"fastgrad speed-ups ({machine['date']}, {machine['cpu']})")
    _report.write_markdown(os.path.join(out_dir, md_name), sections, machine, command,
                           timing_text, None if chart_note else png_name, chart_note,
                           args.quick)
    _report.write_json(os.path.join(out_dir, json_name), sections, machine)
    print(_report.console_summary(sections))
    print(f"\nwrote {os.path.join(out_dir, md_name)}"
          + ("" if chart_note else f" and {png_name}")
          + (f" (chart skipped: {chart_note})" if chart_note else "")
          + f" in {elapsed:.0f} s")
    return 0
