"""Features of each line of a page for the boilerplate line classifier: shallow features of the
line and its neighbours, vectorised over the page's code points. Pure numpy; the classifier
(`transforms/line_classifier.py`) and its training script share them."""
from __future__ import annotations

import math
import re
from collections import Counter
from functools import lru_cache

import numpy as np

from transforms.stoplists import TOKEN as _TOK
from transforms.stoplists import resolve_stoplist
from transforms.text import CLOSING, SENTENCE_STOPS

_STOPS = SENTENCE_STOPS
_CLOSE = CLOSING
# what may start a sentence after ". ": an upper-case letter, or a letter of a caseless script
_SENT_START = ("A-Z\u00c0-\u00d6\u00d8-\u00de\u0391-\u03a9\u0400-\u042f\u0531-\u0556\u05d0-\u05ea"
               "\u0620-\u064a\u0671-\u06d3\u0900-\u0dff\u0e00-\u0eff\u1000-\u109f\u1100-\u11ff\u1200-\u137f"
               "\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af")
_SENT_INNER = re.compile(
    r"[.!?\u061f\u06d4\u0964\u0965\u1362\u104b\u0589]" + _CLOSE + r"[ \t\u00a0]+[\"'\u201c\u2018\u00ab\u300c(]?[" + _SENT_START + "]")
# CJK full stops need no space after them (only searched when the text has one)
_CJK_STOPS = "\u3002\uff01\uff1f"
_SENT_INNER_CJK = re.compile(
    "[\u3002\uff01\uff1f]" + _CLOSE + "(?=[^\\s\u3002\uff01\uff1f\u2026\u300d\u300f\u3011\uff09\u201d])")
_MENU_SEP = re.compile(r"[ \t\u00a0][|\u00bb\u203a\u00b7\u2022/\u2039\u00ab>\uff5c][ \t\u00a0]|[ \t\u00a0][-\u2013\u2014][ \t\u00a0](?=\S)")
_LINKISH = re.compile(r"https?://|www\.|\.(?:com|org|net)\b|@\w|\u00a9|\(c\)")  # on lowercased text
_SENT_END_M = re.compile(_STOPS + _CLOSE + "$", re.M)
_ELLIPSIS_M = re.compile(r"(?:\.\.\.|\u2026|\u22ef)" + _CLOSE + "$", re.M)
_QUOTES = frozenset("\"'\u201c\u2018\u00ab\u201e\u300c\u300e")
_COLONS = frozenset(":\uff1a")
_TIME_DATE = re.compile(r"\d(?:\d?:\d\d|\d\d\d-\d\d-\d\d|\d?/\d\d?/\d\d|\d\d\d(?!\d)|[\u5e74\u6708\u65e5\ub144\uc6d4\uc77c])")
# Words per character in scripts written without spaces between words (whitespace "words"
# mean nothing there; a whole line of them is otherwise one "word"), as English words of the
# same content: a Han character about 0.65 (Chinese), kana about 0.4 (Japanese prose comes out
# near 0.5 a character), Thai/Lao/Khmer/Myanmar/Tibetan about 0.25 (vowel signs included).
_HAN_WORDS_PER_CHAR = 0.65
_KANA_WORDS_PER_CHAR = 0.4
_SEA_WORDS_PER_CHAR = 0.25
#: Share of a page's letters in those scripts above which no stop list applies (none exists).
DENSE_PAGE_SHARE = 0.3


# ---------------------------------------------------------------- features
# Lengths are in word-equivalents (whitespace words, plus characters x words-per-character in
# scripts without spaces) and character-equivalents, so a Chinese, Japanese or Thai paragraph
# is as "long" as an English one. Features a script cannot have (case for Arabic, Hindi, CJK,
# Korean ...; stop words for a language without a stop list) are NaN: the model replaces NaN
# by the training mean, so they weigh neither way.
BASE_NAMES = [
    "log_words", "log_chars", "stop_share", "stop_rel", "sent_end", "log_sent_inner",
    "comma_rate", "title_share", "upper_share", "digit_share", "log_menu_sep", "ellipsis_end",
    "colon_end", "linkish", "time_date", "starts_lower", "starts_quote", "mean_word_len",
    "log_dup", "is_prose", "no_letters",
]
CTX_KEYS = ["log_words", "stop_share", "sent_end", "is_prose", "title_share"]
CTX_OFFSETS = (-2, -1, 1, 2)
WIN_SIZES = (3, 10)
#: (feature, typical value in English prose): features taken relative to the page's prose
RELATIVE_TO_PAGE = (("title_share", 0.2), ("mean_word_len", 4.8))
# A list item: "1.", "2)", "3:", "(4)", "1a", "2nd", "3º", "1、" ... or a bullet, then a letter.
# Numbered items whose successor/predecessor number is near are a list the article holds
# (steps, rankings, a calendar), not navigation.
_LIST_MARK_M = re.compile(
    r"^(?:\(?(\d{1,3})(?:(?:st|nd|rd|th|er|re|e|a|o|\u00ba|\u00aa|\u00b0)\b|[.)\]:\uff0e\u3001\uff09])[ \t\u00a0]*[-\u2013\u2014:]?"
    r"|[\u2022\u25cf\u25aa\u25a0\u2013\u2014*\-\u00b7\u25ba\u25b6\u2192])[ \t\u00a0]*[^\W\d_]", re.M)
SEQ_REACH = 10


def feature_names() -> list[str]:
    names = list(BASE_NAMES)
    for o in CTX_OFFSETS:
        names += [f"{k}@{o:+d}" for k in CTX_KEYS]
    for w in WIN_SIZES:
        names += [f"win{w}_prose", f"win{w}_words", f"win{w}_stop"]
    names += ["rel_pos", "rel_words_before", "in_dense", "dist_dense_before", "dist_dense_after",
              "dense_share", "page_log_lines", "page_prose_share", "log_run_short",
              "list_marker", "seq_num", "win3_seq"]
    names += ["len_rel_max", "run_prose_after"]
    return names


def _codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def _per_line(pos_iter, starts: np.ndarray, n: int) -> np.ndarray:
    pos = np.fromiter(pos_iter, dtype=np.int64)
    if not len(pos):
        return np.zeros(n)
    return np.bincount(np.searchsorted(starts, pos, "right") - 1, minlength=n).astype(np.float64)


def _between(cp: np.ndarray, lo: int, hi: int) -> np.ndarray:
    return (cp >= lo) & (cp <= hi)


def _char_classes_of(cp: np.ndarray):
    """Approximate character classes by code point (identical at train and run time)."""
    is_digit = _between(cp, 48, 57)
    is_space = (cp == 32) | (cp == 10) | (cp == 9) | (cp == 0xA0)
    low32 = cp | 32
    latin = _between(low32, 97, 122) | (_between(cp, 0xC0, 0x24F) & (cp != 0xD7) & (cp != 0xF7)) | _between(cp, 0x1E00, 0x1EFF)
    cased = latin | _between(cp, 0x370, 0x3FF) | _between(cp, 0x400, 0x52F) | _between(cp, 0x531, 0x58F)
    even = (cp & 1) == 0
    is_upper = (_between(cp, 65, 90) | (_between(cp, 0xC0, 0xDE) & (cp != 0xD7)) | _between(cp, 0x391, 0x3AB)
                | _between(cp, 0x400, 0x42F) | _between(cp, 0x531, 0x556)
                | ((_between(cp, 0x100, 0x137) | _between(cp, 0x14A, 0x177) | _between(cp, 0x1E00, 0x1EFF)) & even))
    kana = _between(cp, 0x3040, 0x30FF) | _between(cp, 0x31F0, 0x31FF) | _between(cp, 0xFF66, 0xFF9F)
    han = (_between(cp, 0x3400, 0x4DBF) | _between(cp, 0x4E00, 0x9FFF) | _between(cp, 0xF900, 0xFAFF)
           | _between(cp, 0x20000, 0x2FFFF))
    sea = _between(cp, 0xE00, 0xFFF) | _between(cp, 0x1000, 0x109F) | _between(cp, 0x1780, 0x17FF)
    is_letter = (_between(low32, 97, 122) | ((cp >= 0xC0) & (cp != 0xD7) & (cp != 0xF7)
                 & ~_between(cp, 0x2000, 0x2BFF) & ~_between(cp, 0x3000, 0x303F) & ~_between(cp, 0xFF00, 0xFF20)
                 & ~_between(cp, 0xFF5B, 0xFF65)))
    is_comma = (cp == 44) | (cp == 0x3001) | (cp == 0xFF0C) | (cp == 0x60C)
    return is_digit, is_space, cased, is_upper, han, kana, sea, is_letter, is_comma


@lru_cache(maxsize=1)
def _class_table() -> np.ndarray:
    """_char_classes_of for every BMP code point, as bit flags (one lookup instead of ~40 compares)."""
    return _flags(np.arange(0x10000, dtype=np.uint32))


def _flags(cp: np.ndarray) -> np.ndarray:
    out = np.zeros(len(cp), dtype=np.uint16)
    for bit, a in enumerate(_char_classes_of(cp)):
        out |= a.astype(np.uint16) << bit
    return out


def _char_classes(cp: np.ndarray):
    f = _class_table()[np.minimum(cp, 0xFFFF)]
    big = cp > 0xFFFF
    if big.any():  # outside the BMP (CJK extension B ..., emoji): rare, computed directly
        f[big] = _flags(cp[big])
    return tuple((f & (1 << bit)) > 0 for bit in range(9))


def _line_stats(lines: list[str], stop: frozenset | None):
    """Per-line base features, vectorised over the joined page text where possible."""
    n = len(lines)
    text = "\n".join(lines)
    lens = np.fromiter((len(l) for l in lines), dtype=np.int64, count=n)
    starts = np.concatenate([[0], np.cumsum(lens + 1)[:-1]])
    # (a line break after the last line too, so every line's characters run up to the next start)
    cp = _codepoints(text + "\n")
    is_digit, is_space, cased, is_upper, han, kana, sea, is_letter, is_comma = _char_classes(cp)
    dense = han | kana | sea
    prev = np.concatenate([[True], is_space[:-1]])
    prev_dense = np.concatenate([[False], dense[:-1]])
    classes = (is_digit, is_upper, is_letter, cased, han, kana, sea, is_comma,
               dense & ~prev_dense,          # starts of runs of unspaced-script letters
               cased & prev,                 # word-initial cased letters
               is_upper & prev)
    # Per-line counts, one class at a time: its sum over each line's characters (and the line
    # break after it, which is in no class). A few bytes a character at a time (a float matrix of
    # all classes and its running sum took 176 bytes a character).
    cnt = np.empty((n, len(classes)))
    for j, members in enumerate(classes):
        cnt[:, j] = np.add.reduceat(members, starts, dtype=np.int32)
    digits, upper, letters, ncased, nhan, nkana, nsea, commas, dense_runs, winit, winit_up = cnt.T
    # regex counts over the whole text (multiline), mapped to lines
    sent_end = _per_line((m.start() for m in _SENT_END_M.finditer(text)), starts, n) > 0
    sent_inner = _per_line((m.start() for m in _SENT_INNER.finditer(text)), starts, n)
    if any(mark in text for mark in _CJK_STOPS):
        sent_inner += _per_line((m.start() for m in _SENT_INNER_CJK.finditer(text)), starts, n)
    menu = _per_line((m.start() for m in _MENU_SEP.finditer(text)), starts, n)
    ell = _per_line((m.start() for m in _ELLIPSIS_M.finditer(text)), starts, n) > 0
    lowtext = text.lower()
    link = _per_line((m.start() for m in _LINKISH.finditer(lowtext)), starts, n) > 0
    tdate = _per_line((m.start() for m in _TIME_DATE.finditer(text)), starts, n) > 0
    # tokens and stop words per line (findall per line; stop lookups through map, C speed)
    low = lowtext.split("\n")
    tpl = [_TOK.findall(l) for l in low]
    ndense = nhan + nkana + nsea
    if stop is None:  # automatic language detection on the first tokens of the page
        tot_letters = letters.sum()
        if tot_letters and ndense.sum() >= DENSE_PAGE_SHARE * tot_letters:
            stop = frozenset()  # Chinese, Japanese, Thai ...: no stop lists
        else:
            sample: list[str] = []
            for x in tpl:
                sample += x
                if len(sample) >= 800:
                    break
            stop = resolve_stoplist("auto", sample)
    nt = np.fromiter(map(len, tpl), dtype=np.float64, count=n)
    # whitespace-delimited tokens outside the unspaced scripts, then word-equivalents
    nt_sp = np.maximum(nt - dense_runs, 0.0)
    nw = nt_sp + _HAN_WORDS_PER_CHAR * nhan + _KANA_WORDS_PER_CHAR * nkana + _SEA_WORDS_PER_CHAR * nsea
    lens_f = lens.astype(np.float64)
    # character-equivalents: an unspaced-script word counts as an average English word + space
    nchar = lens_f - ndense + 6.0 * (nw - nt_sp)
    if stop:
        contains = stop.__contains__
        nstop = np.fromiter((sum(map(contains, x)) for x in tpl), dtype=np.float64, count=n)
    else:
        nstop = np.zeros(n)
    counts = Counter(low)
    dup = np.fromiter((counts[l] - 1 for l in low), dtype=np.float64, count=n)
    first = [l[:1] for l in lines]
    last = [l[-1:] for l in lines]
    nan = np.full(n, np.nan)

    def safe(a, b, empty=0.0):  # a / b, ``empty`` where b is 0
        return np.divide(a, b, out=np.full(n, empty), where=b > 0)

    stop_share = safe(nstop, nw) if stop else nan
    base = np.stack([
        np.log1p(nw), np.log1p(nchar), stop_share, nan.copy(), sent_end.astype(float),
        np.log1p(sent_inner), safe(commas, nw), safe(winit_up, winit, np.nan), safe(upper, ncased, np.nan),
        safe(digits, lens_f), np.log1p(menu), ell.astype(float),
        np.fromiter((c in _COLONS for c in last), dtype=np.float64, count=n), link.astype(float),
        tdate.astype(float), np.fromiter((c.islower() for c in first), dtype=np.float64, count=n),
        np.fromiter((c in _QUOTES for c in first), dtype=np.float64, count=n) * (lens > 0),
        safe(letters + digits - ndense, nt_sp, np.nan), np.log1p(dup), np.zeros(n), (letters == 0).astype(float),
    ], 1)
    # list items: marker per line, and the item number where there is one
    mark = np.zeros(n)
    num = np.full(n, -10)
    for m in _LIST_MARK_M.finditer(text):
        i = int(np.searchsorted(starts, m.start(), "right")) - 1
        mark[i] = 1.0
        if m.group(1):
            num[i] = int(m.group(1))
    return base, stop, nw, nstop, (mark, num)


def _kadane(score: np.ndarray) -> tuple[int, int]:
    best, cur, start, bs, be = -1e18, 0.0, 0, 0, -1
    for i, s in enumerate(score):
        if cur <= 0:
            cur, start = s, i
        else:
            cur += s
        if cur > best:
            best, bs, be = cur, start, i
    return bs, be


def page_features(lines: list[str], language: str | None = "auto") -> np.ndarray:
    """Feature matrix (n_lines x n_features) for one page's non-empty lines (NaN: undefined
    for this line's script or the page's language; see classify_lines)."""
    n = len(lines)
    if n == 0:
        return np.zeros((0, len(feature_names())))
    lines = [l.replace("\n", " ").replace("\r", " ") for l in lines]
    stop = None if language in (None, "", "auto") else resolve_stoplist(language, [])
    base, stop, nwords, nstop, (mark, num) = _line_stats(lines, stop)
    column = {k: j for j, k in enumerate(BASE_NAMES)}
    menu_free = base[:, column["log_menu_sep"]] == 0
    if stop:
        # page reference stop share: token-weighted over lines with >= 8 words
        long_ = nwords >= 8
        ref = nstop[long_].sum() / nwords[long_].sum() if long_.any() else (nstop.sum() / max(1.0, nwords.sum()))
        ref = max(ref, 0.05)
        base[:, column["stop_rel"]] = np.minimum(base[:, column["stop_share"]] / ref, 3.0)
        prose = (nwords >= 8) & (base[:, column["stop_rel"]] >= 0.5) & menu_free
    else:  # no stop list for this language: stop features undefined, prose from shape alone
        prose = (nwords >= 8) & menu_free
    prose = prose & ((base[:, column["sent_end"]] > 0) | (nwords >= 20))
    base[:, column["is_prose"]] = prose.astype(np.float64)
    # capitalisation and word length relative to the page's own long lines (German capitalises
    # nouns, German and Finnish words are long ...), so prose of any language sits near 0; with
    # fewer than 3 long lines, relative to typical English prose
    long_ = nwords >= 8
    for k, typical in RELATIVE_TO_PAGE:
        v = base[:, column[k]]
        ok = long_ & ~np.isnan(v)
        base[:, column[k]] = v - (np.average(v[ok], weights=nwords[ok]) if ok.sum() >= 3 else typical)

    # numbered list items with a consecutive number within SEQ_REACH lines
    seq = np.zeros(n, dtype=bool)
    if (num >= 0).sum() >= 2:
        for o in range(1, min(SEQ_REACH, n - 1) + 1):
            hit = (num[o:] == num[:-o] + 1) & (num[:-o] >= 0)
            seq[o:] |= hit
            seq[:-o] |= hit
    seq_f = seq.astype(np.float64)

    feats = [base]
    # neighbour features
    ctx_idx = [column[k] for k in CTX_KEYS]
    context = base[:, ctx_idx]
    for o in CTX_OFFSETS:
        sh = np.zeros_like(context)
        if o < 0:
            sh[-o:] = context[:o]
        else:
            sh[:-o] = context[o:]
        feats.append(sh)
    # window means
    prose_f = prose.astype(np.float64)
    lw = base[:, column["log_words"]]
    ss = base[:, column["stop_rel"]]
    def running(a):  # prefix sums, so a window's sum is two lookups
        return np.concatenate([[0.0], np.cumsum(a)])

    cp, cw, cst = running(prose_f), running(lw), running(ss)
    idx = np.arange(n)
    for w in WIN_SIZES:
        lo = np.maximum(idx - w, 0)
        hi = np.minimum(idx + w + 1, n)
        cnt = hi - lo
        feats.append(np.stack([(cp[hi] - cp[lo]) / cnt, (cw[hi] - cw[lo]) / cnt, (cst[hi] - cst[lo]) / cnt], 1))
    # page position and densest prose region (max-sum run of prose words minus non-prose words)
    # (items of a numbered list count as prose of at least 8 words: a list is content)
    score = np.where(prose | seq, np.maximum(nwords, 8.0 * seq), -np.minimum(nwords, 15.0) - 3.0)
    a, b = _kadane(score.tolist())
    tot_w = max(1.0, nwords.sum())
    before_w = (np.cumsum(nwords) - nwords) / tot_w
    rel_pos = idx / max(1, n - 1)
    in_dense = ((idx >= a) & (idx <= b)).astype(np.float64)
    d_before = np.log1p(np.maximum(a - idx, 0))
    d_after = np.log1p(np.maximum(idx - b, 0))
    dense_share = nwords[a:b + 1].sum() / tot_w
    short = nwords < 8
    # the run of consecutive short lines a line belongs to: its length, and whether prose
    # follows it (a table or Q&A block inside the article does; menus and link lists mostly
    # run into more boilerplate or the page end)
    edges = np.flatnonzero(short[1:] != short[:-1]) + 1
    run_start = np.concatenate([[0], edges])
    run_end = np.concatenate([edges, [n]])
    after = np.append(prose_f, 0.0)[run_end]  # prose_f of the line after each run (0 at the end)
    run = np.repeat(np.where(short[run_start], run_end - run_start, 0).astype(np.float64), run_end - run_start)
    run_prose_after = np.repeat(np.where(short[run_start], after, 0.0), run_end - run_start)
    feats.append(np.stack([
        rel_pos, before_w, in_dense, d_before, d_after,
        np.full(n, dense_share), np.full(n, math.log1p(n)), np.full(n, prose_f.mean()), np.log1p(run)], 1))
    # list items: marker, numbered item in a sequence, share of such items within 3 lines
    cq = running(seq_f)
    lo = np.maximum(idx - 3, 0)
    hi = np.minimum(idx + 4, n)
    feats.append(np.stack([mark, seq_f, (cq[hi] - cq[lo]) / (hi - lo)], 1))
    # size relative to the page's longest line: an article that is one long paragraph among
    # shorter teaser paragraphs of the same kind
    lwp = np.log1p(nwords)
    feats.append(np.stack([lwp - lwp.max(), run_prose_after], 1))
    return np.concatenate(feats, 1)


def stage2_features(p: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Context of stage-1 probabilities: neighbours, window means, max before/after, and the
    word-weighted max-sum region of (p - 0.5) (inside it? how far from it?)."""
    n = len(p)
    def sh(o):
        out = np.zeros(n)
        if o < 0:
            out[-o:] = p[:o]
        else:
            out[:-o] = p[o:]
        return out
    c = np.concatenate([[0.0], np.cumsum(p)])
    idx = np.arange(n)
    cols = [p, sh(-1), sh(1), sh(-2), sh(2)]
    for w in (3, 8, 20):
        lo = np.maximum(idx - w, 0); hi = np.minimum(idx + w + 1, n)
        cols.append((c[hi] - c[lo]) / (hi - lo))
    # mean of previous / next 5 (excluding self)
    for w in (5,):
        lo = np.maximum(idx - w, 0); hi = np.minimum(idx + w + 1, n)
        cols.append(np.where(idx > lo, (c[idx] - c[lo]) / np.maximum(idx - lo, 1), 0.0))
        cols.append(np.where(hi > idx + 1, (c[hi] - c[idx + 1]) / np.maximum(hi - idx - 1, 1), 0.0))
    # max prob seen before / after (cumulative)
    cols.append(np.concatenate([[0.0], np.maximum.accumulate(p)[:-1]]))
    cols.append(np.concatenate([np.maximum.accumulate(p[::-1])[::-1][1:], [0.0]]))
    nw = np.expm1(X[:, 0])
    a, b = _kadane(((p - 0.5) * np.sqrt(nw + 1.0)).tolist())
    cols.append(((idx >= a) & (idx <= b)).astype(np.float64))
    cols.append(np.log1p(np.maximum(a - idx, 0) + np.maximum(idx - b, 0)))
    return np.stack(cols, 1)


_HAN_CHAR = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
_KANA_CHAR = re.compile("[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_SEA_CHAR = re.compile("[\u0e00-\u0fff\u1000-\u109f\u1780-\u17ff]")
# (quick test: text beyond the BMP in these scripts comes with BMP characters of the same script)
DENSE_SCRIPT = re.compile("[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
                        "\u0e00-\u0fff\u1000-\u109f\u1780-\u17ff]")
_DENSE_RUN = re.compile("[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
                        "\U00020000-\U0002ffff\u0e00-\u0fff\u1000-\u109f\u1780-\u17ff]+")



def word_equivalents(line: str) -> float:
    """Whitespace words, with text in scripts written without spaces (Han, kana, Thai, Lao,
    Khmer, Myanmar, Tibetan) counted by characters, as the classifier's features count them."""
    words = len(line.split())
    if not _DENSE_RUN.search(line):
        return words
    runs = len(_DENSE_RUN.findall(line))
    return (max(words - runs, 0) + _HAN_WORDS_PER_CHAR * len(_HAN_CHAR.findall(line))
            + _KANA_WORDS_PER_CHAR * len(_KANA_CHAR.findall(line)) + _SEA_WORDS_PER_CHAR * len(_SEA_CHAR.findall(line)))

