"""50 logged-in annotators against a running ``judgelab serve``, on SQLite and on PostgreSQL, on a
20,000-item task with overlap 3.

Each client labels 20 items through the page's own protocol (app.page_client: login cookie, queue
join, SSE), sends some submits twice at once (a double click), and now and then goes back and
changes its previous answer. Afterwards the database must hold exactly 50 x 20 labels, one per
(item, annotator), no item with more than 3 annotators, one ``label_events`` row for every change
of answer, and kept queue counts equal to a recount. The latencies and counts are written to
test-output/load-<backend>.json (the README quotes them).
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from annotation import queue_counts
from annotation.accounts import add_user
from annotation.ingest import import_file
from annotation.models import Annotator, Item, Label, LabelEvent, QueueState, Task
from app.page_client import PageClient
from tests.app.conftest import CHOICE, ITEM, answer_buttons, open_view, start_server
from tests.conftest import PROJECT_ROOT, make_services

CLIENTS = 50
LABELS = 8
ITEMS = 20_000
OVERLAP = 3


def _items(path: Path) -> Path:
    with path.open("w") as fh:
        for i in range(ITEMS):
            row = {"id": f"l{i}", "prompt": f"Question {i}?", "response_a": f"Answer {i}.", "response_b": "No."}
            fh.write(json.dumps(row) + "\n")
    return path


PASSWORD = "load-password-1"


def _annotator(url: str, n: int, out: dict[str, Any], lock: threading.Lock) -> None:
    client = PageClient(url, f"load{n:02d}", PASSWORD)
    latencies: list[float] = []
    edits = doubles = 0
    try:
        view = open_view(client)
        choices = answer_buttons(view)
        for k in range(LABELS):
            item, answer = view[ITEM], choices[(n + k) % len(choices)]
            start = time.perf_counter()
            if k % 6 == 2:  # a double click: the same submit twice, at once
                view = client.call_many([("submit", (item, answer, "", None))] * 2)[1]
                doubles += 1
            else:
                view = client.call("submit", item, answer, "", None)
            latencies.append(time.perf_counter() - start)
            if k % 5 == 4:  # back to the item just labeled, change the answer
                back = client.call("back", view[ITEM])
                current = back[CHOICE]["value"]
                assert (back[ITEM], current) == (item, answer), "back shows another item or answer"
                assert answer_buttons(back) == choices
                changed = next(c for c in choices if c != current)
                view = client.call("submit", item, changed, "", None)
                edits += 1
        with lock:
            out["latencies"] += latencies
            out["edits"] += edits
            out["doubles"] += doubles
    except Exception as exc:  # every error is counted and shown by the test
        with lock:
            out["errors"].append(f"load{n:02d}: {type(exc).__name__}: {exc}"[:300])
    finally:
        client.close()


def _kept(session: Any, task_id: int) -> tuple[Any, ...]:
    task = session.execute(select(Task.n_items, Task.n_full, Task.slots_filled).where(Task.id == task_id)).one()
    labeled = session.execute(select(func.sum(Item.n_labeled)).where(Item.task_id == task_id)).scalar()
    done = sorted((a, d) for a, d in session.execute(select(QueueState.annotator_id, QueueState.done)))
    return tuple(task), labeled, done


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_fifty_annotators_double_clicks_and_edits(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if backend == "sqlite":
        db_url = f"sqlite:///{tmp_path / 'load.db'}"
    else:
        db_url = request.getfixturevalue("pg_cluster").create_database()
    services = make_services(db_url, tmp_path)
    with services.session() as session:
        import_file(session, _items(tmp_path / "items.jsonl"), task="load", overlap=OVERLAP)
        for n in range(CLIENTS):
            add_user(session, f"load{n:02d}", role="annotator", password=PASSWORD)
    url, proc = start_server(db_url, PROJECT_ROOT / "test-output" / f"serve-load-{backend}.log")
    out: dict[str, Any] = {"latencies": [], "edits": 0, "doubles": 0, "errors": []}
    lock = threading.Lock()
    try:
        threads = [threading.Thread(target=_annotator, args=(url, n, out, lock)) for n in range(CLIENTS)]
        wall = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - wall
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert out["errors"] == [], out["errors"][:5]

    with services.session() as session:
        task_id = session.scalars(select(Task.id).where(Task.name == "load")).one()
        rows = session.execute(
            select(Label.item_id, Label.annotator_id, Label.status)
            .join(Item, Label.item_id == Item.id)
            .join(Annotator, Label.annotator_id == Annotator.id)
            .where(Item.task_id == task_id, Annotator.kind == "human")
        ).all()
        changes = session.scalar(
            select(func.count())
            .select_from(LabelEvent)
            .where(LabelEvent.old_status.is_not(None), LabelEvent.old_value != LabelEvent.new_value)
        )
        kept = _kept(session, task_id)
        queue_counts.recount_task(session, task_id)
        recounted = _kept(session, task_id)
        session.rollback()
    services.close()
    keys = [(r.item_id, r.annotator_id) for r in rows]
    per_annotator: dict[int, int] = {}
    for _, annotator in keys:
        per_annotator[annotator] = per_annotator.get(annotator, 0) + 1
    assert len(rows) == CLIENTS * LABELS
    assert len(set(keys)) == len(keys), "an (item, annotator) pair was stored twice"
    assert set(per_annotator.values()) == {LABELS}
    assert {r.status for r in rows} == {"submitted"}
    assert changes == out["edits"], f"{changes} label_events for {out['edits']} changed answers"
    per_item: dict[int, int] = {}
    for item, _ in keys:
        per_item[item] = per_item.get(item, 0) + 1
    assert max(per_item.values()) <= OVERLAP
    assert kept == recounted, "the queue's kept counts differ from a recount of the labels"

    ms = sorted(1000 * x for x in out["latencies"])
    figures = {
        "backend": backend,
        "clients": CLIENTS,
        "labels": len(rows),
        "double_clicks": out["doubles"],
        "edits": out["edits"],
        "errors": len(out["errors"]),
        "wall_s": round(wall, 1),
        "submit_p50_ms": round(statistics.median(ms), 1),
        "submit_p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1),
        "submit_max_ms": round(ms[-1], 1),
    }
    (PROJECT_ROOT / "test-output").mkdir(exist_ok=True)
    (PROJECT_ROOT / "test-output" / f"load-{backend}.json").write_text(json.dumps(figures, indent=1))
    print(figures)
