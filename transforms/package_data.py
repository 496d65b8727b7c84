"""The files shipped inside the package, found one way (`importlib.resources`): rule packs and
taxonomies in ``transforms/rules/``, trained models in ``transforms/models/``."""
from __future__ import annotations

from importlib import resources
from pathlib import Path


def rules_file(*parts: str) -> Path:
    return Path(str(resources.files("transforms.rules").joinpath(*parts)))


def model_file(name: str) -> Path:
    return Path(str(resources.files("transforms.models").joinpath(name)))
