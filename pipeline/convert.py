"""``python -m pipeline.convert OUTPUT``: make a Hive-layout dataset a Delta table, in place.

One commit adds every published Parquet file as it is (nothing is copied or rewritten); the
ledger, index and manifests stay. Later runs then need ``--table_format delta``. The commit is
the pipeline's own rather than deltalake's ``convert_to_deltalake``, which stops at the index's
Parquet file (``_index/inputs.parquet``) and would not record the schema version. Runs under the
output's lock, after rolling forward a crashed publish.

Exit status: 0 converted, 2 a usage error (one line on stderr).
"""
from __future__ import annotations

import sys
from typing import Sequence

from pipeline import logs

logs.configure()

from pipeline.compact import CommandParser, command_main, maintained  # noqa: E402
from pipeline.options import new_run_id  # noqa: E402
from pipeline.publish import check_schema  # noqa: E402
from transforms.errors import UsageError  # noqa: E402

PROG = "python -m pipeline.convert"


def convert(argv: Sequence[str], say=print) -> int:
    p = CommandParser(prog=PROG, description="Make a Hive-layout output dataset a Delta Lake table, in place.")
    p.add_argument("output", metavar="OUTPUT", help="Dataset root the pipeline wrote (local path, or s3/gs/Azure URL).")
    args = p.parse_args(list(argv))
    run_id = f"convert-{new_run_id()}"
    with maintained(args.output, run_id, say) as output:
        if output.has_delta_log():
            raise UsageError(f"{args.output} is a Delta table already")
        if not output.partition_files() and not output.manifests():
            raise UsageError(f"{args.output} is not a dataset the pipeline wrote (no _runs/, no date=*/topic=*/*.parquet)")
        check_schema(output)  # the table's schema is this version's
        added = output.convert_to_delta(run_id)
    say(f"{args.output} is a Delta table now ({added} files, version 0); run the pipeline on it with --table_format delta")
    return added


def main(argv: Sequence[str] | None = None) -> int:
    return command_main(convert, argv)


if __name__ == "__main__":
    sys.exit(main())
