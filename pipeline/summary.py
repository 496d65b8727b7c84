"""The run summary: counted inside the pipeline, written to ``<output>/_runs/<run_id>.json``.

The counts come from the pipeline's own outputs (matched files, records read per file, written
files, rejections), combined into one small dict, so the summary is the same on every runner
and accounts for every input: every matched file was read, and every record read (a file,
or a line of a JSON Lines file) was either written or rejected.
"""
from __future__ import annotations

import datetime as dt
import json
import posixpath
from collections import Counter
from typing import Any, Iterable, Iterator

import apache_beam as beam
import fsspec
from apache_beam.utils.windowed_value import WindowedValue

from transforms import progress
from transforms.duplicates import DuplicateOf
from transforms.failures import Rejection
from transforms.read import HIDDEN_OR_SYSTEM, FileRead, SkippedInput
from transforms.entities import NerWork
from transforms.parquet_files import WrittenFile
from transforms.windows import window_suffix


def summary_path(output: str, run_id: str, window: Any = None) -> str:
    return posixpath.join(output.rstrip("/"), "_runs", f"{run_id}{window_suffix(window)}.json")


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
        elif isinstance(event, SkippedInput):
            if event.reason == HIDDEN_OR_SYSTEM:  # found by a pattern, but not an input
                acc["ignored"] += 1
            else:
                acc["skipped"] += 1
                acc[f"skipped\t{event.reason}"] += 1
        elif isinstance(event, FileRead):
            acc["files_read"] += 1
            acc["records_read"] += event.records
            if event.last_line is not None:
                acc[f"last_line\t{event.source_path}"] += event.last_line
        elif isinstance(event, Counter):  # one input's counts (see SummarizeRun)
            acc.update(event)
        elif isinstance(event, DuplicateOf):
            acc["duplicates_dropped" if event.dropped else "duplicates_marked"] += 1
            acc["duplicates_exact" if event.exact else "duplicates_near"] += 1
            acc["duplicates_of_committed"] += event.committed
        elif isinstance(event, NerWork):
            acc[f"ner_worker\t{event.worker}"] += event.articles
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


def progress_key(event: Any) -> tuple[str, int] | None:
    """What an event adds to the progress counts (`transforms.progress`)."""
    if isinstance(event, str):
        return "files_matched", 1
    if isinstance(event, FileRead):
        return "records_read", event.records
    if isinstance(event, SkippedInput):
        return ("skipped", 1) if event.reason != HIDDEN_OR_SYSTEM else None
    if isinstance(event, Rejection):
        return ("rejected", 1) if event.stage != "match" else None
    if isinstance(event, DuplicateOf) and event.dropped:
        return "dropped", 1
    return None


class _CountPerBundleFn(beam.DoFn):
    """Events -> one `_CountRun` accumulator per bundle and window (combiner lifting by hand)."""

    def __init__(self, output: str):
        self._output = output

    def setup(self) -> None:
        self._count = _CountRun()
        self._progress = progress.counter(self._output)

    def start_bundle(self) -> None:
        self._counts: dict[Any, Counter] = {}

    def process(self, event: Any, window=beam.DoFn.WindowParam) -> Iterator[Counter]:
        counts = self._counts.get(window)
        if counts is None:
            counts = self._counts[window] = self._count.create_accumulator()
        self._count.add_input(counts, event)
        key = progress_key(event)
        if key is not None:
            self._progress.add(*key)
            if isinstance(event, FileRead):
                self._progress.add("files_read")
        return iter(())

    def finish_bundle(self) -> Iterator[Any]:
        self._progress.flush()
        for window, counts in self._counts.items():
            if counts:
                yield WindowedValue(counts, window.max_timestamp(), [window])


def build_summary(counts: Counter, header: dict[str, Any]) -> dict[str, Any]:
    by_stage: Counter = Counter()
    by_error: Counter = Counter()
    partitions: dict[str, int] = {}
    files: dict[str, int] = {}
    skipped: dict[str, int] = {}
    last_lines: dict[str, int] = {}
    ner_workers: dict[str, int] = {}
    for key, n in counts.items():
        parts = key.split("\t")
        if parts[0] == "rejected":
            by_stage[parts[1]] += n
            by_error[f"{parts[1]}:{parts[2]}"] += n
        elif parts[0] == "partition":
            partitions[parts[1]] = n
        elif parts[0] == "file":
            files[parts[1]] = n
        elif parts[0] == "skipped" and len(parts) == 2:
            skipped[parts[1]] = n
        elif parts[0] == "last_line":
            last_lines[parts[1]] = n
        elif parts[0] == "ner_worker":
            ner_workers[parts[1]] = n
    matched = counts["matched"]
    unmatched_patterns = by_stage.get("match", 0)
    rejected_records = sum(n for stage, n in by_stage.items() if stage != "match")
    written = counts["written_rows"]
    dropped = counts["duplicates_dropped"]
    return {
        **header,
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "files_matched": matched,
        "match_rejections": unmatched_patterns,
        "records_read": counts["records_read"],
        "articles_written": written,
        "articles_rejected": rejected_records,
        "skipped": counts["skipped"],
        "duplicates_dropped": dropped,
        "duplicates": {
            "policy": (header.get("options") or {}).get("dedup"),
            "threshold": (header.get("options") or {}).get("near_dup_threshold"),
            "marked": counts["duplicates_marked"],
            "dropped": dropped,
            "exact": counts["duplicates_exact"],
            "near": counts["duplicates_near"],
            "of_earlier_runs": counts["duplicates_of_committed"],
        },
        "skipped_by_reason": dict(sorted(skipped.items())),
        "ignored_files": counts["ignored"],
        "rejected_by_stage": dict(sorted(by_stage.items())),
        "rejected_by_reason": dict(sorted(by_error.items())),
        "files_written": counts["written_files"],
        "rows_per_partition": dict(sorted(partitions.items())),
        # The files of committed bundles; a retried bundle's leftovers are not listed.
        "written_files": dict(sorted(files.items())),
        # The last record line of each JSON Lines file read line by line: the publish drops the
        # rows of lines a feed no longer has.
        "jsonl_last_lines": dict(sorted(last_lines.items())),
        # Articles each worker process ran NER on (host:pid): how evenly the work was spread.
        "ner_articles_per_worker": dict(sorted(ner_workers.items())),
        "all_inputs_accounted_for": counts["files_read"] == matched and counts["records_read"] == written + rejected_records + dropped + counts["skipped"],
    }


class _WriteSummaryFn(beam.DoFn):
    def __init__(self, output: str, header: dict[str, Any]):
        self._output = output
        self._header = header

    def process(self, counts: Counter, window=beam.DoFn.WindowParam) -> Iterator[dict[str, Any]]:
        summary = build_summary(counts, self._header)
        with fsspec.open(summary_path(self._output, summary["run_id"], window), "w", auto_mkdir=True) as out:
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
        counts = [pc | f"Count{i}" >> beam.ParDo(_CountPerBundleFn(self._output)) for i, pc in enumerate(events)]
        return (
            counts
            | "Flatten" >> beam.Flatten()
            | "Count" >> beam.CombineGlobally(_CountRun()).without_defaults()
            | "WriteJson" >> beam.ParDo(_WriteSummaryFn(self._output, self._header))
        )


#: Partitions the short summary names; the rest are counted ("and N more").
TOP_PARTITIONS = 3


def format_summary(summary: dict[str, Any], verbose: bool = False) -> str:
    """The run summary for a person: a handful of lines (every partition with ``verbose``)."""
    n = _plural
    head = f"run {summary['run_id']}: {n(summary['articles_written'], 'article')} written"
    head += f", {summary['articles_rejected']} rejected"
    if summary.get("duplicates_dropped"):
        head += f", {summary['duplicates_dropped']} dropped as duplicates"
    head += f", {summary.get('skipped', 0)} skipped"
    head += f" ({n(summary['records_read'], 'record')} in {n(summary['files_matched'], 'file')})"
    lines = [head]
    # Inputs that matched no file or were not followed (a broken link) are no records: the
    # headline's rejections are records', these get a line of their own.
    by_reason = summary["rejected_by_reason"]
    records = {reason: count for reason, count in by_reason.items() if not reason.startswith("match:")}
    unread = {reason: count for reason, count in by_reason.items() if reason.startswith("match:")}
    if unread:
        lines.append(f"  not read: {', '.join(f'{count} {reason}' for reason, count in _largest(unread))}")
    if records:
        reasons = ", ".join(f"{count} {reason}" for reason, count in _largest(records))
        where = summary.get("rejection_files") or []
        output = summary.get("output", "")
        paths = [posixpath.join(output, f) for f in where]
        lines.append(f"  rejected: {reasons}" + (f"; reasons in {paths[0]}" if len(paths) == 1 else ""))
        if len(paths) > 1:
            lines.append(f"  reasons in {posixpath.join(output, '_rejected', summary['run_id'] + '.*.jsonl')}")
    dups = summary.get("duplicates") or {}
    if dups.get("marked") or dups.get("dropped"):
        kinds = f"{dups.get('exact', 0)} exact, {dups.get('near', 0)} near; {dups.get('of_earlier_runs', 0)} of earlier runs' articles"
        if dups.get("dropped"):
            lines.append(f"  duplicates: {dups['dropped']} dropped ({kinds}), listed in {posixpath.join(summary.get('output', ''), '_duplicates', summary['run_id'] + '.jsonl')}")
        else:
            lines.append(f"  duplicates: {dups['marked']} marked in column duplicate_of ({kinds})")
    skipped = summary.get("skipped_by_reason") or {}
    if skipped.get("unchanged") or skipped.get("rejected_before"):
        parts = []
        if skipped.get("unchanged"):
            parts.append(f"{skipped['unchanged']} unchanged")
        if skipped.get("rejected_before"):
            parts.append(f"{skipped['rejected_before']} rejected before (--retry_rejected retries them)")
        lines.append(f"  skipped, already committed: {', '.join(parts)}")
    if skipped.get("stale"):
        which = ", ".join(summary.get("stale_settings") or []) or "other settings"
        lines.append(
            f"  {n(skipped['stale'], 'input')} written with other settings ({which}) kept as they are; "
            f"--reprocess_stale reprocesses them"
        )
    if summary.get("ignored_files"):
        lines.append(f"  ignored {n(summary['ignored_files'], 'hidden or system file')} (.DS_Store, Thumbs.db, dot-files)")
    partitions = summary.get("rows_per_partition") or {}
    if partitions:
        shown = sorted(partitions.items(), key=lambda kv: (-kv[1], kv[0]))
        if verbose:
            lines.append(f"  {n(len(partitions), 'partition')}:")
            lines += [f"    {partition}: {n(rows, 'row')}" for partition, rows in sorted(partitions.items())]
        else:
            top = ", ".join(f"{partition} ({rows})" for partition, rows in shown[:TOP_PARTITIONS])
            more = f", and {len(shown) - TOP_PARTITIONS} more" if len(shown) > TOP_PARTITIONS else ""
            lines.append(f"  {n(len(partitions), 'partition')}: {top}{more}")
    rewritten = summary.get("rewritten_files") or []
    if rewritten:
        rows = sum(r["rows_removed"] for r in rewritten) - summary.get("records_vanished", 0)
        if rows > 0:
            lines.append(f"  replaced the old rows of {n(rows, 'input')} processed again in {n(len(rewritten), 'file')}")
    if summary.get("rejected_kept_rows"):
        lines.append(f"  {n(summary['rejected_kept_rows'], 'rejected input')} kept the row an earlier run wrote of it")
    if summary.get("records_vanished"):
        lines.append(f"  removed the rows of {n(summary['records_vanished'], 'record')} their JSON Lines feed no longer has")
    if summary.get("replaced_files"):
        forgotten = summary.get("inputs_forgotten", 0)
        lines.append(
            f"  {summary.get('mode')}: removed {n(len(summary['replaced_files']), 'older file')}"
            + (f", with the rows of {n(forgotten, 'input')} this run did not process" if forgotten else "")
        )
    if verbose:
        if summary.get("merged_files"):
            lines.append(f"  merged {n(len(summary['merged_files']), 'small file')} of earlier runs into this run's files")
        if summary.get("ner_articles_per_worker"):
            lines.append(f"  NER articles per worker process: {summary['ner_articles_per_worker']}")
    if not summary["all_inputs_accounted_for"]:
        lines.append("  ERROR: matched files != written + rejected + skipped; some input is unaccounted for")
    return "\n".join(lines)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _largest(counts: dict[str, int], top: int = 4) -> list[tuple[str, int]]:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(ranked) > top:
        rest = sum(count for _, count in ranked[top - 1 :])
        ranked = ranked[: top - 1] + [("other reasons", rest)]
    return ranked
