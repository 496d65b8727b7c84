"""``python -m pipeline`` / ``news-ingest``: run the ingestion pipeline."""
from __future__ import annotations

import argparse
import signal
import sys

from pipeline import logs

logs.configure()  # before the imports below: importing Beam logs

from pipeline.options import DRY_RUN_HELP, IngestOptions  # noqa: E402
from transforms.errors import UsageError  # noqa: E402

EPILOG = """\
Every Apache Beam pipeline option passes through as well, for example:
  --runner DirectRunner|DataflowRunner|FlinkRunner|SparkRunner|PortableRunner
  --direct_num_workers 2 --direct_running_mode multi_processing   (use both cores locally)
  --setup_file ./setup.py   (ship this project to remote workers)
See https://beam.apache.org/documentation/runners/capability-matrix/ and each runner's page.
A batch run on the DirectRunner (named or not) goes straight to Beam's FnApiRunner: Beam's
DirectRunner would first download its Prism binary at run time, which fails offline. DaskRunner
is refused: it runs this pipeline but gives wrong results.

exit status:
  0  published (or nothing new to publish), nothing alarming
  1  failed: nothing was published (the error and its traceback say why)
  2  usage error: a flag, file, model or output that cannot be used; nothing was done
  3  published, but an --input pattern matched no file, or more than --max_reject_ratio
     of the records processed were rejected
  130 stopped by Ctrl-C or SIGTERM: the lock is released; the next run cleans up (or, if
     the stopped run was publishing, finishes) what it left

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


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "-h" in argv or "--help" in argv:
        help_parser().print_help()
        return 0
    from pipeline.main import exit_status, run  # imported late: --help should not pay for Beam and spaCy

    # SIGTERM (a scheduler stopping the job) stops a run as Ctrl-C does: the lock is released
    # and the unpublished run is cleaned up by the next one. Killed outright, the lock would
    # hold the output for hours against runs on other hosts. (A stream installs its own.)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        manifest = run(argv)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stopped: the lock is released; the next run cleans up (or, if this one was publishing, finishes) what it left", file=sys.stderr)
        return 130
    finally:
        if previous is not None:  # None: a handler set outside Python, which cannot be put back
            signal.signal(signal.SIGTERM, previous)
    if manifest.get("dry_run"):
        return 0
    ratio = manifest.get("options", {}).get("max_reject_ratio", 0.5)
    status, problems = exit_status(manifest, 0.5 if ratio is None else ratio)
    for problem in problems:
        print(f"warning: {problem} (exit status 3)", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
