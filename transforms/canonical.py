"""Canonical entities within an article: one name per real-world entity, one label per name.

spaCy gives mentions: "Vladimir Putin", later "Putin", "Putin’s", sometimes "Trump" as ORG.
Users query entities ("which articles mention Xi Jinping?"), so each mention gets a
canonical name (cleaned text, a short mention mapped to the article's unique full name that
contains it, user aliases applied) and each canonical entity one label (the majority of its
mentions' labels). Pure functions; `transforms/entities.py` calls them per article.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Any, Iterable, Mapping, Sequence

from transforms.choices import DEFAULT_ENTITY_LABELS
from transforms.datafiles import read_yaml
from transforms.errors import SettingError

#: Labels whose short mentions ("Putin", "Xi") may stand for a longer name in the same article.
NAME_LABELS = frozenset({"PERSON", "ORG"})
_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "‛": "'", "“": '"', "”": '"', "„": '"', "‟": '"', "–": "-", "—": "-", "‐": "-", "‑": "-"})
_POSSESSIVE = re.compile(r"(?:'s|')$", re.IGNORECASE)
_EDGE = re.compile(r"^[\s\"'()\[\]{}.,;:!?*]+|[\s\"'()\[\]{},;:!?*]+$")
_LEADING_THE = re.compile(r"^the\s+", re.IGNORECASE)


def clean_mention(text: str) -> str:
    """Mention text as a name: quotes and dashes normalised, no leading "the", no possessive."""
    name = unicodedata.normalize("NFC", text).translate(_QUOTES)
    name = " ".join(name.split())
    for _ in range(2):  # quotes around a possessive, or a possessive inside quotes
        name = _EDGE.sub("", name)
        name = _POSSESSIVE.sub("", name)
    name = _LEADING_THE.sub("", name)
    return _EDGE.sub("", name)


def load_aliases(path: str | None) -> dict[str, str]:
    """``--entity_aliases`` YAML ``{canonical name: [alias, ...]}`` -> {lowercased alias: canonical}."""
    if not path:
        return {}
    spec = read_yaml(path) or {}
    if not isinstance(spec, dict):
        raise SettingError(f"{path}: expected a mapping of canonical name to a list of aliases")
    aliases: dict[str, str] = {}
    for canonical, names in spec.items():
        if not isinstance(names, list):
            raise SettingError(f"{path}: the aliases of {canonical!r} must be a list")
        for alias in [canonical, *names]:
            key = clean_mention(str(alias)).lower()
            if key in aliases and aliases[key] != canonical:
                raise SettingError(f"{path}: alias {alias!r} is given to both {aliases[key]!r} and {canonical!r}")
            aliases[key] = str(canonical)
    return aliases


def _words(name: str) -> tuple[str, ...]:
    return tuple(name.lower().replace("-", " ").split())


def _expansions(names: Iterable[str]) -> dict[str, str]:
    """Name -> the one longest name in the article that starts or ends with its words.

    "Putin" -> "Vladimir Putin"; "XI" -> "Xi Jinping"; "Kim" and "Kim Jong" -> "Kim Jong-un";
    but "Kim" stays "Kim" when the article also has "Youngjun Kim" (ambiguous).
    """
    unique = list(dict.fromkeys(names))
    words = {n: _words(n) for n in unique}

    def extends(longer: str, shorter: str) -> bool:
        a, b = words[longer], words[shorter]
        return len(a) > len(b) and (a[: len(b)] == b or a[-len(b) :] == b)

    mapping = {}
    for name in unique:
        longer = [m for m in unique if extends(m, name)]
        maximal = {words[m]: m for m in longer if not any(extends(o, m) for o in longer)}
        if len(maximal) == 1:
            mapping[name] = next(iter(maximal.values()))
    return mapping


def canonicalise(
    mentions: Sequence[Mapping[str, Any]],
    labels: Iterable[str] = DEFAULT_ENTITY_LABELS,
    aliases: Mapping[str, str] | None = None,
) -> tuple[tuple[dict[str, Any], ...], tuple[dict[str, Any], ...]]:
    """(mentions with a ``canonical`` name, one summary row per canonical entity).

    Mentions whose label is not in ``labels`` are dropped. The summary is sorted by mentions,
    then name; each entity's label is the majority label of its mentions (ties: the label of
    its first mention).
    """
    keep = set(labels)
    aliases = aliases or {}
    kept = [m for m in mentions if m["label"] in keep]
    cleaned = [clean_mention(m["text"]) for m in kept]
    named = [aliases.get(c.lower(), c) for c in cleaned]
    expand = _expansions(n for n, m in zip(named, kept) if m["label"] in NAME_LABELS)
    out = []
    for mention, name, alias_applied in zip(kept, named, (n != c for n, c in zip(named, cleaned))):
        canonical = name
        if not alias_applied and mention["label"] in NAME_LABELS and name in expand:
            canonical = expand[name]
        if not canonical:
            continue
        out.append({**mention, "canonical": canonical})
    votes: dict[str, Counter] = {}
    order: dict[str, int] = {}
    for i, mention in enumerate(out):
        votes.setdefault(mention["canonical"], Counter())[mention["label"]] += 1
        order.setdefault(mention["canonical"], i)
    summary = []
    for name, counter in votes.items():
        first_label = out[order[name]]["label"]
        best = max(counter.items(), key=lambda kv: (kv[1], kv[0] == first_label))[0]
        summary.append({"name": name, "label": best, "mentions": sum(counter.values())})
    summary.sort(key=lambda row: (-row["mentions"], row["name"]))
    return tuple(out), tuple(summary)
