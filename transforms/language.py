"""Language of an article, so language-specific steps (stop words, NER models) use the right one."""
from __future__ import annotations

import functools
import re

#: Below this probability the language is recorded as unknown (None), not guessed.
MIN_PROBABILITY = 0.8
#: The first characters are enough to tell the language and keep the cost flat.
SAMPLE_CHARS = 1000
MIN_LETTERS = 20
_LETTER = re.compile(r"[^\W\d_]")


@functools.lru_cache(maxsize=1)
def _identifier():
    from py3langid import langid

    return langid.LanguageIdentifier.from_modelpath(langid.MODEL_DIR / langid.MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language (py3langid), or None when unsure."""
    sample = text[:SAMPLE_CHARS]
    if len(_LETTER.findall(sample)) < MIN_LETTERS:
        return None
    code, probability = _identifier().classify(sample)
    return code if probability >= MIN_PROBABILITY else None
