"""The run's configuration: every option validated and every data file and model checked
before any work, and the fingerprint of the settings that change rows (see `pipeline.ledger`)."""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import math
import os
import re
from typing import Any

import fsspec
import fsspec.utils
from apache_beam.options.pipeline_options import StandardOptions

from pipeline import __version__, ledger
from pipeline.options import RUN_ID, RUN_ID_RULE, IngestOptions, new_run_id
from schemas.article import SCHEMA_VERSION
from transforms.canonical import load_aliases
from transforms.clean import Rule, load_rules
from transforms.entities import model_meta, parse_model_setting
from transforms.errors import UsageError, loaded
from transforms.formats import JsonlFields
from transforms.topics import Taxonomy, load_taxonomy, load_topic_model

#: A run id names files and a staging folder: nothing that could step outside them.


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
    #: --streaming: seconds between looks at the patterns, and a window's length.
    watch_interval: float = 10.0
    window_seconds: float = 60.0
    #: Duplicates: mark, drop or off, and the near-duplicate similarity threshold.
    dedup: str = "mark"
    #: Seconds between progress lines (0: none).
    progress_interval: float = 10.0
    near_dup_threshold: float = 0.8
    #: hive or delta (`pipeline.delta_table`).
    table_format: str = "hive"


#: Files a run writes under its output (data, manifest, report, rejections, lock, index, Delta log).
_OUTPUT_FILES = (
    "_SUCCESS", "_lock", "_runs/r.json", "_runs/r.html", "_runs/r.inputs.jsonl", "_rejected/r.read.jsonl",
    "_duplicates/r.jsonl", "_index/inputs.parquet", "_delta_log/00000000000000000000.json",
    "date=2024-01-01/topic=t/part-0.parquet",
)  # fmt: skip


def _walks_into(pattern: str, output: str) -> bool:
    """Whether an input pattern would read files a run writes under ``output``: a folder holding
    it is walked down to every file, and a glob reads what it matches (``dir/**/*.txt`` matches
    none of them, ``dir/*/*`` does). Local paths are compared with links resolved."""
    try:
        fs, path = fsspec.core.url_to_fs(pattern)
        out_fs, out = fsspec.core.url_to_fs(output)
    except (ImportError, ValueError):  # a protocol whose package is missing: said when it is read
        return False
    if fs.protocol != out_fs.protocol:
        return False
    glob = any(c in path for c in "*?[")
    if "file" in ((fs.protocol,) if isinstance(fs.protocol, str) else fs.protocol):
        out = os.path.realpath(out)
        if glob:  # resolve the folders before the first wildcard, keep the pattern from there
            folder, _, part = path[: min(path.find(c) for c in "*?[" if c in path)].rpartition("/")
            path = os.path.realpath(folder or "/").rstrip("/") + "/" + path[len(folder) + 1 :]
        else:
            path = os.path.realpath(path)
    if glob:
        matches = re.compile(fsspec.utils.glob_translate(path)).match
        return any(matches(out.rstrip("/") + "/" + name) for name in _OUTPUT_FILES)
    if not (out == path or out.startswith(path.rstrip("/") + "/")):
        return False
    return fs.isdir(path) or out == path


def resolve(options: IngestOptions) -> RunConfig:
    """Validate every option and load every data file before any work starts."""
    opts = options.view_as(IngestOptions)
    if not opts.input:
        raise UsageError("--input is required (a path, glob or directory; any fsspec URL; repeat for several)")
    if any(not pattern.strip() for pattern in opts.input):
        raise UsageError("--input is empty (an unset variable?): name a path, glob or directory")
    if opts.run_id is not None and not RUN_ID.fullmatch(opts.run_id):
        raise UsageError(f"--run_id {opts.run_id!r}: {RUN_ID_RULE}")
    if not opts.output:
        raise UsageError("--output is required (the dataset root; any fsspec URL)")
    for flag in ("max_article_bytes", "ner_batch_size", "max_rows_per_file", "min_rows_per_file"):
        if getattr(opts, flag) <= 0:
            raise UsageError(f"--{flag} must be a positive number, not {getattr(opts, flag)}")
    if opts.repeated_lines_min_articles < 0 or not 0.0 <= opts.repeated_lines_min_share <= 1.0:
        raise UsageError("--repeated_lines_min_articles must be >= 0 and --repeated_lines_min_share within 0-1")
    for flag in ("watch_interval", "window_seconds", "progress_interval", "max_reject_ratio", "near_dup_threshold", "repeated_lines_min_share"):
        if not math.isfinite(getattr(opts, flag)):
            raise UsageError(f"--{flag} must be a finite number, not {getattr(opts, flag)}")
    if opts.watch_interval <= 0 or opts.window_seconds < 0:
        raise UsageError("--watch_interval must be positive and --window_seconds at least 0")
    if not 0.0 <= opts.max_reject_ratio <= 1.0:
        raise UsageError(f"--max_reject_ratio must be within 0-1, not {opts.max_reject_ratio}")
    if opts.min_rows_per_file > 1 and opts.min_rows_per_file * 2 > opts.max_rows_per_file:
        # Merged files are split evenly, so each is at least half of --max_rows_per_file.
        raise UsageError(
            f"--min_rows_per_file ({opts.min_rows_per_file}) must be at most half of --max_rows_per_file "
            f"({opts.max_rows_per_file})"
        )
    if opts.progress_interval < 0:
        raise UsageError(f"--progress_interval must be at least 0, not {opts.progress_interval}")
    if not 0.0 < opts.near_dup_threshold <= 1.0:
        raise UsageError(f"--near_dup_threshold must be above 0 and at most 1, not {opts.near_dup_threshold}")
    if opts.quiet and opts.verbose:
        raise UsageError("--quiet and --verbose contradict each other: choose one")
    if not opts.output.strip():
        raise UsageError("--output is empty (an unset variable?): name the dataset root")
    output = opts.output.rstrip("/") or "/"
    if "://" not in output:
        output = os.path.abspath(output)  # so the summary and messages name where the data is
    inside = next((pattern for pattern in opts.input if _walks_into(pattern, output)), None)
    if inside is not None:
        raise UsageError(
            f"--output {output} is inside --input {inside}: the run would read its own files as articles; "
            f"write the dataset outside the input folder"
        )
    jsonl_fields = loaded("--jsonl_fields", JsonlFields.parse, opts.jsonl_fields)
    models = loaded("--spacy_model", parse_model_setting, opts.spacy_model)
    entity_labels = tuple(label.strip().upper() for label in opts.entity_labels.split(",") if label.strip())
    entity_aliases = loaded("--entity_aliases", load_aliases, opts.entity_aliases)
    rules = loaded("--rules", load_rules, opts.rules)
    taxonomy = loaded("--topics", load_taxonomy, opts.topics)
    # Checked here to fail fast and to learn its version; workers load it.
    topic_model = loaded("--topic_model", lambda spec: load_topic_model(spec, taxonomy, check_only=True), opts.topic_model)
    run_id = opts.run_id or new_run_id()
    settings = {
        "code_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "rules": _digest([(r.name, r.kind, r.pattern.pattern, r.pattern.flags, r.where, r.max_words) for r in rules]),
        "topics": f"{taxonomy.name}@{taxonomy.version}:{_digest(repr(taxonomy))}",
        "topic_model": topic_model.version,
        "spacy_model": {lang: loaded("--spacy_model", _model_identity, name) for lang, name in sorted(models.items())},
        "ner_gemm": opts.ner_gemm,
        "entity_labels": list(entity_labels),
        "entity_aliases": _digest(sorted(entity_aliases.items())) if entity_aliases else None,
        "jsonl_fields": dataclasses.asdict(jsonl_fields),
        "max_article_bytes": opts.max_article_bytes,
        "repeated_lines_min_articles": opts.repeated_lines_min_articles,
        "repeated_lines_min_share": opts.repeated_lines_min_share,
        "dedup": opts.dedup if opts.dedup == "off" else f"{opts.dedup}@{opts.near_dup_threshold:g}",
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
        watch_interval=opts.watch_interval,
        window_seconds=opts.window_seconds,
        dedup=opts.dedup,
        progress_interval=opts.progress_interval,
        near_dup_threshold=opts.near_dup_threshold,
        table_format=opts.table_format,
    )


def _digest(value: Any) -> str:
    return hashlib.sha256(repr(value).encode()).hexdigest()[:12]


def _model_identity(name: str) -> str:
    meta = model_meta(name)
    return f"{meta.get('lang')}_{meta.get('name')}-{meta.get('version')}"


def _our_options(opts: IngestOptions) -> dict[str, Any]:
    """This run's flags (ours and the runner's), as recorded in the manifest."""
    parser = argparse.ArgumentParser()
    IngestOptions._add_argparse_args(parser)
    ours = {a.dest: getattr(opts, a.dest, None) for a in parser._actions if a.dest != "help"}
    standard = opts.view_as(StandardOptions)
    return {**ours, "runner": standard.runner or "DirectRunner", "streaming": bool(standard.streaming)}
