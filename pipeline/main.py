"""The pipeline: `build` wires the DAG in one readable place, `run` is the command line.

    files    = Match(--input) -> Reshuffle
    repeated = Match(--input) -> Read again -> line keys -> count per source (side input)
    articles = Read -> Clean (+ metadata, date; repeated lines) -> Duplicates (mark or drop;
               the articles parked in files until the decisions are made) -> Entities (spaCy) -> Topics
    output   = Write Parquet (date=/topic=)  +  Write rejections  +  Summarize run
"""
from __future__ import annotations

import contextlib
import json
import logging
import posixpath
import shlex
import sys
from typing import Any, Callable

import apache_beam as beam
import fsspec
from apache_beam.options.pipeline_options import DirectOptions, StandardOptions
from apache_beam.transforms.util import WaitOn

from pipeline import logs
from pipeline.config import RunConfig, resolve
from pipeline.options import IngestOptions, parse_options
from pipeline.plan import Plan, dry_run, plan_run, stale_settings
from pipeline.progress import ProgressReporter, stage_seconds
from pipeline.publish import RUN_ID_TAKEN, DatasetOutput, check_schema
from pipeline.report import write_report
from pipeline.signatures import OutputSignatures
from pipeline.summary import SummarizeRun, format_summary
from transforms import faults
from transforms.clean import CleanArticles
from transforms.duplicates import OFF, FindDuplicates, MarkDuplicates
from transforms.entities import NER_WORK, ExtractEntities
from transforms.entities import preload as preload_ner
from transforms.errors import UsageError
from transforms.failures import REJECTED, WriteRejections
from transforms.match import MatchFiles
from transforms.read import FILE_READS, SKIPPED, STALE, KnownInputs, ReadArticles
from transforms.repeated_lines import CountRepeatedLines
from transforms.spill import SPILL_DIR, ReadSpilled, SpillToFiles
from transforms.topics import AssignTopics
from transforms.topics import preload as preload_topics
from transforms.write import WriteParquet

_LOG = logging.getLogger(__name__)


def build(
    p: beam.Pipeline, config: RunConfig, target: str | None = None, known_inputs: str | None = None
) -> dict[str, beam.PCollection]:
    """The DAG. Everything is written under ``target`` (the run's staging folder; the output
    itself when None) in the final layout; `run` publishes it."""
    target = target or config.output
    known = KnownInputs(known_inputs)  # one copy per worker process, for both reads
    matched = p | "MatchFiles" >> MatchFiles(config.inputs)
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
    read = matched["files"] | "Read" >> ReadArticles(config.max_article_bytes, config.jsonl_fields, known)
    cleaned = read.articles | "Clean" >> CleanArticles(config.rules, repeated)
    unique, duplicates = cleaned.articles, []
    if config.dedup != OFF:
        # overwrite_partitions and rebuild remove committed rows only at publish: compare within the run only.
        committed = OutputSignatures(config.output) if config.mode == "incremental" else None
        decisions = unique | "FindDuplicates" >> FindDuplicates(
            config.near_dup_threshold, config.dedup, target, config.run_id, committed
        )
        # The articles wait for the decisions parked in files, not in the runner's memory.
        unique = (
            unique
            | "ParkArticles" >> SpillToFiles(posixpath.join(target, SPILL_DIR))
            | "AfterDecisions" >> WaitOn(decisions)
            | "UnparkArticles" >> ReadSpilled()
        )
        marked = unique | "Duplicates" >> MarkDuplicates(config.dedup, decisions, target, config.run_id)
        unique, duplicates = marked.articles, [marked.found]
    with_entities = unique | "Entities" >> ExtractEntities(
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
    events = (matched["files"], matched[SKIPPED], read[FILE_READS], read[SKIPPED], with_entities[NER_WORK], written, rejected, *duplicates)
    summary = events | "Summarize" >> SummarizeRun(
        target, config.header
    )
    return {"written": written, "rejected": rejected, "summary": summary}


#: Runners that run this kind of pipeline but give wrong results: refused at start, with why.
REFUSED_RUNNERS = {
    "daskrunner": "Beam's DaskRunner gives wrong results for this pipeline (tagged outputs and "
    "with_exception_handling receive every element, elements emitted in finish_bundle are dropped, "
    "only the last branch of a graph runs): use DirectRunner, FlinkRunner, SparkRunner or DataflowRunner",
}


def _runner(options: IngestOptions, streaming: bool = False):
    """The runner to use: Beam's flag, except that a DirectRunner batch job goes straight to the
    FnApiRunner (named or not; ``--help`` says so). Beam's DirectRunner first tries Prism, a Go
    binary it downloads from GitHub at run time: offline that fails (or hangs) before falling
    back to this same FnApiRunner, which honours --direct_num_workers/--direct_running_mode."""
    standard = options.view_as(StandardOptions)
    name = (standard.runner or "").rsplit(".", 1)[-1].lower()
    if name in REFUSED_RUNNERS:
        raise UsageError(f"--runner {standard.runner}: {REFUSED_RUNNERS[name]}")
    if streaming and name not in ("", "direct", "directrunner"):
        raise UsageError(
            f"--streaming with --runner {standard.runner}: the watch loop runs its windows on the DirectRunner; "
            "Beam streaming runners are not supported yet (docs/design.md)"
        )
    if name in ("", "direct", "directrunner"):
        from apache_beam.runners.portability.fn_api_runner import FnApiRunner
        from apache_beam.transforms.environments import SubprocessSDKEnvironment

        direct = options.view_as(DirectOptions)
        if direct.direct_running_mode != "multi_processing":
            return FnApiRunner()
        # Beam's own worker command logs its start-up at INFO, twice per worker: ours logs at --log_level.
        level = options.view_as(IngestOptions).log_level
        command = f"{shlex.quote(sys.executable)} -m pipeline.worker {level}"
        direct.direct_running_mode = "in_memory"  # else the runner replaces the environment with its own
        return FnApiRunner(default_environment=SubprocessSDKEnvironment.from_command_string(command))
    from apache_beam.options.pipeline_options_validator import PipelineOptionsValidator
    from apache_beam.runners.runner import create_runner

    try:
        runner = create_runner(standard.runner)  # here, so a misspelt runner stops before any work
    except (ValueError, ImportError, AttributeError) as exc:  # "Unexpected pipeline runner", a missing extra
        raise UsageError(f"--runner {standard.runner}: {exc}") from exc
    problems = PipelineOptionsValidator(options, runner).validate()  # what the runner checks at run()
    if problems:
        raise UsageError(f"--runner {standard.runner}: " + "; ".join(" ".join(str(p).split()) for p in problems))
    return runner


def run(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse flags, build and run the pipeline, publish it, print and return the manifest."""
    options, is_dry_run = parse_options(list(sys.argv[1:] if argv is None else argv))
    logs.set_level(options.view_as(IngestOptions).log_level)
    config = resolve(options)
    say = _printer(config.verbosity)
    standard = options.view_as(StandardOptions)
    streaming, standard.streaming = standard.streaming, False  # a watch loop runs each window as a batch
    in_process = options.view_as(DirectOptions).direct_running_mode != "multi_processing"
    runner = _runner(options, streaming)
    try:
        output = DatasetOutput(config.output, config.table_format)
    except ImportError as exc:  # fsspec: "Install s3fs to access S3" and the like
        raise UsageError(f"--output {config.output}: {exc}") from exc
    if streaming and config.mode != "incremental":
        raise UsageError(
            f"--streaming with --mode {config.mode}: each window would replace what the windows before it wrote; "
            "stream with --mode incremental (the default), reprocess history with a batch run"
        )
    given = options.view_as(IngestOptions).run_id
    if given is not None and not is_dry_run and output.has_run(given, streaming):
        raise UsageError(f"--run_id {given}: {config.output} {RUN_ID_TAKEN}")
    plan = plan_run(config, output)
    for pattern in plan.unmatched if not streaming else ():  # a watched folder may start empty
        print(f"warning: --input {pattern} matched no file", file=sys.stderr)
    if not any(plan.files.values()) and not (streaming and not is_dry_run):
        say(f"nothing to do: no --input matched a file; {config.output} was not touched")
        return {"run_id": config.run_id, "published": False, "unmatched_patterns": plan.unmatched, "articles_rejected": 0, "articles_written": 0}
    if is_dry_run:
        if not output.interrupted_publishes():  # else the next run's recovery may change the answer
            output.check_table_format()
        _warn_lost(plan, config, "would be")
        return dry_run(config, output, plan, say)
    output.check_writable()
    if streaming:
        from pipeline.watch import watch  # the watch loop runs this module's run and publish per window

        def run_window(window: RunConfig, interruptible: Callable[[], Any]) -> dict[str, Any]:
            return _run_locked(window, options, runner, output, say, interruptible)

        if in_process:  # the windows run in this process: their first one need not wait for the models
            preload_ner(config.spacy_models, config.ner_gemm)
            preload_topics(config.topic_model, config.taxonomy)
        return watch(config, output, say, run_window)
    _LOG.info("run %s: %s -> %s with %s", config.run_id, ", ".join(config.inputs), config.output, config.spacy_models)
    with output.lock(config.run_id):
        for action in output.recover():
            say(f"recovery: {action}")
        if output.migrate_index():
            say("indexed the inputs committed by an earlier version (from the ledgers in _runs/)")
        return _run_locked(config, options, runner, output, say)


def _warn_lost(plan: Plan, config: RunConfig, verb: str) -> None:
    """Say which data files are gone (deleted by hand) and how many records come back."""
    if not plan.lost_files:
        return
    lost = set(plan.lost_files)
    n, records = len(lost), sum(1 for e in plan.entries.values() if e.file in lost)
    print(
        f"warning: {n} data file{'s' if n > 1 else ''} of {config.output} {'are' if n > 1 else 'is'} gone "
        f"({', '.join(plan.lost_files[:3])}{', ...' if n > 3 else ''}): the {records} record{'s' if records > 1 else ''} "
        f"of this run's inputs whose rows {'they' if n > 1 else 'it'} held {verb} ingested again",
        file=sys.stderr,
    )


def _run_locked(
    config: RunConfig, options: IngestOptions, runner: Any, output: DatasetOutput, say: Callable[[str], None],
    interruptible: Callable[[], Any] = contextlib.nullcontext,
) -> dict[str, Any]:
    """One run with the output's lock held: plan, pipeline, publish, summary. ``interruptible``
    wraps the pipeline only (a stop request may end it; never the publish)."""
    output.check_table_format()  # after the recovery: a rolled-forward publish may create the table
    if config.mode != "rebuild":  # a rebuild replaces every file, whatever its schema
        check_schema(output)
    plan = plan_run(config, output)  # under the lock: another run may have committed meanwhile
    _warn_lost(plan, config, "are")
    staging = output.staging_url(config.run_id)
    known = None
    if plan.known:
        known = f"{staging}/.known_inputs.json"
        with fsspec.open(known, "w", encoding="utf-8", auto_mkdir=True) as f:
            json.dump(plan.known, f)
    p = beam.Pipeline(runner=runner, options=options)
    build(p, config, target=staging, known_inputs=known)
    say_progress = say if config.verbosity >= 0 else None
    try:
        with interruptible(), ProgressReporter(staging, len(plan.unique), config.progress_interval, say_progress) as progress:
            result = p.run()
            result.wait_until_finish()
    finally:
        output.discard_staged(config.run_id, SPILL_DIR)  # parked articles: never published, maybe large
    faults.reached("pipeline-finished")
    summary = output.amend_staged_summary(config.run_id, stage_seconds=stage_seconds(result), timeline=progress.timeline)
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
    manifest["stale_settings"] = stale_settings(config.settings, config.fingerprint, output, plan) if manifest.get("skipped_by_reason", {}).get(STALE) else []
    say(format_summary(manifest, verbose=config.verbosity > 0))
    if published:
        say(f"output: {config.output}  (manifest: {output.url_of(output.manifest_path(config.run_id))})")
        try:
            manifest["report"] = write_report(config.output, config.run_id)
            say(f"report: {manifest['report']}")
        except Exception:  # noqa: BLE001 - the data is published; a report that fails must not fail the run
            _LOG.warning("could not write the run report (python -m pipeline.report %s %s retries)", config.output, config.run_id, exc_info=True)
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
