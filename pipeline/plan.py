"""Planning a run before any work: what the inputs match, which committed entries concern
them, what the read stage skips; and the dry run, which reports that plan without running."""
from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from typing import Any, Callable

from pipeline import ledger
from pipeline.config import RunConfig
from pipeline.publish import DatasetOutput
from schemas.article import split_source_id
from transforms.errors import ArticleRejected, UsageError
from transforms.formats import detect_format
from transforms.match import Matched, match_pattern, unique_files
from transforms.read import REJECTED_BEFORE, STALE, UNCHANGED, plan_records

_LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class Plan:
    """What the driver knows before the pipeline runs: the matched files, the committed entries
    of exactly those files (never the whole index), and what the read stage skips (incremental
    mode only)."""

    files: dict[str, list[str]]
    entries: dict[str, ledger.Entry]
    known: dict[str, tuple[str, str]]
    #: Every matched file once, as the pipeline's match reads them (`unique_files`).
    unique: list[str] = dataclasses.field(default_factory=list)
    #: Data files the entries name that are gone from the dataset (deleted by hand): their
    #: inputs are ingested again, not skipped as unchanged.
    lost_files: list[str] = dataclasses.field(default_factory=list)

    @property
    def unmatched(self) -> list[str]:
        return [pattern for pattern, files in self.files.items() if not files]


def plan_run(config: RunConfig, output: DatasetOutput) -> Plan:
    matches = {pattern: _match(pattern) for pattern in config.inputs}
    unique, _ = unique_files(list(matches.values()))
    entries: dict[str, ledger.Entry] = {}
    if unique:
        entries = ledger.entries_of(output.index_batches(), source_paths=unique)
    lost = lost_files(entries, output)
    if lost and output.table_format == "delta" and config.mode == "incremental":
        n, url = len(lost), output.url
        raise UsageError(
            f"--output {url}: {n} data file{'s' if n > 1 else ''} of the Delta table {'are' if n > 1 else 'is'} gone from "
            f"storage ({', '.join(sorted(lost)[:3])}{', ...' if n > 3 else ''}) and its readers fail: restore "
            f"{'them' if n > 1 else 'it'}; or remove {'them' if n > 1 else 'it'} from the table (deltalake's "
            f"DeltaTable('{url}').repair()) and run python -m pipeline.compact {url} --reindex, after which the next run "
            "ingests their inputs again; or run with --mode rebuild"
        )
    known = {}
    if config.mode == "incremental":
        kept = {sid: e for sid, e in entries.items() if e.file not in lost} if lost else entries
        known = ledger.known_inputs(kept, config.fingerprint, config.retry_rejected, config.reprocess_stale)
    return Plan({pattern: m.files for pattern, m in matches.items()}, entries, known, unique, sorted(lost))


def lost_files(entries: dict[str, ledger.Entry], output: DatasetOutput) -> set[str]:
    """The data files ``entries`` name that are gone from storage (deleted by hand), whose
    inputs would otherwise stay "unchanged" with no row: Hive, any such file; Delta, those the
    table's current version still names (every reader of the table fails on them; files an
    OPTIMIZE replaced are another matter, `DatasetOutput.check_index_follows_table`). Only when
    an entry names a file: a listing of the partition folders, and each missing file confirmed
    on its own (a listing that lags behind the store must not make rows be written twice)."""
    named = {e.file for e in entries.values() if e.file}
    if not named:
        return set()
    missing = named - set(output.stored_files())
    if missing and output.table_format == "delta":
        missing &= set(output.partition_files())
    return {rel for rel in missing if not output.exists(rel)}


def _match(pattern: str) -> Matched:
    try:
        return match_pattern(pattern)
    except ImportError as exc:  # fsspec: "Install s3fs to access S3" and the like
        raise UsageError(f"--input {pattern}: {exc}") from exc
    except Exception:  # noqa: BLE001 - the pipeline's match rejects the pattern with its reason
        return Matched([], [], [])


def stale_settings(settings: dict[str, Any], fingerprint: str, output: DatasetOutput, plan: Plan) -> list[str]:
    """Which settings differ between this run and the runs that wrote the stale inputs."""
    recorded = output.fingerprints()
    stale = {e.fingerprint for e in plan.entries.values() if e.outcome == ledger.WRITTEN and e.fingerprint != fingerprint}
    names: set[str] = set()
    for fp in stale:
        if fp == ledger.LEGACY:
            names.add("an earlier version, before fingerprints")
        else:
            names.update(ledger.differing_settings(settings, recorded.get(fp)))
    return sorted(names)


def dry_run(config: RunConfig, output: DatasetOutput, plan: Plan, say: Callable[[str], None] = print) -> dict[str, Any]:
    """What a run would process, skip and replace, decided exactly as the run decides (the same
    content hashes, one record per JSON Lines line, the same committed index); writes nothing."""
    counts: Counter = Counter()
    examples: dict[str, list[str]] = {}
    replaced_files: set[str] = set()
    vanished = 0
    lines_of: dict[str, list[tuple[int, str]]] = {}  # a feed's committed records with rows
    lost = set(plan.lost_files)
    for sid, entry in plan.entries.items():
        path, line = split_source_id(sid)
        if line and entry.outcome == ledger.WRITTEN:
            lines_of.setdefault(path, []).append((line, sid))
    for url in sorted(plan.unique):
        try:
            records = list(plan_records(url, config.max_article_bytes, plan.known))
        except OSError as exc:
            records = [(url, None, None)]  # unreadable: the run rejects it
            _LOG.warning("cannot read %s: %s", url, exc)
        lines = [split_source_id(sid)[1] for sid, _, _ in records]
        if all(lines) and _is_feed(url):  # read line by line (no whole-file skip or rejection)
            last = max(lines, default=0)
            gone = [sid for line, sid in lines_of.get(url, ()) if line > last]
            vanished += len(gone)
            replaced_files.update(plan.entries[sid].file for sid in gone if plan.entries[sid].file)
        for sid, sha, skipped in records:
            entry = plan.entries.get(sid)
            if skipped:
                status = f"skip:{skipped}"
            elif config.mode != "incremental" and entry is not None:
                status = "again"  # overwrite_partitions and rebuild process everything
            elif entry is not None and entry.file in lost:
                status = "restore"
            else:
                status = ledger.why_processed(entry, sha)
            counts[status] += 1
            examples.setdefault(status, []).append(sid)
            if not skipped and entry is not None and entry.file and entry.file not in lost:
                replaced_files.add(entry.file)
    processed = sum(n for status, n in counts.items() if not status.startswith("skip:"))
    result = {
        "dry_run": True,
        "mode": config.mode,
        "records_to_process": processed,
        "records_to_skip": sum(n for status, n in counts.items() if status.startswith("skip:")),
        "by_status": dict(sorted(counts.items())),
        "files_with_rows_replaced": sorted(replaced_files),
        "records_vanished": vanished,
        "unmatched_patterns": plan.unmatched,
        "articles_rejected": 0,
        "articles_written": 0,
    }
    say(f"dry run ({config.mode}) into {config.output}: nothing is written")
    if output.interrupted_publishes():
        say("  an interrupted publish is pending: the run finishes it first, so its inputs may show as new here")
    labels = {
        "new": "new", "changed": "changed (their old rows are replaced)", "retry": "rejected before, retried",
        "reprocess": "written with other settings, reprocessed (--reprocess_stale)",
        "again": f"committed before, processed again ({config.mode})",
        "restore": "written before, to a data file that is gone: ingested again",
        f"skip:{UNCHANGED}": "skipped: unchanged", f"skip:{STALE}": "skipped: written with other settings (--reprocess_stale to redo)",
        f"skip:{REJECTED_BEFORE}": "skipped: rejected before, unchanged (--retry_rejected to retry)",
    }  # fmt: skip
    say(f"  would process {_n(processed, 'record')}, skip {_n(result['records_to_skip'], 'record')}")
    for status, n in sorted(counts.items()):
        say(f"    {labels.get(status, status)}: {n}")
        if config.verbosity > 0:
            for sid in examples[status][:50]:
                say(f"      {sid}")
    if vanished:
        say(f"  rows removed of {_n(vanished, 'record')} their JSON Lines feed no longer has")
    if replaced_files:
        say(f"  rows replaced in {_n(len(replaced_files), 'published file')}")
    if config.mode != "incremental":
        existing = output.partition_files()
        scope = "every file of the dataset" if config.mode == "rebuild" else "every older file of each partition it writes (partitions are known once articles are dated and classified)"
        say(f"  {config.mode} replaces {scope}; the dataset has {_n(len(existing), 'file')} now")
    return result


def _is_feed(url: str) -> bool:
    try:
        return detect_format(url)[0] == "jsonl"
    except ArticleRejected:
        return False


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
