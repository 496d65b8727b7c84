"""``python -m pipeline.inspect`` on a real dataset (the pipeline run once on the bundled samples)
and on the sample input files: what it reports must be what the dataset holds."""
from __future__ import annotations

import collections
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from pipeline import inspect as inspect_cli
from pipeline.inspect import main
from pipeline.main import run
from schemas.article import SCHEMA_VERSION, read_dataset
from tests.conftest import REPO, SAMPLES

RUN_ID = "inspect-run"
#: The one sample input the pipeline rejects: the feed's record with a blank text.
REJECTED_INPUT = f"{SAMPLES / '006_newswire_feed.jsonl'}#L3"
e2e = pytest.mark.e2e


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> pathlib.Path:
    """Every bundled sample through the real pipeline (keyword topics: no embeddings model to load)."""
    out = tmp_path_factory.mktemp("inspect") / "dataset"
    summary = run(
        ["--input", str(SAMPLES), "--output", str(out), "--run_id", RUN_ID, "--topic_model", "keywords", "--quiet"]
    )
    assert summary["articles_rejected"] == 1 and summary["articles_written"] > 1
    return out


@pytest.fixture(scope="module")
def rows(dataset) -> list[dict]:
    return read_dataset(str(dataset)).to_table().to_pylist()


def _tree(root: pathlib.Path) -> dict[str, tuple[int, int]]:
    """Every file under root with its size and modification time: what "nothing written" compares."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


def _one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: "), lines[0]
    assert captured.out == ""
    return lines[0]


def _words(text: str) -> str:
    return " ".join(text.split())


# -- the dataset ---------------------------------------------------------------------------------


@e2e
def test_partition_rows_and_bytes_are_what_the_dataset_holds(dataset, rows, capsys):
    assert main([str(dataset), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    reported = {(p["date"], p["topic"]): p["rows"] for p in facts["partitions"]}
    read_back = collections.Counter((r["date"].isoformat() if r["date"] else None, r["topic"]) for r in rows)
    assert reported == dict(read_back)
    assert facts["totals"]["rows"] == len(rows)
    on_disk = sum(p.stat().st_size for p in dataset.glob("date=*/topic=*/*.parquet"))
    assert facts["totals"]["bytes"] == sum(p["bytes"] for p in facts["partitions"]) == on_disk
    assert facts["schema_version"]["files"] == {SCHEMA_VERSION: facts["totals"]["files"]}
    assert facts["schema_version"]["manifests"] == {SCHEMA_VERSION: 1}
    (only_run,) = facts["runs"]
    assert (only_run["run_id"], only_run["mode"], only_run["articles_rejected"]) == (RUN_ID, "incremental", 1)
    assert only_run["articles_written"] == len(rows)
    assert facts["warnings"] == []


@e2e
def test_report_shows_the_rejected_sample_with_its_reason(dataset, capsys):
    assert main([str(dataset)]) == 0
    out = capsys.readouterr().out
    assert f"schema version  {SCHEMA_VERSION}" in out
    assert any(line.split()[:1] == [RUN_ID] and "incremental" in line for line in out.splitlines())
    (line,) = [line for line in out.splitlines() if REJECTED_INPUT in line]
    assert "read:empty_body" in line and "field 'text' is empty" in line
    assert "by reason: read:empty_body 1" in out


@e2e
def test_rejected_list_is_cut_short_unless_all(dataset, capsys, monkeypatch):
    monkeypatch.setattr(inspect_cli, "LIST_LIMIT", 0)
    assert main([str(dataset)]) == 0
    out = capsys.readouterr().out
    assert REJECTED_INPUT not in out and "... and 1 more (--all lists them)" in out
    assert main([str(dataset), "--all"]) == 0
    assert REJECTED_INPUT in capsys.readouterr().out


@e2e
def test_interrupted_publish_is_a_warning(dataset, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(dataset, copy)
    (copy / "_staging" / "crashed-run").mkdir(parents=True)
    (copy / "_staging" / "crashed-run" / "_PUBLISHING").write_text("{}")
    assert main([str(copy)]) == 0
    out = capsys.readouterr().out
    assert "warning: the publish of run crashed-run was interrupted" in out


@e2e
def test_a_runs_duplicate_counts_are_shown_when_its_manifest_has_them(dataset, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(dataset, copy)
    manifest_path = copy / "_runs" / f"{RUN_ID}.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["duplicates"] = {"policy": "mark", "exact": 2, "near": 1}
    manifest_path.write_text(json.dumps(manifest))
    assert main([str(copy)]) == 0
    lines = capsys.readouterr().out.splitlines()
    (run_line,) = [i for i, line in enumerate(lines) if line.split()[:1] == [RUN_ID]]
    assert lines[run_line + 1].split() == ["duplicates:", "policy", "mark,", "exact", "2,", "near", "1"]


@pytest.mark.parametrize("kind", ["missing", "empty", "other folder", "a file"])
def test_a_path_that_is_not_a_dataset_is_one_line_and_status_2(kind, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "x.txt").write_text("hello")
    path = {"missing": "nope", "empty": "empty", "other folder": "", "a file": "x.txt"}[kind]
    path = tmp_path / path if path else tmp_path
    assert main([str(path)]) == 2
    assert str(path) in _one_line_error(capsys)


# -- one article ---------------------------------------------------------------------------------


def _article_with_removed_lines(rows: list[dict]) -> dict:
    return next(r for r in rows if r["removed"] and r["entity_summary"])


@e2e
def test_id_prefix_shows_metadata_entities_and_each_removed_line_with_its_rule(rows, dataset, capsys):
    row = _article_with_removed_lines(rows)
    prefix = row["article_id"][:12]
    assert main([str(dataset), "--id", prefix, "--all"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == f"article {row['article_id']}"
    assert any(line.split() == ["source", row["source_path"]] for line in lines)
    for entity in row["entity_summary"]:
        cells = [*entity["name"].split(), entity["label"], str(entity["mentions"])]
        assert any(line.split()[: len(cells)] == cells for line in lines), entity
    for removed in row["removed"]:
        start = _words(removed["text"])[:40]
        assert any(line.split()[:1] == [removed["rule"]] and start in _words(line) for line in lines), removed
    assert _words(row["body"])[:200] in _words(out)


@e2e
def test_id_full_prints_the_whole_body_and_json_the_whole_row(rows, dataset, capsys):
    row = max(rows, key=lambda r: len(r["body"]))
    assert main([str(dataset), "--id", row["article_id"], "--full"]) == 0
    assert _words(row["body"]) in _words(capsys.readouterr().out)
    assert main([str(dataset), "--id", row["article_id"], "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["article_id"] == row["article_id"] and shown["body"] == row["body"]
    assert shown["removed"] == row["removed"] and shown["entities"] == row["entities"]


@e2e
def test_unknown_id_is_one_line_and_status_2(dataset, capsys):
    assert main([str(dataset), "--id", "f" * 32]) == 2
    assert _one_line_error(capsys).startswith(f"error: no article with id {'f' * 32!r}")
    assert main([str(dataset), "--id", "not-an-id"]) == 2
    assert "32 hex digits" in _one_line_error(capsys)


@e2e
def test_an_ambiguous_prefix_names_the_candidates(rows, dataset, capsys):
    by_first = collections.defaultdict(list)
    for r in rows:
        by_first[r["article_id"][0]].append(r["article_id"])
    shared = [ids for ids in by_first.values() if len(ids) > 1]
    if not shared:
        pytest.skip("no two sample ids share a first digit")
    assert main([str(dataset), "--id", shared[0][0][0]]) == 2
    line = _one_line_error(capsys)
    assert f"{len(shared[0])} articles have ids starting with" in line and shared[0][0] in line


@e2e
def test_inspecting_writes_nothing(dataset, rows, capsys):
    before = _tree(dataset)
    assert main([str(dataset), "--all"]) == 0
    assert main([str(dataset), "--id", rows[0]["article_id"]]) == 0
    assert _tree(dataset) == before


# -- one input file --------------------------------------------------------------------------------


@e2e
def test_preview_removes_what_the_run_removed_names_the_rules_and_writes_nothing(rows, tmp_path, capsys, monkeypatch):
    name = "002_f7a01c7bc8273013.txt"
    (written,) = [r for r in rows if r["source_path"].endswith(name)]
    assert written["removed"], "the sample should lose some lines"
    shutil.copy(SAMPLES / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)  # a relative write would land here
    before = _tree(tmp_path)
    assert main(["--preview", str(tmp_path / name), "--full"]) == 0
    out = capsys.readouterr().out
    assert _tree(tmp_path) == before
    assert "repeated-line stage" in out.splitlines()[1]  # the header says what a preview skips
    lines = out.splitlines()
    for removed in written["removed"]:
        if removed["rule"] == "repeated_line":
            continue  # needs the run's other articles
        start = _words(removed["text"])[:40]
        assert any(line.split()[:1] == [removed["rule"]] and start in _words(line) for line in lines), removed
    assert _words(written["body"]) in _words(out)


def test_preview_of_html_lifts_its_metadata(capsys):
    assert main(["--preview", str(SAMPLES / "005_beijing_summit_page.html")]) == 0
    out = capsys.readouterr().out
    assert any(line.split() == ["author", "Mei", "Lin", "Tan"] for line in out.splitlines())
    assert any(line.split()[:3] == ["date", "2025-09-02", "(from"] for line in out.splitlines())
    assert "1 article, 0 rejected" in out


def test_preview_of_a_feed_prints_the_rejected_record_and_exits_0(capsys):
    assert main(["--preview", str(SAMPLES / "006_newswire_feed.jsonl")]) == 0
    out = capsys.readouterr().out
    assert f"record 3: {REJECTED_INPUT}" in out
    assert any(line.split() == ["rejected", "read:empty_body"] for line in out.splitlines())
    assert "3 articles, 1 rejected" in out


def test_preview_applies_a_user_rule_pack(tmp_path, capsys):
    pack = tmp_path / "rules.yaml"
    pack.write_text("rules:\n  - name: no_kremlin\n    pattern: 'Kremlin'\n")
    (sample,) = SAMPLES.glob("000_*.txt")
    assert main(["--preview", str(sample), "--rules", str(pack)]) == 0
    assert any(line.split()[:2] == ["no_kremlin", "Putin"] for line in capsys.readouterr().out.splitlines())


def test_a_bad_rule_pack_is_one_line_and_status_2(tmp_path, capsys):
    (sample,) = SAMPLES.glob("000_*.txt")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: x\n    pattern: [unclosed\n")
    assert main(["--preview", str(sample), "--rules", str(bad)]) == 2
    assert _one_line_error(capsys).startswith(f"error: --rules: {bad}: YAML syntax error at line 4, column 1")
    assert main(["--preview", str(sample), "--rules", str(tmp_path / "nope.yaml")]) == 2
    assert _one_line_error(capsys) == f"error: --rules: {tmp_path / 'nope.yaml'}: no such file"


@pytest.mark.parametrize(
    "argv, says",
    [
        ([], "name a dataset (OUTPUT) or an input file"),
        (["out", "--preview", "x.txt"], "without OUTPUT"),
        (["out", "--rules", "r.yaml"], "--rules only applies to --preview"),
        (["--preview", "/no/such/file.txt"], "no such file"),
        (["--preview", str(SAMPLES)], "is a folder"),
        (["--preview", str(SAMPLES / "006_newswire_feed.jsonl"), "--jsonl_fields", "body"], "--jsonl_fields"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_usage_mistakes_are_one_line_and_status_2(argv, says, capsys):
    assert main(argv) == 2
    assert says in _one_line_error(capsys)


# -- the command ----------------------------------------------------------------------------------


def test_module_runs_with_help_and_errors_in_one_line(tmp_path):
    def inspect(*argv: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        command = [sys.executable, "-m", "pipeline.inspect", *argv]
        return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)

    helped = inspect("--help")
    assert helped.returncode == 0, helped.stderr
    for flag in ("OUTPUT", "--id", "--preview", "--rules", "--all", "--full", "--json", "exit status"):
        assert flag in helped.stdout
    failed = inspect(str(tmp_path))  # Beam's import chatter must not reach stderr
    assert failed.returncode == 2
    (line,) = failed.stderr.splitlines()
    assert line.startswith(f"error: {tmp_path} is an empty folder")


@e2e
def test_on_a_delta_table_an_article_its_current_version_no_longer_has_is_not_found(tmp_path, capsys):
    pytest.importorskip("deltalake")
    inbox = tmp_path / "in"
    inbox.mkdir()
    story = inbox / "a.txt"
    story.write_text("The council voted on Tuesday to expand the river flood defences after two winters of damage.\n")
    out = tmp_path / "table"
    flags = ["--input", str(inbox), "--output", str(out), "--table_format", "delta", "--topic_model", "keywords", "--quiet"]
    run(flags)
    (old,) = [r["article_id"] for r in read_dataset(str(out)).to_table(columns=["article_id"]).to_pylist()]
    story.write_text("Farmers in the valley reported an early harvest after a warm spring this year.\n")
    run(flags)  # the changed input's old row leaves the table's current version (its file stays for time travel)
    capsys.readouterr()
    assert main([str(out), "--id", old]) == 2
    assert "no article with id" in capsys.readouterr().err
