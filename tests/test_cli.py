"""The command line a scheduled job relies on: strict flags, one-line errors with exit 2 for a
user's mistakes (never a traceback), and exit 3 when a run needs a look."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.__main__ import main
from tests.conftest import REPO, SAMPLES


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def out(tmp_path):
    return str(tmp_path / "out")


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--dry-run"], "unknown flag --dry-run; did you mean --dry_run?"),
        (["--topic-model", "keywords"], "unknown flag --topic-model; did you mean --topic_model?"),
        (["--max_artcle_bytes", "10"], "unknown flag --max_artcle_bytes; did you mean --max_article_bytes?"),
        (["--no_such_thing=1"], "unknown flag --no_such_thing"),
        (["--mode", "increment"], "argument --mode: invalid choice: 'increment'"),
        (["--max_article_bytes", "0"], "--max_article_bytes must be a positive number"),
        (["--min_rows_per_file", "600", "--max_rows_per_file", "1000"], "at most half"),
        (["--max_reject_ratio", "2"], "--max_reject_ratio must be within 0-1"),
        (["--quiet", "--verbose"], "--quiet and --verbose contradict"),
        (["--run_id", ".."], "--run_id '..': use letters, digits"),
        (["--run_id", "a/b"], "--run_id 'a/b': use letters, digits"),
        (["--input", ""], "--input is empty (an unset variable?)"),
        (["--runner", "NoSuchRunner"], "--runner NoSuchRunner: "),
        (["--runner", "DaskRunner"], "DaskRunner gives wrong results"),
    ],
)
def test_a_mistyped_or_bad_flag_stops_before_any_work(flags, message, out, capsys):
    assert main(["--input", str(SAMPLES), "--output", out, *flags]) == 2
    assert message in _one_line_error(capsys)
    assert not os.path.exists(out)


def test_a_model_directory_without_meta_is_a_usage_error(tmp_path, out, capsys):
    model = tmp_path / "model"
    model.mkdir()
    assert main(["--input", str(SAMPLES), "--output", out, "--spacy_model", f"en={model}"]) == 2
    assert "meta.json" in _one_line_error(capsys)


def test_a_misspelt_output_flag_is_named(capsys, tmp_path):
    assert main(["--input", str(SAMPLES), "--ouput", str(tmp_path / "o")]) == 2
    assert "unknown flag --ouput; did you mean --output?" in _one_line_error(capsys)


def test_a_glob_the_shell_expanded_stops_with_the_hint_to_quote_it(out, capsys):
    expanded = sorted(str(p) for p in SAMPLES.glob("*.txt"))
    assert main(["--input", *expanded, "--output", out]) == 2
    line = _one_line_error(capsys)
    assert repr(expanded[1]) in line and "quote it (--input 'dir/*.txt')" in line
    assert not os.path.exists(out)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--output", "/tmp/x"], "--input is required"),
        (["--input", "x"], "--output is required"),
    ],
)
def test_required_flags(argv, message, capsys):
    assert main(argv) == 2
    assert message in _one_line_error(capsys)


def test_output_that_is_a_file_or_under_a_file(tmp_path, capsys):
    regular = tmp_path / "file.txt"
    regular.write_text("x")
    assert main(["--input", str(SAMPLES), "--output", str(regular)]) == 2
    assert f"--output {regular} is a file, not a folder" in _one_line_error(capsys)
    assert main(["--input", str(SAMPLES), "--output", str(regular / "sub")]) == 2
    assert f"is under {regular}, which is a file" in _one_line_error(capsys)
    assert regular.read_text() == "x"


def test_output_that_cannot_be_written(tmp_path, capsys, monkeypatch):
    # Root may write anywhere, so the permission answer is what the check is given here.
    import pipeline.publish

    monkeypatch.setattr(pipeline.publish.os, "access", lambda path, mode: False)
    assert main(["--input", str(SAMPLES), "--output", str(tmp_path / "out")]) == 2
    assert f"{tmp_path} is not writable by this user" in _one_line_error(capsys)


def test_a_dataset_folder_the_run_cannot_write_stops_it_before_any_work(tmp_path, out, capsys, monkeypatch):
    """A ``_runs/`` owned by another account stopped the run after its data moved in (exit 1,
    a changed article's old row still there); ``_runs`` as a file did the same."""
    import pipeline.publish

    assert main(["--input", str(SAMPLES), "--output", out, "--topic_model", "keywords"]) == 0
    capsys.readouterr()
    runs = os.path.join(out, "_runs")
    real_access = os.access
    monkeypatch.setattr(pipeline.publish.os, "access", lambda path, mode: path != runs and real_access(path, mode))
    assert main(["--input", str(SAMPLES), "--output", out, "--topic_model", "keywords", "--mode", "rebuild"]) == 2
    assert f"{runs} is not writable by this user" in _one_line_error(capsys)
    monkeypatch.undo()
    shutil.rmtree(runs)
    Path(runs).write_text("")
    assert main(["--input", str(SAMPLES), "--output", out, "--topic_model", "keywords", "--mode", "rebuild"]) == 2
    assert f"{runs} is a file, where the dataset keeps a folder" in _one_line_error(capsys)


@pytest.mark.parametrize("flag", ["--rules", "--topics", "--entity_aliases"])
def test_yaml_syntax_error_names_the_flag_file_line_and_column(flag, tmp_path, out, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: x\n    pattern: [unclosed\n")
    assert main(["--input", str(SAMPLES), "--output", out, flag, str(bad)]) == 2
    line = _one_line_error(capsys)
    assert line.startswith(f"error: {flag}: {bad}: YAML syntax error at line 4, column 1"), line


@pytest.mark.parametrize("flag", ["--rules", "--topics", "--entity_aliases"])
def test_a_missing_data_file_names_its_flag(flag, tmp_path, out, capsys):
    assert main(["--input", str(SAMPLES), "--output", out, flag, str(tmp_path / "nope.yaml")]) == 2
    assert _one_line_error(capsys) == f"error: {flag}: {tmp_path / 'nope.yaml'}: no such file"


@pytest.mark.parametrize(
    "setting, hint",
    [
        ("de=de_core_news_sm", "python -m spacy download de_core_news_sm"),
        ("en=en_core_web_sm,fr=fr_core_news_md", "python -m spacy download fr_core_news_md"),
        ("/no/such/model", "spaCy model directory '/no/such/model' does not exist"),
    ],
)
def test_a_missing_spacy_model_says_how_to_install_that_model(setting, hint, out, capsys, monkeypatch):
    import transforms.entities

    # en_core_web_sm may or may not be installed here; the message is about the other one.
    real = transforms.entities.importlib.util.find_spec
    monkeypatch.setattr(transforms.entities.importlib.util, "find_spec", lambda n: real("os") if n == "en_core_web_sm" else real(n))
    assert main(["--input", str(SAMPLES), "--output", out, "--spacy_model", setting]) == 2
    assert hint in _one_line_error(capsys)


def test_nothing_matched_exits_3_and_creates_no_output(tmp_path, out, capsys):
    assert main(["--input", str(tmp_path / "missing-folder"), "--input", str(tmp_path / "*.txt"), "--output", out]) == 3
    err = capsys.readouterr().err
    assert f"--input {tmp_path / 'missing-folder'} matched no file" in err and "Traceback" not in err
    assert not os.path.exists(out)


def test_a_pattern_without_files_or_too_many_rejections_exit_3_after_publishing(tmp_path, out, capsys):
    inbox = tmp_path / "in"
    inbox.mkdir()
    shutil.copy(next(SAMPLES.glob("000_*.txt")), inbox / "good.txt")
    common = ["--output", out, "--topic_model", "keywords"]
    assert main(["--input", str(inbox), "--input", str(tmp_path / "none-*.txt"), *common]) == 3
    assert "1 input pattern matched no file" in capsys.readouterr().err
    assert os.path.exists(os.path.join(out, "_SUCCESS"))

    for i in range(2):
        (inbox / f"empty{i}.txt").write_bytes(b"")
    assert main(["--input", str(inbox), *common]) == 3
    assert "2 of 2 records were rejected, more than --max_reject_ratio 0.5" in capsys.readouterr().err
    (inbox / "empty2.txt").write_bytes(b"")
    assert main(["--input", str(inbox), *common, "--max_reject_ratio", "1"]) == 0


def test_the_real_command_line_prints_one_line_under_its_own_name(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "--input", str(SAMPLES), "--output", str(tmp_path), "--mode", "increment"],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: argument --mode: invalid choice: 'increment' (choose from 'incremental', 'overwrite_partitions', 'rebuild')"
    ]
    usage = subprocess.run([sys.executable, "-m", "pipeline", "--help"], cwd=REPO, capture_output=True, text=True)
    assert usage.stdout.startswith("usage: python -m pipeline") and "exit status:" in usage.stdout


@pytest.mark.slow
def test_the_scheduled_run_script_and_the_airflow_entry_point(tmp_path):
    inbox = tmp_path / "in"
    inbox.mkdir()
    shutil.copy(next(SAMPLES.glob("000_*.txt")), inbox / "a.txt")
    env = {**os.environ, "INBOX": str(inbox), "DATASET": str(tmp_path / "out"), "PYTHON": sys.executable,
           "EXTRA_FLAGS": "--topic_model keywords"}  # fmt: skip
    script = REPO / "deploy" / "cron" / "run-scheduled.sh"
    first = subprocess.run([str(script)], env=env, capture_output=True, text=True)
    assert first.returncode == 0 and first.stdout == "", first.stderr  # --quiet: nothing for cron to mail
    assert (tmp_path / "out" / "_SUCCESS").exists()
    env["INBOX"] = str(tmp_path / "nothing-here")
    missing = subprocess.run([str(script)], env=env, capture_output=True, text=True)
    assert missing.returncode == 3 and "matched no file" in missing.stderr

    entry = subprocess.run([sys.executable, str(REPO / "deploy" / "airflow" / "run_pipeline.py"), "--help"], capture_output=True, text=True)
    assert entry.returncode == 0 and "--input" in entry.stdout


def test_an_output_under_a_broken_link_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    assert main(["--input", str(SAMPLES), "--output", str(tmp_path / "link" / "out")]) == 2
    assert "cannot create it" in _one_line_error(capsys)


@pytest.mark.parametrize("content", [b"", b"hello\n", None])
def test_a_topic_model_file_that_is_no_head_is_a_one_line_error(content, tmp_path, out, capsys):
    import numpy as np

    head = tmp_path / "head.npz"
    if content is None:
        np.savez(head, a=np.zeros(2))  # an .npz, but not a head
    else:
        head.write_bytes(content)
    assert main(["--input", str(SAMPLES), "--output", out, "--topic_model", str(head)]) == 2
    assert f"{head} is not a topic head" in _one_line_error(capsys)


def test_an_output_inside_an_input_folder_is_refused(tmp_path, capsys):
    # The run would read its own lock, manifest and report as articles on the next run.
    (tmp_path / "a.txt").write_text("Council votes to expand river flood defences. " * 5)
    assert main(["--input", str(tmp_path), "--output", str(tmp_path / "out")]) == 2
    assert "is inside --input" in _one_line_error(capsys)
    assert main(["--input", f"{tmp_path}/**/*.json*", "--output", str(tmp_path / "out")]) == 2
    assert "is inside --input" in _one_line_error(capsys)
    # A glob that cannot reach the run's files is fine.
    assert main(["--input", f"{tmp_path}/**/*.txt", "--output", str(tmp_path / "out"), "--topic_model", "keywords"]) == 0


@pytest.mark.parametrize(
    "pattern, refused",
    [
        ("{d}/in/*/*", True),  # reaches out/_SUCCESS
        ("{d}/in/*/*/*.json*", True),  # reaches out/_runs/<run>.json
        ("file://{d}/in", True),
        ("{d}/link", True),  # a link to the folder that holds the output
        ("{d}/in/*", False),  # one level: the output folder itself is not read
        ("{d}/in/**/*.txt", False),
        ("{d}/side", False),
    ],
)
def test_which_inputs_would_read_the_run_s_own_files(pattern, refused, tmp_path):
    from pipeline.config import _walks_into

    (tmp_path / "in" / "out").mkdir(parents=True)
    (tmp_path / "side").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "in")
    assert _walks_into(pattern.format(d=tmp_path), str(tmp_path / "in" / "out")) is refused


@pytest.mark.parametrize("mode", ["rebuild", "overwrite_partitions"])
def test_streaming_only_adds_each_window(mode, out, capsys):
    # Each window would replace what the windows before it wrote.
    assert main(["--input", str(SAMPLES), "--output", out, "--streaming", "--mode", mode]) == 2
    assert "--streaming with --mode" in _one_line_error(capsys)


@pytest.mark.parametrize("flag", ["--watch_interval", "--window_seconds", "--progress_interval"])
def test_a_number_that_is_not_finite_is_refused(flag, out, capsys):
    assert main(["--input", str(SAMPLES), "--output", out, flag, "nan"]) == 2
    assert f"{flag} must be a finite number" in _one_line_error(capsys)


def test_a_run_id_the_dataset_already_has_is_refused(tmp_path, out, capsys):
    (tmp_path / "a.txt").write_text("Council votes to expand river flood defences. " * 5)
    flags = ["--input", str(tmp_path / "a.txt"), "--output", out, "--topic_model", "keywords", "--run_id", "r1"]
    assert main(flags) == 0
    capsys.readouterr()
    assert main(flags) == 2  # its manifest, ledger and report would be overwritten
    assert "already has a run of that id" in _one_line_error(capsys)


def test_compact_refuses_a_run_id_that_is_no_file_name(out, capsys):
    from pipeline.compact import main as compact_main

    assert main(["--input", str(SAMPLES), "--output", out, "--topic_model", "keywords"]) == 0
    capsys.readouterr()
    assert compact_main([out, "--run_id", "../../evil"]) == 2
    assert "--run_id '../../evil'" in _one_line_error(capsys)


def test_compact_refuses_a_run_id_the_dataset_already_has(out, capsys):
    """Its manifest and ledger would be overwritten, and an index rebuilt from the ledgers would
    take that run's inputs for new ones."""
    from pipeline.compact import main as compact_main

    assert main(["--input", str(SAMPLES), "--output", out, "--topic_model", "keywords", "--run_id", "r1"]) == 0
    before = (Path(out) / "_runs" / "r1.json").read_text()
    capsys.readouterr()
    assert compact_main([out, "--run_id", "r1"]) == 2
    assert "already has a run of that id" in _one_line_error(capsys)
    assert (Path(out) / "_runs" / "r1.json").read_text() == before
    assert compact_main([out, "--run_id", ".json"]) == 2  # a hidden manifest, _runs/.json.json
    assert "not starting with '.'" in _one_line_error(capsys)
    assert compact_main([out, "--no_merge"]) == 2  # said nothing, exit 0
    assert "--no_merge leaves nothing to do" in _one_line_error(capsys)


def test_a_parquet_file_set_aside_with_a_hidden_prefix_is_no_data_for_the_tools(out, capsys):
    """Readers skip ``_name`` and ``.name``; compaction, inspect and the index must too (compact
    merged a set-aside copy back into the data: every row twice)."""
    import pyarrow.parquet as pq

    from pipeline.compact import main as compact_main
    from pipeline.publish import DatasetOutput
    from schemas.article import read_dataset

    assert main(["--input", str(SAMPLES), "--output", out, "--topic_model", "keywords"]) == 0
    rows = read_dataset(out).count_rows()
    first = sorted(Path(out).glob("date=*/topic=*/*.parquet"))[0]
    for name in ("_quarantined.parquet", ".hidden.parquet"):
        shutil.copy(first, first.parent / name)
    assert not [f for f in DatasetOutput(out).partition_files() if "hidden" in f or "quarantined" in f]
    assert compact_main([out, "--min_rows_per_file", "1000", "--max_rows_per_file", "5000"]) == 0
    assert read_dataset(out).count_rows() == rows
    assert pq.read_metadata(first.parent / "_quarantined.parquet").num_rows > 0  # left where it was


def test_a_damaged_data_file_or_index_is_a_one_line_error_naming_it(tmp_path, out, capsys):
    """An empty or truncated Parquet file in a partition, or an index that is not one, was a
    pyarrow traceback without the file's name in inspect, compact, convert and the next run."""
    from pipeline.compact import main as compact_main
    from pipeline.inspect import main as inspect_main

    changed = tmp_path / "in" / "a.txt"
    changed.parent.mkdir()
    changed.write_text("Council votes to expand river flood defences after a wet winter. " * 5)
    flags = ["--input", str(changed.parent), "--output", out, "--topic_model", "keywords"]
    assert main(flags) == 0
    (data,) = Path(out).glob("date=*/topic=*/*.parquet")
    data.write_bytes(data.read_bytes()[:300])
    capsys.readouterr()
    rel = str(data.relative_to(out))
    assert inspect_main([out]) == 2
    assert f"{rel} is not a readable Parquet file" in _one_line_error(capsys)
    assert compact_main([out]) == 2
    assert f"{rel} is not a readable Parquet file" in _one_line_error(capsys)
    changed.write_text(changed.read_text() + " A correction.")  # its old row is in the damaged file
    assert main(flags) == 2
    assert f"{rel} is not a readable Parquet file" in _one_line_error(capsys)
    data.unlink()
    (Path(out) / "_index" / "inputs.parquet").write_bytes(b"")
    assert main(flags) == 2
    assert "_index/inputs.parquet of " in _one_line_error(capsys)


def test_sigterm_stops_a_run_like_ctrl_c_and_releases_the_lock(out, monkeypatch, capsys):
    # A scheduler stops a job with SIGTERM; killed outright, the run's lock would hold the output.
    import os
    import signal

    from transforms import faults

    def terminated_at(point):
        if point == "pipeline-finished":
            os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(faults, "reached", terminated_at)
    assert main(["--input", str(SAMPLES), "--output", out, "--topic_model", "keywords"]) == 130
    assert signal.getsignal(signal.SIGTERM) is before  # the caller's handler is back
    assert "stopped: the lock is released" in capsys.readouterr().err
    assert not os.path.exists(os.path.join(out, "_lock"))
    assert not os.path.exists(os.path.join(out, "_runs"))  # nothing published


@pytest.mark.parametrize(
    "args, message",
    [
        (["cleaning", "{d}/nowhere"], "not a folder"),
        (["cleaning", "{d}"], "nothing to score"),
        (["metadata", "{d}/labels.jsonl"], "not a folder"),
        (["topics", "{d}"], "not a file"),
        (["topics", "{d}/labels.jsonl"], "line 1: expected"),
    ],
)
def test_evaluate_says_in_one_line_what_it_cannot_score(args, message, tmp_path, capsys):
    from pipeline.evaluate import main as evaluate_main

    (tmp_path / "labels.jsonl").write_text('{"text": "no label"}\n')
    assert evaluate_main([a.format(d=tmp_path) for a in args]) == 2
    assert message in _one_line_error(capsys)
