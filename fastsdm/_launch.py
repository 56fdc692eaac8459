"""The ``fastsdm`` command's entry point: Ctrl-C ends it quietly from its first import.

The console script imports this module (and so the light ``fastsdm`` package,
about 3 ms) before anything else of fastsdm; the command's own imports
(:mod:`fastsdm.cli`: argparse, json, ...) then run inside its ``try``.  A Ctrl-C
among them used to print a ``KeyboardInterrupt`` traceback; from here on it exits
with status 130, as :func:`fastsdm.cli.main` does once it runs.
"""

import sys


def main(argv=None) -> int:
    """Run the ``fastsdm`` command (see :func:`fastsdm.cli.main`)."""
    try:
        from .cli import EXIT_INTERRUPTED, PROG
        from .cli import main as run
    except KeyboardInterrupt:
        print("fastsdm: interrupted", file=sys.stderr)
        return 130
    try:
        return run(argv)
    except KeyboardInterrupt:  # between the import and run()'s own handler
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
