"""The ``fastgrad`` command line: ``python -m fastgrad demo`` or ``fastgrad demo``.

:func:`main` parses the arguments and calls :func:`fastgrad.demo.run`; the console
script ``fastgrad`` declared in pyproject.toml points here.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]

_DEMO_HELP = """\
Run the tutorials' story end to end on built-in synthetic data (nothing is downloaded):
the gradient of each tutorial function by fastgrad next to its closed form, gradient
checks, Hessians, a directional derivative, the tutorial's ten-step gradient-descent loop,
then linear and logistic regression fitted by batch gradient descent with gradient
clipping and a progress bar, with a table of results, a three-class softmax regression,
and PNG pictures (loss surfaces with the gradient field and the descent path, loss
curves, the three-class decision regions) written to an output folder.
Pictures need matplotlib and progress bars need tqdm: pip install "fastgrad[demo]".
"""


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="fastgrad",
        description="fastgrad: fast, checked numerical derivatives and compiled gradient "
                    "descent.",
        epilog="Run 'fastgrad demo --help' for the demo's options.")
    parser.add_argument("--version", action="version", version=f"fastgrad {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo", help="run the demo: tables of gradients, Hessians and fits, and pictures",
        description=_DEMO_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("--out", metavar="DIR", default="fastgrad-demo",
                      help="folder for the PNG pictures (default: ./fastgrad-demo)")
    demo.add_argument("--quick", action="store_true",
                      help="smaller data, fewer epochs, coarser pictures: a few seconds (CI)")
    demo.add_argument("--no-progress", action="store_true",
                      help="no progress bars during the fits")
    demo.add_argument("--no-plots", action="store_true",
                      help="write no pictures (runs without matplotlib)")
    demo.add_argument("--seed", type=int, default=0,
                      help="seed of the synthetic regression data (default: 0)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``fastgrad`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name (default ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 on success.  Without a command the help is printed.

    Examples
    --------
    >>> from fastgrad.__main__ import main
    >>> main(["demo", "--quick", "--no-plots", "--no-progress"])  # doctest: +ELLIPSIS
    fastgrad ... demo (--quick): ...
    0
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    from .demo import run

    stdout = sys.stdout
    if hasattr(stdout, "reconfigure"):  # a console that cannot print "∇" or "²" gets "?"
        try:
            stdout.reconfigure(errors="replace")
        except (ValueError, OSError):
            pass
    run(args.out, quick=args.quick, progress=not args.no_progress, plots=not args.no_plots,
        seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
