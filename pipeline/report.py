"""The run report: one self-contained HTML page per run, next to its manifest (``_runs/<run_id>.html``).

The page opens offline: no script, font, stylesheet or image is fetched (a Content-Security-Policy
meta tag forbids it, too); the CSS is inline and the charts are inline SVG drawn here. It shows
the run's header (ids, times, inputs, versions, headline counts), the rows per partition,
rejections by reason with examples from the dead-letter files, the run's top entities, the topic
and date distributions, duplicates, the time per stage and the throughput over time, whichever
of these the manifest and the rows record.

- `render_report(manifest, rows, rejections)`: the page, as a string (pure: no I/O);
- `write_report(output_url, run_id)`: reads what the page needs from a dataset, writes the page
  atomically beside the manifest, returns its path (a URL when the output was given as one);
- ``python -m pipeline.report OUTPUT [RUN_ID]``: (re)generates a run's report, the latest run's
  when RUN_ID is omitted.

Imports stay light (no Beam): the report must not pay for, or cycle with, the pipeline.
"""
from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import math
import posixpath
import sys
import urllib.parse
from typing import Any, Callable, Iterable

import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.options import RUN_ID
from pipeline.publish import check_no_glob
from schemas.article import NULL_PARTITION, is_data_file_name
from transforms.errors import UsageError
from transforms.parquet_files import PendingFile

RUNS = "_runs"
REJECTIONS = "_rejected"
SUCCESS = "_SUCCESS"
#: The label of Hive's null partition in the report.
NO_DATE = "no date"
NO_TOPIC = "no topic"
TOP_ENTITIES = 15
EXAMPLES_PER_REASON = 3
DUPLICATE_EXAMPLES = 20
#: Partitions listed in the table; the rest are summed in one line.
MAX_PARTITION_ROWS = 200
#: Longest error message shown in full.
MAX_MESSAGE = 300
#: Columns of a run's rows the report reads (``date``/``topic`` come from the folder names).
ROW_COLUMNS = ("entity_summary",)
OPTIONAL_ROW_COLUMNS = ("duplicate_of", "similarity")
CHART_WIDTH = 940


# -- the page -----------------------------------------------------------------------------


def render_report(manifest: dict[str, Any], rows: pa.Table | None, rejections: list[dict[str, Any]]) -> str:
    """The report of one run as a self-contained HTML page.

    ``manifest``: the run's ``_runs/<run_id>.json``; ``rows``: the run's rows (any of the
    columns ``entity_summary``, ``topic``, ``date``, ``duplicate_of``, ``similarity``,
    ``article_id``, ``title``; rows of other runs are ignored when there is a ``run_id``
    column), or None when they could not be read; ``rejections``: dead-letter records
    (``_rejected/<run_id>.*.jsonl`` lines), of which the first few per reason are shown as
    examples (the counts come from the manifest). Every optional manifest key may be missing.
    """
    run_id = str(manifest.get("run_id") or "unknown run")
    if rows is not None and "run_id" in rows.column_names and manifest.get("run_id"):
        rows = rows.filter(pc.fill_null(pc.equal(rows["run_id"], manifest["run_id"]), False))
    partitions = _partition_counts(manifest, rows)
    body = [
        _header(manifest, run_id),
        _nav(),
        _section("dates", "Articles per date", _dates_section(partitions)),
        _section("topics", "Topics", _topics_section(partitions)),
        _section("partitions", "Articles per partition", _partitions_section(partitions, manifest)),
        _section("rejections", "Rejections", _rejections_section(manifest, rejections)),
        _section("entities", "Top entities", _entities_section(manifest, rows)),
        _section("duplicates", "Duplicates", _duplicates_section(manifest, rows)),
        _section("stages", "Time per stage", _stages_section(manifest)),
        _section("throughput", "Throughput", _throughput_section(manifest)),
        _settings(manifest),
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        # Nothing may be fetched: styles are inline, images are inline SVG.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>Run report {_e(run_id)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(part for part in body if part)
        + f'\n<footer>news-ingest run report · manifest <span class="mono">{_e(posixpath.join(RUNS, run_id + ".json"))}</span></footer>\n'
        "</main>\n</body>\n</html>\n"
    )


_CSS = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d8dee4; --soft: #f6f8fa; --accent: #3b6fb6;
  --accent2: #9db8de; --bad: #b42318; --badsoft: #fdf1f0; --ok: #1a7f37; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--fg); background: #fff;
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans",
  "Liberation Sans", "DejaVu Sans", sans-serif; }
main { max-width: 1000px; margin: 0 auto; padding: 24px 24px 40px; }
h1 { font-size: 22px; margin: 0 0 2px; font-weight: 650; }
h1 .id { font-weight: 500; overflow-wrap: anywhere; }
h2 { font-size: 17px; margin: 30px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); font-weight: 650; }
h3 { font-size: 14px; margin: 16px 0 6px; }
p { margin: 6px 0; }
.sub, .note { color: var(--muted); }
.note { font-size: 13px; }
.mono, code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", "DejaVu Sans Mono", monospace;
  font-size: 12.5px; }
.path { overflow-wrap: anywhere; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 18px; margin: 14px 0; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; overflow-wrap: anywhere; }
ul.plain { margin: 0; padding: 0; list-style: none; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 10px; margin: 14px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; background: var(--soft); }
.card .n { font-size: 24px; font-weight: 650; font-variant-numeric: tabular-nums; line-height: 1.25; }
.card .l { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .d { color: var(--muted); font-size: 12px; }
.card.bad { border-color: #f1b8b3; background: var(--badsoft); }
.card.bad .n { color: var(--bad); }
.alert { border-left: 4px solid var(--bad); background: var(--badsoft); padding: 8px 12px; margin: 10px 0; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; }
th, td { padding: 5px 8px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; background: var(--soft); white-space: nowrap; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tfoot td { font-weight: 600; border-bottom: none; }
td.sharecell { width: 160px; }
.share { display: inline-block; height: 9px; background: var(--accent2); border-radius: 2px; vertical-align: middle; }
.ex { margin: 0 0 4px; }
.ex .msg { color: var(--fg); }
.label { display: inline-block; padding: 0 6px; border-radius: 9px; background: #eef1f5; color: var(--muted);
  font-size: 11.5px; font-weight: 600; }
nav { margin: 10px 0 0; font-size: 13px; }
nav a { color: var(--accent); text-decoration: none; margin-right: 14px; white-space: nowrap; }
svg.chart { display: block; max-width: 100%; height: auto; margin: 6px 0; }
svg.chart text { font-size: 12px; fill: var(--fg); }
svg.chart text.axis { fill: var(--muted); font-size: 11px; }
svg.chart .bar { fill: var(--accent); }
svg.chart .bar.other { fill: #a0a8b2; }
svg.chart .grid { stroke: #e6eaef; stroke-width: 1; }
svg.chart .baseline { stroke: #8c959f; stroke-width: 1; }
svg.chart .line { fill: none; stroke: var(--accent); stroke-width: 2; }
svg.chart .area { fill: var(--accent); fill-opacity: .12; stroke: none; }
svg.chart .dot { fill: var(--accent); }
details { margin: 24px 0 0; }
summary { cursor: pointer; font-weight: 600; }
footer { margin-top: 32px; padding-top: 8px; border-top: 1px solid var(--line); color: var(--muted); font-size: 12px; }
@media print {
  nav { display: none; }
  main { max-width: none; padding: 0; }
  body { font-size: 11pt; }
  section { break-inside: avoid-page; }
  h2 { break-after: avoid; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""

_SECTIONS = [
    ("dates", "Dates"),
    ("topics", "Topics"),
    ("partitions", "Partitions"),
    ("rejections", "Rejections"),
    ("entities", "Entities"),
    ("duplicates", "Duplicates"),
    ("stages", "Stages"),
    ("throughput", "Throughput"),
]


def _e(value: Any) -> str:
    """HTML-escaped text (quotes too, so it is safe in attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _n(value: Any) -> str:
    """A count with thousands separators."""
    return f"{_int(value):,}"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _pct(part: float, whole: float) -> str:
    if not whole:
        return "–"
    share = 100.0 * part / whole
    return f"{share:.0f}%" if share >= 10 or share == 0 else f"{share:.1f}%"


def _seconds(value: float) -> str:
    if float(value).is_integer() and value < 120:
        return f"{value:.0f} s"
    if value < 10:
        return f"{value:.2f} s"
    if value < 120:
        return f"{value:.1f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


def _plain_seconds(value: float) -> str:
    """Seconds, always in seconds (values on one axis must share a unit)."""
    return f"{value:,.2f} s" if value < 10 else f"{value:,.1f} s"


def _time(value: Any) -> str:
    """An ISO timestamp as ``YYYY-MM-DD HH:MM:SS UTC`` (as given when it does not parse)."""
    parsed = _parse_time(value)
    if parsed is None:
        return _e(value) if value else '<span class="sub">not recorded</span>'
    if parsed.utcoffset() == dt.timedelta(0):
        return _e(parsed.strftime("%Y-%m-%d %H:%M:%S UTC"))
    return _e(parsed.isoformat(sep=" "))


def _parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _section(anchor: str, title: str, content: str) -> str:
    return f'<section id="{anchor}">\n<h2>{_e(title)}</h2>\n{content}\n</section>'


def _nav() -> str:
    return "<nav>" + "".join(f'<a href="#{anchor}">{_e(title)}</a>' for anchor, title in _SECTIONS) + "</nav>"


def _not_recorded(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


# -- header -------------------------------------------------------------------------------


def _header(manifest: dict[str, Any], run_id: str) -> str:
    started, finished = _parse_time(manifest.get("started_at")), _parse_time(manifest.get("finished_at"))
    took = ""
    if started and finished and finished >= started:
        took = f' <span class="sub">({_e(_seconds((finished - started).total_seconds()))})</span>'
    inputs = manifest.get("inputs") or (manifest.get("options") or {}).get("input") or []
    if isinstance(inputs, str):
        inputs = [inputs]
    shown_inputs = "".join(f'<li class="mono path">{_e(i)}</li>' for i in inputs[:10])
    if len(inputs) > 10:
        shown_inputs += f'<li class="sub">and {len(inputs) - 10} more</li>'
    models = manifest.get("spacy_models")
    if isinstance(models, dict):
        models = ", ".join(f"{lang}={model}" for lang, model in models.items())
    meta = [
        ("Mode", _e(manifest.get("mode") or "not recorded")),
        ("Started", _time(manifest.get("started_at"))),
        ("Finished", _time(manifest.get("finished_at")) + took),
        ("Published", _time(manifest.get("published_at"))),
        ("Inputs", f'<ul class="plain">{shown_inputs}</ul>' if inputs else '<span class="sub">not recorded</span>'),
        ("Output", f'<span class="mono path">{_e(manifest.get("output") or "not recorded")}</span>'),
        (
            "Versions",
            f'code <span class="mono">{_e(manifest.get("code_version") or "?")}</span>, '
            f'schema <span class="mono">{_e(manifest.get("schema_version") or "?")}</span>',
        ),
    ]
    for key, label in (("taxonomy", "Taxonomy"), ("topic_model", "Topic model"), ("fingerprint", "Settings fingerprint")):
        if manifest.get(key):
            meta.append((label, f'<span class="mono path">{_e(manifest[key])}</span>'))
    if models:
        meta.append(("NER models", f'<span class="mono">{_e(models)}</span>'))
    read = _int(manifest.get("records_read"))
    rejected = _int(manifest.get("articles_rejected"))
    skipped_by_reason = manifest.get("skipped_by_reason") or {}
    skipped_detail = " · ".join(f"{_n(n)} {_e(reason)}" for reason, n in skipped_by_reason.items() if _int(n))
    cards = [
        _card("Files matched", manifest.get("files_matched"), _ignored(manifest)),
        _card("Records read", read),
        _card("Articles written", manifest.get("articles_written"), f"{_n(manifest.get('files_written'))} files" if "files_written" in manifest else ""),
        _card("Rejected", rejected, f"{_pct(rejected, read)} of records read" if rejected else "", bad=rejected > 0),
        _card("Skipped", manifest.get("skipped"), skipped_detail),
    ]
    if manifest.get("match_rejections"):
        cards.append(_card("Inputs not read (no file, a link not followed, a pipe)", manifest["match_rejections"], bad=True))
    if manifest.get("duplicates_dropped"):
        cards.append(_card("Duplicates dropped", manifest["duplicates_dropped"]))
    alerts = []
    if manifest.get("all_inputs_accounted_for") is False:
        alerts.append('<div class="alert">Some input is unaccounted for: files matched ≠ written + rejected + skipped.</div>')
    return (
        f'<header>\n<h1>Run report <span class="id mono">{_e(run_id)}</span></h1>\n'
        f'<p class="sub">What one run of the news-ingest pipeline read, wrote, rejected and skipped.</p>\n'
        '<dl class="meta">' + "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in meta) + "</dl>\n"
        '<div class="cards">' + "".join(cards) + "</div>\n" + "".join(alerts) + _changes(manifest) + "\n</header>"
    )


def _ignored(manifest: dict[str, Any]) -> str:
    ignored = _int(manifest.get("ignored_files"))
    return f"and {_n(ignored)} hidden/system files ignored" if ignored else ""


def _card(label: str, value: Any, detail: str = "", bad: bool = False) -> str:
    shown = _n(value) if value is not None else "–"
    extra = f'<div class="d">{detail}</div>' if detail else ""
    return f'<div class="card{" bad" if bad else ""}"><div class="l">{_e(label)}</div><div class="n">{shown}</div>{extra}</div>'


def _changes(manifest: dict[str, Any]) -> str:
    """What the run changed in earlier data, when anything."""
    lines = []
    rewritten = manifest.get("rewritten_files") or []
    if rewritten:
        lines.append(f"rewrote {_n(len(rewritten))} earlier files without the old rows of inputs processed again")
    if manifest.get("replaced_files"):
        lines.append(f"removed {_n(len(manifest['replaced_files']))} earlier files ({_e(manifest.get('mode'))})")
    if manifest.get("merged_files"):
        lines.append(f"merged {_n(len(manifest['merged_files']))} small earlier files into this run's files")
    for key, text in (
        ("inputs_forgotten", "inputs this run did not process lost their rows"),
        ("rejected_kept_rows", "rejected inputs kept the row an earlier run wrote"),
        ("records_vanished", "records their JSON Lines feed no longer has were removed"),
    ):
        if _int(manifest.get(key)):
            lines.append(f"{_n(manifest[key])} {text}")
    if not lines:
        return ""
    return '<p class="note">Changes to earlier data: ' + "; ".join(lines) + ".</p>"


# -- partitions, dates, topics --------------------------------------------------------------


def _split_partition(partition: str) -> tuple[str | None, str | None]:
    """``date=2025-09-02/topic=politics`` -> ("2025-09-02", "politics"); None for the null partition."""
    values: dict[str, str | None] = {}
    for part in str(partition).strip("/").split("/"):
        key, sep, value = part.partition("=")
        if sep:
            value = urllib.parse.unquote(value)
            values[key] = None if value in (NULL_PARTITION, "") else value
    return values.get("date"), values.get("topic")


def _partition_counts(manifest: dict[str, Any], rows: pa.Table | None) -> list[tuple[str | None, str | None, int]]:
    """(date, topic, rows) of the run: the manifest's ``rows_per_partition``, else the rows'."""
    recorded = manifest.get("rows_per_partition")
    if isinstance(recorded, dict) and recorded:
        return [(*_split_partition(p), _int(n)) for p, n in sorted(recorded.items())]
    if rows is None or rows.num_rows == 0 or not {"date", "topic"} & set(rows.column_names):
        return []
    dates = [None if d is None else str(d) for d in rows["date"].to_pylist()] if "date" in rows.column_names else [None] * rows.num_rows
    topics = rows["topic"].to_pylist() if "topic" in rows.column_names else [None] * rows.num_rows
    counts: dict[tuple[str | None, str | None], int] = {}
    for key in zip(dates, topics):
        counts[key] = counts.get(key, 0) + 1
    return [(d, t, n) for (d, t), n in sorted(counts.items(), key=lambda kv: (kv[0][0] is None, kv[0][0] or "", kv[0][1] or ""))]


def _dates_section(partitions: list[tuple[str | None, str | None, int]]) -> str:
    if not partitions:
        return _not_recorded("No articles written (rows per partition not recorded).")
    by_date: dict[str | None, int] = {}
    for date, _, n in partitions:
        by_date[date] = by_date.get(date, 0) + n
    dated = sorted(d for d in by_date if d is not None)
    days = _fill_days(dated)
    items = [(d, by_date.get(d, 0), "bar") for d in days]
    if None in by_date:
        items.append((NO_DATE, by_date[None], "bar other"))
    total = sum(by_date.values())
    undated = by_date.get(None, 0)
    span = f"{_e(dated[0])} to {_e(dated[-1])}" if len(dated) > 1 else (_e(dated[0]) if dated else "no dated article")
    note = f'<p class="note">{_n(total)} articles; publication dates {span}'
    note += f"; {_n(undated)} ({_pct(undated, total)}) with no known date." if undated else "."
    return _column_chart(items, "Articles per publication date") + note + "</p>"


def _fill_days(dates: list[str]) -> list[str]:
    """The dates, with the days between them that have no article, when they are ISO days
    less than about a year apart (a gap on a time axis should look like one)."""
    try:
        parsed = [dt.date.fromisoformat(d) for d in dates]
    except ValueError:
        return dates
    if len(parsed) < 2 or (parsed[-1] - parsed[0]).days > 400:
        return dates
    return [(parsed[0] + dt.timedelta(days=i)).isoformat() for i in range((parsed[-1] - parsed[0]).days + 1)]


def _topics_section(partitions: list[tuple[str | None, str | None, int]]) -> str:
    if not partitions:
        return _not_recorded("No articles written (rows per partition not recorded).")
    by_topic: dict[str | None, int] = {}
    for _, topic, n in partitions:
        by_topic[topic] = by_topic.get(topic, 0) + n
    total = sum(by_topic.values())
    ranked = sorted(by_topic.items(), key=lambda kv: (-kv[1], kv[0] is None, kv[0] or ""))
    items = [(NO_TOPIC if t is None else t, n) for t, n in ranked]
    chart = _bar_chart(items, "Articles per topic", lambda v: f"{_n(v)} ({_pct(v, total)})")
    return chart + f'<p class="note">{_n(len(by_topic))} topics, {_n(total)} articles.</p>'


def _partitions_section(partitions: list[tuple[str | None, str | None, int]], manifest: dict[str, Any]) -> str:
    if not partitions:
        return _not_recorded("No partition written.")
    total = sum(n for _, _, n in partitions) or 1
    top = max(n for _, _, n in partitions) or 1
    files: dict[tuple[str | None, str | None], int] = {}
    for f in manifest.get("output_files") or []:
        if isinstance(f, dict) and f.get("path"):
            key = _split_partition(posixpath.dirname(f["path"]))
            files[key] = files.get(key, 0) + 1
    body = []
    for date, topic, n in partitions[:MAX_PARTITION_ROWS]:
        body.append(
            "<tr>"
            f"<td>{_e(date) if date else '<span class=sub>' + NO_DATE + '</span>'}</td>"
            f"<td>{_e(topic) if topic else '<span class=sub>' + NO_TOPIC + '</span>'}</td>"
            f'<td class="num">{_n(files.get((date, topic), 0)) if files else "–"}</td>'
            f'<td class="num">{_n(n)}</td><td class="num">{_pct(n, total)}</td>'
            f'<td class="sharecell"><span class="share" style="width:{100.0 * n / top:.1f}%"></span></td>'
            "</tr>"
        )
    rest = partitions[MAX_PARTITION_ROWS:]
    if rest:
        n = sum(r[2] for r in rest)
        body.append(f'<tr><td colspan="3" class="sub">and {_n(len(rest))} more partitions</td><td class="num">{_n(n)}</td><td class="num">{_pct(n, total)}</td><td></td></tr>')
    return (
        '<table><thead><tr><th>Date</th><th>Topic</th><th class="num">Files</th><th class="num">Articles</th>'
        '<th class="num">Share</th><th></th></tr></thead><tbody>'
        + "".join(body)
        + f'</tbody><tfoot><tr><td colspan="2">{_n(len(partitions))} partitions</td>'
        f'<td class="num">{_n(sum(files.values())) if files else "–"}</td><td class="num">{_n(sum(n for _, _, n in partitions))}</td>'
        '<td class="num">100%</td><td></td></tr></tfoot></table>'
    )


# -- rejections ------------------------------------------------------------------------------


def _reason_of(record: dict[str, Any]) -> str:
    return f"{record.get('stage') or '?'}:{record.get('error_type') or '?'}"


def _rejections_section(manifest: dict[str, Any], rejections: list[dict[str, Any]]) -> str:
    counts = {str(k): _int(v) for k, v in (manifest.get("rejected_by_reason") or {}).items()}
    examples: dict[str, list[dict[str, Any]]] = {}
    seen: dict[str, int] = {}
    for record in rejections or []:
        if not isinstance(record, dict):
            continue
        reason = _reason_of(record)
        seen[reason] = seen.get(reason, 0) + 1
        if len(examples.setdefault(reason, [])) < EXAMPLES_PER_REASON:
            examples[reason].append(record)
    for reason, n in seen.items():
        counts.setdefault(reason, n)  # a reason the manifest lacks: what the dead-letter files hold
    if not counts:
        return _not_recorded("Nothing was rejected.")
    total = sum(counts.values())
    body = []
    for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        stage, _, code = reason.partition(":")
        shown = examples.get(reason, [])
        cells = "".join(_example(r) for r in shown) or '<span class="sub">no example in the dead-letter files</span>'
        if n > len(shown) and shown:
            cells += f'<div class="sub">and {_n(n - len(shown))} more</div>'
        body.append(
            f'<tr><td><span class="label">{_e(stage)}</span></td><td class="mono">{_e(code or reason)}</td>'
            f'<td class="num">{_n(n)}</td><td>{cells}</td></tr>'
        )
    files = manifest.get("rejection_files") or []
    where = ""
    if files:
        where = '<p class="note">Every rejection, with its reason: ' + ", ".join(f'<span class="mono path">{_e(f)}</span>' for f in files) + ".</p>"
    return (
        '<table><thead><tr><th>Stage</th><th>Reason</th><th class="num">Count</th><th>Examples (source, error)</th></tr></thead><tbody>'
        + "".join(body)
        + f'</tbody><tfoot><tr><td colspan="2">total</td><td class="num">{_n(total)}</td><td></td></tr></tfoot></table>'
        + where
    )


def _example(record: dict[str, Any]) -> str:
    where = str(record.get("source_path") or "?")
    if record.get("source_line"):
        where += f":{record['source_line']}"
    message = str(record.get("message") or "")
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE] + "…"
    return f'<div class="ex"><span class="mono path">{_e(where)}</span>' + (f' — <span class="msg">{_e(message)}</span>' if message else "") + "</div>"


# -- entities ------------------------------------------------------------------------------


def top_entities(rows: pa.Table, top: int = TOP_ENTITIES) -> list[dict[str, Any]]:
    """The most mentioned (name, label) pairs of the rows' ``entity_summary``: name, label,
    mentions (summed) and articles (rows that mention it), most mentions first."""
    column = rows["entity_summary"]
    lists = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    kind = lists.type
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)) or not pa.types.is_struct(kind.value_type):
        return []
    if not {"name", "label", "mentions"} <= {kind.value_type.field(i).name for i in range(kind.value_type.num_fields)}:
        return []
    if len(lists) == 0:
        return []
    flat = pc.list_flatten(lists)
    if len(flat) == 0:
        return []
    table = pa.table(
        {
            "name": pc.struct_field(flat, "name"),
            "label": pc.struct_field(flat, "label"),
            "mentions": pc.cast(pc.struct_field(flat, "mentions"), pa.int64()),
            "row": pc.list_parent_indices(lists),
        }
    )
    grouped = table.group_by(["name", "label"]).aggregate([("mentions", "sum"), ("row", "count_distinct")])
    ranked = grouped.sort_by([("mentions_sum", "descending"), ("row_count_distinct", "descending"), ("name", "ascending")])
    return [
        {"name": r["name"], "label": r["label"], "mentions": r["mentions_sum"] or 0, "articles": r["row_count_distinct"]}
        for r in ranked.slice(0, top).to_pylist()
    ]


def _entities_section(manifest: dict[str, Any], rows: pa.Table | None) -> str:
    if rows is None:
        return _not_recorded("The run's rows could not be read: entities not shown.")
    if "entity_summary" not in rows.column_names:
        return _not_recorded("The rows have no entity_summary column: entities not shown.")
    found = top_entities(rows)
    if not found:
        return _not_recorded("No entity in the run's articles.")
    top = max(e["mentions"] for e in found) or 1
    body = "".join(
        f'<tr><td class="num sub">{i}</td><td>{_e(e["name"]) if e["name"] is not None else "–"}</td>'
        f'<td><span class="label">{_e(e["label"] or "?")}</span></td>'
        f'<td class="num">{_n(e["mentions"])}</td><td class="num">{_n(e["articles"])}</td>'
        f'<td class="sharecell"><span class="share" style="width:{100.0 * e["mentions"] / top:.1f}%"></span></td></tr>'
        for i, e in enumerate(found, 1)
    )
    note = f"Over the run's {_n(rows.num_rows)} articles"
    written = manifest.get("articles_written")
    if isinstance(written, int) and written != rows.num_rows:
        note += f" found in the dataset (the run wrote {_n(written)}; later runs replaced or removed the others)"
    return (
        '<table><thead><tr><th class="num">#</th><th>Entity</th><th>Label</th><th class="num">Mentions</th>'
        '<th class="num">Articles</th><th></th></tr></thead><tbody>' + body + "</tbody></table>"
        f'<p class="note">{note}; the same name under two labels counts twice.</p>'
    )


# -- duplicates ----------------------------------------------------------------------------

_DUPLICATE_COUNTS = [
    ("exact", "Exact duplicates"),
    ("near", "Near duplicates"),
    ("marked", "Marked"),
    ("dropped", "Dropped"),
    ("of_earlier_runs", "Of earlier runs"),
]


def _duplicates_section(manifest: dict[str, Any], rows: pa.Table | None) -> str:
    recorded = manifest.get("duplicates")
    if isinstance(recorded, dict):
        return _recorded_duplicates(recorded, rows)
    if rows is not None and "duplicate_of" in rows.column_names:
        marked = rows.filter(pc.is_valid(rows["duplicate_of"]))
        exact = 0
        if "similarity" in rows.column_names and marked.num_rows:
            exact = pc.sum(pc.cast(pc.fill_null(pc.greater_equal(marked["similarity"], 1.0), False), pa.int64())).as_py() or 0
        cards = _card("Exact duplicates", exact) + _card("Near duplicates", marked.num_rows - exact) + _card("Articles", rows.num_rows)
        return (
            f'<div class="cards">{cards}</div>'
            '<p class="note">Counted from the rows\' duplicate_of and similarity columns; the manifest does not record '
            "the duplicate policy.</p>"
        )
    return _not_recorded("Duplicate detection off / not recorded.")


def _recorded_duplicates(recorded: dict[str, Any], rows: pa.Table | None) -> str:
    policy = recorded.get("policy")
    if policy == "off":
        return _not_recorded("Duplicate detection off (--dedup off).")
    threshold = _number(recorded.get("threshold"))
    head = f'<p>Policy <span class="mono">{_e(policy or "not recorded")}</span>'
    if threshold is not None:
        head += f', near-duplicate threshold <span class="mono">{threshold:g}</span> (estimated Jaccard similarity)'
    head += ".</p>"
    known = dict(_DUPLICATE_COUNTS)
    keys = [k for k, _ in _DUPLICATE_COUNTS if k in recorded] + [
        k for k, v in recorded.items() if k not in known and k not in ("policy", "threshold", "examples") and _number(v) is not None
    ]
    cards = "".join(_card(known.get(k, k.replace("_", " ").capitalize()), recorded.get(k)) for k in keys)
    out = head + (f'<div class="cards">{cards}</div>' if cards else "")
    examples = [e for e in recorded.get("examples") or [] if isinstance(e, dict)]
    if not examples:
        return out
    titles = _titles(rows)
    body = []
    for example in examples[:DUPLICATE_EXAMPLES]:
        similarity = _number(example.get("similarity"))
        sim = "–" if similarity is None else (f"{similarity:.2f} (exact)" if similarity >= 1.0 else f"{similarity:.2f}")
        original = example.get("original_source_id") or (f"article {example['duplicate_of']}" if example.get("duplicate_of") else "?")
        body.append(
            f'<tr><td><span class="mono path">{_e(example.get("source_id") or example.get("article_id") or "?")}</span>'
            f"{_title_line(titles.get(example.get('article_id')))}</td>"
            f'<td><span class="mono path">{_e(original)}</span>{_title_line(titles.get(example.get("duplicate_of")))}</td>'
            f'<td class="num">{sim}</td></tr>'
        )
    more = len(examples) - DUPLICATE_EXAMPLES
    return (
        out
        + '<table><thead><tr><th>Article</th><th>Duplicate of</th><th class="num">Similarity</th></tr></thead><tbody>'
        + "".join(body)
        + "</tbody></table>"
        + (f'<p class="note">and {_n(more)} more examples in the manifest.</p>' if more > 0 else "")
    )


def _titles(rows: pa.Table | None) -> dict[str, str]:
    if rows is None or not {"article_id", "title"} <= set(rows.column_names):
        return {}
    return {a: t for a, t in zip(rows["article_id"].to_pylist(), rows["title"].to_pylist()) if a and t}


def _title_line(title: str | None) -> str:
    return f'<div class="sub">{_e(title)}</div>' if title else ""


# -- stages, throughput, settings -----------------------------------------------------------


def _stages_section(manifest: dict[str, Any]) -> str:
    recorded = manifest.get("stage_seconds")
    items = [(str(k), v) for k, v in (recorded.items() if isinstance(recorded, dict) else []) if _number(v) is not None]
    if not items:
        return _not_recorded("Time per stage: not recorded.")
    total = sum(v for _, v in items)
    chart = _bar_chart(items, "Seconds per stage", lambda v: f"{_plain_seconds(v)} ({_pct(v, total)})", integer=False)
    overall = _plain_seconds(total) + (f" ({_seconds(total)})" if total >= 120 else "")
    return chart + f'<p class="note">{_n(len(items))} stages, {_e(overall)} in all (stages may overlap).</p>'


def _throughput_section(manifest: dict[str, Any]) -> str:
    points = []
    for point in manifest.get("timeline") or []:
        if isinstance(point, (list, tuple)) and len(point) == 2:
            x, y = _number(point[0]), _number(point[1])
            if x is not None and y is not None:
                points.append((x, y))
    points.sort()
    if len(points) < 2:
        return _not_recorded("Throughput over time: not recorded.")
    (x0, y0), (x1, y1) = points[0], points[-1]
    rate = (y1 - y0) / (x1 - x0) if x1 > x0 else 0.0
    return _line_chart(points, "Articles done over time") + (
        f'<p class="note">{_n(y1)} articles in {_e(_seconds(x1))}; {rate:,.1f} articles/s on average.</p>'
    )


def _settings(manifest: dict[str, Any]) -> str:
    options = manifest.get("options")
    if not isinstance(options, dict) or not options:
        return ""
    body = "".join(
        f'<tr><td class="mono">{_e(k)}</td><td class="mono path">{_e(v if isinstance(v, str) else json.dumps(v))}</td></tr>'
        for k, v in sorted(options.items())
    )
    return f"<details><summary>Options of the run</summary><table><tbody>{body}</tbody></table></details>"


# -- charts (inline SVG) ---------------------------------------------------------------------


def _ticks(top: float, count: int = 5, integer: bool = True) -> list[float]:
    """Round axis values from 0 to at least ``top``, about ``count`` steps."""
    if top <= 0:
        return [0, 1]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    if integer:
        step = max(1, math.ceil(step))
    steps = math.ceil(top / step - 1e-9)
    return [step * i for i in range(steps + 1)]


def _tick_label(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.6f}".rstrip("0").rstrip(".")


def _text_width(text: str) -> float:
    return 6.8 * len(text)


def _short(text: str, limit: int = 38) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _svg(title: str, width: int, height: int, parts: Iterable[str]) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{_e(title)}">'
        f"<title>{_e(title)}</title>" + "".join(parts) + "</svg>"
    )


def _bar_chart(items: list[tuple[str, float]], title: str, value_text: Callable[[float], str], integer: bool = True) -> str:
    """Horizontal bars, one per (label, value), the value written at the end of each bar."""
    if not items:
        return ""
    width, row, top, axis = CHART_WIDTH, 24, 6, 22
    label_w = min(280, max(60, max(_text_width(_short(label)) for label, _ in items) + 14))
    value_w = max(_text_width(value_text(v)) for _, v in items) + 12
    ticks = _ticks(max(v for _, v in items), integer=integer)
    plot_w = width - label_w - value_w
    scale = plot_w / ticks[-1]
    height = top + row * len(items) + axis
    bottom = top + row * len(items)
    parts = []
    for t in ticks:
        x = label_w + t * scale
        parts.append(f'<line class="grid" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}"/>')
        parts.append(f'<text class="axis" x="{x:.1f}" y="{bottom + 15}" text-anchor="middle">{_e(_tick_label(t))}</text>')
    for i, (label, value) in enumerate(items):
        y = top + i * row
        w = value * scale
        parts.append(
            f'<text x="{label_w - 8:.1f}" y="{y + row / 2:.1f}" dy=".35em" text-anchor="end"><title>{_e(label)}</title>{_e(_short(label))}</text>'
            f'<rect class="bar" x="{label_w:.1f}" y="{y + 4}" width="{max(w, 1.5 if value > 0 else 0):.1f}" height="{row - 8}" rx="2"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + row / 2:.1f}" dy=".35em">{_e(value_text(value))}</text>'
        )
    parts.append(f'<line class="baseline" x1="{label_w:.1f}" y1="{top}" x2="{label_w:.1f}" y2="{bottom}"/>')
    return _svg(title, width, height, parts)


def _column_chart(items: list[tuple[str, float, str]], title: str) -> str:
    """Vertical bars over a category axis (dates), with a value axis; (label, value, css class)."""
    if not items:
        return ""
    width, left, right, top = CHART_WIDTH, 48, 12, 16
    plot_w = width - left - right
    slot = plot_w / len(items)
    rotate = slot < 74
    every = max(1, math.ceil(len(items) / 40)) if rotate else 1
    bottom_h = 78 if rotate else 26
    plot_h = 180
    height = top + plot_h + bottom_h
    ticks = _ticks(max(v for _, v, _ in items))
    scale = plot_h / ticks[-1]
    base = top + plot_h
    parts = []
    for t in ticks:
        y = base - t * scale
        parts.append(f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{left - 6}" y="{y:.1f}" dy=".35em" text-anchor="end">{_e(_tick_label(t))}</text>')
    bar_w = min(56.0, max(1.0, slot * 0.72))
    for i, (label, value, css) in enumerate(items):
        cx = left + slot * (i + 0.5)
        h = value * scale
        parts.append(
            f'<rect class="{css}" x="{cx - bar_w / 2:.1f}" y="{base - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}">'
            f"<title>{_e(label)}: {_e(_n(value))}</title></rect>"
        )
        if value and slot >= 22:
            parts.append(f'<text x="{cx:.1f}" y="{base - h - 4:.1f}" text-anchor="middle">{_e(_n(value))}</text>')
        if i % every == 0 or css != "bar":
            if rotate:
                parts.append(
                    f'<text class="axis" x="{cx:.1f}" y="{base + 10}" text-anchor="end" '
                    f'transform="rotate(-45 {cx:.1f} {base + 10})">{_e(label)}</text>'
                )
            else:
                parts.append(f'<text class="axis" x="{cx:.1f}" y="{base + 16}" text-anchor="middle">{_e(label)}</text>')
    parts.append(f'<line class="baseline" x1="{left}" y1="{base}" x2="{width - right}" y2="{base}"/>')
    return _svg(title, width, height, parts)


def _line_chart(points: list[tuple[float, float]], title: str) -> str:
    """Articles done (y) against seconds since the start (x)."""
    width, left, right, top, plot_h = CHART_WIDTH, 56, 32, 12, 200
    height = top + plot_h + 40
    x_max = max(x for x, _ in points)
    unit, per = ("s", 1.0) if x_max <= 300 else (("min", 60.0) if x_max <= 3 * 3600 else ("h", 3600.0))
    x_ticks = [t * per for t in _ticks(x_max / per, count=8, integer=False)]
    y_ticks = _ticks(max(y for _, y in points))
    plot_w = width - left - right
    sx, sy = plot_w / x_ticks[-1], plot_h / y_ticks[-1]
    base = top + plot_h
    parts = []
    for t in y_ticks:
        y = base - t * sy
        parts.append(f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{left - 6}" y="{y:.1f}" dy=".35em" text-anchor="end">{_e(_tick_label(t))}</text>')
    for t in x_ticks:
        x = left + t * sx
        parts.append(f'<line class="grid" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{base}"/>')
        parts.append(f'<text class="axis" x="{x:.1f}" y="{base + 16}" text-anchor="middle">{_e(_tick_label(t / per))} {unit}</text>')
    xy = [(left + x * sx, base - y * sy) for x, y in points]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    parts.append(f'<polygon class="area" points="{xy[0][0]:.1f},{base} {line} {xy[-1][0]:.1f},{base}"/>')
    parts.append(f'<polyline class="line" points="{line}"/>')
    if len(points) <= 60:
        parts += [
            f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="3"><title>{_e(_seconds(px))}: {_e(_n(py))} articles</title></circle>'
            for (x, y), (px, py) in zip(xy, points)
        ]
    parts.append(f'<line class="baseline" x1="{left}" y1="{base}" x2="{width - right}" y2="{base}"/>')
    parts.append(f'<text class="axis" x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle">time since the run started</text>')
    return _svg(title, width, height, parts)


# -- reading a dataset -------------------------------------------------------------------------


def _open_output(output_url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    try:
        fs, root = fsspec.core.url_to_fs(output_url.rstrip("/") or "/")
    except (ImportError, ValueError) as exc:
        raise UsageError(f"cannot open output {output_url}: {exc}") from None
    check_no_glob(output_url, root)
    return fs, root.rstrip("/") or "/"


def _url(fs: fsspec.AbstractFileSystem, output_url: str, root: str, path: str) -> str:
    """A path under the output as the user would write it: under their URL when they gave one."""
    if "://" not in output_url:
        return path
    return posixpath.join(output_url.rstrip("/"), posixpath.relpath(path, root))


def latest_run(output_url: str) -> str:
    """The id of the run that published last (``_SUCCESS``, else the newest manifest)."""
    fs, root = _open_output(output_url)
    if not fs.exists(root):
        raise UsageError(f"no such output: {output_url}")
    success = posixpath.join(root, SUCCESS)
    if fs.exists(success):
        run_id = fs.cat_file(success).decode("utf-8", "replace").strip()
        if run_id and fs.exists(posixpath.join(root, RUNS, f"{run_id}.json")):
            return run_id
    manifests = []
    runs = posixpath.join(root, RUNS)
    if fs.exists(runs):
        for path in fs.ls(runs, detail=False):
            name = posixpath.basename(path.rstrip("/"))
            if name.endswith(".json") and not name.startswith("."):
                try:
                    manifest = json.loads(fs.cat_file(path))
                except ValueError:
                    continue
                if isinstance(manifest, dict) and "published_at" in manifest:
                    manifests.append((str(manifest["published_at"]), str(manifest.get("run_id") or name[:-5]), name[:-5]))
    if not manifests:
        raise UsageError(f"{output_url} has no published run (no manifest in {RUNS}/)")
    return max(manifests)[2]


def read_manifest(output_url: str, run_id: str) -> dict[str, Any]:
    fs, root = _open_output(output_url)
    if not fs.exists(root):
        raise UsageError(f"no such output: {output_url}")
    path = posixpath.join(root, RUNS, f"{run_id}.json")
    if not fs.exists(path):
        raise UsageError(f"no run {run_id} in {output_url} (no {RUNS}/{run_id}.json)")
    manifest = json.loads(fs.cat_file(path))
    if not isinstance(manifest, dict):
        raise UsageError(f"{_url(fs, output_url, root, path)} is not a run manifest")
    return manifest


def read_run_rows(output_url: str, manifest: dict[str, Any]) -> pa.Table | None:
    """The run's rows, with the columns the report needs and ``date``/``topic`` from the folder
    names: the files the manifest lists, filtered on ``run_id`` (a merged file also holds other
    runs' rows); for a listed file a later run has since merged away, the rest of its partition.
    None when the manifest lists no file."""
    fs, root = _open_output(output_url)
    run_id = manifest.get("run_id")
    listed = [f["path"] for f in manifest.get("output_files") or [] if isinstance(f, dict) and f.get("path")]
    if not listed:
        return None
    duplicates = manifest.get("duplicates")
    extra = ("article_id", "title", "source_path", "source_line") if isinstance(duplicates, dict) else ()
    tables, done, gone = [], set(), set()
    for rel in listed:
        path = posixpath.join(root, rel)
        if fs.exists(path):
            tables.append(_read_rows(fs, path, rel, run_id, extra))
            done.add(rel)
        else:
            gone.add(posixpath.dirname(rel))
    for partition in sorted(gone):
        for path in sorted(fs.glob(posixpath.join(root, partition, "*.parquet"))):
            rel = posixpath.relpath(fs._strip_protocol(path), root)
            if rel not in done and is_data_file_name(posixpath.basename(rel)):
                tables.append(_read_rows(fs, path, rel, run_id, extra))
    tables = [t for t in tables if t.num_rows] or tables[:1]
    if not tables:
        return pa.table({"entity_summary": pa.array([], pa.list_(pa.struct([("name", pa.string()), ("label", pa.string()), ("mentions", pa.int32())])))})
    return pa.concat_tables(tables, promote_options="default")


def _read_rows(fs: fsspec.AbstractFileSystem, path: str, rel: str, run_id: str | None, extra: tuple[str, ...]) -> pa.Table:
    with fs.open(path, "rb") as f:
        parquet = pq.ParquetFile(f)
        names = set(parquet.schema_arrow.names)
        columns = [c for c in (*ROW_COLUMNS, *OPTIONAL_ROW_COLUMNS, *extra, "run_id") if c in names]
        table = parquet.read(columns=columns)
    if "run_id" in table.column_names:
        if run_id:
            table = table.filter(pc.fill_null(pc.equal(table["run_id"], run_id), False))
        table = table.drop_columns(["run_id"])
    date, topic = _split_partition(posixpath.dirname(rel))
    try:
        day = dt.date.fromisoformat(date) if date else None
    except ValueError:
        day = None
    table = table.append_column("date", pa.array([day] * table.num_rows, pa.date32()))
    return table.append_column("topic", pa.array([topic] * table.num_rows, pa.string()))


def read_rejections(output_url: str, manifest: dict[str, Any], per_reason: int = EXAMPLES_PER_REASON) -> list[dict[str, Any]]:
    """The first ``per_reason`` dead-letter records of each reason, from the run's
    ``_rejected/<run_id>.*.jsonl`` (the files the manifest lists, when it lists them)."""
    fs, root = _open_output(output_url)
    run_id = str(manifest.get("run_id") or "")
    listed = manifest.get("rejection_files")
    if isinstance(listed, list):
        paths = [posixpath.join(root, rel) for rel in listed]
    else:
        folder = posixpath.join(root, REJECTIONS)
        found = fs.ls(folder, detail=False) if fs.exists(folder) else []
        paths = sorted(
            p for p in found if posixpath.basename(p).startswith(run_id + ".") and posixpath.basename(p).endswith(".jsonl")
        )
    kept: list[dict[str, Any]] = []
    per: dict[str, int] = {}
    for path in paths:
        if not fs.exists(path):
            continue
        with fs.open(path, "rt", encoding="utf-8", errors="replace") as lines:
            for line in lines:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(record, dict):
                    continue
                reason = _reason_of(record)
                if per.get(reason, 0) < per_reason:
                    per[reason] = per.get(reason, 0) + 1
                    kept.append(record)
    return kept


def duplicate_examples(output_url: str, manifest: dict[str, Any], rows: pa.Table | None, limit: int = 50) -> list[dict[str, Any]]:
    """Up to ``limit`` duplicates of the run: the copies it dropped (``_duplicates/``) and the
    rows it marked, each with the article it repeats (its source when that is in this run)."""
    examples: list[dict[str, Any]] = []
    fs, root = _open_output(output_url)
    for rel in manifest.get("duplicate_files") or []:
        path = posixpath.join(root, rel)
        if not fs.exists(path):
            continue
        with fs.open(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                if len(examples) >= limit:
                    return examples
                record = json.loads(line)
                sid = record.get("source_path", "") + (f"#L{record['source_line']}" if record.get("source_line") else "")
                examples.append({**record, "source_id": sid})
    if rows is None or "duplicate_of" not in rows.column_names or "source_path" not in rows.column_names:
        return examples
    listed = rows.select([c for c in ("article_id", "source_path", "source_line", "duplicate_of", "similarity") if c in rows.column_names]).to_pylist()
    source_of = {r.get("article_id"): r["source_path"] + (f"#L{r['source_line']}" if r.get("source_line") else "") for r in listed}
    for r in listed:
        if r["duplicate_of"] is None:
            continue
        if len(examples) >= limit:
            break
        examples.append(
            {
                "article_id": r.get("article_id"),
                "source_id": source_of.get(r.get("article_id")),
                "duplicate_of": r["duplicate_of"],
                "original_source_id": source_of.get(r["duplicate_of"]),
                "similarity": r.get("similarity"),
            }
        )
    return examples


def write_report(output_url: str, run_id: str) -> str:
    """Write the report of run ``run_id`` to ``<output>/_runs/<run_id>.html`` (under a temporary
    name, then moved into place) and return its path (a URL when ``output_url`` is one)."""
    manifest = read_manifest(output_url, run_id)
    rows = read_run_rows(output_url, manifest)
    if isinstance(manifest.get("duplicates"), dict) and not manifest["duplicates"].get("examples"):
        manifest = {**manifest, "duplicates": {**manifest["duplicates"], "examples": duplicate_examples(output_url, manifest, rows)}}
    try:
        page = render_report(manifest, rows, read_rejections(output_url, manifest))
    except (AttributeError, TypeError, KeyError) as exc:  # a field of another type or missing
        raise UsageError(f"{output_url}: the manifest of run {run_id} is damaged ({type(exc).__name__}: {exc})") from exc
    fs, root = _open_output(output_url)
    target = posixpath.join(root, RUNS, f"{run_id}.html")
    with PendingFile(fs, target, ".tmp") as out:
        out.write(page.encode("utf-8"))
    return _url(fs, output_url, root, target)


# -- command line --------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        raise UsageError(f"{message} (usage: python -m pipeline.report OUTPUT [RUN_ID])")


def main(argv: list[str] | None = None) -> int:
    """``python -m pipeline.report OUTPUT [RUN_ID]``: write a run's report, print its path."""
    parser = _Parser(
        prog="python -m pipeline.report",
        description="Write the HTML report of a run (the latest when RUN_ID is omitted) to OUTPUT/_runs/<run_id>.html "
        "and print its path. The page is self-contained: it opens offline.",
    )
    parser.add_argument("output", help="the dataset root (any fsspec URL), as given to --output")
    parser.add_argument("run_id", nargs="?", help="the run (default: the latest that published)")
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
        if args.run_id is not None and not RUN_ID.fullmatch(args.run_id):
            raise UsageError(f"RUN_ID {args.run_id!r}: a run id has letters, digits, '.', '_' and '-' only")
        path = write_report(args.output, args.run_id or latest_run(args.output))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:  # a manifest or file that cannot be read as one
        print(f"error: {args.output}: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
