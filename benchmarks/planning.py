"""What planning an incremental run costs as the committed-input index grows.

    python benchmarks/planning.py [--committed 1000000] [--new 1000]

Writes an output whose index holds ``--committed`` inputs (a tenth of them JSON Lines records,
a few percent rejections, spread over daily folders and a few hundred data files, as a year or
more of daily runs leaves it), plus ``--new`` new files among 100 already-committed ones in the
run's input folder. Then, each in a fresh interpreter:
  (a) planning: match the input, read the index, keep the entries of the matched files and build
      the read stage's skip list (what `pipeline.main.plan_run` does before every run);
  (b) the index update a publish does: the whole index read, this run's entries merged in,
      written back.
Prints seconds and peak RSS of each (VmHWM: ru_maxrss would carry the parent's peak across exec). The figures go to docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def build_output(root: pathlib.Path, committed: int, inbox: pathlib.Path, new: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from pipeline import ledger

    n = committed
    i = np.arange(n)
    day = (i // 3000) % 730
    paths = pc.binary_join_element_wise(
        pa.array(np.char.add("/data/news/day-", (day).astype(str))),
        pa.array(np.char.add(np.char.add("site-", (i % 97).astype(str)), np.char.add("/article-", i.astype(str)))),
        pa.array(np.where(i % 10 == 0, ".jsonl", ".txt")),
        "/",
    )
    digests = os.urandom(32 * n).hex()
    lines = np.where(i % 10 == 0, (i % 50) + 1, 0).astype("int32")
    rejected = i % 37 == 0
    files = np.char.add(np.char.add("date=day-", (day).astype(str)), "/topic=politics/part-x.parquet")
    table = pa.table(
        {
            "source_path": pa.array(paths.to_pylist(), pa.string()),
            "source_line": pa.array(lines, pa.int32()),
            # Random, as real content hashes are: they do not compress.
            "content_sha256": pa.array([digests[k * 64 : (k + 1) * 64] for k in range(n)], pa.string()),
            "fingerprint": pa.array(np.full(n, "0123456789abcdef")),
            "outcome": pa.array(np.where(rejected, "rejected", "written")),
            "file": pa.array(np.where(rejected, None, files).tolist(), pa.string()),
            "run_id": pa.array(np.char.add("run-", (day).astype(str))),
            "error": pa.array(np.where(rejected, "read:empty_file", None).tolist(), pa.string()),
        }
    ).cast(ledger.INDEX_SCHEMA)
    inbox.mkdir(parents=True)
    for k in range(new):
        (inbox / f"new-{k}.txt").write_text(f"new article {k}\n")
    # A hundred files of the run's folder that a committed run already ingested.
    seen = [str(inbox / f"old-{k}.txt") for k in range(100)]
    for path in seen:
        pathlib.Path(path).write_text("old article\n")
    known = ledger.as_table(
        [
            {"source_path": p, "source_line": 0, "content_sha256": "0" * 64, "fingerprint": "0123456789abcdef",
             "outcome": "written", "file": "date=x/topic=y/part-old.parquet", "run_id": "old", "error": None}
            for p in seen
        ]
    )  # fmt: skip
    table = pa.concat_tables([table, known]).sort_by([("source_path", "ascending"), ("source_line", "ascending")])
    (root / "_index").mkdir(parents=True)
    with open(root / ledger.INPUTS, "wb") as out:
        ledger.write_index(table, out)


PLAN = """
import json, sys, time, types
sys.path.insert(0, {repo!r})
start = time.perf_counter()
from pipeline.publish import DatasetOutput
from pipeline.plan import plan_run
imported = time.perf_counter()
config = types.SimpleNamespace(inputs=({inbox!r},), mode="incremental", fingerprint="0123456789abcdef",
                               retry_rejected=False, reprocess_stale=False)
plan = plan_run(config, DatasetOutput({root!r}))
done = time.perf_counter()
print(json.dumps({{"seconds": done - imported, "import_seconds": imported - start,
                  "files": sum(len(f) for f in plan.files.values()), "entries": len(plan.entries),
                  "peak_rss_mb": int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024}}))
"""

PUBLISH = """
import json, sys, time
sys.path.insert(0, {repo!r})
import pyarrow as pa
from pipeline import ledger
from pipeline.publish import DatasetOutput
output = DatasetOutput({root!r})
start = time.perf_counter()
rows = [dict(source_path=f"/data/new/{{k}}.txt", source_line=0, content_sha256="f" * 64, fingerprint="0123456789abcdef",
             outcome="written", file="date=x/topic=y/part-new.parquet", run_id="new", error=None) for k in range({new})]
moved = pa.table({{"source_path": pa.array([], pa.string()), "source_line": pa.array([], pa.int32()), "file": pa.array([], pa.string())}})
with open({root!r} + "/_index/inputs.new.parquet", "wb") as out, ledger.index_writer(out) as writer:
    ledger.update_index(output.index_batches(), ledger.as_table(rows), moved, set(), writer)
import pyarrow.parquet as pq
print(json.dumps({{"seconds": time.perf_counter() - start, "rows": pq.read_metadata({root!r} + "/_index/inputs.new.parquet").num_rows,
                  "peak_rss_mb": int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024}}))
"""


def _child(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--committed", type=int, default=1_000_000)
    parser.add_argument("--new", type=int, default=1000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="news-ingest-plan-") as tmp:
        root, inbox = pathlib.Path(tmp) / "out", pathlib.Path(tmp) / "in"
        started = time.perf_counter()
        build_output(root, args.committed, inbox, args.new)
        size = (root / "_index" / "inputs.parquet").stat().st_size
        print(f"index: {args.committed:,} committed inputs, {size / 2**20:.1f} MB on disk (built in {time.perf_counter() - started:.0f} s)")
        plan = _child(PLAN.format(repo=str(REPO), inbox=str(inbox), root=str(root)))
        print(
            f"planning a run of {plan['files']:,} files ({args.new:,} new): {plan['seconds']:.2f} s, peak RSS {plan['peak_rss_mb']:.0f} MB "
            f"(imports {plan['import_seconds']:.1f} s more; {plan['entries']} committed entries kept)"
        )
        publish = _child(PUBLISH.format(repo=str(REPO), root=str(root), new=args.new))
        print(f"index update at publish ({publish['rows']:,} rows after): {publish['seconds']:.2f} s, peak RSS {publish['peak_rss_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
