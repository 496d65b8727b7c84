"""Shared fixtures: the bundled sample articles and a tiny rule-based spaCy model."""
from __future__ import annotations

import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples" / "incoming"
DATA = pathlib.Path(__file__).resolve().parent / "data"


def sample(prefix: str) -> str:
    (path,) = SAMPLES.glob(f"{prefix}_*.txt")
    return path.read_text("utf-8")


@pytest.fixture(scope="session")
def ruler_model(tmp_path_factory) -> str:
    """A blank English pipeline with an entity ruler, saved like a real model, for transform
    tests that need NER behaviour but not the statistical model."""
    import spacy

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(
        [
            {"label": "PERSON", "pattern": "Xi Jinping"},
            {"label": "PERSON", "pattern": "Vladimir Putin"},
            {"label": "GPE", "pattern": "Beijing"},
            {"label": "ORG", "pattern": [{"LOWER": "fifa"}]},
        ]
    )
    path = tmp_path_factory.mktemp("models") / "ruler_model"
    nlp.to_disk(path)
    return str(path)


def test_pipeline():
    """A TestPipeline on the FnApiRunner: Beam's DirectRunner would first try to download
    the Prism binary, which this offline machine cannot, before falling back to it."""
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner
    from apache_beam.testing.test_pipeline import TestPipeline

    return TestPipeline(runner=FnApiRunner())


test_pipeline.__test__ = False  # a helper, not a test


@pytest.fixture
def inbox(tmp_path):
    """A folder with four sample articles (000-003), for runs that change or remove some."""
    import shutil

    folder = tmp_path / "in"
    folder.mkdir()
    for path in sorted(SAMPLES.glob("00[0-3]_*.txt")):
        shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture(autouse=True)
def _no_models_from_earlier_tests():
    """Each test starts as a fresh worker process would: no model loaded yet."""
    from transforms import per_process

    per_process.forget()
    yield
