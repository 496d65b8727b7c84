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
from typing import Any

import apache_beam as beam
import fsspec
import pyarrow.parquet as pq
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import StandardOptions

from pipeline import __version__
from pipeline.errors import UsageError
from pipeline.options import IngestOptions, new_run_id, pop_dry_run
from pipeline import faults
from pipeline.commit import DatasetOutput
from pipeline.summary import Skipped, SummarizeRun, format_summary
from schemas.article import ARTICLE_SCHEMA, SCHEMA_VERSION, SCHEMA_VERSION_KEY
from transforms.canonical import load_aliases
from transforms.clean import CleanArticles, Rule, load_rules
from transforms.formats import JsonlFields
from transforms.entities import METRICS_NAMESPACE, ExtractEntities, ModelNotFound, parse_model_setting
from transforms.failures import REJECTED, WriteRejections
from transforms.read import FILE_READS, SKIPPED, MatchFiles, ReadArticles, expand_pattern
from transforms.repeated_lines import CountRepeatedLines
from transforms.topics import AssignTopics, Taxonomy, load_taxonomy, load_topic_model
from transforms.write import WriteParquet

_LOG = logging.getLogger(__name__)


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


def build(
    p: beam.Pipeline, config: RunConfig, target: str | None = None, known_inputs: str | None = None
) -> dict[str, beam.PCollection]:
    """The DAG. Everything is written under ``target`` (the run's staging folder; the output
    itself when None) in the final layout; `run` publishes it."""
    target = target or config.output
    matched = p | "MatchFiles" >> MatchFiles(config.inputs)
    read = matched["files"] | "Read" >> ReadArticles(config.max_article_bytes, config.jsonl_fields, known_inputs)
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
            known_inputs,
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
        target, config.run_id, config.max_rows_per_file, config.compression, config.min_rows_per_file
    )

    rejected = (
        matched[REJECTED],
        read[REJECTED],
        cleaned[REJECTED],
        with_entities[REJECTED],
        topical[REJECTED],
    ) | "AllRejections" >> beam.Flatten()
    rejected | "WriteRejections" >> WriteRejections(target, config.run_id)
    skipped = read[SKIPPED] | "AsSkipped" >> beam.Map(Skipped)
    summary = (matched["files"], read[FILE_READS], skipped, written, rejected) | "Summarize" >> SummarizeRun(
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
    if opts.min_rows_per_file > 1 and opts.min_rows_per_file * 2 > opts.max_rows_per_file:
        # Merged files are split evenly, so each is at least half of --max_rows_per_file.
        raise UsageError(
            f"--min_rows_per_file ({opts.min_rows_per_file}) must be at most half of --max_rows_per_file "
            f"({opts.max_rows_per_file})"
        )
    output = opts.output.rstrip("/") or "/"
    if "://" not in output:
        output = os.path.abspath(output)  # so the summary and messages name where the data is
    try:
        jsonl_fields = JsonlFields.parse(opts.jsonl_fields)
        models = parse_model_setting(opts.spacy_model)
        entity_labels = tuple(label.strip().upper() for label in opts.entity_labels.split(",") if label.strip())
        entity_aliases = load_aliases(opts.entity_aliases)
        rules = load_rules(opts.rules)
        taxonomy = load_taxonomy(opts.topics)
        topic_model = load_topic_model(opts.topic_model, taxonomy, check_only=True)  # to fail fast; workers load it
    except (ValueError, ModelNotFound, OSError) as exc:  # RulePackError and TaxonomyError are ValueErrors
        raise UsageError(str(exc)) from exc
    run_id = opts.run_id or new_run_id()
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
    )


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


def run(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse flags, build and run the pipeline, publish it, print and return the manifest."""
    argv, is_dry_run = pop_dry_run(list(sys.argv[1:] if argv is None else argv))
    options = IngestOptions(argv)
    config = resolve(options)
    output = DatasetOutput(config.output)
    if is_dry_run:
        return dry_run(config, output)
    _LOG.info("run %s: %s -> %s with %s", config.run_id, ", ".join(config.inputs), config.output, config.spacy_models)
    with output.lock(config.run_id):
        for action in output.recover():
            print(f"recovery: {action}")
        if config.mode != "rebuild":  # a rebuild replaces every file, whatever its schema
            check_schema(output)
        committed = output.committed_inputs() if config.mode == "incremental" else {}
        staging = output.staging_url(config.run_id)
        known = None
        if committed:
            known = f"{staging}/.known_inputs.json"
            with fsspec.open(known, "w", encoding="utf-8", auto_mkdir=True) as f:
                json.dump({sid: e["content_sha256"] for sid, e in committed.items() if e.get("content_sha256")}, f)
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
            config.run_id, config.mode, committed, config.min_rows_per_file, config.max_rows_per_file, config.compression
        )
    manifest["ner_articles_per_process"] = _ner_work_per_process(result)
    print(format_summary(manifest))
    print(f"output: {config.output}  (manifest: {output.manifest_path(config.run_id)})")
    return manifest


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


def dry_run(config: RunConfig, output: DatasetOutput) -> dict[str, Any]:
    """What a run would read, skip and replace; reads inputs, writes nothing."""
    committed = output.committed_inputs() if config.mode == "incremental" else {}
    plan: dict[str, list[str]] = {"new": [], "changed": [], "unchanged": [], "unmatched_patterns": []}
    for pattern in config.inputs:
        files = expand_pattern(pattern)
        if not files:
            plan["unmatched_patterns"].append(pattern)
        for url in files:
            with fsspec.open(url, "rb") as f:
                digest = hashlib.file_digest(f, "sha256").hexdigest()
            old = committed.get(url)
            status = "new" if old is None else ("unchanged" if old.get("content_sha256") == digest else "changed")
            plan[status].append(url)
    print(f"dry run ({config.mode}) into {config.output}: nothing is written")
    for status in ("new", "changed", "unchanged"):
        verb = "skip" if status == "unchanged" else "process"
        print(f"  {status}: {len(plan[status])} files ({verb})")
        for url in plan[status][:50]:
            print(f"    {url}")
    for pattern in plan["unmatched_patterns"]:
        print(f"  pattern without files: {pattern}")
    if config.mode != "incremental":
        existing = output.partition_files()
        scope = "every partition" if config.mode == "rebuild" else "each partition the run writes"
        print(f"  {config.mode}: replaces {scope}; the dataset has {len(existing)} files now")
    print("  JSON Lines files are compared whole here; the run compares each line.")
    return plan
