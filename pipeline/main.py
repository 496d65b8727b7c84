"""The pipeline: `build` wires the DAG in one readable place, `run` is the command line.

    files    = Match(--input) -> Reshuffle
    repeated = Match(--input) -> Read again -> line keys -> count per source (side input)
    articles = Read -> Clean (+ metadata, date; repeated lines) -> Entities (spaCy) -> Topics
    output   = Write Parquet (date=/topic=)  +  Write rejections  +  Summarize run
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import sys
from collections import Counter
from typing import Any, Callable, TypeVar

import apache_beam as beam
import fsspec
import pyarrow.parquet as pq
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import StandardOptions

from pipeline import __version__
from pipeline.options import IngestOptions, new_run_id, parse_options
from pipeline import ledger
from transforms import faults
from pipeline.publish import DatasetOutput
from pipeline.summary import SummarizeRun, format_summary
from schemas.article import ARTICLE_SCHEMA, SCHEMA_VERSION, SCHEMA_VERSION_KEY
from transforms.canonical import load_aliases
from transforms.clean import CleanArticles, Rule, load_rules
from transforms.formats import JsonlFields
from transforms.entities import METRICS_NAMESPACE, ExtractEntities, model_meta, parse_model_setting
from transforms.errors import SettingError, UsageError
from transforms.failures import REJECTED, WriteRejections
from transforms.read import (
    FILE_READS,
    REJECTED_BEFORE,
    KnownInputs,
    SKIPPED,
    STALE,
    UNCHANGED,
    MatchFiles,
    ReadArticles,
    match_pattern,
    plan_records,
)
from transforms.repeated_lines import CountRepeatedLines
from transforms.topics import AssignTopics, Taxonomy, load_taxonomy, load_topic_model
from transforms.write import WriteParquet

_LOG = logging.getLogger(__name__)
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Options resolved and validated before the pipeline is built."""

    inputs: tuple[str, ...]
    output: str
    run_id: str
    spacy_models: dict[str, str]
    entity_labels: tuple[str, ...]
    entity_aliases: dict[str, str]
    rules: tuple[Rule, ...]
    taxonomy: Taxonomy
    topic_model: str
    max_article_bytes: int
    jsonl_fields: JsonlFields
    ner_batch_size: int
    ner_gemm: str
    max_rows_per_file: int
    min_rows_per_file: int
    repeated_lines_min_articles: int
    repeated_lines_min_share: float
    compression: str
    mode: str
    header: dict[str, Any]
    #: Everything that changes the rows an input becomes, and its digest (see `pipeline.ledger`).
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)
    fingerprint: str = ledger.LEGACY
    retry_rejected: bool = False
    reprocess_stale: bool = False
    max_reject_ratio: float = 0.5
    #: -1 quiet, 0 the short summary, 1 verbose
    verbosity: int = 0


def build(
    p: beam.Pipeline, config: RunConfig, target: str | None = None, known_inputs: str | None = None
) -> dict[str, beam.PCollection]:
    """The DAG. Everything is written under ``target`` (the run's staging folder; the output
    itself when None) in the final layout; `run` publishes it."""
    target = target or config.output
    known = KnownInputs(known_inputs)  # one copy per worker process, for both reads
    matched = p | "MatchFiles" >> MatchFiles(config.inputs)
    read = matched["files"] | "Read" >> ReadArticles(config.max_article_bytes, config.jsonl_fields, known)
    repeated = None
    if config.repeated_lines_min_articles > 0:
        # A separate match and read: sharing the main read's output would make the runner hold
        # every article until the counts are done; files are re-read instead.
        repeated = (
            p
            | "MatchForLineCounts" >> MatchFiles(config.inputs)
        )["files"] | "CountRepeatedLines" >> CountRepeatedLines(
            config.max_article_bytes,
            config.jsonl_fields,
            known,
            config.repeated_lines_min_articles,
            config.repeated_lines_min_share,
        )
    cleaned = read.articles | "Clean" >> CleanArticles(config.rules, repeated)
    with_entities = cleaned.articles | "Entities" >> ExtractEntities(
        config.spacy_models,
        min_batch_size=min(16, config.ner_batch_size),
        max_batch_size=config.ner_batch_size,
        labels=config.entity_labels,
        aliases=config.entity_aliases,
        gemm=config.ner_gemm,
    )
    topical = with_entities.articles | "Topics" >> AssignTopics(config.taxonomy, config.topic_model)
    written = topical.articles | "WriteParquet" >> WriteParquet(
        target, config.run_id, config.max_rows_per_file, config.compression
    )

    rejected = (
        matched[REJECTED],
        read[REJECTED],
        cleaned[REJECTED],
        with_entities[REJECTED],
        topical[REJECTED],
    ) | "AllRejections" >> beam.Flatten()
    rejected | "WriteRejections" >> WriteRejections(target, config.run_id)
    summary = (matched["files"], matched[SKIPPED], read[FILE_READS], read[SKIPPED], written, rejected) | "Summarize" >> SummarizeRun(
        target, config.header
    )
    return {"written": written, "rejected": rejected, "summary": summary}


def resolve(options: IngestOptions) -> RunConfig:
    """Validate every option and load every data file before any work starts."""
    opts = options.view_as(IngestOptions)
    if not opts.input:
        raise UsageError("--input is required (a path, glob or directory; any fsspec URL; repeat for several)")
    if not opts.output:
        raise UsageError("--output is required (the dataset root; any fsspec URL)")
    for flag in ("max_article_bytes", "ner_batch_size", "max_rows_per_file", "min_rows_per_file"):
        if getattr(opts, flag) <= 0:
            raise UsageError(f"--{flag} must be a positive number, not {getattr(opts, flag)}")
    if opts.repeated_lines_min_articles < 0 or not 0.0 <= opts.repeated_lines_min_share <= 1.0:
        raise UsageError("--repeated_lines_min_articles must be >= 0 and --repeated_lines_min_share within 0-1")
    if not 0.0 <= opts.max_reject_ratio <= 1.0:
        raise UsageError(f"--max_reject_ratio must be within 0-1, not {opts.max_reject_ratio}")
    if opts.min_rows_per_file > 1 and opts.min_rows_per_file * 2 > opts.max_rows_per_file:
        # Merged files are split evenly, so each is at least half of --max_rows_per_file.
        raise UsageError(
            f"--min_rows_per_file ({opts.min_rows_per_file}) must be at most half of --max_rows_per_file "
            f"({opts.max_rows_per_file})"
        )
    if opts.quiet and opts.verbose:
        raise UsageError("--quiet and --verbose contradict each other: choose one")
    output = opts.output.rstrip("/") or "/"
    if "://" not in output:
        output = os.path.abspath(output)  # so the summary and messages name where the data is
    jsonl_fields = _loaded("--jsonl_fields", JsonlFields.parse, opts.jsonl_fields)
    models = _loaded("--spacy_model", parse_model_setting, opts.spacy_model)
    entity_labels = tuple(label.strip().upper() for label in opts.entity_labels.split(",") if label.strip())
    entity_aliases = _loaded("--entity_aliases", load_aliases, opts.entity_aliases)
    rules = _loaded("--rules", load_rules, opts.rules)
    taxonomy = _loaded("--topics", load_taxonomy, opts.topics)
    # Checked here to fail fast and to learn its version; workers load it.
    topic_model = _loaded("--topic_model", lambda spec: load_topic_model(spec, taxonomy, check_only=True), opts.topic_model)
    run_id = opts.run_id or new_run_id()
    settings = {
        "code_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "rules": _digest([(r.name, r.kind, r.pattern.pattern, r.pattern.flags, r.where, r.max_words) for r in rules]),
        "topics": f"{taxonomy.name}@{taxonomy.version}:{_digest(repr(taxonomy))}",
        "topic_model": topic_model.version,
        "spacy_model": {lang: _model_identity(name) for lang, name in sorted(models.items())},
        "ner_gemm": opts.ner_gemm,
        "entity_labels": list(entity_labels),
        "entity_aliases": _digest(sorted(entity_aliases.items())) if entity_aliases else None,
        "jsonl_fields": dataclasses.asdict(jsonl_fields),
        "max_article_bytes": opts.max_article_bytes,
        "repeated_lines_min_articles": opts.repeated_lines_min_articles,
        "repeated_lines_min_share": opts.repeated_lines_min_share,
    }
    header = {
        "run_id": run_id,
        "started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "code_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "inputs": list(opts.input),
        "output": output,
        "mode": opts.mode,
        "spacy_models": models,
        "taxonomy": f"{taxonomy.name}@{taxonomy.version}",
        "topic_model": topic_model.version,
        "rules": ["packaged"] + list(opts.rules or []),
        "fingerprint": ledger.fingerprint(settings),
        "options": _our_options(opts),
    }
    return RunConfig(
        inputs=tuple(opts.input),
        output=output,
        run_id=run_id,
        spacy_models=models,
        entity_labels=entity_labels,
        entity_aliases=entity_aliases,
        rules=rules,
        taxonomy=taxonomy,
        topic_model=opts.topic_model,
        max_article_bytes=opts.max_article_bytes,
        jsonl_fields=jsonl_fields,
        ner_batch_size=opts.ner_batch_size,
        ner_gemm=opts.ner_gemm,
        max_rows_per_file=opts.max_rows_per_file,
        min_rows_per_file=opts.min_rows_per_file,
        repeated_lines_min_articles=opts.repeated_lines_min_articles,
        repeated_lines_min_share=opts.repeated_lines_min_share,
        compression=opts.compression,
        mode=opts.mode,
        header=header,
        settings=settings,
        fingerprint=ledger.fingerprint(settings),
        retry_rejected=opts.retry_rejected,
        reprocess_stale=opts.reprocess_stale,
        max_reject_ratio=opts.max_reject_ratio,
        verbosity=-1 if opts.quiet else (1 if opts.verbose else 0),
    )


def _loaded(flag: str, load: Callable[[Any], T], value: Any) -> T:
    """``load(value)``, with a user's mistake in that flag's value or file as a `UsageError`
    that names the flag. Anything else is a bug and keeps its traceback."""
    try:
        return load(value)
    except SettingError as exc:
        raise UsageError(f"{flag}: {exc}") from exc
    except OSError as exc:
        raise UsageError(f"{flag} {value}: {exc.strerror or exc}") from exc


def _digest(value: Any) -> str:
    return hashlib.sha256(repr(value).encode()).hexdigest()[:12]


def _model_identity(name: str) -> str:
    meta = model_meta(name)
    return f"{meta.get('lang')}_{meta.get('name')}-{meta.get('version')}"


def _our_options(opts: IngestOptions) -> dict[str, Any]:
    """This run's flags (ours and the runner's), as recorded in the manifest."""
    import argparse

    parser = argparse.ArgumentParser()
    IngestOptions._add_argparse_args(parser)
    ours = {a.dest: getattr(opts, a.dest, None) for a in parser._actions if a.dest != "help"}
    standard = opts.view_as(StandardOptions)
    return {**ours, "runner": standard.runner or "DirectRunner", "streaming": bool(standard.streaming)}


def _runner(options: IngestOptions):
    """The runner to use: Beam's flag, except that a plain DirectRunner batch job goes
    straight to the FnApiRunner. Beam's DirectRunner first tries Prism, a Go binary it
    downloads from GitHub at run time: offline that fails (or hangs) before falling back
    to this same FnApiRunner, which honours --direct_num_workers/--direct_running_mode."""
    standard = options.view_as(StandardOptions)
    if standard.runner in (None, "DirectRunner") and not standard.streaming:
        from apache_beam.runners.portability.fn_api_runner import FnApiRunner

        return FnApiRunner()
    return None  # Beam resolves --runner itself


def _ner_work_per_process(result) -> dict[str, int]:
    """NER articles per worker process, from Beam metrics (empty where a runner has none)."""
    try:
        counters = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))["counters"]
    except Exception:  # noqa: BLE001 - metrics are diagnostics; some runners do not report them
        return {}
    return {c.key.metric.name.rsplit("_", 1)[-1]: c.committed or c.attempted for c in counters}


@dataclasses.dataclass
class Plan:
    """What the driver knows before the pipeline runs: the matched files and, in incremental
    mode, the committed entries of exactly those files (never the whole index)."""

    files: dict[str, list[str]]
    entries: dict[str, ledger.Entry]
    known: dict[str, tuple[str, str]]

    @property
    def unmatched(self) -> list[str]:
        return [pattern for pattern, files in self.files.items() if not files]


def plan_run(config: RunConfig, output: DatasetOutput) -> Plan:
    files = {pattern: _match(pattern) for pattern in config.inputs}
    entries: dict[str, ledger.Entry] = {}
    if config.mode == "incremental" and any(files.values()):
        matched = {url for urls in files.values() for url in urls}
        entries = ledger.entries_of(output.index_batches(), source_paths=matched)
    known = ledger.known_inputs(entries, config.fingerprint, config.retry_rejected, config.reprocess_stale)
    return Plan(files, entries, known)


def _match(pattern: str) -> list[str]:
    try:
        return match_pattern(pattern).files
    except Exception:  # noqa: BLE001 - the pipeline's match rejects the pattern with its reason
        return []


def run(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse flags, build and run the pipeline, publish it, print and return the manifest."""
    options, is_dry_run = parse_options(list(sys.argv[1:] if argv is None else argv))
    config = resolve(options)
    say = _printer(config.verbosity)
    output = DatasetOutput(config.output)
    output.check_writable()
    plan = plan_run(config, output)
    for pattern in plan.unmatched:
        print(f"warning: --input {pattern} matched no file", file=sys.stderr)
    if not any(plan.files.values()):
        say(f"nothing to do: no --input matched a file; {config.output} was not touched")
        return {"run_id": config.run_id, "published": False, "unmatched_patterns": plan.unmatched, "articles_rejected": 0, "articles_written": 0}
    if is_dry_run:
        return dry_run(config, output, plan, say)
    _LOG.info("run %s: %s -> %s with %s", config.run_id, ", ".join(config.inputs), config.output, config.spacy_models)
    with output.lock(config.run_id):
        for action in output.recover():
            say(f"recovery: {action}")
        if config.mode != "rebuild":  # a rebuild replaces every file, whatever its schema
            check_schema(output)
        plan = plan_run(config, output)  # again, under the lock: another run may have committed meanwhile
        staging = output.staging_url(config.run_id)
        known = None
        if plan.known:
            known = f"{staging}/.known_inputs.json"
            with fsspec.open(known, "w", encoding="utf-8", auto_mkdir=True) as f:
                json.dump(plan.known, f)
        p = beam.Pipeline(runner=_runner(options), options=options)
        build(p, config, target=staging, known_inputs=known)
        result = p.run()
        result.wait_until_finish()
        faults.reached("pipeline-finished")
        summary = output.staged_summary(config.run_id)
        if not summary["all_inputs_accounted_for"]:
            raise RuntimeError(
                f"run {config.run_id} lost track of some inputs and was not published: {json.dumps(summary)}"
            )
        manifest = output.publish(
            config.run_id,
            config.mode,
            config.fingerprint,
            config.settings,
            config.min_rows_per_file,
            config.max_rows_per_file,
            config.compression,
        )
    published = manifest is not None
    manifest = manifest or {k: v for k, v in summary.items() if k != "written_files"}
    manifest.update(published=published, unmatched_patterns=plan.unmatched)
    manifest["ner_articles_per_process"] = _ner_work_per_process(result)
    manifest["stale_settings"] = _stale_settings(config, output, plan) if manifest.get("skipped_by_reason", {}).get(STALE) else []
    say(format_summary(manifest, verbose=config.verbosity > 0))
    if published:
        say(f"output: {config.output}  (manifest: {output.manifest_path(config.run_id)})")
    else:
        say(f"output: {config.output}  (unchanged: nothing to publish)")
    return manifest


def exit_status(manifest: dict[str, Any], max_reject_ratio: float) -> tuple[int, list[str]]:
    """0 published and nothing alarming; 3 published (or nothing to do), but a pattern matched
    nothing or more than ``max_reject_ratio`` of the processed records were rejected."""
    problems = []
    if manifest.get("unmatched_patterns"):
        n = len(manifest["unmatched_patterns"])
        problems.append(f"{n} input pattern{'s' if n != 1 else ''} matched no file")
    processed = manifest.get("articles_written", 0) + manifest.get("articles_rejected", 0)
    if processed and manifest.get("articles_rejected", 0) / processed > max_reject_ratio:
        problems.append(
            f"{manifest['articles_rejected']} of {processed} records were rejected, more than --max_reject_ratio {max_reject_ratio:g}"
        )
    return (3 if problems else 0), problems


def _printer(verbosity: int) -> Callable[[str], None]:
    return (lambda message: None) if verbosity < 0 else print


def _stale_settings(config: RunConfig, output: DatasetOutput, plan: Plan) -> list[str]:
    """Which settings differ between this run and the runs that wrote the stale inputs."""
    recorded = output.fingerprints()
    stale = {e.fingerprint for e in plan.entries.values() if e.outcome == ledger.WRITTEN and e.fingerprint != config.fingerprint}
    names: set[str] = set()
    for fp in stale:
        names.update(ledger.differing_settings(config.settings, recorded.get(fp)))
    return sorted(names)


def check_schema(output: DatasetOutput) -> None:
    """Stop before any work when the dataset's files have a schema this code cannot append to.

    Compatible: the same columns, plus columns this version adds (nullable). Anything else (a
    column missing here or of another type) is named in the error.
    """
    existing = output.partition_files()
    if not existing:
        return
    with output.open(existing[-1]) as f:
        theirs = pq.read_schema(f)
    ours = {field.name: field for field in ARTICLE_SCHEMA}
    problems = []
    for field in theirs:
        if field.name not in ours:
            problems.append(f"{field.name} ({field.type}) is not in schema {SCHEMA_VERSION}")
        elif not field.type.equals(ours[field.name].type):
            problems.append(f"{field.name} is {field.type} there but {ours[field.name].type} here")
    added = [name for name in ours if name not in theirs.names]
    if any(not ours[name].nullable for name in added):
        problems += [f"{name} is new and not nullable" for name in added if not ours[name].nullable]
    if problems:
        version = (theirs.metadata or {}).get(SCHEMA_VERSION_KEY, b"?").decode()
        raise UsageError(
            f"{output.url} holds schema {version}, incompatible with this code's {SCHEMA_VERSION}: "
            + "; ".join(problems)
            + ". Write to a new --output, or reprocess into it with --mode rebuild."
        )


def dry_run(config: RunConfig, output: DatasetOutput, plan: Plan, say: Callable[[str], None] = print) -> dict[str, Any]:
    """What a run would process, skip and replace, decided exactly as the run decides (the same
    content hashes, one record per JSON Lines line, the same committed index); writes nothing."""
    counts: Counter = Counter()
    examples: dict[str, list[str]] = {}
    replaced_files: set[str] = set()
    for url in sorted({u for urls in plan.files.values() for u in urls}):
        try:
            records = list(plan_records(url, config.max_article_bytes, plan.known))
        except OSError as exc:
            records = [(url, None, None)]  # unreadable: the run rejects it
            _LOG.warning("cannot read %s: %s", url, exc)
        for sid, sha, skipped in records:
            status = f"skip:{skipped}" if skipped else ledger.why_processed(plan.entries.get(sid), sha)
            counts[status] += 1
            examples.setdefault(status, []).append(sid)
            entry = plan.entries.get(sid)
            if not skipped and entry is not None and entry.file:
                replaced_files.add(entry.file)
    processed = sum(n for status, n in counts.items() if not status.startswith("skip:"))
    result = {
        "dry_run": True,
        "mode": config.mode,
        "records_to_process": processed,
        "records_to_skip": sum(n for status, n in counts.items() if status.startswith("skip:")),
        "by_status": dict(sorted(counts.items())),
        "files_with_rows_replaced": sorted(replaced_files),
        "unmatched_patterns": plan.unmatched,
        "articles_rejected": 0,
        "articles_written": 0,
    }
    say(f"dry run ({config.mode}) into {config.output}: nothing is written")
    labels = {
        "new": "new", "changed": "changed (their old rows are replaced)", "retry": "rejected before, retried",
        "reprocess": "written with other settings, reprocessed (--reprocess_stale)",
        f"skip:{UNCHANGED}": "skipped: unchanged", f"skip:{STALE}": "skipped: written with other settings (--reprocess_stale to redo)",
        f"skip:{REJECTED_BEFORE}": "skipped: rejected before, unchanged (--retry_rejected to retry)",
    }  # fmt: skip
    say(f"  would process {_n(processed, 'record')}, skip {_n(result['records_to_skip'], 'record')}")
    for status, n in sorted(counts.items()):
        say(f"    {labels.get(status, status)}: {n}")
        if config.verbosity > 0:
            for sid in examples[status][:50]:
                say(f"      {sid}")
    if replaced_files:
        say(f"  rows replaced in {_n(len(replaced_files), 'published file')}")
    if config.mode != "incremental":
        existing = output.partition_files()
        scope = "every file of the dataset" if config.mode == "rebuild" else "every older file of each partition it writes (partitions are known once articles are dated and classified)"
        say(f"  {config.mode} replaces {scope}; the dataset has {_n(len(existing), 'file')} now")
    return result


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
