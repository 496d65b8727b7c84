"""``python -m pipeline.inspect``: look inside an output dataset, one article, or one input file.

The dataset answers most questions a data engineer has after a run (what is there, what was
rejected and why, what the cleaner did to an article), but only through Parquet readers and JSON
files spread over ``_runs/``, ``_index/`` and ``_rejected/``. This command gathers them into one
plain-text report, from metadata wherever it can (row counts come from Parquet footers, never from
the data), and writes nothing.

- ``OUTPUT``: schema version, runs, partitions (rows, bytes), the inputs rejected now (per the
  committed-input index) with their reasons, and warnings about interrupted publishes.
- ``OUTPUT --id ID``: one article (its id or a unique prefix of it): metadata, entities, every
  removed line with the rule that removed it, the body.
- ``--preview FILE``: read and clean one input file as a run would, with the pipeline's own
  functions (`transforms.read.read_records`, `transforms.clean.clean_article`), and show what
  the cleaner keeps, removes and lifts. Entities, topics and the repeated-line stage (which
  compares a run's articles with each other) are not run.

Exit status: 0 when the report was printed. A preview of a file the pipeline would reject prints
the rejection (``stage:code`` and message, as in ``_rejected/``) and still exits 0: the rejection
is the answer. 2: a usage error (flags, an OUTPUT that is not a dataset, an unknown or ambiguous
id, a missing FILE, a rule pack that cannot be used), as one line on stderr. Anything else is a
bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import collections
import concurrent.futures
import datetime as dt
import json
import os
import posixpath
import re
import shutil
import sys
import textwrap
from typing import Any, Callable, Iterable, Sequence, TypeVar


from pipeline import logs  # noqa: E402

logs.configure()  # before the imports below, which import Beam: stderr stays one line on errors

import apache_beam as beam  # noqa: E402
import fsspec  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.dataset as ds  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from pipeline import ledger, lock  # noqa: E402
from pipeline.publish import STAGING, DatasetOutput  # noqa: E402
from schemas.article import NULL_PARTITION, SCHEMA_VERSION, SCHEMA_VERSION_KEY, source_id  # noqa: E402
from transforms.choices import DEFAULT_MAX_ARTICLE_BYTES  # noqa: E402
from transforms.clean import clean_article, load_rules  # noqa: E402
from transforms.errors import UsageError, loaded  # noqa: E402
from transforms.failures import REJECTED, Rejection, run_guarded  # noqa: E402
from transforms.formats import JsonlFields  # noqa: E402
from transforms.parquet_files import readable  # noqa: E402
from transforms.read import read_records  # noqa: E402

PROG = "python -m pipeline.inspect"
#: Lines of a list (runs, rejected inputs, entities, preview records) shown before "... and N more".
LIST_LIMIT = 20
#: Characters of a body shown without --full.
BODY_LIMIT = 2000
#: Characters of a removed line shown without --full.
LINE_LIMIT = 100
#: Columns a later schema version adds; shown when the dataset has them.
DUPLICATE_COLUMNS = ("body_sha256", "duplicate_of", "similarity")
_HEX = re.compile("[0-9a-f]+")
T = TypeVar("T")

EPILOG = f"""\
examples:
  {PROG} out/                     runs, partitions, rejections
  {PROG} out/ --id 3f2a9c         one article (an id prefix will do)
  {PROG} --preview in/page.html   what a run would make of a file

exit status:
  0  the report was printed (a preview of a file that would be rejected prints why)
  2  usage error (flags, not a dataset, unknown id, missing file, bad rule pack)
"""


# -- the dataset -----------------------------------------------------------------------------


def open_dataset(url: str) -> DatasetOutput:
    """The output at ``url``, or a `UsageError` when it is not one the pipeline wrote."""
    out = _reachable(url, DatasetOutput)
    fs, root = out.fs, out.root
    if not fs.exists(root):
        raise UsageError(f"{url}: no such folder")
    if not fs.isdir(root):
        raise UsageError(f"{url} is a file, not a dataset folder (to see what a run makes of it: --preview {url})")
    markers = (ledger.RUNS, ledger.INDEX_DIR, STAGING)
    if not any(fs.exists(posixpath.join(root, m)) for m in markers) and not out.partition_files():
        if posixpath.basename(root).startswith(("date=", "topic=")):
            raise UsageError(f"{url} is a partition folder: name the dataset root, the folder that holds date=*/")
        what = "an empty folder" if not fs.ls(root, detail=False) else "not a dataset the pipeline wrote"
        raise UsageError(f"{url} is {what} (no _runs/, _index/ or date=*/topic=*/*.parquet)")
    return out


def overview(out: DatasetOutput, show_all: bool = False) -> dict[str, Any]:
    """Everything the plain report prints, as data (``--json`` prints it as it is)."""
    manifests = out.manifests()
    files = _file_facts(out)
    partitions: dict[str, dict[str, Any]] = {}
    for f in files:
        p = partitions.get(f["partition"])
        if p is None:
            p = partitions[f["partition"]] = {"partition": f["partition"], **_partition_values(f["partition"])}
            p.update(files=0, rows=0, bytes=0)
        p["files"] += 1
        p["rows"] += f["rows"]
        p["bytes"] += f["bytes"]
    runs = [_run_facts(m) for m in manifests]
    rejected = _rejected_inputs(out, manifests, None if show_all else LIST_LIMIT)
    return {
        "output": out.url,
        "table": {"format": out.table_format, "version": out.delta.version() if out.delta and out.has_delta_log() else None},
        "schema_version": {
            "files": dict(collections.Counter(f["schema_version"] or "unknown" for f in files)),
            "manifests": dict(collections.Counter(str(m.get("schema_version", "unknown")) for m in manifests)),
            "this_code": SCHEMA_VERSION,
        },
        "runs": runs,
        "partitions": sorted(partitions.values(), key=lambda p: p["partition"]),
        "totals": {
            "partitions": len(partitions),
            "files": len(files),
            "rows": sum(f["rows"] for f in files),
            "bytes": sum(f["bytes"] for f in files),
        },
        "rejected": rejected,
        "warnings": _warnings(out),
    }


def _file_facts(out: DatasetOutput) -> list[dict[str, Any]]:
    """Per published Parquet file (of a Delta table: of its current version): partition, rows
    and schema version (from its footer), bytes."""

    def facts(rel: str) -> dict[str, Any]:
        path = posixpath.join(out.root, rel)
        with out.fs.open(path, "rb") as f, readable(rel):
            meta = pq.read_metadata(f)
        version = (meta.metadata or {}).get(SCHEMA_VERSION_KEY)
        return {
            "file": rel,
            "partition": posixpath.dirname(rel),
            "rows": meta.num_rows,
            "bytes": out.fs.size(path) or 0,
            "schema_version": version.decode() if version else None,
        }

    # Footers are small reads; on an object store they are slow one at a time.
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(facts, out.partition_files()))


def _partition_values(partition: str) -> dict[str, str | None]:
    """{"date": ..., "topic": ...} of ``date=X/topic=Y``; Hive's null partition is None."""
    values = dict(part.split("=", 1) for part in partition.split("/") if "=" in part)
    return {key: None if values.get(key) == NULL_PARTITION else values.get(key) for key in ("date", "topic")}


def _run_facts(manifest: dict[str, Any]) -> dict[str, Any]:
    facts = {
        key: manifest.get(key)
        for key in ("run_id", "started_at", "published_at", "mode", "articles_written", "articles_rejected", "skipped")
    }
    if "duplicates" in manifest:
        facts["duplicates"] = manifest["duplicates"]
    return facts


def _rejected_inputs(out: DatasetOutput, manifests: list[dict[str, Any]], limit: int | None) -> dict[str, Any]:
    """The inputs whose last committed outcome is a rejection (the index says which), with the
    message their run's dead letters (``_rejected/``) give; the first ``limit`` by source id."""
    found: list[tuple[str, str, str]] = []
    for batch in out.index_batches():
        batch = batch.filter(pc.equal(batch["outcome"], ledger.REJECTED))
        if batch.num_rows:
            c = batch.to_pydict()
            for path, line, error, run in zip(c["source_path"], c["source_line"], c["error"], c["run_id"]):
                found.append((source_id(path, line), error or "unknown", run))
    found.sort()
    shown = found if limit is None else found[:limit]
    messages = _dead_letters(out, manifests, {run for _, _, run in shown})
    return {
        "count": len(found),
        "by_reason": dict(collections.Counter(reason for _, reason, _ in found).most_common()),
        "inputs": [
            {"source_id": sid, "reason": reason, "message": messages.get((run, sid)), "run_id": run}
            for sid, reason, run in shown
        ],
    }


def _dead_letters(out: DatasetOutput, manifests: list[dict[str, Any]], runs: set[str]) -> dict[tuple[str, str], str]:
    """(run id, source id) -> rejection message, from the ``_rejected/`` files of ``runs``."""
    by_run = {m.get("run_id"): m for m in manifests}
    messages: dict[tuple[str, str], str] = {}
    for run in sorted(r for r in runs if r):
        listed = by_run.get(run, {}).get("rejection_files")
        if listed is None:
            paths = out.fs.glob(posixpath.join(out.root, ledger.REJECTIONS, f"{run}.*.jsonl"))
        else:
            paths = [posixpath.join(out.root, rel) for rel in listed]
        for path in paths:
            if not out.fs.exists(path):
                continue
            with out.fs.open(path, "rt", encoding="utf-8") as f:
                for line in f:
                    try:
                        record = json.loads(line)
                        sid = source_id(record["source_path"], record.get("source_line"))
                        messages[(run, sid)] = record.get("message")
                    except (ValueError, KeyError, TypeError):
                        continue  # a damaged line: the index still says the input was rejected
    return messages


def _warnings(out: DatasetOutput) -> list[str]:
    """What a reader should know before trusting the listing: unfinished publishes and runs."""
    warnings = []
    interrupted = out.interrupted_publishes()
    for run in interrupted:
        warnings.append(f"the publish of run {run} was interrupted; the next run rolls it forward")
    for path in out.fs.glob(posixpath.join(out.root, STAGING, "*")):
        run = posixpath.basename(path.rstrip("/"))
        if run not in interrupted:
            warnings.append(f"{STAGING}/{run}/ is present: run {run} is writing, or crashed (the next run removes it)")
    holder = lock.read_json(out.fs, posixpath.join(out.root, lock.LOCK))
    if holder is not None:
        warnings.append(
            f"locked by run {holder.get('run_id')} (pid {holder.get('pid')} on {holder.get('host')}, "
            f"since {holder.get('started_at')})"
        )
    return warnings


# -- one article --------------------------------------------------------------------------------


def find_article(out: DatasetOutput, wanted: str) -> dict[str, Any]:
    """The row whose ``article_id`` is ``wanted`` or the only one starting with it, with the
    file that holds it; every column that file has (a later schema's columns included)."""
    wanted = wanted.strip().lower()
    if not wanted:
        raise UsageError("--id is empty: give an article_id or a unique prefix of it")
    files = out.partition_files()  # what readers see: a Delta table's current version only
    if not files:
        raise UsageError(f"{out.url} holds no articles")
    dataset = ds.dataset([posixpath.join(out.root, f) for f in files], format="parquet", filesystem=out.fs)
    scanner = dataset.scanner(columns=["article_id"], filter=pc.starts_with(ds.field("article_id"), pattern=wanted))
    matches: dict[str, str] = {}
    for tagged in scanner.scan_batches():
        for article_id in tagged.record_batch.column("article_id").to_pylist():
            matches.setdefault(article_id, tagged.fragment.path)
    if wanted in matches:
        matches = {wanted: matches[wanted]}
    if not matches:
        hint = _near_ids(dataset, wanted) if _HEX.fullmatch(wanted) else "; an article_id is 32 hex digits"
        raise UsageError(f"no article with id {wanted!r} in {out.url}{hint}")
    if len(matches) > 1:
        some = ", ".join(sorted(matches)[:5]) + (", ..." if len(matches) > 5 else "")
        raise UsageError(f"{len(matches)} articles have ids starting with {wanted!r} ({some}); give more of the id")
    ((article_id, path),) = matches.items()
    with out.fs.open(path, "rb") as f, readable(posixpath.relpath(path, out.root)):
        table = pq.read_table(f, filters=[("article_id", "==", article_id)])
    row = table.slice(0, 1).to_pylist()[0]
    rel = posixpath.relpath(path, out.root)
    return {**row, **_partition_values(posixpath.dirname(rel)), "file": rel}


def _near_ids(dataset: ds.Dataset, wanted: str) -> str:
    """A hint naming ids that share the longest prefix with ``wanted`` (at least 4 characters)."""
    ids = dataset.to_table(columns=["article_id"]).column("article_id")
    for size in range(len(wanted) - 1, 3, -1):
        hits = ids.filter(pc.starts_with(ids, pattern=wanted[:size]))
        if len(hits):
            near = sorted(set(hits.to_pylist()))
            return f"; ids starting with {wanted[:size]!r}: " + ", ".join(near[:3]) + (", ..." if len(near) > 3 else "")
    return ""


# -- one input file -----------------------------------------------------------------------------


def preview(
    url: str,
    rules: Sequence[str] | None = None,
    jsonl_fields: str | None = None,
    max_bytes: int = DEFAULT_MAX_ARTICLE_BYTES,
    limit: int | None = LIST_LIMIT,
) -> dict[str, Any]:
    """What a run would make of one input file, cleaned but not enriched: per record, the
    lifted metadata, the kept body and each removed line with its rule, or the rejection.
    Records past ``limit`` are read (to be counted) but not cleaned."""
    fs, path = _reachable(url, fsspec.core.url_to_fs)
    if not fs.exists(path):
        raise UsageError(f"--preview {url}: no such file")
    if fs.isdir(path):
        raise UsageError(f"--preview {url} is a folder: name one file in it")
    if max_bytes <= 0:
        raise UsageError(f"--max_article_bytes must be a positive number, not {max_bytes}")
    loaded_rules = loaded("--rules", load_rules, rules)
    fields = loaded("--jsonl_fields", JsonlFields.parse, jsonl_fields)
    records: list[dict[str, Any]] = []
    more = 0
    for output in run_guarded("read", url, lambda u: read_records(u, max_bytes, fields)):
        if limit is not None and len(records) >= limit:
            more += 1
            continue
        if isinstance(output, beam.pvalue.TaggedOutput) and output.tag == REJECTED:
            records.append(_rejected_record(output.value))
            continue
        for cleaned in run_guarded("clean", output, lambda a: [clean_article(a, loaded_rules)]):
            if isinstance(cleaned, beam.pvalue.TaggedOutput):
                records.append(_rejected_record(cleaned.value))
            else:
                records.append(_article_record(cleaned))
    return {
        "file": url,
        "rules": ["packaged"] + list(rules or []),
        "records": records,
        "more_records": more,
        "not_run": ["repeated_lines", "entities", "topics"],
    }


def _reachable(url: str, open_url: Callable[[str], T]) -> T:
    """``open_url(url)``; a URL whose file system is not installed or not known is a `UsageError`."""
    try:
        return open_url(url)
    except ImportError as exc:  # fsspec: "Install s3fs to access S3" and the like
        raise UsageError(f"{url}: {exc}") from exc
    except ValueError as exc:  # fsspec: "Protocol not known: ..."
        raise UsageError(f"{url}: {exc}") from exc


def _rejected_record(rejection: Rejection) -> dict[str, Any]:
    return {
        "source_id": source_id(rejection.source_path, rejection.source_line),
        "rejected": f"{rejection.stage}:{rejection.error_type}",
        "message": rejection.message,
    }


def _article_record(article: Any) -> dict[str, Any]:
    return {
        "source_id": article.source_id,
        "input_format": article.input_format,
        "encoding": article.encoding,
        "text_repaired": article.text_repaired,
        "title": article.title,
        "author": article.author,
        "credit": article.credit,
        "dateline": article.dateline,
        "published_date": article.published_date,
        "date_source": article.date_source,
        "url": article.url,
        "language": article.language,
        "word_count": len((article.body or "").split()),
        "removed": list(article.removed),
        "body": article.body,
    }


# -- plain text -----------------------------------------------------------------------------------


def render_overview(facts: dict[str, Any], show_all: bool = False) -> list[str]:
    lines = [f"dataset {facts['output']}"]
    lines += [f"warning: {w}" for w in facts["warnings"]]
    if facts["table"]["format"] == "delta":
        lines.append(f"table format    Delta Lake, version {facts['table']['version']} (the files below are this version's)")
    versions = facts["schema_version"]
    lines.append(
        f"schema version  {_counted(versions['files'], 'file') or 'no data files'}"
        f"; manifests: {_counted(versions['manifests'], 'run') or 'none'}; this code writes {versions['this_code']}"
    )

    runs = facts["runs"]
    shown = runs if show_all else runs[-LIST_LIMIT:]
    lines += ["", f"runs ({len(runs)}, oldest first)"]
    if len(shown) < len(runs):
        lines.append(f"  ... {len(runs) - len(shown)} earlier runs (--all lists them)")
    if shown:
        lines += _table(
            ["run id", "published (UTC)", "took", "mode", "written", "rejected", "skipped"],
            [
                (r["run_id"], _utc(r["published_at"]), _took(r["started_at"], r["published_at"]), r["mode"],
                 r["articles_written"], r["articles_rejected"], r["skipped"])
                for r in shown
            ],
            right={4, 5, 6},
            notes={i: _duplicates_note(r["duplicates"]) for i, r in enumerate(shown) if "duplicates" in r},
        )  # fmt: skip
    else:
        lines.append("  none committed")

    totals = facts["totals"]
    lines += ["", f"partitions ({totals['partitions']})"]
    rows: list[tuple[Any, ...]] = [
        (p["date"] or "NULL", p["topic"] or "NULL", p["files"], p["rows"], _size(p["bytes"]))
        for p in facts["partitions"]
    ]
    rows.append(("total", "", totals["files"], totals["rows"], _size(totals["bytes"])))
    lines += _table(["date", "topic", "files", "rows", "bytes"], rows, right={2, 3, 4})

    rejected = facts["rejected"]
    lines += ["", f"rejected inputs ({rejected['count']}; each input's last committed outcome, _index/inputs.parquet)"]
    if rejected["by_reason"]:
        lines.append("  by reason: " + ", ".join(f"{reason} {n}" for reason, n in rejected["by_reason"].items()))
        shown_rejected = [(r["source_id"], r["reason"], _clip(r["message"], LINE_LIMIT)) for r in rejected["inputs"]]
        lines += _table(["input", "reason", "message"], shown_rejected)
        hidden = rejected["count"] - len(rejected["inputs"])
        if hidden:
            lines.append(f"  ... and {hidden} more (--all lists them)")
    return lines


def render_article(row: dict[str, Any], full: bool = False, show_all: bool = False) -> list[str]:
    fields = [
        ("source", source_id(row.get("source_path") or "?", row.get("source_line"))),
        (
            "format",
            _format(row.get("input_format"), row.get("encoding"), row.get("text_repaired"), row.get("source_bytes")),
        ),
        ("title", row.get("title")),
        ("author", row.get("author")),
        ("credit", row.get("credit")),
        ("dateline", row.get("dateline")),
        ("date", _dated(row.get("published_date"), row.get("date_source"))),
        ("topic", _topic(row.get("topic"), row.get("topic_score"), row.get("topic_scores"))),
        ("url", row.get("url")),
        ("language", row.get("language")),
        ("words", row.get("word_count")),
        ("run", f"{row.get('run_id')}, processed {_utc(row.get('processed_at'))}"),
        ("file", row.get("file")),
    ]
    fields += [(name, row[name]) for name in DUPLICATE_COLUMNS if name in row]
    lines = [f"article {row['article_id']}"] + _fields(fields)
    lines += [""] + _entities(row, show_all)
    lines += [""] + _removed(row.get("removed") or [], full)
    lines += ["", "body"] + _body(row.get("body") or "", full)
    return lines


def render_preview(facts: dict[str, Any], full: bool = False) -> list[str]:
    lines = [
        f"preview {facts['file']}",
        "  read and cleaned as a run would; not run: the repeated-line stage (it compares a run's",
        "  articles with each other), entities, topics. Nothing is written.",
        f"  rules: {' + '.join(facts['rules'])}",
    ]
    if any(r.get("input_format") == "html" for r in facts["records"]):
        lines.append("  HTML: trafilatura picks the main text first; what it leaves out is not listed as removed.")
    for number, record in enumerate(facts["records"], 1):
        lines += ["", f"record {number}: {record['source_id']}"]
        if "rejected" in record:
            lines += _fields([("rejected", record["rejected"]), ("why", record["message"])])
            continue
        lines += _fields(
            [
                ("format", _format(record["input_format"], record["encoding"], record["text_repaired"])),
                ("title", record["title"]),
                ("author", record["author"]),
                ("credit", record["credit"]),
                ("dateline", record["dateline"]),
                ("date", _dated(record["published_date"], record["date_source"])),
                ("url", record["url"]),
                ("language", record["language"]),
            ]
        )
        part = [""] + _removed(record["removed"], full)
        part += ["", f"kept text ({record['word_count']} words)"] + _body(record["body"] or "", full)
        lines += [f"  {line}" if line else line for line in part]  # nested under the record
    if facts["more_records"]:
        lines += ["", f"... and {facts['more_records']} more records (--all shows them)"]
    articles = sum("rejected" not in r for r in facts["records"])
    counted = f"{_plural(articles, 'article')}, {len(facts['records']) - articles} rejected"
    lines += ["", counted + (" (of the records shown)" if facts["more_records"] else "")]
    return lines


def _entities(row: dict[str, Any], show_all: bool) -> list[str]:
    """One line per canonical entity, most mentioned first, with the other names it went by."""
    summary, mentions = row.get("entity_summary") or [], row.get("entities") or []
    variants: dict[str, set[str]] = collections.defaultdict(set)
    for mention in mentions:
        variants[mention.get("canonical") or mention.get("text")].add(mention.get("text"))
    if not summary and mentions:  # a dataset without entity_summary: count the mentions
        labels = {(m.get("canonical") or m.get("text")): m.get("label") for m in mentions}
        counts = collections.Counter(m.get("canonical") or m.get("text") for m in mentions)
        summary = [{"name": name, "label": labels[name], "mentions": n} for name, n in counts.most_common()]
    lines = [f"entities ({len(summary)} distinct, {len(mentions)} mentions)"]
    if row.get("ner_skipped_reason"):
        lines.append(f"  NER skipped: {row['ner_skipped_reason']}")
    shown = summary if show_all else summary[:LIST_LIMIT]
    if shown:
        rows = [(e["name"], e["label"], e["mentions"], _also_as(variants[e["name"]], e["name"])) for e in shown]
        lines += _table(["name", "label", "mentions", "also as"], rows, right={2})
    if len(shown) < len(summary):
        lines.append(f"  ... and {len(summary) - len(shown)} more, mentioned less (--all lists them)")
    return lines


def _also_as(names: set[str], name: str) -> str:
    return ", ".join(sorted(names - {name}))


def _removed(removed: list[dict[str, str]], full: bool) -> list[str]:
    lines = [f"removed lines ({len(removed)})"]
    if removed:
        rows = [(r["rule"], r["text"] if full else _clip(r["text"], LINE_LIMIT)) for r in removed]
        lines += _table(["rule", "text"], rows)
    return lines


def _body(body: str, full: bool) -> list[str]:
    """The body's paragraphs wrapped to the terminal, cut at a word after BODY_LIMIT characters."""
    shown = body
    if not full and len(body) > BODY_LIMIT:
        shown = body[: body.rfind(" ", 0, BODY_LIMIT) + 1 or BODY_LIMIT].rstrip()
    width = max(40, min(100, shutil.get_terminal_size((100, 24)).columns) - 2)
    lines: list[str] = []
    for paragraph in shown.split("\n\n"):
        if lines:
            lines.append("")
        lines += textwrap.wrap(paragraph, width, initial_indent="  ", subsequent_indent="  ", break_on_hyphens=False)
    if len(shown) < len(body):
        lines += ["", f"  ... {len(body) - len(shown)} more characters (--full shows them)"]
    return lines


def _table(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    right: set[int] = frozenset(),
    notes: dict[int, str] | None = None,
) -> list[str]:
    """Aligned columns, two spaces apart; ``notes[i]`` is printed under row i."""
    cells = [list(header)] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for n, row in enumerate(cells):
        parts = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        lines.append(("  " + "  ".join(parts)).rstrip())
        if notes and n and (n - 1) in notes:
            lines.append("    " + notes[n - 1])
    return lines


def _fields(pairs: Sequence[tuple[str, Any]]) -> list[str]:
    width = max(len(name) for name, _ in pairs)
    return [f"  {name.ljust(width)}  {_cell(value if value != '' else None)}" for name, value in pairs]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return " ".join(str(value).split())  # one line, whatever the value holds


def _clip(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _counted(counts: dict[str, int], noun: str) -> str:
    return ", ".join(f"{value} ({_plural(n, noun)})" for value, n in sorted(counts.items()))


def _duplicates_note(duplicates: Any) -> str:
    if isinstance(duplicates, dict):
        counts = ", ".join(f"{k} {_cell(v)}" for k, v in duplicates.items() if not isinstance(v, (dict, list)))
        return f"duplicates: {counts}"
    return f"duplicates: {_cell(duplicates)}"


def _format(fmt: str | None, encoding: str | None, repaired: bool | None, size: int | None = None) -> str:
    parts = [fmt or "?", encoding or "?"] + ([f"{size} bytes"] if size is not None else [])
    return ", ".join(parts + (["mojibake repaired"] if repaired else []))


def _dated(date: Any, source: str | None) -> str | None:
    if date is None:
        return None
    return f"{date} (from {source})" if source else str(date)


def _topic(topic: str | None, score: float | None, scores: Any) -> str | None:
    """The topic, its score, and the runners-up (``topic_scores``)."""
    if topic is None:
        return None
    text = topic if score is None else f"{topic} (score {score:.3f})"
    ranked = sorted(dict(scores or []).items(), key=lambda kv: -kv[1])
    others = [f"{name} {value:.3f}" for name, value in ranked if name != topic][:2]
    return text + (f"; next: {', '.join(others)}" if others else "")


def _utc(value: Any) -> str | None:
    """An ISO time or datetime as ``YYYY-MM-DD HH:MM:SS`` in UTC; anything else as it is."""
    if value is None:
        return None
    try:
        when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if when.tzinfo is not None:
        when = when.astimezone(dt.timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M:%S")


def _took(started: Any, published: Any) -> str | None:
    try:
        seconds = (dt.datetime.fromisoformat(published) - dt.datetime.fromisoformat(started)).total_seconds()
    except (TypeError, ValueError):
        return None
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.0f}m"


def _size(n: float) -> str:
    if n < 1024:
        return f"{n:.0f} B"
    for unit in ("KB", "MB", "GB", "TB"):
        n /= 1024
        if n < 1024 or unit == "TB":
            break
    return f"{n:.1f} {unit}"


# -- command line --------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line (a `UsageError`), not usage text and a message."""

    def error(self, message: str):
        raise UsageError(f"{message} ({PROG} --help)")


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        description="Show what an output dataset holds (runs, partitions, rejections), one article of it,\n"
        "or what the pipeline would make of one input file. Reads only; writes nothing.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("output", nargs="?", metavar="OUTPUT", help="Dataset root the pipeline wrote (path or fsspec URL).")
    p.add_argument("--id", metavar="ARTICLE_ID", help="Show the article with this article_id, or a unique prefix.")
    p.add_argument(
        "--preview",
        metavar="FILE",
        help="Read and clean this input file as a run would (text, HTML, JSON Lines, compressed or not) and show "
        "what is kept, removed (with each rule) and lifted. Skips the repeated-line stage, entities and topics.",
    )
    p.add_argument("--rules", action="append", metavar="PACK", help="With --preview: as the pipeline's --rules.")
    p.add_argument("--jsonl_fields", metavar="SPEC", help="With --preview: as the pipeline's --jsonl_fields.")
    p.add_argument(
        "--max_article_bytes",
        type=int,
        metavar="N",
        help=f"With --preview: as the pipeline's flag. Default: {DEFAULT_MAX_ARTICLE_BYTES}.",
    )
    p.add_argument(
        "--all",
        action="store_true",
        help=f"List everything (runs, rejected inputs, entities, preview records), not the first {LIST_LIMIT}.",
    )
    p.add_argument("--full", action="store_true", help="Show bodies and removed lines whole, not cut short.")
    p.add_argument("--json", action="store_true", help="Print the same facts as JSON (lists are never cut short).")
    return p


def _run(args: argparse.Namespace) -> tuple[Any, list[str]]:
    """(facts, report lines) for the parsed command line."""
    if args.preview is not None:
        if args.output is not None or args.id is not None:
            raise UsageError("--preview FILE reads an input file: give it without OUTPUT or --id")
        max_bytes = DEFAULT_MAX_ARTICLE_BYTES if args.max_article_bytes is None else args.max_article_bytes
        limit = None if args.all or args.json else LIST_LIMIT
        facts = preview(args.preview, args.rules, args.jsonl_fields, max_bytes, limit)
        return facts, render_preview(facts, args.full)
    if args.output is None:
        raise UsageError(f"name a dataset (OUTPUT) or an input file (--preview FILE); {PROG} --help says more")
    for flag in ("rules", "jsonl_fields", "max_article_bytes"):
        if getattr(args, flag) is not None:
            raise UsageError(f"--{flag} only applies to --preview")
    out = open_dataset(args.output)
    if args.id is not None:
        row = find_article(out, args.id)
        return row, render_article(row, args.full, args.all)
    facts = overview(out, show_all=args.all or args.json)
    return facts, render_overview(facts, args.all)


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (``news-inspect``); returns the exit status."""
    try:
        args = parser().parse_args(list(sys.argv[1:] if argv is None else argv))
        facts, lines = _run(args)
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (PermissionError, FileNotFoundError) as exc:  # refused, or removed while being read
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        print(json.dumps(facts, indent=2, default=str, ensure_ascii=False) if args.json else "\n".join(lines))
        sys.stdout.flush()
    except BrokenPipeError:  # `... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
