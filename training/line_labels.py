"""Line labels: fraction of a line's tokens aligned to the gold body (difflib on token sequences)."""
import difflib, json, os, re, sys
EVAL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "data", "eval")
DATA = os.path.join(EVAL, "cleaning")
TOK = re.compile(r"\w+", re.UNICODE)

def page_ids(sets=("cleaning",)):
    """Page ids; pages of another set than cleaning/ are named '<set>/<id>'."""
    ids = []
    for name in sets:
        folder = os.path.join(EVAL, name)
        prefix = "" if name == "cleaning" else name + "/"
        ids += sorted(prefix + f[:-9] for f in os.listdir(folder) if f.endswith(".gold.txt"))
    return ids

def load(pid):
    folder, page = (DATA, pid) if "/" not in pid else (os.path.join(EVAL, pid.split("/")[0]), pid.split("/", 1)[1])
    r = lambda s: open(os.path.join(folder, page + s), encoding="utf-8", errors="replace").read()
    return r(".input.txt"), r(".gold.txt"), json.loads(r(".meta.json"))["url"]

def split_lines(text):
    return [l.strip() for l in text.split("\n") if l.strip()]

def line_labels(lines, gold, min_block=3):
    toks, owner = [], []
    for i, l in enumerate(lines):
        t = TOK.findall(l.lower()); toks += t; owner += [i] * len(t)
    g = TOK.findall(gold.lower())
    sm = difflib.SequenceMatcher(None, toks, g, autojunk=False)
    hit = [0] * len(lines); n = [0] * len(lines)
    for o in owner: n[o] += 1
    for a, b, size in sm.get_matching_blocks():
        if size == 0: continue
        # accept short blocks only if they cover a whole line
        if size < min_block:
            if not (owner[a] == owner[a + size - 1] and n[owner[a]] == size
                    and (a == 0 or owner[a - 1] != owner[a]) ):
                continue
        for k in range(a, a + size): hit[owner[k]] += 1
    return [h / c if c else 0.0 for h, c in zip(hit, n)]

if __name__ == "__main__":
    import time
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__)))); from pipeline.evaluate import token_prf as prf
    t = time.time(); out = {}
    P=R=F=0; ids = page_ids()
    for pid in ids:
        inp, gold, url = load(pid); lines = split_lines(inp)
        lab = line_labels(lines, gold); out[pid] = lab
        pred = "\n".join(l for l, y in zip(lines, lab) if y >= 0.5)
        p, r, f = prf(gold, pred); P += p; R += r; F += f
    k = len(ids); print(f"oracle(label>=0.5) P={P/k:.3f} R={R/k:.3f} F1={F/k:.3f}  {time.time()-t:.1f}s")
    json.dump(out, open("/tmp/clean_research/labels.json", "w"))
