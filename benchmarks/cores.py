"""Where the second core goes: one worker against two, with every process's CPU time sampled.

    python benchmarks/cores.py --articles 2000 [--rounds 2] [--copies 0.1] [--pipeline_flags "..."] [--raw]

Runs the whole pipeline (default models) on a generated corpus with one worker and with
``--direct_num_workers 2 --direct_running_mode multi_processing``, in turn, and samples the CPU
time of the driver and of each worker process (``/proc/<pid>/stat``) every 0.2 s. Two cores can
give at most 2x; what a 2-worker run loses against that is split into
  - **extra CPU**: CPU seconds the 2-worker run spends beyond the 1-worker run (a second copy of
    the models loaded, elements serialised between the runner and its workers, the runner's own
    work in the driver process);
  - **idle core-seconds**: 2 x wall time - CPU seconds of all processes: time when a core had
    nothing to do (start-up before the workers run, a worker that finished before the other,
    the driver's planning and publish, which are serial).
Prints per round the wall times, the speed-up, both losses, and per process its CPU seconds,
when it started and stopped working, and the NER articles each worker did (from the summary).
Then the same for spaCy alone, without the pipeline: one process running the default model over
all the corpus's texts, against two processes at once over half each. What two processes lose
there (their CPU seconds beyond one process's, for the same articles) is the machine's: two
busy cores share caches and memory bandwidth.
Results go to ``docs/benchmarks.md`` by hand, with the date and the commit.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import shlex
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.corpus import build_corpus  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
#: A process counts as working in an interval where it used at least this share of a core.
BUSY = 0.5


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a live process, None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def _descendants(root: int) -> dict[int, float]:
    """pid -> CPU seconds of ``root`` and every process under it."""
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat:
                stats[int(entry)] = stat
    found, frontier = {}, [root]
    while frontier:
        pid = frontier.pop()
        if pid in stats:
            found[pid] = stats[pid][1]
            frontier += [child for child, (parent, _) in stats.items() if parent == pid]
    return found


def _role(pid: int, root: int) -> str:
    if pid == root:
        return "driver"
    try:
        command = open(f"/proc/{pid}/cmdline").read().replace("\0", " ")
    except OSError:
        return "gone"
    return "worker" if "pipeline.worker" in command or "sdk_worker" in command else "other"


def measured_run(corpus: pathlib.Path, out: pathlib.Path, workers: int, flags: list[str]) -> dict:
    argv = [sys.executable, "-m", "pipeline", "--input", str(corpus), "--output", str(out), "--quiet", *flags]
    if workers > 1:
        argv += ["--direct_num_workers", str(workers), "--direct_running_mode", "multi_processing"]
    start = time.perf_counter()
    job = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    samples: list[tuple[float, dict[int, float]]] = []
    roles: dict[int, str] = {}
    while job.poll() is None:
        now = time.perf_counter() - start
        cpu = _descendants(job.pid)
        for pid in cpu:
            if pid not in roles:
                roles[pid] = _role(pid, job.pid)
        samples.append((now, cpu))
        time.sleep(0.2)
    wall = time.perf_counter() - start
    stderr = job.stderr.read()
    if job.returncode not in (0, 3):
        raise RuntimeError(f"pipeline failed ({job.returncode}): {stderr[-2000:]}")
    processes = {}
    for pid, role in roles.items():
        series = [(t, cpu[pid]) for t, cpu in samples if pid in cpu]
        busy = [t1 for (t0, c0), (t1, c1) in zip(series, series[1:]) if (c1 - c0) >= BUSY * (t1 - t0)]
        processes[pid] = {
            "role": role,
            "cpu": series[-1][1] if series else 0.0,
            "first_busy": min(busy) if busy else None,
            "last_busy": max(busy) if busy else None,
        }
    manifest = max((json.loads(p.read_text()) for p in (out / "_runs").glob("*.json")), key=lambda m: m["published_at"])
    return {
        "workers": workers,
        "wall": wall,
        "cpu": sum(p["cpu"] for p in processes.values()),
        "processes": processes,
        "ner_per_worker": manifest.get("ner_articles_per_worker", {}),
        "articles": manifest.get("articles_written"),
    }


def report(one: dict, two: dict) -> list[str]:
    lines = [
        f"  1 worker  {one['wall']:7.1f} s wall, {one['cpu']:7.1f} CPU s",
        f"  2 workers {two['wall']:7.1f} s wall, {two['cpu']:7.1f} CPU s: speed-up {one['wall'] / two['wall']:.2f}x",
    ]
    extra = two["cpu"] - one["cpu"]
    idle = 2 * two["wall"] - two["cpu"]
    ideal = one["cpu"] / 2
    lines.append(
        f"  against 2x ({ideal:.1f} s, half the 1-worker CPU): extra CPU {extra:+.1f} s, idle core-seconds {idle:.1f} "
        f"(so 2 x wall = 1-worker CPU + extra + idle = {one['cpu']:.1f} + {extra:.1f} + {idle:.1f})"
    )
    for run in (one, two):
        for pid, p in sorted(run["processes"].items(), key=lambda kv: (kv[1]["role"], kv[0])):
            if p["cpu"] < 0.5:
                continue
            span = f"busy {p['first_busy']:.1f}-{p['last_busy']:.1f} s" if p["first_busy"] is not None else "never busy"
            lines.append(f"    {run['workers']} worker(s) {p['role']:7s} pid {pid:>7}: {p['cpu']:7.1f} CPU s, {span}")
        if run["ner_per_worker"]:
            lines.append(f"    {run['workers']} worker(s) NER articles per worker process: {run['ner_per_worker']}")
    return lines


RAW = """
import json, sys, time
texts = json.load(open(sys.argv[1], encoding="utf-8"))
start, cpu = time.perf_counter(), time.process_time()
from transforms.entities import default_model, load_ner
nlp = load_ner(default_model())
n = sum(1 for _ in nlp.pipe(texts, batch_size=64))
print(json.dumps({"articles": n, "wall": time.perf_counter() - start, "cpu": time.process_time() - cpu}))
"""


def raw_spacy(corpus: pathlib.Path, work: pathlib.Path) -> list[str]:
    """spaCy alone: one process over every text, then two processes at once over half each."""
    texts = [p.read_text("utf-8") for p in sorted(corpus.rglob("*.txt"))]
    halves = [texts[0::2], texts[1::2]]
    files = []
    for name, part in (("all", texts), ("a", halves[0]), ("b", halves[1])):
        files.append(work / f"texts-{name}.json")
        files[-1].write_text(json.dumps(part), "utf-8")

    def start(path: pathlib.Path) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", RAW, str(path)], cwd=REPO, stdout=subprocess.PIPE, text=True)

    one = json.loads(start(files[0]).communicate()[0].strip().splitlines()[-1])
    began = time.perf_counter()
    jobs = [start(files[1]), start(files[2])]
    two = [json.loads(job.communicate()[0].strip().splitlines()[-1]) for job in jobs]
    wall = time.perf_counter() - began
    cpu = sum(t["cpu"] for t in two)
    return [
        f"spaCy alone on the corpus's {len(texts)} texts: 1 process {one['wall']:.1f} s wall, {one['cpu']:.1f} CPU s; "
        f"2 processes at once {wall:.1f} s wall, {cpu:.1f} CPU s ({two[0]['cpu']:.1f} + {two[1]['cpu']:.1f}): "
        f"speed-up {one['wall'] / wall:.2f}x, CPU for the same work {cpu / one['cpu']:.2f}x"
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--copies", type=float, default=0.1, help="Share of near copies in the corpus (benchmarks/corpus.py).")
    parser.add_argument("--pipeline_flags", default="", help="Extra pipeline flags for both runs.")
    parser.add_argument("--raw", action="store_true", help="Also spaCy alone, 1 process against 2 at once.")
    args = parser.parse_args()
    flags = shlex.split(args.pipeline_flags)
    with tempfile.TemporaryDirectory(prefix="news-ingest-cores-") as tmp:
        work = pathlib.Path(tmp)
        build_corpus(work / "corpus", args.articles, copies=args.copies)
        print(f"corpus: {args.articles} articles (machine: {os.cpu_count()} cores)")
        speedups = []
        for round_ in range(args.rounds):
            one = measured_run(work / "corpus", work / f"out1-{round_}", 1, flags)
            two = measured_run(work / "corpus", work / f"out2-{round_}", 2, flags)
            assert one["articles"] == two["articles"], (one["articles"], two["articles"])
            speedups.append(one["wall"] / two["wall"])
            print(f"round {round_ + 1}: {one['articles']} articles written by each run")
            print("\n".join(report(one, two)), flush=True)
        print("speed-ups: " + ", ".join(f"{s:.2f}x" for s in speedups))
        if args.raw:
            print("\n".join(raw_spacy(work / "corpus", work)), flush=True)


if __name__ == "__main__":
    main()
