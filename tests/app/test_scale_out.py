"""Scale-out: two ``judgelab serve`` processes on one PostgreSQL database, as behind a load
balancer. Everything that matters lives in the database: an annotator who opens the page on the
other process gets the same reserved item and goes on there; two annotators on the two processes
never take the same last slot; labels sent through both land once each. (Gradio keeps the login
token and the event stream in the process, so a balancer must keep a browser on one process:
sticky sessions; a login cookie of one process is not valid on the other, checked here too.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from annotation.accounts import add_user
from annotation.ingest import import_file
from annotation.models import Annotator, Item, Label
from app.page_client import PageClient
from tests.app.conftest import ITEM, answer_buttons, open_view, start_server
from tests.conftest import PROJECT_ROOT, make_services

PASSWORD = "scale-password-1"


@pytest.mark.slow
def test_two_app_processes_on_one_postgres(pg_cluster: Any, tmp_path: Path) -> None:
    url = pg_cluster.create_database()
    services = make_services(url, tmp_path)
    with services.session() as session:
        import_file(session, PROJECT_ROOT / "data" / "sample_pairwise.jsonl", task="s", overlap=1)
        for name in ("a1", "a2"):
            add_user(session, name, role="annotator", password=PASSWORD)
    logs = PROJECT_ROOT / "test-output"
    (url_a, proc_a), (url_b, proc_b) = (start_server(url, logs / f"serve-scale-{n}.log") for n in "ab")
    try:
        a1_on_a, a1_on_b = PageClient(url_a, "a1", PASSWORD), PageClient(url_b, "a1", PASSWORD)
        first = open_view(a1_on_a)
        assert open_view(a1_on_b)[ITEM] == first[ITEM]  # the reservation is in the database
        choices = answer_buttons(first)
        view = a1_on_b.call("submit", first[ITEM], choices[0], "", None)
        done = [first[ITEM]]
        for n in range(6):  # alternate processes
            client = a1_on_a if n % 2 else a1_on_b
            if n % 2:
                view = open_view(client)
            done.append(view[ITEM])
            view = client.call("submit", view[ITEM], choices[n % 4], "", None)
        a2_on_a, a2_on_b = PageClient(url_a, "a2", PASSWORD), PageClient(url_b, "a2", PASSWORD)
        seen = {open_view(a2_on_a)[ITEM], open_view(a2_on_b)[ITEM]}
        assert len(seen) == 1 and not seen & set(done)  # overlap 1: a2 never gets a1's items

        # a1's login cookie from process A, presented to process B: B does not know the token
        with httpx.Client(base_url=url_a, timeout=30) as fresh:
            fresh.post("/login", data={"username": "a1", "password": PASSWORD}).raise_for_status()
            cookies = dict(fresh.cookies)
        with httpx.Client(base_url=url_b, cookies=cookies, timeout=30) as stolen:
            assert stolen.get("/config").status_code in (401, 403)
    finally:
        for proc in (proc_a, proc_b):
            proc.terminate()
            proc.wait(timeout=20)
    with services.session() as session:
        per_item = session.execute(
            select(Label.item_id, func.count())
            .join(Annotator, Label.annotator_id == Annotator.id)
            .join(Item, Label.item_id == Item.id)
            .where(Annotator.kind == "human")
            .group_by(Label.item_id)
        ).all()
        mine = session.scalars(
            select(Label.item_id).join(Annotator, Label.annotator_id == Annotator.id).where(Annotator.name == "a1")
        ).all()
    services.close()
    assert sorted(mine) == sorted(done) and len(set(done)) == 7
    assert all(n == 1 for _, n in per_item)
