"""``python -m pipeline`` / ``news-ingest``: run the ingestion pipeline."""
from __future__ import annotations

import argparse
import logging
import sys

from pipeline.errors import UsageError
from pipeline.options import DRY_RUN_HELP, IngestOptions

EPILOG = """\
Every Apache Beam pipeline option passes through as well, for example:
  --runner DirectRunner|DataflowRunner|FlinkRunner|SparkRunner|PortableRunner
  --direct_num_workers 2 --direct_running_mode multi_processing   (use both cores locally)
  --setup_file ./setup.py   (ship this project to remote workers)
See https://beam.apache.org/documentation/runners/capability-matrix/ and each runner's page.

example:
  python -m pipeline --input 'samples/incoming/*.txt' --output output/samples
"""


def help_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="Read news-article files, clean them, extract entities, assign a date and a topic, "
        "and write Hive-partitioned Parquet.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    IngestOptions._add_argparse_args(parser)
    parser.add_argument("--dry_run", action="store_true", help=DRY_RUN_HELP)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "-h" in argv or "--help" in argv:
        help_parser().print_help()
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from pipeline.main import run  # imported late: --help should not pay for Beam and spaCy

    try:
        run(argv)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
