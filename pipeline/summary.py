"""The run summary: counted inside the pipeline, written to ``<output>/_runs/<run_id>.json``.

The counts come from the pipeline's own outputs (matched files, records read per file, written
files, rejections), combined into one small dict, so the summary is the same on every runner
and accounts for every input: every matched file was read, and every record read (a file,
or a line of a JSON Lines file) was either written or rejected.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import posixpath
from collections import Counter
from typing import Any, Iterable, Iterator

import apache_beam as beam
import fsspec
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue

from transforms.failures import Rejection
from transforms.read import FileRead
from transforms.write import WrittenFile


def summary_path(output: str, run_id: str) -> str:
    return posixpath.join(output.rstrip("/"), "_runs", f"{run_id}.json")


@dataclasses.dataclass(frozen=True)
class Skipped:
    """A record already ingested, unchanged, by a committed run (incremental mode)."""

    source_id: str


class _CountRun(beam.CombineFn):
    """Accumulator: a Counter of flat keys; bounded by the number of partitions and stages."""

    def create_accumulator(self) -> Counter:
        return Counter()

    def add_input(self, acc: Counter, event: Any) -> Counter:
        if isinstance(event, WrittenFile):
            acc["written_files"] += 1
            acc["written_rows"] += event.rows
            acc[f"partition\t{event.partition}"] += event.rows
            acc[f"file\t{event.path}"] += event.rows
        elif isinstance(event, Rejection):
            acc[f"rejected\t{event.stage}\t{event.error_type}"] += 1
        elif isinstance(event, Skipped):
            acc["skipped"] += 1
        elif isinstance(event, FileRead):
            acc["files_read"] += 1
            acc["records_read"] += event.records
        elif isinstance(event, Counter):  # one input's counts (see SummarizeRun)
            acc.update(event)
        else:  # a matched file (a URL string)
            acc["matched"] += 1
        return acc

    def merge_accumulators(self, accumulators: Iterable[Counter]) -> Counter:
        merged: Counter = Counter()
        for acc in accumulators:
            merged.update(acc)
        return merged

    def extract_output(self, acc: Counter) -> Counter:
        return acc


class _CountPerBundleFn(beam.DoFn):
    """Events -> one `_CountRun` accumulator per bundle (combiner lifting by hand)."""

    def setup(self) -> None:
        self._count = _CountRun()

    def start_bundle(self) -> None:
        self._counts = self._count.create_accumulator()

    def process(self, event: Any) -> Iterator[Counter]:
        self._count.add_input(self._counts, event)
        return iter(())

    def finish_bundle(self) -> Iterator[Any]:
        if self._counts:
            yield WindowedValue(self._counts, GlobalWindow().max_timestamp(), [GlobalWindow()])


def build_summary(counts: Counter, header: dict[str, Any]) -> dict[str, Any]:
    by_stage: Counter = Counter()
    by_error: Counter = Counter()
    partitions: dict[str, int] = {}
    files: dict[str, int] = {}
    for key, n in counts.items():
        parts = key.split("\t")
        if parts[0] == "rejected":
            by_stage[parts[1]] += n
            by_error[f"{parts[1]}:{parts[2]}"] += n
        elif parts[0] == "partition":
            partitions[parts[1]] = n
        elif parts[0] == "file":
            files[parts[1]] = n
    matched = counts["matched"]
    unmatched_patterns = by_stage.get("match", 0)
    rejected_records = sum(n for stage, n in by_stage.items() if stage != "match")
    written = counts["written_rows"]
    return {
        **header,
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "files_matched": matched,
        "match_rejections": unmatched_patterns,
        "records_read": counts["records_read"],
        "articles_written": written,
        "articles_rejected": rejected_records,
        "skipped_unchanged": counts["skipped"],
        "rejected_by_stage": dict(sorted(by_stage.items())),
        "rejected_by_reason": dict(sorted(by_error.items())),
        "files_written": counts["written_files"],
        "rows_per_partition": dict(sorted(partitions.items())),
        # The files of committed bundles; a retried bundle's leftovers are not listed.
        "written_files": dict(sorted(files.items())),
        "all_inputs_accounted_for": counts["files_read"] == matched and counts["records_read"] == written + rejected_records + counts["skipped"],
    }


class _WriteSummaryFn(beam.DoFn):
    def __init__(self, output: str, header: dict[str, Any]):
        self._output = output
        self._header = header

    def process(self, counts: Counter) -> Iterator[dict[str, Any]]:
        summary = build_summary(counts, self._header)
        with fsspec.open(summary_path(self._output, summary["run_id"]), "w", auto_mkdir=True) as out:
            json.dump(summary, out, indent=2, sort_keys=False)
            out.write("\n")
        yield summary


class SummarizeRun(beam.PTransform):
    """(matched files, written files, rejections) -> the summary dict, also written as JSON."""

    def __init__(self, output: str, header: dict[str, Any]):
        super().__init__()
        self._output = output
        self._header = header

    def expand(self, events):
        # Each input is counted in the stage that produces it, one Counter per bundle, and only
        # those are flattened: a Flatten of inputs from different stages is materialised by the
        # FnApiRunner, which held an event per input file (~1 KB each). A DoFn rather than a
        # CombineGlobally per input: same effect without five more shuffles (stages) per run.
        counts = [pc | f"Count{i}" >> beam.ParDo(_CountPerBundleFn()) for i, pc in enumerate(events)]
        return (
            counts
            | "Flatten" >> beam.Flatten()
            | "Count" >> beam.CombineGlobally(_CountRun())
            | "WriteJson" >> beam.ParDo(_WriteSummaryFn(self._output, self._header))
        )


def format_summary(summary: dict[str, Any]) -> str:
    lines = [
        f"run {summary['run_id']}: {summary['files_matched']} files matched, {summary['records_read']} records read, "
        f"{summary['articles_written']} articles written, {summary['articles_rejected']} rejected",
    ]
    if summary.get("skipped_unchanged"):
        lines.append(f"  skipped (already ingested, unchanged): {summary['skipped_unchanged']}")
    if summary["match_rejections"]:
        lines.append(f"  rejected while matching (patterns without files, directories not followed): {summary['match_rejections']}")
    for reason, n in summary["rejected_by_reason"].items():
        lines.append(f"  rejected {reason}: {n}")
    for partition, n in summary["rows_per_partition"].items():
        lines.append(f"  {partition}: {n} rows")
    if summary.get("merged_files"):
        lines.append(f"  merged {len(summary['merged_files'])} small files of earlier runs into this run's files")
    if summary.get("ner_articles_per_process"):
        lines.append(f"  NER articles per worker process: {summary['ner_articles_per_process']}")
    if not summary["all_inputs_accounted_for"]:
        lines.append("  ERROR: matched files != written + rejected; some input is unaccounted for")
    return "\n".join(lines)
