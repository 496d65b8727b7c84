"""Stop-word lists (jusText's, BSD-2-Clause, packaged in ``models/stoplists.json.gz``) and the
stop-list language of a page: the line classifier's stop-word features need the page's list."""
from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from functools import lru_cache

import numpy as np

from transforms.package_data import model_file

STOPLIST_PATH = str(model_file("stoplists.json.gz"))
TOKEN = re.compile(r"\w+")

# ISO 639-1 -> jusText stoplist name (languages whose lists are clean enough to vote with)
ISO2JUSTEXT = {
    "en": "English", "de": "German", "fr": "French", "es": "Spanish", "pt": "Portuguese",
    "it": "Italian", "nl": "Dutch", "ru": "Russian", "uk": "Ukrainian", "pl": "Polish",
    "cs": "Czech", "sk": "Slovak", "sv": "Swedish", "da": "Danish", "no": "Norwegian_Bokmal",
    "nb": "Norwegian_Bokmal", "fi": "Finnish", "hu": "Hungarian", "ro": "Romanian",
    "tr": "Turkish", "id": "Indonesian", "ms": "Malay", "ko": "Korean", "el": "Greek",
    "bg": "Bulgarian", "hr": "Croatian", "sr": "Serbian", "sl": "Slovenian", "ca": "Catalan",
    "vi": "Vietnamese", "ar": "Arabic", "fa": "Persian", "he": "Hebrew", "hi": "Hindi",
    "tl": "Tagalog", "lt": "Lithuanian", "lv": "Latvian", "et": "Estonian",
}
# languages allowed to win automatic detection (some jusText lists, e.g. Marathi, hold English words)
AUTO_LANGS = ("English", "German", "French", "Spanish", "Portuguese", "Italian", "Dutch", "Russian",
              "Ukrainian", "Polish", "Czech", "Swedish", "Danish", "Norwegian_Bokmal", "Hungarian",
              "Romanian", "Turkish", "Indonesian", "Korean", "Greek", "Bulgarian", "Croatian",
              "Vietnamese", "Arabic", "Persian", "Hebrew", "Hindi")
#: English must cover this share of the sample's tokens to be the fallback language.
MIN_ENGLISH_SHARE = 0.03


@lru_cache(maxsize=1)
def stoplists() -> dict[str, frozenset]:
    """jusText's stop lists (BSD-2-Clause), packaged with the model; missing means a broken install."""
    with gzip.open(STOPLIST_PATH, "rt", encoding="utf-8") as f:
        raw = json.load(f)
    return {k: frozenset(v) for k, v in raw.items()}



@lru_cache(maxsize=1)
def _lang_index() -> tuple[frozenset, dict[str, int], np.ndarray]:
    """English stop words; token -> row of a (tokens x AUTO_LANGS) 0/1 matrix saying which
    other languages' stop lists have the token while English's does not."""
    sl = stoplists()
    en = sl.get("English", frozenset())
    idx: dict[str, list[int]] = {}
    for k, name in enumerate(AUTO_LANGS):
        if name == "English":
            continue
        for t in sl.get(name, ()):
            if t not in en and len(t) > 1 and not t.isdigit():
                idx.setdefault(t, []).append(k)
    rows = {t: r for r, t in enumerate(idx)}
    member = np.zeros((len(idx), len(AUTO_LANGS)))
    for t, ks in idx.items():
        member[rows[t], ks] = 1.0
    return en, rows, member


def stoplist_language(tokens: list[str]) -> str:
    """jusText stoplist name whose *own* stop words (those not also English stop words) cover
    most of the tokens (at least 10%); otherwise English when its stop words cover at least
    MIN_ENGLISH_SHARE of them; otherwise "" (unknown: no stop list, the stop-word features
    are then left undefined rather than read against the wrong language)."""
    en, rows, member = _lang_index()
    counts = Counter(tokens[:1500])
    # Only words of two or more characters that are not numbers count (C-speed filters).
    words = [t for t in counts if len(t) > 1 and not t.isdigit()]
    total = sum(map(counts.__getitem__, words))
    if not total:
        return ""
    n_en = sum(map(counts.__getitem__, filter(en.__contains__, words)))
    others = list(filter(rows.__contains__, words))  # never an English stop word (`_lang_index`)
    hits = np.fromiter(map(counts.__getitem__, others), dtype=np.float64, count=len(others)) @ member[list(map(rows.__getitem__, others))]
    k = int(np.argmax(hits))  # the first of the best, as AUTO_LANGS orders them
    if hits[k] > n_en and hits[k] >= 0.1 * total:
        return AUTO_LANGS[k]
    return "English" if n_en >= MIN_ENGLISH_SHARE * total else ""



def resolve_stoplist(language: str | None, tokens: list[str]) -> frozenset:
    sl = stoplists()
    if language in (None, "", "auto"):
        name = stoplist_language(tokens)
    else:
        name = ISO2JUSTEXT.get(language.lower(), language)
    return sl.get(name, frozenset())
