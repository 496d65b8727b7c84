"""Language of an article, so language-specific steps (stop words, NER models) use the right one."""
from __future__ import annotations

import functools
import logging
from pathlib import Path

from transforms.cache import load_cached

#: Below this probability the language is recorded as unknown (None), not guessed.
MIN_PROBABILITY = 0.8
#: The first characters are enough to tell the language and keep the cost flat.
SAMPLE_CHARS = 1000
MIN_LETTERS = 20


@functools.lru_cache(maxsize=1)
def _identifier():
    from py3langid import langid

    source = langid.MODEL_DIR / langid.MODEL_FILE
    try:
        ptc, pc, classes, nextmove, row, output = _uncompressed_model(source)
        return langid.LanguageIdentifier(ptc, pc, classes, nextmove, output, norm_probs=True, tk_row=row)
    except Exception as exc:  # noqa: BLE001 - e.g. a py3langid release with another layout
        logging.getLogger(__name__).warning("py3langid model not cached (%s); loading it from %s", exc, source)
        return langid.LanguageIdentifier.from_modelpath(source, norm_probs=True)


def _uncompressed_model(source: Path) -> tuple:
    """py3langid's model, decompressed once per machine: unpacking its xz costs 0.7 s per worker.

    The cache is named by the compressed model's digest, so another py3langid's model never
    reads this one.
    """
    import hashlib
    import lzma
    import shutil

    import numpy as np
    from py3langid.modelio import _to_array

    def decompress(target: Path) -> None:
        with lzma.open(source) as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out, length=1 << 20)

    def load(path: Path) -> tuple:
        with np.load(path, allow_pickle=False) as data:
            return (
                np.asarray(data["ptc"]), np.asarray(data["pc"]), data["classes"].tolist(),
                _to_array(data["nextmove"]), _to_array(data["nextmove_row"]), data["out_feat"].tolist(),
            )

    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    return load_cached(f"py3langid-{digest}.npz", decompress, load)


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language (py3langid), or None when unsure."""
    sample = text[:SAMPLE_CHARS]
    if sum(map(str.isalpha, sample)) < MIN_LETTERS:
        return None
    code, probability = _identifier().classify(sample)
    return code if probability >= MIN_PROBABILITY else None
