"""Files derived once per machine from installed packages (py3langid's model, the MiniLM graph)."""
from __future__ import annotations

import threading
import time

import pytest

from transforms.cache import cached_file, load_cached


def test_cached_file_builds_once_and_never_leaves_half_a_file(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWS_INGEST_CACHE", str(tmp_path))
    builds = []

    def build(target):
        builds.append(target)
        target.write_text("model")

    assert cached_file("m.bin", build).read_text() == "model"
    assert cached_file("m.bin", build) == tmp_path / "m.bin"
    assert len(builds) == 1 and builds[0] != tmp_path / "m.bin"

    def broken(target):
        target.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        cached_file("other.bin", broken)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.bin"]


def test_threads_building_at_once_each_get_the_whole_file(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWS_INGEST_CACHE", str(tmp_path))

    def slow_build(target):
        with open(target, "wb") as f:
            for _ in range(20):
                f.write(b"x" * 1024)
                f.flush()
                time.sleep(0.005)

    results, errors = [], []

    def worker():
        try:
            results.append(cached_file("big.bin", slow_build).read_bytes())
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for i, t in enumerate(threads):
        t.start()
        time.sleep(0.02 * (i > 0))
    for t in threads:
        t.join()
    assert errors == [] and results == [b"x" * 20480] * 3
    assert [p.name for p in tmp_path.iterdir()] == ["big.bin"]


def test_a_cached_file_that_cannot_be_loaded_is_rebuilt_once(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWS_INGEST_CACHE", str(tmp_path))
    (tmp_path / "m.json").write_text('{"cut sh')  # e.g. a power cut mid-write on another machine

    import json

    def build(target):
        target.write_text('{"ok": true}')

    assert load_cached("m.json", build, lambda p: json.loads(p.read_text())) == {"ok": True}
    with pytest.raises(ValueError):
        load_cached("bad.json", lambda t: t.write_text("never json"), lambda p: json.loads(p.read_text()))


def test_language_identifier_from_the_cache_matches_py3langid(tmp_path, monkeypatch):
    from py3langid import langid

    from transforms import language

    monkeypatch.setenv("NEWS_INGEST_CACHE", str(tmp_path))
    language._identifier.cache_clear()
    try:
        cached = language._identifier()
        (entry,) = tmp_path.iterdir()
        assert entry.name.startswith("py3langid-") and entry.suffix == ".npz"
    finally:
        language._identifier.cache_clear()
    reference = langid.LanguageIdentifier.from_modelpath(langid.MODEL_DIR / langid.MODEL_FILE, norm_probs=True)
    for text in ("Der Bundestag hat am Mittwoch über den Haushalt beraten.", "これは日本語の文章です。", "El gobierno aprobó el presupuesto."):
        assert cached.classify(text) == reference.classify(text)
    assert cached.classify("Der Bundestag hat am Mittwoch über den Haushalt beraten.")[0] == "de"


def test_the_minilm_graph_is_cached_under_the_digest_of_its_weights(tmp_path):
    from transforms.topic_embeddings import minilm_graph_name

    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    a.write_bytes(b"weights one")
    b.write_bytes(b"weights two")
    assert minilm_graph_name(a) != minilm_graph_name(b)  # new weights never reuse an old graph
    assert minilm_graph_name(a) == minilm_graph_name(tmp_path / "a.safetensors")
