"""Files derived once per machine from installed packages (py3langid's model, the MiniLM graph)."""
from __future__ import annotations

import pytest

from transforms.cache import cached_file


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


def test_language_identifier_from_the_cache_matches_py3langid(tmp_path, monkeypatch):
    from py3langid import langid

    from transforms import language

    monkeypatch.setenv("NEWS_INGEST_CACHE", str(tmp_path))
    language._identifier.cache_clear()
    try:
        cached = language._identifier()
        assert [p.name for p in tmp_path.iterdir()] == [f"py3langid-{(langid.MODEL_DIR / langid.MODEL_FILE).stat().st_size}.npz"]
    finally:
        language._identifier.cache_clear()
    reference = langid.LanguageIdentifier.from_modelpath(langid.MODEL_DIR / langid.MODEL_FILE, norm_probs=True)
    for text in ("Der Bundestag hat am Mittwoch über den Haushalt beraten.", "これは日本語の文章です。", "El gobierno aprobó el presupuesto."):
        assert cached.classify(text) == reference.classify(text)
    assert cached.classify("Der Bundestag hat am Mittwoch über den Haushalt beraten.")[0] == "de"
