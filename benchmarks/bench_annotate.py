"""20 concurrent logged-in annotators (gradio_client) against a running ``judgelab serve`` on SQLite.

Prints p50/p95 of submit-to-next-item (one /submit call that stores the label and returns the
next item) next to a no-op Gradio event's round trip (/ping) measured in the same run, with the
same clients. Goal: submit p95 <= 150 ms and <= 1.5x the no-op p95.
Usage: python benchmarks/bench_annotate.py [--clients 20] [--labels 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from annotation.judges.local_server import free_port

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench-password"


def cli(db: Path, *args: str, stdin: str | None = None) -> None:
    subprocess.run(
        [sys.executable, "-m", "app.cli", "--db", str(db), *args],
        cwd=ROOT,
        input=stdin,
        text=True,
        check=True,
        capture_output=True,
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_group(job: tuple[str, list[int], int, float]) -> tuple[list[float], list[float], list[str]]:
    """One process: its clients log in, open the task, then label concurrently (threads)."""
    from gradio_client import Client

    url, ids, labels, go_at = job
    clients = [Client(url, auth=(f"b{i}", PASSWORD), verbose=False) for i in ids]
    for c in clients:
        c.predict(api_name="/open")
    submit_ms: list[float] = []
    ping_ms: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def annotator(client: Client) -> None:
        time.sleep(max(0.0, go_at - time.time()))
        for n in range(labels):
            try:
                start = time.perf_counter()
                client.predict(api_name="/ping")
                mid = time.perf_counter()
                client.predict("Left is better" if n % 2 else "Tie", "", None, api_name="/submit")
                end = time.perf_counter()
                with lock:
                    ping_ms.append((mid - start) * 1000)
                    submit_ms.append((end - mid) * 1000)
            except Exception as exc:  # counted and reported
                with lock:
                    errors.append(str(exc)[:200])

    threads = [threading.Thread(target=annotator, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return submit_ms, ping_ms, errors


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--labels", type=int, default=15, help="labels per client")
    parser.add_argument("--procs", type=int, default=4, help="client processes")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="judgelab-bench-annotate-"))
    db = tmp / "bench.db"
    cli(db, "import", str(ROOT / "data" / "sample_pairwise.jsonl"), "--task", "bench", "--overlap", str(args.clients))
    for i in range(args.clients):
        cli(db, "users", "add", f"b{i}", "--role", "annotator", "--password-stdin", stdin=PASSWORD + "\n")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "--db", str(db), "serve", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    for _ in range(200):
        try:
            urllib.request.urlopen(url, timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    # clients run in several processes (like browsers on other machines), so the clients' own
    # Python overhead does not queue behind one GIL
    from concurrent.futures import ProcessPoolExecutor

    groups = [list(range(i, args.clients, args.procs)) for i in range(args.procs)]
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.procs) as pool:
        results = list(pool.map(run_group, [(url, g, args.labels, time.time() + 3.0) for g in groups]))
    wall = time.perf_counter() - start
    submit_ms = [x for r in results for x in r[0]]
    ping_ms = [x for r in results for x in r[1]]
    errors = [x for r in results for x in r[2]]
    server.terminate()
    server.wait(timeout=20)
    import sqlite3

    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT count(*) FROM labels").fetchone()[0]
    p95_s, p95_p = pct(submit_ms, 0.95), pct(ping_ms, 0.95)
    print(
        f"bench_annotate: {args.clients} concurrent annotators x {args.labels} labels on SQLite "
        f"({len(submit_ms)} submits in {wall:.1f} s, {stored} labels stored, {len(errors)} errors)"
    )
    print(
        f"  submit->next item  p50 {statistics.median(submit_ms):6.1f} ms  p95 {p95_s:6.1f} ms  max "
        f"{max(submit_ms):6.1f} ms"
    )
    print(
        f"  no-op event        p50 {statistics.median(ping_ms):6.1f} ms  p95 {p95_p:6.1f} ms  "
        f"max {max(ping_ms):6.1f} ms"
    )
    ok = p95_s <= 150 and p95_s <= 1.5 * p95_p
    print(f"  ratio p95 {p95_s / p95_p:4.2f}x | goal p95 <= 150 ms and <= 1.5x no-op: {'OK' if ok else 'NOT MET'}")
    if errors:
        print("  first error:", errors[0])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
