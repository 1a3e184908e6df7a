"""``judgelab demo`` end to end, scripted: it imports the samples, prints the logins, judges in the
background (here against the session's local vLLM server via --judge-url, the same server the
default path starts), and serves the app; an annotator labels, the researcher's dashboard then has
the judge against that human; Ctrl-C stops everything cleanly."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from annotation.judges.local_server import free_port
from app.page_client import PageClient
from app.tab_dashboard import DASHBOARD_OUTPUTS
from tests.app.conftest import ITEM, answer_buttons, open_view
from tests.conftest import PROJECT_ROOT


@pytest.mark.vllm
@pytest.mark.slow
def test_demo_humans_and_judge_side_by_side(tmp_path: Path, vllm_server: Any) -> None:
    db = tmp_path / "demo.db"
    port = free_port()
    # the first 20 pairwise and 8 single-answer samples: the judge is done in about 40 s, not 2 minutes
    data = tmp_path / "data"
    data.mkdir()
    for name, keep in (("sample_pairwise.jsonl", 20), ("sample_single.jsonl", 8)):
        lines = (PROJECT_ROOT / "data" / name).read_text(encoding="utf-8").splitlines()[:keep]
        (data / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    (data / "guidelines.md").write_text((PROJECT_ROOT / "data" / "guidelines.md").read_text(encoding="utf-8"))
    cmd = [sys.executable, "-m", "app.cli", "--db", str(db), "demo", "--port", str(port), "--data", str(data)]
    cmd += ["--judge-url", vllm_server.base_url, "--judge-model", vllm_server.model]
    proc = subprocess.Popen(
        cmd,
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(120), "".join(lines)
        text = "".join(lines)
        logins = dict(re.findall(r"(demo-[a-z0-9-]+)\s+password: (\S+)", text))
        assert set(logins) == {"demo-admin", "demo-researcher", "demo-annotator-1", "demo-annotator-2"}, text
        assert "simulated humans sim-human-1, sim-human-2, sim-human-3 (not people)" in text
        assert "importing" in text and f"http://127.0.0.1:{port}" in text

        url = f"http://127.0.0.1:{port}/"
        annotator = PageClient(url, "demo-annotator-1", logins["demo-annotator-1"])
        view = open_view(annotator)
        choices = answer_buttons(view)
        labeled = []
        for n in range(6):
            labeled.append(view[ITEM])
            view = annotator.call("submit", view[ITEM], choices[n % 3], "", None)
        deadline = time.monotonic() + 180
        judged = 0
        while time.monotonic() < deadline:
            with sqlite3.connect(db) as conn:
                judged = conn.execute(
                    "SELECT count(*) FROM labels l JOIN annotators a ON a.id = l.annotator_id "
                    f"WHERE a.kind = 'llm_judge' AND l.item_id IN ({','.join('?' * len(labeled))})",
                    labeled,
                ).fetchone()[0]
            if judged == 2 * len(labeled):  # both orders
                break
            time.sleep(1)
        assert judged == 2 * len(labeled), "".join(lines)

        # the judge finishes the pairwise task (both orders of every item)
        while time.monotonic() < deadline and "task 'demo-pairwise' finished" not in "".join(lines):
            time.sleep(1)
        researcher = PageClient(url, "demo-researcher", logins["demo-researcher"])
        out = researcher.call("dashboard", "demo-pairwise", "", "")
        assert "humans 4, judges 1" in out[0]  # three simulated humans and the annotator
        rows = re.findall(r"<tr[^>]*><td>(smollm2[^<]*)</td>(.*?)</tr>", out[1])
        assert rows, out[1][:500]
        cells = re.findall(r"<td>(.*?)</td>", rows[0][1])
        # n, and the alternative annotator test's verdict (or the reason it has none on 20 items)
        assert int(cells[4]) >= len(labeled) and cells[-1].strip(), cells
        record = out[DASHBOARD_OUTPUTS.index("record")]
        assert record and "Labels" in record, "no disagreement in the record view"
        # the Judges tab's example config points at the demo's vLLM, and an admin can start it
        admin = PageClient(url, "demo-admin", logins["demo-admin"])
        example = next(
            c["props"]["value"]
            for c in admin.http.get("/config").json()["components"]
            if c.get("type") == "code" and "judge config" in str(c["props"].get("label"))
        )
        assert vllm_server.base_url in example, example
        started = admin.call("start_judge", "demo-pairwise", example.rstrip() + "\nname: web-check\n", None)
        assert "started judge web-check" in started[0], started
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            reader.join(timeout=5)
            # which stop step hung, or whether the demo ever saw the signal (two local runs timed out
            # here: started in the background, the demo had inherited SIGINT ignored)
            raise AssertionError("the demo did not stop within 60 s of Ctrl-C:\n" + "".join(lines)[-4000:]) from None
        reader.join(timeout=5)
    text = "".join(lines)
    assert proc.returncode == 0, text
    assert "app stopped" in text and "judge run" in text, text


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP])
def test_every_stop_signal_stops_the_demo_cleanly(tmp_path: Path, stop: signal.Signals) -> None:
    """``docker stop`` (SIGTERM) and a closed terminal (SIGHUP) run the same cleanup as Ctrl-C: the
    app stops and frees its port (and the judge and the vLLM server it started, in the same
    ``finally``)."""
    import socket

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "--db", str(tmp_path / "d.db"), "demo", "--no-judge", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "GRADIO_ANALYTICS_ENABLED": "False"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    out: list[str] = []
    for line in proc.stdout:
        out.append(line)
        if "Ctrl-C stops everything" in line:
            break
    proc.send_signal(stop)
    rest, _ = proc.communicate(timeout=60)
    text = "".join(out) + rest
    assert proc.returncode == 0, text
    assert f"stopping ({stop.name})" in text and "- app stopped" in text
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, "the port is still served"


def test_a_server_child_dies_with_its_parent_even_on_sigkill() -> None:
    """The vLLM server is spawned with a parent-death signal: when the parent is killed without any
    cleanup (SIGKILL), the child gets SIGTERM from the kernel and ends."""
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from annotation.judges.local_server import spawn_child\n"
            "child = spawn_child([sys.executable, '-c', 'import time; time.sleep(300)'], log=None)\n"
            "print(child.pid, flush=True)\n"
            "time.sleep(300)\n",
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.1)
    assert not _alive(child), "the child outlived its killed parent"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in state  # a zombie has ended; only its exit status waits to be read


def test_demo_keeps_passwords_and_simulates_humans_once(tmp_path: Path) -> None:
    """Issue 16, 15: the next run of the same demo database prints the same passwords (kept in a file
    only its owner reads), --reset-passwords makes new ones, a password changed elsewhere is replaced;
    the simulated humans label every sample item once, near the stated noise, and a second run adds
    nothing."""
    from annotation.accounts import set_password
    from app.demo import ACCOUNTS, SIM_NOISE, SIMULATED, demo_accounts, import_samples, logins_file, simulate_humans
    from tests.conftest import make_services

    services = make_services(f"sqlite:///{tmp_path / 'demo.db'}", tmp_path)
    try:
        import_samples(services, PROJECT_ROOT / "data")
        first, new = demo_accounts(services)
        assert new and [n for n, _, _ in first] == [n for n, _ in ACCOUNTS]
        assert oct(logins_file(services).stat().st_mode & 0o777) == "0o600"
        again, new = demo_accounts(services)
        assert again == first and not new
        with services.session() as session:
            set_password(session, "demo-admin", "a-password-set-by-hand-77")
        after, _ = demo_accounts(services)
        changed = {n for (n, _, p), (_, _, q) in zip(first, after, strict=True) if p != q}
        assert changed == {"demo-admin"}
        fresh, new = demo_accounts(services, reset=True)
        assert new and all(p != q for (_, _, p), (_, _, q) in zip(after, fresh, strict=True))

        said = simulate_humans(services)
        assert "not people" in said and f"{1 - SIM_NOISE:.1f}" in said
        assert "labeled before" in simulate_humans(services)
        with sqlite3.connect(tmp_path / "demo.db") as conn:
            rows = conn.execute(
                "SELECT a.name, i.metadata, l.value, t.protocol FROM labels l "
                "JOIN annotators a ON a.id = l.annotator_id JOIN items i ON i.id = l.item_id "
                "JOIN tasks t ON t.id = i.task_id"
            ).fetchall()
    finally:
        services.close()
    assert {r[0] for r in rows} == set(SIMULATED) and len(rows) == 3 * (61 + 24)
    import json

    pairwise = [(json.loads(meta)["expected"], value) for _, meta, value, protocol in rows if protocol == "pairwise"]
    wrong = sum(expected != value for expected, value in pairwise) / len(pairwise)
    assert 0.1 < wrong < 0.3, wrong  # the stated noise, 0.2, over 183 labels
