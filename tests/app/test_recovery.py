"""Crash recovery: ``kill -9`` of ``judgelab serve`` while annotators submit. The SQLite database
opens cleanly afterwards, passes ``judgelab db check`` (PRAGMA integrity_check, foreign keys,
orphans) and holds every label whose submit was acknowledged; a restarted server serves on."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from annotation.accounts import add_user
from annotation.ingest import import_file
from app.page_client import PageClient
from tests.app.conftest import ITEM, answer_buttons, open_view, start_server
from tests.conftest import PROJECT_ROOT, make_services

CLIENTS = 8
PASSWORD = "crash-password-1"


@pytest.mark.slow
def test_kill_9_mid_submit_keeps_every_acknowledged_label(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    services = make_services(f"sqlite:///{db}", tmp_path)
    with services.session() as session:
        import_file(session, PROJECT_ROOT / "data" / "sample_pairwise.jsonl", task="c", overlap=CLIENTS)
        for n in range(CLIENTS):
            add_user(session, f"c{n}", role="annotator", password=PASSWORD)
    services.close()
    log = PROJECT_ROOT / "test-output" / "serve-crash.log"
    url, proc = start_server(str(db), log)
    acknowledged: list[tuple[str, int, str]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def annotator(n: int) -> None:
        client = PageClient(url, f"c{n}", PASSWORD)
        try:
            view = open_view(client)
            answer = answer_buttons(view)[n % 4]
            while not stop.is_set() and view[ITEM] is not None:
                item = view[ITEM]
                view = client.call("submit", item, answer, "", None)
                with lock:
                    acknowledged.append((f"c{n}", int(item), answer))
        except Exception:  # the server died under it: expected, the test checks the database
            pass
        finally:
            client.close()

    threads = [threading.Thread(target=annotator, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    while len(acknowledged) < 60 and proc.poll() is None:
        threading.Event().wait(0.02)
    proc.send_signal(signal.SIGKILL)  # mid-submit: eight clients are sending
    proc.wait(timeout=10)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with lock:
        acked = list(acknowledged)
    assert len(acked) >= 60

    with sqlite3.connect(db) as conn:  # opens cleanly, replays the WAL
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        stored = {
            (name, item): value
            for name, item, value in conn.execute(
                "SELECT a.name, l.item_id, l.value FROM labels l JOIN annotators a ON a.id = l.annotator_id"
            )
        }
    missing = [(n, i) for n, i, _ in acked if (n, i) not in stored]
    assert missing == [], f"{len(missing)} acknowledged labels lost: {missing[:5]}"
    check = subprocess.run(
        [sys.executable, "-m", "app.cli", "--db", str(db), "db", "check"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "integrity" in check.stdout.lower()

    url, proc = start_server(str(db), log)  # and the app serves on
    try:
        client = PageClient(url, "c0", PASSWORD)
        view = open_view(client)
        assert view[ITEM] is not None
        client.call("submit", view[ITEM], answer_buttons(view)[0], "", None)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM labels").fetchone()[0] >= len(stored) + 1
