"""Crash safety: SIGKILL the pipeline at points across read, process, write and publish,
re-run after each kill, and check that every article ends up in the dataset exactly once."""
from __future__ import annotations

import hashlib
import json
import os
import pathlib
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from benchmarks.corpus import build_corpus
from transforms.faults import ENV
from pipeline.main import run
from schemas.article import read_dataset
from tests.conftest import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ARTICLES = 100
#: (point, n-th time reached): spread over every phase of a run.
KILLS_BEFORE_CHANGE = [
    ("read", 3),
    ("read", 80),
    ("entities", 1),
    ("entities", 6),
    ("write-before-rename", 1),
    ("write", 2),
    ("pipeline-finished", 1),
]
KILLS_AFTER_CHANGE = [
    ("publish-before-journal", 1),
    ("publish-after-journal", 1),
    ("publish-move", 1),
    ("publish-move", 3),
    ("publish-rewrite", 1),
    ("publish-before-manifest", 1),
    ("publish-before-cleanup", 1),
]


#: The points of a Delta publish around its commit, in this order: the first kill stops a
#: publish, the next two stop its roll-forward before and after the commit (moves and the
#: steps after the manifest are the Hive test's).
DELTA_KILLS = ["publish-after-journal", "publish-before-commit", "publish-after-commit"]


def _run_cli(corpus, out, model, kill: tuple[str, int] | None, *flags: str) -> int:
    env = {k: v for k, v in os.environ.items() if k != ENV}
    if kill:
        env[ENV] = f"{kill[0]}:{kill[1]}"
    argv = ["--input", str(corpus), "--output", str(out), "--spacy_model", model, "--ner_batch_size", "16", *flags]
    return subprocess.run([sys.executable, "-m", "pipeline", *argv], cwd=REPO, env=env, capture_output=True).returncode


def test_killed_runs_never_lose_or_duplicate_an_article(tmp_path, ruler_model):
    corpus = tmp_path / "corpus"
    paths = build_corpus(corpus, ARTICLES)
    out = tmp_path / "out"
    killed = 0
    for kill in KILLS_BEFORE_CHANGE:
        killed += _run_cli(corpus, out, ruler_model, kill) == -9
    assert _run_cli(corpus, out, ruler_model, None) == 0  # let one run publish, so later changes supersede rows
    for path in paths[:3]:  # change three inputs: their rows must be replaced, not duplicated
        path.write_text(path.read_text("utf-8") + "\n\nA correction was appended to this article.\n", "utf-8")
    for kill in KILLS_AFTER_CHANGE:
        killed += _run_cli(corpus, out, ruler_model, kill) == -9
    assert _run_cli(corpus, out, ruler_model, None) == 0
    assert killed >= 12

    table = read_dataset(str(out)).to_table(columns=["source_path", "content_sha256", "body"])
    by_path = {}
    for row in table.to_pylist():
        assert row["source_path"] not in by_path, f"duplicate {row['source_path']}"
        by_path[row["source_path"]] = row
    assert set(by_path) == {str(p) for p in paths}  # nothing lost
    for path in paths[:3]:
        assert by_path[str(path)]["body"].endswith("A correction was appended to this article.")
    assert not (out / "_staging").exists() and not (out / "_lock").exists()

    # Manifests agree with the files: every file on disk was published by a manifest that
    # counts its rows, and nothing a manifest still claims is missing.
    claimed, removed = {}, set()
    for manifest_path in sorted((out / "_runs").glob("*.json")):
        manifest = json.loads(manifest_path.read_text())
        claimed.update({f["path"]: f["rows"] for f in manifest["output_files"]})
        removed.update(r["file"] for r in manifest["rewritten_files"] if not r["staged"])
        removed.update(manifest["replaced_files"])
    on_disk = {str(p.relative_to(out)) for p in out.glob("date=*/topic=*/*.parquet")}
    assert on_disk == set(claimed) - removed
    rewritten = {r["file"] for m in (out / "_runs").glob("*.json") for r in json.loads(m.read_text())["rewritten_files"]}
    for rel in on_disk - rewritten:
        assert pq.read_metadata(out / rel).num_rows == claimed[rel]


def test_incremental_rerun_writes_nothing_and_loads_no_model(tmp_path, monkeypatch):
    corpus = tmp_path / "corpus"
    build_corpus(corpus, ARTICLES)
    out = tmp_path / "out"
    first = run(["--input", str(corpus), "--output", str(out)])
    assert first["articles_written"] == ARTICLES
    before = sorted(str(p.relative_to(out)) for p in out.rglob("*"))

    import transforms.entities

    def no_model(*args, **kwargs):
        raise AssertionError("an incremental re-run of unchanged inputs loaded the spaCy model")

    monkeypatch.setattr(transforms.entities, "load_ner", no_model)
    again = run(["--input", str(corpus), "--output", str(out)])
    assert (again["articles_written"], again["files_written"], again["skipped"]) == (0, 0, ARTICLES)
    assert again["skipped_by_reason"] == {"unchanged": ARTICLES} and again["published"] is False
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == before  # nothing added, nothing touched


def test_a_delta_reader_never_sees_a_killed_publish(tmp_path, ruler_model):
    """SIGKILL around a Delta publish's commit, in the publish and in its roll-forward; before
    the next run, a Delta reader sees every article exactly once, in one of its input's versions."""
    from deltalake import DeltaTable

    corpus = tmp_path / "corpus"
    paths = build_corpus(corpus, 24)
    out = tmp_path / "out"
    delta = ("--table_format", "delta", "--min_rows_per_file", "4")  # merges happen too
    assert _run_cli(corpus, out, ruler_model, None, *delta) == 0

    def sha(path):
        return hashlib.sha256(path.read_bytes()).hexdigest()

    versions = {str(p): {sha(p)} for p in paths}  # every version each input has had
    for i, point in enumerate(DELTA_KILLS):
        for path in paths[2 * i : 2 * i + 2]:  # two changed inputs: their rows are rewritten
            path.write_text(path.read_text("utf-8") + f"\n\nCorrection number {i} was appended.\n", "utf-8")
            versions[str(path)].add(sha(path))
        assert _run_cli(corpus, out, ruler_model, (point, 1), *delta) == -9, point
        rows = DeltaTable(str(out)).to_pyarrow_table(columns=["source_path", "content_sha256"]).to_pylist()
        seen = [r["source_path"] for r in rows]
        assert len(seen) == len(set(seen)), f"duplicates after a kill at {point}"
        assert set(seen) == set(versions), f"rows missing after a kill at {point}"
        assert all(r["content_sha256"] in versions[r["source_path"]] for r in rows)
    assert _run_cli(corpus, out, ruler_model, None, *delta) == 0  # rolls forward, then processes the rest
    table = DeltaTable(str(out))
    rows = table.to_pyarrow_table(columns=["source_path", "content_sha256"]).to_pylist()
    stale = [r["source_path"] for r in rows if r["content_sha256"] != sha(pathlib.Path(r["source_path"]))]
    assert sorted(r["source_path"] for r in rows) == sorted(str(p) for p in paths) and not stale, stale
    # One commit per published run: a rolled-forward publish never committed twice.
    manifests = [json.loads(m.read_text()) for m in (out / "_runs").glob("*.json")]
    assert len(table.history()) == len(manifests) == len({m["delta_transaction"] for m in manifests})
    assert not (out / "_staging").exists() and not (out / "_lock").exists()
