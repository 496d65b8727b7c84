"""The run report (pipeline/report.py): figures, escaping, offline-ness, a real dataset, a real browser."""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import time
import zlib
from html.parser import HTMLParser
from urllib.parse import quote

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline import report
from pipeline.report import main, read_rejections, read_run_rows, render_report, write_report
from tests.conftest import SAMPLES

XSS = "<script>alert(1)</script>"
ENTITY = pa.struct([("name", pa.string()), ("label", pa.string()), ("mentions", pa.int32())])

MANIFEST = {
    "run_id": "run-42",
    "started_at": "2025-09-10T08:00:00+00:00",
    "finished_at": "2025-09-10T08:01:30+00:00",
    "published_at": "2025-09-10T08:01:31+00:00",
    "code_version": "0.1.0",
    "schema_version": "2.1",
    "inputs": [f"/in/{XSS}/*.txt", "https://example.com/feed.jsonl"],
    "output": "/data/out",
    "mode": "incremental",
    "files_matched": 9,
    "records_read": 9,
    "articles_written": 6,
    "articles_rejected": 3,
    "skipped": 0,
    "skipped_by_reason": {},
    "rejected_by_reason": {"read:empty_file": 2, "clean:no_text_after_cleaning": 1},
    "files_written": 3,
    "rows_per_partition": {
        "date=2025-09-02/topic=politics": 3,
        "date=2025-09-04/topic=sport": 1,
        "date=__HIVE_DEFAULT_PARTITION__/topic=politics": 2,
    },
    "output_files": [
        {"path": "date=2025-09-02/topic=politics/part-a.parquet", "rows": 3},
        {"path": "date=2025-09-04/topic=sport/part-b.parquet", "rows": 1},
        {"path": "date=__HIVE_DEFAULT_PARTITION__/topic=politics/part-c.parquet", "rows": 2},
    ],
    "rejection_files": ["_rejected/run-42.read.jsonl", "_rejected/run-42.clean.jsonl"],
    "all_inputs_accounted_for": True,
    "duplicates": {
        "policy": "mark",
        "threshold": 0.8,
        "exact": 1,
        "near": 2,
        "dropped": 0,
        "examples": [
            {"source_id": "/in/b.txt", "article_id": "id-b", "duplicate_of": "id-a", "original_source_id": "/in/a.txt", "similarity": 1.0},
            {"source_id": f"/in/{XSS}.txt", "article_id": "id-x", "duplicate_of": "id-a", "original_source_id": None, "similarity": 0.87},
        ],
    },
    "stage_seconds": {"read": 1.5, "clean": 2.25, "entities": 12.0, "write": 0.75},
    "timeline": [[0, 0], [30, 2], [60, 5], [90, 6]],
}

REJECTIONS = [
    {"source_path": "/in/empty1.txt", "source_line": None, "stage": "read", "error_type": "empty_file", "message": "no bytes"},
    {"source_path": f"/in/{XSS}.txt", "source_line": 4, "stage": "read", "error_type": "empty_file", "message": f"bad {XSS}"},
    {"source_path": "/in/boiler.txt", "stage": "clean", "error_type": "no_text_after_cleaning", "message": "all boilerplate"},
]


def _rows(run_id: str = "run-42") -> pa.Table:
    return pa.table(
        {
            "article_id": ["id-a", "id-b", "id-c", "id-d", "id-x", "id-f"],
            "title": ["Summit", "Summit again", None, "Match", XSS, None],
            "entity_summary": pa.array(
                [
                    [{"name": "Xi Jinping", "label": "PERSON", "mentions": 4}, {"name": "Beijing", "label": "GPE", "mentions": 2}],
                    [{"name": "Xi Jinping", "label": "PERSON", "mentions": 3}],
                    [{"name": XSS, "label": "ORG", "mentions": 1}],
                    [],
                    None,
                    [{"name": "Beijing", "label": "GPE", "mentions": 1}],
                ],
                pa.list_(ENTITY),
            ),
            "topic": ["politics", "politics", "politics", "sport", "politics", "politics"],
            "date": pa.array([dt.date(2025, 9, 2)] * 3 + [dt.date(2025, 9, 4), None, None], pa.date32()),
            "run_id": [run_id] * 6,
        }
    )


class Page(HTMLParser):
    """The text of a report, per section (``<section id=...>``; "header" before the first):
    its table rows as lists of cell texts, and all its text."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.rows: dict[str, list[list[str]]] = {}
        self.texts: dict[str, list[str]] = {}
        self.hrefs: list[str] = []
        self.section = "header"
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._skip = 0
        self.feed(page)

    #: Tags whose content reads as separate words (inline ones, like span, join their neighbours).
    BLOCKS = {"div", "p", "li", "td", "th", "tr", "h1", "h2", "h3", "dt", "dd", "section", "text", "br", "a", "summary"}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in self.BLOCKS:
            self.texts.setdefault(self.section, []).append(" ")
        if "href" in attrs:
            self.hrefs.append(attrs["href"])
        if tag in ("style", "head", "title"):  # title: a tooltip, not shown
            self._skip += 1
        elif tag == "section":
            self.section = attrs.get("id")
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag in ("div", "br", "li", "p") and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag):
        if tag in self.BLOCKS:
            self.texts.setdefault(self.section, []).append(" ")
        if tag in ("style", "head", "title"):  # title: a tooltip, not shown
            self._skip -= 1
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.setdefault(self.section, []).append(self._row)
            self._row = None
        elif tag == "section":
            self.section = "after"

    def handle_data(self, data):
        if self._skip:
            return
        self.texts.setdefault(self.section, []).append(data)
        if self._cell is not None:
            self._cell.append(data)

    def text(self, section: str) -> str:
        return " ".join("".join(self.texts.get(section, [])).split())


#: A reference the browser would fetch from the network: src/href/... to a remote URL, a CSS
#: @import or url() of one. An <svg xmlns="http://..."> namespace is not a fetch.
REMOTE = re.compile(
    r"""\b(?:src|href|xlink:href|srcset|action|poster|data|background)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//"""
    r"""|@import|url\(\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//""",
    re.IGNORECASE,
)


def assert_offline(page: str) -> None:
    assert not REMOTE.search(page), REMOTE.search(page)
    for tag in ("<script", "<link", "<img", "<iframe", "<object", "<embed", "@font-face"):
        assert tag not in page.lower(), tag
    for href in Page(page).hrefs:
        assert href.startswith("#"), href


def test_render_shows_the_figures():
    page = Page(render_report(MANIFEST, _rows(), REJECTIONS))
    header = page.text("header")
    for figure in ("Files matched 9", "Records read 9", "Articles written 6", "Rejected 3", "Skipped 0"):
        assert figure in header
    assert "incremental" in header and "2025-09-10 08:00:00 UTC" in header and "(90 s)" in header
    assert "code 0.1.0, schema 2.1" in header and "/data/out" in header

    partitions = page.rows["partitions"]
    assert ["2025-09-02", "politics", "1", "3", "50%", ""] in partitions
    assert ["2025-09-04", "sport", "1", "1", "17%", ""] in partitions
    assert ["no date", "politics", "1", "2", "33%", ""] in partitions
    assert ["3 partitions", "3", "6", "100%", ""] in partitions

    rejections = page.rows["rejections"]
    empty = next(r for r in rejections if r[1] == "empty_file")
    assert empty[:3] == ["read", "empty_file", "2"]
    assert "/in/empty1.txt — no bytes" in empty[3] and f"/in/{XSS}.txt:4 — bad {XSS}" in empty[3]
    assert ["clean", "no_text_after_cleaning", "1", "/in/boiler.txt — all boilerplate"] in rejections
    assert "_rejected/run-42.read.jsonl" in page.text("rejections")

    entities = page.rows["entities"]
    assert entities[1] == ["1", "Xi Jinping", "PERSON", "7", "2", ""]
    assert entities[2] == ["2", "Beijing", "GPE", "3", "2", ""]
    assert entities[3] == ["3", XSS, "ORG", "1", "1", ""]

    topics = page.text("topics")
    assert "politics 5 (83%)" in topics and "sport 1 (17%)" in topics
    dates = page.text("dates")
    assert "2025-09-02" in dates and "2025-09-03" in dates and "no date" in dates  # the empty day between is drawn

    duplicates = page.text("duplicates")
    assert "Policy mark, near-duplicate threshold 0.8" in duplicates
    assert "Exact duplicates 1" in duplicates and "Near duplicates 2" in duplicates and "Dropped 0" in duplicates
    assert ["/in/b.txt Summit again", "/in/a.txt Summit", "1.00 (exact)"] in page.rows["duplicates"]
    assert [f"/in/{XSS}.txt {XSS}", "article id-a Summit", "0.87"] in page.rows["duplicates"]

    stages = page.text("stages")
    assert "entities 12.0 s (73%)" in stages and "0 2.5 5 7.5 10 12.5" in stages and "read 1.50 s (9.1%)" in stages and "16.5 s in all" in stages
    throughput = page.text("throughput")
    assert "6 articles in 90 s" in throughput and "0.1 articles/s" in throughput and "90 s" in throughput


def test_user_text_is_escaped():
    manifest = {**MANIFEST, "run_id": f"run{XSS}", "output": f"/out/{XSS}", "rows_per_partition": {f"date=2025-09-02/topic={quote(XSS, safe='')}": 1}}
    html = render_report(manifest, _rows(run_id=f"run{XSS}"), REJECTIONS)
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    page = Page(html)
    assert f"Run report run{XSS}" in page.text("header")
    assert f"/out/{XSS}" in page.text("header")
    assert [f"/in/{XSS}.txt {XSS}", "article id-a Summit", "0.87"] in page.rows["duplicates"]  # a title
    assert XSS in page.text("topics")  # a topic (URL-quoted in the folder name), inside the SVG


def test_nothing_is_fetched_from_the_network():
    html = render_report(MANIFEST, _rows(), REJECTIONS)
    assert_offline(html)
    assert "https://example.com/feed.jsonl" in Page(html).text("header")  # shown as text, not fetched
    # The check itself catches what it should, and lets an SVG namespace through.
    for bad in ('<img src="https://x.org/a.png">', "<a href='//cdn.x/y'>", "@import 'x.css';", "background: url( http://x/y.png)"):
        assert REMOTE.search(bad), bad
    assert not REMOTE.search('<svg xmlns="http://www.w3.org/2000/svg"><a href="#top">')


def test_missing_optional_keys():
    html = render_report({"run_id": "bare"}, None, [])
    page = Page(html)
    assert "Run report bare" in page.text("header")
    assert "not recorded" in page.text("header")
    assert "Duplicate detection off / not recorded." in page.text("duplicates")
    assert "Time per stage: not recorded." in page.text("stages")
    assert "Throughput over time: not recorded." in page.text("throughput")
    assert "Nothing was rejected." in page.text("rejections")
    assert "could not be read" in page.text("entities")
    assert_offline(html)
    # A one-point timeline is not a line; policy off; a manifest without partitions uses the rows.
    manifest = {"run_id": "run-42", "timeline": [[0, 0]], "duplicates": {"policy": "off"}, "stage_seconds": {}}
    page = Page(render_report(manifest, _rows(), []))
    assert "Throughput over time: not recorded." in page.text("throughput")
    assert "Duplicate detection off" in page.text("duplicates")
    assert ["2025-09-02", "politics", "–", "3", "50%", ""] in page.rows["partitions"]
    assert ["no date", "politics", "–", "2", "33%", ""] in page.rows["partitions"]


def test_duplicates_counted_from_the_rows_when_the_manifest_lacks_them():
    rows = _rows().append_column("duplicate_of", pa.array([None, "id-a", None, None, "id-a", None], pa.string()))
    rows = rows.append_column("similarity", pa.array([None, 1.0, None, None, 0.9, None], pa.float64()))
    manifest = {k: v for k, v in MANIFEST.items() if k != "duplicates"}
    text = Page(render_report(manifest, rows, [])).text("duplicates")
    assert "Exact duplicates 1" in text and "Near duplicates 1" in text and "duplicate_of" in text


def test_rows_of_other_runs_are_ignored():
    rows = pa.concat_tables([_rows(), _rows(run_id="other-run")])
    entities = Page(render_report(MANIFEST, rows, [])).rows["entities"]
    assert entities[1] == ["1", "Xi Jinping", "PERSON", "7", "2", ""]


# -- reading a dataset ----------------------------------------------------------------------


def _write(root, rel: str, run_ids: list[str], with_duplicates: bool = False) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = {
        "article_id": [f"{r}-{i}" for i, r in enumerate(run_ids)],
        "entity_summary": pa.array([[{"name": "Putin", "label": "PERSON", "mentions": 2}]] * len(run_ids), pa.list_(ENTITY)),
        "run_id": run_ids,
    }
    if with_duplicates:
        columns["duplicate_of"] = pa.array(["x"] + [None] * (len(run_ids) - 1), pa.string())
        columns["similarity"] = pa.array([0.9] + [None] * (len(run_ids) - 1), pa.float64())
    pq.write_table(pa.table(columns), path)


def test_reads_only_the_runs_rows_and_finds_merged_ones(tmp_path):
    # part-a: a merged file with another run's row; part-b: merged away by a later run into part-m.
    _write(tmp_path, "date=2025-09-02/topic=politics/part-a.parquet", ["r1", "r0", "r1"])
    _write(tmp_path, f"date={report.NULL_PARTITION}/topic=sport/part-m.parquet", ["r2", "r1"], with_duplicates=True)
    _write(tmp_path, "date=2025-09-03/topic=sport/part-z.parquet", ["r1"])  # not listed: not read
    manifest = {
        "run_id": "r1",
        "output_files": [
            {"path": "date=2025-09-02/topic=politics/part-a.parquet", "rows": 2},
            {"path": f"date={report.NULL_PARTITION}/topic=sport/part-b.parquet", "rows": 1},
        ],
    }
    rows = read_run_rows(str(tmp_path), manifest)
    assert rows.num_rows == 3
    assert sorted(rows.column_names) == ["date", "duplicate_of", "entity_summary", "similarity", "topic"]
    assert sorted(zip(rows["topic"].to_pylist(), map(str, rows["date"].to_pylist()))) == [
        ("politics", "2025-09-02"),
        ("politics", "2025-09-02"),
        ("sport", "None"),
    ]
    assert rows["duplicate_of"].null_count == 3  # r1's row of part-m is not the marked one
    assert read_run_rows(str(tmp_path), {"run_id": "r1"}) is None


def test_rejection_examples_are_capped_per_reason_and_other_runs_ignored(tmp_path):
    folder = tmp_path / "_rejected"
    folder.mkdir()
    lines = [{"source_path": f"/in/{i}.txt", "stage": "read", "error_type": "empty_file", "message": "x"} for i in range(5)]
    lines.append({"source_path": "/in/z.txt", "stage": "clean", "error_type": "no_text_after_cleaning", "message": "y"})
    (folder / "r1.read.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\nnot json\n")
    (folder / "r10.read.jsonl").write_text(json.dumps({**lines[0], "source_path": "/other/run.txt"}) + "\n")
    found = read_rejections(str(tmp_path), {"run_id": "r1"})
    assert [r["source_path"] for r in found] == ["/in/0.txt", "/in/1.txt", "/in/2.txt", "/in/z.txt"]
    assert read_rejections(str(tmp_path), {"run_id": "r1", "rejection_files": []}) == []


def test_write_report_through_fsspec():
    fs = fsspec.filesystem("memory")
    root = "memory://report-test"
    fs.pipe_file("/report-test/_runs/run-42.json", json.dumps({**MANIFEST, "output_files": []}).encode())
    fs.pipe_file("/report-test/_rejected/run-42.read.jsonl", (json.dumps(REJECTIONS[0]) + "\n").encode())
    try:
        assert write_report(root, "run-42") == "memory://report-test/_runs/run-42.html"
        assert sorted(p.rsplit("/", 1)[-1] for p in fs.ls("/report-test/_runs", detail=False)) == ["run-42.html", "run-42.json"]
        page = Page(fs.cat_file("/report-test/_runs/run-42.html").decode())
        assert "/in/empty1.txt — no bytes" in page.text("rejections")
        assert report.latest_run(root) == "run-42"  # no _SUCCESS: the newest manifest
    finally:
        fs.rm("/report-test", recursive=True)


def test_command_line_mistakes_are_one_line(tmp_path, capsys):
    assert main([str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    assert main([str(tmp_path)]) == 2
    assert "no published run" in capsys.readouterr().err
    (tmp_path / "_runs").mkdir()
    (tmp_path / "_runs" / "a.json").write_text(json.dumps({"run_id": "a", "published_at": "2025-01-01T00:00:00+00:00"}))
    assert main([str(tmp_path), "b"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no run b in ") and err.count("\n") == 1
    assert main([]) == 2 and capsys.readouterr().err.count("\n") == 1
    assert main([str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "_runs" / "a.html")
    # A damaged manifest (a field of another type) is named, not a traceback.
    (tmp_path / "_runs" / "a.json").write_text(json.dumps({"run_id": "a", "published_at": "2025-01-01T00:00:00+00:00", "rejected_by_reason": [1]}))
    assert main([str(tmp_path), "a"]) == 2
    err = capsys.readouterr().err
    assert "the manifest of run a is damaged" in err and err.count("\n") == 1


# -- a real run ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory):
    """The pipeline run on the bundled samples (as ./run_local.sh does), and its report."""
    from pipeline.main import run

    out = tmp_path_factory.mktemp("report") / "dataset"
    summary = run(["--input", str(SAMPLES), "--output", str(out), "--run_id", "report-run", "--quiet"])
    return out, summary, write_report(str(out), "report-run")


@pytest.mark.e2e
def test_write_report_on_a_real_run(sample_report):
    out, summary, path = sample_report
    assert path == str(out / "_runs" / "report-run.html")
    html = (out / "_runs" / "report-run.html").read_text("utf-8")
    assert_offline(html)
    page = Page(html)
    assert f"Articles written {summary['articles_written']:,}" in page.text("header")
    assert f"Records read {summary['records_read']:,}" in page.text("header")
    assert sum(int(r[3]) for r in page.rows["partitions"][1:-1]) == summary["articles_written"]
    names = [r[1] for r in page.rows["entities"][1:]]
    assert "Xi Jinping" in names and len(names) == report.TOP_ENTITIES
    for reason, count in summary["rejected_by_reason"].items():
        stage, _, code = reason.partition(":")
        row = next(r for r in page.rows["rejections"] if r[1] == code)
        assert row[:3] == [stage, code, str(count)] and "samples/incoming/" in row[3]
    assert not [p for p in os.listdir(out / "_runs") if p.startswith(".")]  # no temporary file left
    # Regenerating it (the latest run, from the command line) gives the same page.
    assert main([str(out)]) == 0
    assert (out / "_runs" / "report-run.html").read_text("utf-8") == html


def _chromium() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def chromium(binary: str, tmp_path, url: str, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{time.monotonic_ns()}"
    profile.mkdir()
    command = [
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
        f"--user-data-dir={profile}", *args, url,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)


def png_colours(data: bytes) -> int:
    """How many colours a PNG has (at least; PIL when installed, else the distinct bytes of its
    decompressed scanlines: one colour gives at most a handful)."""
    try:
        import io

        from PIL import Image

        image = Image.open(io.BytesIO(data)).convert("RGB")
        colours = image.getcolors(maxcolors=1 << 16)
        return len(colours) if colours is not None else 1 << 16
    except ImportError:
        chunks, at = [], 8
        while at < len(data):
            length = int.from_bytes(data[at : at + 4], "big")
            if data[at + 4 : at + 8] == b"IDAT":
                chunks.append(data[at + 8 : at + 8 + length])
            at += 12 + length
        return len(set(zlib.decompress(b"".join(chunks))))


@pytest.mark.e2e
def test_report_renders_in_a_headless_browser(sample_report, tmp_path):
    binary = _chromium()
    if binary is None:
        pytest.skip("chromium not installed: apt-get install chromium (./run_local.sh test installs it when it can)")
    out, summary, _ = sample_report
    url = (out / "_runs" / "report-run.html").as_uri()
    shot = tmp_path / "shot.png"
    result = chromium(binary, tmp_path, url, f"--screenshot={shot}", "--window-size=1000,1400")
    assert result.returncode == 0, result.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert int.from_bytes(data[16:20], "big") == 1000  # IHDR width: the window's
    assert png_colours(data) > 20

    result = chromium(binary, tmp_path, url, "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    page = Page(result.stdout)
    assert f"Articles written {summary['articles_written']:,}" in page.text("header")
    partition, rows = min(summary["rows_per_partition"].items())
    date, topic = report._split_partition(partition)
    assert page.rows["partitions"][1][:2] == [date or "no date", topic] and page.rows["partitions"][1][3] == str(rows)
    assert "Xi Jinping" in [r[1] for r in page.rows["entities"][1:]]
    reason, count = sorted(summary["rejected_by_reason"].items(), key=lambda kv: (-kv[1], kv[0]))[0]
    assert page.rows["rejections"][1][:3] == [*reason.split(":", 1), str(count)]
    assert topic in page.text("topics") and (date or "no date") in page.text("dates")


def test_a_run_id_that_would_step_outside_runs_is_refused(tmp_path, capsys):
    from pipeline.report import main

    assert main([str(tmp_path), "../x"]) == 2
    assert capsys.readouterr().err.count("\n") == 1 and not (tmp_path / "x.html").exists()
