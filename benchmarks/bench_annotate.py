"""20 concurrent logged-in annotators (gradio_client) against a running ``judgelab serve`` on SQLite, on a
task of 100,000 items (issue 18; ``--items 0``: the 61-item sample as before).

Prints p50/p95 of submit-to-next-item (one /submit call that stores the label and returns the
next item) next to a no-op Gradio event's round trip (/ping) measured in the same run, with the
same clients. Goal: submit p95 <= 150 ms and <= 1.5x the no-op p95.
Usage: python benchmarks/bench_annotate.py [--clients 20] [--labels 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from annotation.judges.local_server import free_port
from app.page_client import PageClient
from app.tab_annotate import ITEM_OUTPUTS, MORE_ANSWERS

ITEM = ITEM_OUTPUTS.index("shown_item")
NO_MORE = (None,) * len(MORE_ANSWERS)

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


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class PageAdapter:
    """gradio_client's ``predict(..., api_name=)`` over app.page_client (the page's own protocol)."""

    def __init__(self, client: PageClient) -> None:
        self.client = client

    def predict(self, *data: object, api_name: str) -> list[object]:
        return self.client.call(api_name, *data)


def run_group(job: tuple[str, list[int], int, float, float, str]) -> tuple[list[float], list[float], list[str], float]:
    """One process: its clients log in, open the task, then label concurrently (threads)."""
    import random
    import resource

    from gradio_client import Client

    url, ids, labels, go_at, think, kind = job
    clients: list[Any] = [
        # ssl_verify=False: the server is plain http, so nothing is verified either way, but with the
        # default gradio_client builds an SSL context (loading the CA bundle) for every request, ~50 ms
        # of client CPU per call that 20 clients on this machine would take from the server
        Client(url, auth=(f"b{i}", PASSWORD), verbose=False, ssl_verify=False)
        if kind == "gradio_client"
        else PageAdapter(PageClient(url, f"b{i}", PASSWORD))
        for i in ids
    ]
    # the item on screen: the view's output named shown_item (app.tab_annotate.ITEM_OUTPUTS; it was
    # the last output until the answer rows of issue 17 came after it)
    # gradio_client leaves the session's State output (the first) out of what it returns
    at = ITEM if kind == "page" else ITEM - ITEM_OUTPUTS[:ITEM].count("state")
    shown = [c.predict(api_name="/open")[at] for c in clients]
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    submit_ms: list[float] = []
    ping_ms: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def annotator(client: Any, item: Any) -> None:
        rng = random.Random(id(client))
        time.sleep(max(0.0, go_at - time.time()) + rng.uniform(0, think))
        for n in range(labels):
            # the annotator reads the item before answering (think time, jittered so clients drift apart)
            time.sleep(rng.uniform(0.5, 1.5) * think)
            try:
                start = time.perf_counter()
                client.predict(api_name="/ping")
                mid = time.perf_counter()
                answer = "Left is better" if n % 2 else "Tie"
                # every input of the event: gradio_client refuses a call that leaves out the answer
                # rows after the first (issue 17 added them; None: not asked on this task)
                view = client.predict(item, answer, "", None, *NO_MORE, api_name="/submit")
                end = time.perf_counter()
                with lock:
                    ping_ms.append((mid - start) * 1000)
                    submit_ms.append((end - mid) * 1000)
                item = view[at]
            except Exception as exc:  # counted and reported
                with lock:
                    errors.append(str(exc)[:200])

    threads = [threading.Thread(target=annotator, args=(c, i)) for c, i in zip(clients, shown, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    return submit_ms, ping_ms, errors, cpu


def measure(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    """One fresh database and server; ``args.clients`` clients of ``kind`` label concurrently."""
    tmp = Path(tempfile.mkdtemp(prefix="judgelab-bench-annotate-"))
    db = tmp / "bench.db"
    if args.items:
        source = tmp / "items.jsonl"
        with source.open("w", encoding="utf-8") as fh:
            for i in range(args.items):
                row = {
                    "id": f"b{i}",
                    "prompt": f"Question {i}: explain it.",
                    "response_a": f"A says {i}.",
                    "response_b": f"B says {i}, at more length.",
                }
                fh.write(json.dumps(row) + "\n")
        cli(db, "import", str(source), "--task", "bench", "--overlap", "3")
    else:
        cli(
            db,
            "import",
            str(ROOT / "data" / "sample_pairwise.jsonl"),
            "--task",
            "bench",
            "--overlap",
            str(args.clients),
        )
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
    server_cpu_before = process_cpu(server.pid)
    start = time.perf_counter()
    try:
        with ProcessPoolExecutor(max_workers=args.procs) as pool:
            jobs = [(url, g, args.labels, time.time() + 3.0, args.think, kind) for g in groups]
            results = list(pool.map(run_group, jobs))
        wall = time.perf_counter() - start
        server_cpu = process_cpu(server.pid) - server_cpu_before
    finally:
        server.terminate()
        server.wait(timeout=20)
    submit_ms = [x for r in results for x in r[0]]
    ping_ms = [x for r in results for x in r[1]]
    errors = [x for r in results for x in r[2]]
    import sqlite3

    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT count(*) FROM labels").fetchone()[0]
    if not submit_ms:
        raise SystemExit(f"no submit went through ({len(errors)} errors; the first: {errors[:1]})")
    return {
        "client": kind,
        "submits": len(submit_ms),
        "stored": stored,
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "wall_s": wall,
        "server_cpu_s": server_cpu,
        "client_cpu_s": sum(r[3] for r in results),
        "submit_p50_ms": statistics.median(submit_ms),
        "submit_p95_ms": pct(submit_ms, 0.95),
        "submit_max_ms": max(submit_ms),
        "noop_p50_ms": statistics.median(ping_ms),
        "noop_p95_ms": pct(ping_ms, 0.95),
        "noop_max_ms": max(ping_ms),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--labels", type=int, default=12, help="labels per client")
    parser.add_argument(
        "--items",
        type=int,
        default=100_000,
        help="items of the task (overlap 3); 0: the 61-item sample, overlap = clients",
    )
    parser.add_argument("--procs", type=int, default=4, help="client processes")
    parser.add_argument(
        "--client",
        choices=["gradio_client", "page", "both"],
        default="both",
        help="gradio_client, the page's own protocol (join + SSE) as a browser speaks it, or both in turn",
    )
    parser.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="mean seconds an annotator reads an item before answering (0: flat out)",
    )
    args = parser.parse_args()
    kinds = ["gradio_client", "page"] if args.client == "both" else [args.client]
    print(
        f"bench_annotate: {args.clients} concurrent annotators x {args.labels} labels on SQLite, think time "
        f"{args.think:g} s (jittered 0.5-1.5x), machine {os.cpu_count()} cores"
    )
    out = []
    for kind in kinds:
        r = measure(kind, args)
        out.append(r)
        ok = r["submit_p95_ms"] <= 150 and r["submit_p95_ms"] <= 1.5 * r["noop_p95_ms"]
        print(
            f"  [{kind}] {r['submits']} submits in {r['wall_s']:.1f} s, {r['stored']} labels stored, "
            f"{r['errors']} errors; CPU server {r['server_cpu_s']:.1f} s, clients {r['client_cpu_s']:.1f} s"
        )
        print(
            f"    submit->next item  p50 {r['submit_p50_ms']:6.1f} ms  p95 {r['submit_p95_ms']:6.1f} ms  "
            f"max {r['submit_max_ms']:6.1f} ms"
        )
        print(
            f"    no-op event        p50 {r['noop_p50_ms']:6.1f} ms  p95 {r['noop_p95_ms']:6.1f} ms  "
            f"max {r['noop_max_ms']:6.1f} ms"
        )
        print(
            f"    ratio p95 {r['submit_p95_ms'] / r['noop_p95_ms']:4.2f}x | goal p95 <= 150 ms and <= 1.5x no-op: "
            f"{'OK' if ok else 'NOT MET'}"
        )
        if r["first_error"]:
            print("    first error:", r["first_error"])
    print("RESULT " + json.dumps({"bench": "annotate", "clients": args.clients, "think_s": args.think, "runs": out}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
