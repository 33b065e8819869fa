"""The command line's parser and entry point: ``python -m detector COMMAND ...``.

The reviewer's command, ``scan``, is in ``user``; the operator's ``scan-archive`` (thousands of files, on Ray) in
``archive``; the developer's ``train`` in ``training`` and the others (``evaluate``, ``score-crops``, ``calibrate``,
``quantize``, ``combine``, ``ensembles``, ``lite``) in ``developer``; the generalisation benchmark (``benchmark``) in
``benchmark``.

Exit status: 0 when every input was judged (an "inconclusive" verdict included), 1 when an input could not be read
(with a one-line reason on stderr), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from detector.cli import archive, benchmark, common, developer, training, user
from detector.errors import DetectorError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m detector", description="Deepfake video checker: judge videos, or train and measure models."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    subparsers = parser.add_subparsers(dest="command", required=True)
    user.add_parsers(subparsers)
    archive.add_parsers(subparsers)
    training.add_parsers(subparsers)
    developer.add_parsers(subparsers)
    benchmark.add_parsers(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    common.reuse_tensor_memory()
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    arguments = parser.parse_args(argv)
    arguments.argv = argv
    logging.basicConfig(
        level=logging.INFO if arguments.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return arguments.run(arguments)
    except DetectorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
