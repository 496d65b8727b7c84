"""``python -m pipeline.compact OUTPUT``: merge small files, and vacuum a Delta table.

Daily and streaming runs leave many small files; merging at publish (``--min_rows_per_file``)
only looks at partitions a run writes to. This command merges every partition's small files,
published like a run under the output's lock: one journal, the committed-input index following
the rows into their new files, a manifest in ``_runs/``; on a Delta table one commit that adds
the merged files and removes the small ones without changing data (``dataChange`` false).

The duplicate-detection signatures (``_index/minhash-*.parquet``, a file per bundle of every run)
are merged into one file too, without the rows of articles that have left the dataset.

The merge is the pipeline's own rather than deltalake's ``optimize.compact()``: the index names
the file that holds each input's row, and it must change in the same journal as the files.

``--vacuum`` (Delta) then deletes the data files that commits removed more than
``--retention_hours`` ago. Only files the log names as removed are touched, so files a running
job has written but not yet committed are never deleted; time travel to versions older than the
retention stops working.

Exit status: 0 done (or nothing to do), 2 a usage error (one line on stderr).
"""
from __future__ import annotations

import argparse
import contextlib
import math
import sys
from typing import Any, Callable, Iterator, Sequence

from pipeline import logs

logs.configure()

from pipeline.options import RUN_ID, RUN_ID_RULE, new_run_id  # noqa: E402
from pipeline.publish import RUN_ID_TAKEN, DatasetOutput, check_schema  # noqa: E402
from transforms.errors import UsageError  # noqa: E402

PROG = "python -m pipeline.compact"
#: Vacuum's default retention: a week, longer than any run or reader should take.
DEFAULT_RETENTION_HOURS = 168


class CommandParser(argparse.ArgumentParser):
    """argparse, but a mistake is one line (a `UsageError`), not usage text and a message."""

    def error(self, message: str):
        raise UsageError(f"{message} ({self.prog} --help)")


def command_main(command: Callable[[Sequence[str]], Any], argv: Sequence[str] | None) -> int:
    """Run a housekeeping command line: 0 done, 2 a usage error (one line on stderr)."""
    try:
        command(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


@contextlib.contextmanager
def maintained(url: str, run_id: str, say) -> Iterator[DatasetOutput]:
    """The dataset at ``url`` under its lock, crashed publishes rolled forward first; a
    `UsageError` when there is no dataset there."""
    try:
        output = DatasetOutput(url)
    except ImportError as exc:  # fsspec: "Install s3fs to access S3" and the like
        raise UsageError(f"{url}: {exc}") from exc
    if not output.fs.isdir(output.root):
        raise UsageError(f"{url}: no such dataset folder")
    output.check_writable()
    with output.lock(run_id):
        for action in output.recover():
            say(f"recovery: {action}")
        yield DatasetOutput(url)  # the format read again: a rolled-forward publish may have created the table


def parser() -> argparse.ArgumentParser:
    p = CommandParser(prog=PROG, description="Merge an output's small Parquet files; vacuum a Delta table.")
    p.add_argument("output", metavar="OUTPUT", help="Dataset root the pipeline wrote (path or fsspec URL).")
    p.add_argument("--min_rows_per_file", type=int, default=10_000, help="Files with fewer rows are merged. Default: %(default)s.")
    p.add_argument("--max_rows_per_file", type=int, default=100_000, help="Most rows in a merged file. Default: %(default)s.")
    p.add_argument("--compression", choices=("zstd", "snappy", "gzip", "none"), default="zstd", help="Default: %(default)s.")
    p.add_argument("--no_merge", action="store_true", help="Do not merge (only --vacuum or --reindex).")
    p.add_argument(
        "--reindex",
        action="store_true",
        help="Delta: after another engine rewrote the table's files (an OPTIMIZE), point the committed-input index at "
        "the files that hold each input's row now (runs stop until this is done).",
    )
    p.add_argument("--vacuum", action="store_true", help="Delta: delete the files commits removed more than --retention_hours ago.")
    p.add_argument(
        "--retention_hours",
        type=float,
        default=None,
        help="With --vacuum: keep removed files this long, rounded up to whole hours (time travel and readers of "
        f"older versions need them). Default: {DEFAULT_RETENTION_HOURS}.",
    )
    p.add_argument("--dry_run", action="store_true", help="With --vacuum: list what it would delete, delete nothing.")
    p.add_argument("--run_id", default=None, help="Id of the compaction (manifest, file names). Default: compact-<UTC time>.")
    return p


def compact(argv: Sequence[str], say=print) -> dict:
    args = parser().parse_args(list(argv))
    if args.min_rows_per_file < 2 or args.max_rows_per_file < 2 * args.min_rows_per_file:
        raise UsageError("--min_rows_per_file must be at least 2 and at most half of --max_rows_per_file")
    if (args.dry_run or args.retention_hours is not None) and not args.vacuum:
        raise UsageError("--retention_hours and --dry_run go with --vacuum")
    if args.no_merge and not (args.vacuum or args.reindex):
        raise UsageError("--no_merge leaves nothing to do: add --vacuum or --reindex")
    retention = DEFAULT_RETENTION_HOURS if args.retention_hours is None else args.retention_hours
    if retention < 0:
        raise UsageError("--retention_hours cannot be negative")
    if args.run_id is not None and not RUN_ID.fullmatch(args.run_id):
        raise UsageError(f"--run_id {args.run_id!r}: {RUN_ID_RULE}")
    run_id = args.run_id or f"compact-{new_run_id()}"
    done: dict = {"run_id": run_id}
    with maintained(args.output, run_id, say) as output:
        if args.run_id is not None and output.has_run(run_id):
            raise UsageError(f"--run_id {run_id}: {args.output} {RUN_ID_TAKEN}")
        if args.reindex:
            if output.table_format != "delta":
                raise UsageError(f"--reindex: {args.output} is not a Delta table")
            moved, forgotten = done["reindexed"] = output.reindex()
            say(f"{args.output}: the index follows the table again ({moved} entries moved, {forgotten} inputs whose rows "
                "are gone will be ingested again)")  # fmt: skip
        if output.table_format == "delta" and output.has_delta_log():
            output.check_index_follows_table()
        if not args.no_merge:
            check_schema(output)  # merged files are written in this version's schema
            manifest = output.compact(run_id, args.min_rows_per_file, args.max_rows_per_file, args.compression)
            done["manifest"] = manifest
            if manifest is None:
                say(f"{args.output}: no partition has two files below {args.min_rows_per_file} rows, signatures compact; nothing merged")
            else:
                partitions = {f["path"].rsplit("/", 1)[0] for f in manifest["output_files"]}
                say(
                    f"{args.output}: merged {len(manifest['merged_files'])} files into {len(manifest['output_files'])} "
                    f"in {len(partitions)} partitions, {manifest['signature_files_merged']} duplicate-signature files into one "
                    f"({manifest['signatures_kept']} signatures of articles still in the dataset); "
                    f"manifest: {output.url_of(output.manifest_path(run_id))}"
                )
        if args.vacuum and output.table_format != "delta":
            say(f"{args.output}: a Hive-layout dataset has nothing to vacuum (a publish deletes the files it replaces)")
        elif args.vacuum:
            done["vacuumed"] = output.vacuum(retention, args.dry_run)
            verb = "would delete" if args.dry_run else "deleted"
            say(f"vacuum: {verb} {len(done['vacuumed'])} files removed more than {math.ceil(retention)} h ago")
            for path in done["vacuumed"] if args.dry_run else []:
                say(f"  {path}")
    return done


def main(argv: Sequence[str] | None = None) -> int:
    return command_main(compact, argv)


if __name__ == "__main__":
    sys.exit(main())
