"""The streaming job (``--streaming``) measured: latency, throughput against batch, memory over time.

    python benchmarks/streaming.py [--articles 400] [--soak 2000] [--bursts 20] [--only_soak]

(a) latency: files dropped one at a time into a watched folder (``--window_seconds 10
    --watch_interval 2``); seconds from each file's creation to its entry in the committed index;
(b) throughput: ``--articles`` benchmark articles dropped at once into a running job's folder,
    against a batch run of the same files (both from start to published);
(c) soak: ``--soak`` articles dropped in bursts over several minutes (``--window_seconds 5``),
    the job's RSS sampled every second: its growth after the first minute, and the peaks and
    lows of three equal stretches of the rest compared (RSS follows each window's size).
Figures go to docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import pathlib
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.corpus import build_corpus  # noqa: E402


def _committed(out: pathlib.Path) -> set[str]:
    import pyarrow.parquet as pq

    path = out / "_index" / "inputs.parquet"
    try:
        return set(pq.read_table(path, columns=["source_path"]).column("source_path").to_pylist())
    except (OSError, ValueError):
        return set()


def _job(inbox: pathlib.Path, out: pathlib.Path, interval: float, window: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", "--streaming", "--input", str(inbox), "--output", str(out),
         "--watch_interval", str(interval), "--window_seconds", str(window), "--quiet"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _stop(job: subprocess.Popen) -> None:
    job.send_signal(signal.SIGTERM)
    job.wait(timeout=120)


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def _wait_for(out: pathlib.Path, paths: set[str], seconds: float = 1800) -> float:
    deadline = time.monotonic() + seconds
    while not paths <= _committed(out):
        if time.monotonic() > deadline:
            raise TimeoutError("files not published in time")
        time.sleep(0.5)
    return time.monotonic()


def latency(work: pathlib.Path, sources: list[pathlib.Path], n: int = 8) -> list[float]:
    inbox, out = work / "lat_in", work / "lat_out"
    inbox.mkdir()
    job = _job(inbox, out, 2, 10)
    try:
        # The job's start-up (imports, loading the models) is not latency: it holds the output's
        # lock once it is ready to watch.
        deadline = time.monotonic() + 180
        while not (out / "_lock").exists():
            if time.monotonic() > deadline or job.poll() is not None:
                raise RuntimeError("the streaming job did not start")
            time.sleep(0.2)
        created: dict[str, float] = {}
        seen: dict[str, float] = {}
        done = threading.Event()

        def look() -> None:  # from the first file on, not after the last: a file may land before
            deadline = time.monotonic() + 300
            while not done.is_set() and time.monotonic() < deadline:
                now = _committed(out)
                for path in [p for p in list(created) if p in now and p not in seen]:
                    seen[path] = time.monotonic()
                if len(seen) == n:
                    return
                time.sleep(0.25)

        looker = threading.Thread(target=look, daemon=True)
        looker.start()
        for i, source in enumerate(sources[:n]):
            target = inbox / f"{i:03d}_{source.name}"
            shutil.copy(source, target)
            created[str(target)] = time.monotonic()
            time.sleep(3)
        looker.join(timeout=300)
        done.set()
        return [seen[p] - created[p] for p in sorted(seen)]  # in the order the files arrived
    finally:
        _stop(job)


def _files(corpus: pathlib.Path) -> list[pathlib.Path]:
    return sorted(p for p in corpus.rglob("*") if p.is_file())


def _copy(files: list[pathlib.Path], folder: pathlib.Path, prefix: str = "") -> list[pathlib.Path]:
    """Copies with names unique across the corpus' subfolders."""
    targets = []
    for i, f in enumerate(files):
        target = folder / f"{prefix}{i:05d}_{f.name}"
        shutil.copy(f, target)
        targets.append(target)
    return targets


def throughput(work: pathlib.Path, corpus: pathlib.Path, articles: int) -> tuple[float, float]:
    files = _files(corpus)[:articles]
    batch_in, batch_out = work / "tp_batch_in", work / "tp_batch_out"
    batch_in.mkdir()
    _copy(files, batch_in)
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "pipeline", "--input", str(batch_in), "--output", str(batch_out), "--quiet"], cwd=REPO, check=False)
    batch_s = time.monotonic() - start
    inbox, out = work / "tp_stream_in", work / "tp_stream_out"
    inbox.mkdir()
    job = _job(inbox, out, 2, 5)
    try:
        time.sleep(8)
        start = time.monotonic()
        targets = _copy(files, inbox)
        stream_s = _wait_for(out, {str(t) for t in targets}) - start
    finally:
        _stop(job)
    return batch_s, stream_s


def soak(work: pathlib.Path, corpus: pathlib.Path, articles: int, bursts: int = 20) -> list[tuple[float, float]]:
    files = _files(corpus)[:articles]
    inbox, out = work / "soak_in", work / "soak_out"
    inbox.mkdir()
    job = _job(inbox, out, 1, 5)
    samples: list[tuple[float, float]] = []
    done = threading.Event()

    def sample() -> None:
        start = time.monotonic()
        while not done.is_set():
            try:
                samples.append((time.monotonic() - start, _rss_mb(job.pid)))
            except (OSError, StopIteration):
                pass
            time.sleep(1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        per_burst = -(-len(files) // bursts)
        targets: list[pathlib.Path] = []
        for b in range(bursts):
            targets += _copy(files[b * per_burst : (b + 1) * per_burst], inbox, f"b{b:02d}_")
            time.sleep(10)
        _wait_for(out, {str(t) for t in targets})
    finally:
        done.set()
        _stop(job)
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=400)
    parser.add_argument("--soak", type=int, default=2000)
    parser.add_argument("--bursts", type=int, default=20, help="The soak's articles arrive in this many bursts, 10 s apart.")
    parser.add_argument("--only_soak", action="store_true", help="Skip the latency and throughput measures.")
    args = parser.parse_args(argv)
    work = pathlib.Path(tempfile.mkdtemp(prefix="news-ingest-stream-"))
    corpus = work / "corpus"
    build_corpus(corpus, max(args.articles, args.soak))
    sources = _files(corpus)
    if not args.only_soak:
        waits = latency(work, sources)
        print(
            f"latency (window 10 s, interval 2 s), {len(waits)} files: median {statistics.median(waits):.1f} s, "
            f"max {max(waits):.1f} s; in arrival order: {' '.join(f'{w:.1f}' for w in waits)}"
        )
        batch_s, stream_s = throughput(work, corpus, args.articles)
        print(f"throughput on {args.articles} articles: batch {batch_s:.1f} s, streaming {stream_s:.1f} s, streaming/batch {batch_s / stream_s:.2f}x")
    if args.soak:
        samples = soak(work, corpus, args.soak, args.bursts)
        warm = [(t, rss) for t, rss in samples if t >= 60] or samples
        print(
            f"soak: {args.soak} articles in {args.bursts} bursts, {len(samples)} RSS samples: after the first minute "
            f"{warm[0][1]:.0f} MB, max {max(r for _, r in warm):.0f} MB, last {warm[-1][1]:.0f} MB, growth {max(r for _, r in warm) / warm[0][1]:.2f}x"
        )
        # RSS rises and falls with each window's size; a trend shows in the peaks and floors of
        # equal stretches of time, compared with each other.
        thirds = [warm[i * len(warm) // 3 : (i + 1) * len(warm) // 3] for i in range(3)]
        peaks = [max(r for _, r in part) for part in thirds if part]
        floors = [min(r for _, r in part) for part in thirds if part]
        print(
            "after the first minute, in three equal stretches: peak RSS " + " / ".join(f"{p:.0f}" for p in peaks)
            + f" MB (last/first {peaks[-1] / peaks[0]:.2f}x), lowest " + " / ".join(f"{f:.0f}" for f in floors)
            + f" MB (last/first {floors[-1] / floors[0]:.2f}x)"
        )
        print("RSS every 30 s (s, MB): " + ", ".join(f"{t:.0f}:{rss:.0f}" for t, rss in samples[::30]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
