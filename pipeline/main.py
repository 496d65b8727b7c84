"""The pipeline: `build` wires the DAG in one readable place, `run` is the command line.

    files    = Match(--input) -> Reshuffle
    articles = Read -> Clean (+ metadata, date) -> Entities (spaCy) -> Topics
    output   = Write Parquet (date=/topic=)  +  Write rejections  +  Summarize run
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import sys
from typing import Any

import apache_beam as beam
import fsspec
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import StandardOptions

from pipeline import __version__
from pipeline.errors import UsageError
from pipeline.options import IngestOptions, new_run_id
from pipeline.commit import DatasetOutput
from pipeline.summary import SummarizeRun, format_summary
from schemas.article import SCHEMA_VERSION
from transforms.clean import CleanArticles, Rule, load_rules
from transforms.formats import JsonlFields
from transforms.entities import METRICS_NAMESPACE, ExtractEntities, ModelNotFound, parse_model_setting
from transforms.failures import REJECTED, WriteRejections
from transforms.read import FILE_READS, MatchFiles, ReadArticles
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
    rules: tuple[Rule, ...]
    taxonomy: Taxonomy
    topic_model: str
    max_article_bytes: int
    jsonl_fields: JsonlFields
    ner_batch_size: int
    max_rows_per_file: int
    compression: str
    mode: str
    header: dict[str, Any]


def build(p: beam.Pipeline, config: RunConfig, target: str | None = None) -> dict[str, beam.PCollection]:
    """The DAG. Everything is written under ``target`` (the run's staging folder; the output
    itself when None) in the final layout; `run` publishes it."""
    target = target or config.output
    matched = p | "MatchFiles" >> MatchFiles(config.inputs)
    read = matched["files"] | "Read" >> ReadArticles(config.max_article_bytes, config.jsonl_fields)
    cleaned = read.articles | "Clean" >> CleanArticles(config.rules)
    with_entities = cleaned.articles | "Entities" >> ExtractEntities(
        config.spacy_models, min_batch_size=min(16, config.ner_batch_size), max_batch_size=config.ner_batch_size
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
    summary = (matched["files"], read[FILE_READS], written, rejected) | "Summarize" >> SummarizeRun(
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
    for flag in ("max_article_bytes", "ner_batch_size", "max_rows_per_file"):
        if getattr(opts, flag) <= 0:
            raise UsageError(f"--{flag} must be a positive number, not {getattr(opts, flag)}")
    output = opts.output.rstrip("/") or "/"
    if "://" not in output:
        output = os.path.abspath(output)  # so the summary and messages name where the data is
    try:
        jsonl_fields = JsonlFields.parse(opts.jsonl_fields)
        models = parse_model_setting(opts.spacy_model)
        rules = load_rules(opts.rules)
        taxonomy = load_taxonomy(opts.topics)
        topic_model = load_topic_model(opts.topic_model, taxonomy)  # loaded here to fail fast; workers load their own
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
    }
    return RunConfig(
        inputs=tuple(opts.input),
        output=output,
        run_id=run_id,
        spacy_models=models,
        rules=rules,
        taxonomy=taxonomy,
        topic_model=opts.topic_model,
        max_article_bytes=opts.max_article_bytes,
        jsonl_fields=jsonl_fields,
        ner_batch_size=opts.ner_batch_size,
        max_rows_per_file=opts.max_rows_per_file,
        compression=opts.compression,
        mode=opts.mode,
        header=header,
    )


def _has_dataset(output: str) -> bool:
    fs, root = fsspec.core.url_to_fs(output)
    return bool(fs.exists(root) and fs.glob(root.rstrip("/") + "/date=*"))


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
    """Parse flags, build and run the pipeline, print and return the run summary."""
    argv = list(sys.argv[1:] if argv is None else argv)
    options = IngestOptions(argv)
    config = resolve(options)
    _LOG.info("run %s: %s -> %s with %s", config.run_id, ", ".join(config.inputs), config.output, config.spacy_models)
    output = DatasetOutput(config.output)
    with output.lock(config.run_id):
        for action in output.recover():
            print(f"recovery: {action}")
        if config.mode == "error_if_exists" and _has_dataset(config.output):
            raise UsageError(
                f"{config.output} already holds a dataset (date=* directories). Choose another --output, or pass "
                "--mode append to add this run's files (re-running the same inputs then duplicates their rows)."
            )
        p = beam.Pipeline(runner=_runner(options), options=options)
        build(p, config, target=output.staging_url(config.run_id))
        result = p.run()
        result.wait_until_finish()
        summary = output.staged_summary(config.run_id)
        if not summary["all_inputs_accounted_for"]:
            raise RuntimeError(
                f"run {config.run_id} lost track of some inputs and was not published: {json.dumps(summary)}"
            )
        manifest = output.publish(config.run_id)
    manifest["ner_articles_per_process"] = _ner_work_per_process(result)
    print(format_summary(manifest))
    print(f"output: {config.output}  (manifest: {output.manifest_path(config.run_id)})")
    return manifest
