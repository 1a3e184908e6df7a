"""The researcher's dashboard and the judges' admin controls: handlers without a browser, then the
dashboard and the HTML report in real Chromium (no request may leave localhost)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from analysis.errors import MetricUndefinedError
from analysis.report_model import Agreement
from annotation.errors import AccessError, JudgelabError
from annotation.ingest import import_file
from annotation.services import Services
from app import dashboard
from app.cli import main
from app.messages import message_for
from tests.app.conftest import CHROMIUM_ARGS, PASSWORD, RunningApp, open_dashboard
from tests.conftest import PROJECT_ROOT

SHOTS = PROJECT_ROOT / "test-output"


def _task_with_labels(services: Services, tmp_path: Path) -> None:
    from annotation.accounts import add_user

    rows = [json.loads(line) for line in (PROJECT_ROOT / "data" / "sample_pairwise.jsonl").read_text().splitlines()]
    labels = tmp_path / "labels.jsonl"
    with labels.open("w") as fh:
        for n, r in enumerate(rows[:30]):
            for k in range(3):
                fh.write(
                    json.dumps(
                        {"item_id": r["id"], "annotator": f"h{k}", "value": r["expected"] if (n + k) % 5 else "tie"}
                    )
                    + "\n"
                )
            fh.write(
                json.dumps(
                    {
                        "item_id": r["id"],
                        "annotator": "judge",
                        "annotator_kind": "llm_judge",
                        "value": "A" if n % 3 else "B",
                        "probabilities": {"A": 0.6, "B": 0.4},
                    }
                )
                + "\n"
            )
    with services.session() as s:
        import_file(s, PROJECT_ROOT / "data" / "sample_pairwise.jsonl", task="t")
    with services.session() as s:
        import_file(s, labels, task="t", fmt="labels")
        add_user(s, "ann", role="annotator", password=PASSWORD)
        add_user(s, "rita", role="researcher", password=PASSWORD)
        add_user(s, "adam", role="admin", password=PASSWORD)


def test_dashboard_shows_the_report_figures(
    services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _task_with_labels(services, tmp_path)
    data = dashboard.dashboard(services, "rita", "t")
    (judge,) = data.report.judges_vs_humans
    assert data.headline[1][0] == "judge"
    assert isinstance(judge.with_ties, Agreement)
    assert f"{judge.with_ties.agreement:.3f}" in data.headline[1][1]
    assert {"agreement_heatmap", "position_bias", "confusion_judge"} <= set(data.figures)
    assert len(data.disagreements) > 0 and set(data.disagreements["judge"]) == {"judge"}
    conf = data.disagreements["judge confidence"].tolist()
    assert conf == sorted(conf, reverse=True)
    two = dashboard.dashboard(services, "rita", "t", raters="name:h0,name:h1,kind:llm_judge")
    assert two.report.humans == ["h0", "h1"] and two.report.judges == ["judge"]
    with pytest.raises(MetricUndefinedError, match="matches no annotator") as bad:
        dashboard.dashboard(services, "rita", "t", raters="name:nobody*")
    assert "Fix: use name:GLOB" in message_for(bad.value)  # what the page shows (app.messages)
    with pytest.raises(AccessError):
        dashboard.dashboard(services, "ann", "t")
    with pytest.raises(AccessError):
        dashboard.start_judge(services, "rita", "t", "model: m")
    with pytest.raises(JudgelabError, match="no running judge run"):
        dashboard.cancel_run(services, "adam", 12345)


def test_a_refresh_is_kept_until_the_labels_change(sqlite_services: Services, tmp_path: Path) -> None:
    """Issue 18: the same refresh again is a lookup (the same object back, no report computed), and
    any label write, a human's or a judge's, makes the next refresh compute again; the progress
    callback hears each step of a computed refresh."""
    from annotation.catalog import get_task
    from annotation.models import Annotator, Item
    from annotation.store import LabelIn, submit_labels

    _task_with_labels(sqlite_services, tmp_path)
    heard: list[tuple[float, str]] = []
    first = dashboard.dashboard(sqlite_services, "rita", "t", progress=lambda share, what: heard.append((share, what)))
    assert [share for share, _ in heard] == [0.05, 0.2, 0.85]
    assert "bootstrap resamples" in heard[1][1]
    heard.clear()
    again = dashboard.dashboard(sqlite_services, "rita", "t", progress=lambda share, what: heard.append((share, what)))
    assert again is first and heard == [(1.0, "Unchanged since the last refresh")]
    assert dashboard.dashboard(sqlite_services, "rita", "t", raters="name:h0,name:h1") is not first  # another key
    with sqlite_services.session() as s:
        item = s.scalars(select(Item.id).where(Item.task_id == get_task(s, "t").id)).all()[-1]
        judge = s.scalars(select(Annotator.id).where(Annotator.name == "judge")).one()
        submit_labels(s, [LabelIn(item, judge, "B")], changed_by="test")
    changed = dashboard.dashboard(sqlite_services, "rita", "t")
    assert changed is not first
    assert dashboard.dashboard(sqlite_services, "rita", "t") is changed
    with sqlite_services.session() as s:  # a write that changes nothing keeps the refresh
        submit_labels(s, [LabelIn(item, judge, "B")], changed_by="test")
    assert dashboard.dashboard(sqlite_services, "rita", "t") is changed


def test_dashboard_figures_equal_cli_json(
    sqlite_services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _task_with_labels(sqlite_services, tmp_path)
    data = dashboard.dashboard(sqlite_services, "rita", "t")
    db = sqlite_services.settings.resolved_database_url().removeprefix("sqlite:///")
    capsys.readouterr()
    assert main(["--db", db, "report", "--task", "t", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    for key in ("judges_vs_humans", "human_agreement", "pairwise_matrix", "bias"):
        assert cli[key] == data.report.to_json()[key], key


def test_html_report_is_offline_and_inert(running_app: RunningApp, chromium_path: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    out = tmp_path / "report.html"
    assert main(["--db", str(running_app.db), "report", "--task", "b-main", "--n-boot", "200", "--html", str(out)]) == 0
    text = out.read_text()
    assert "<script>alert('r')</script>" not in text and "judge&lt;b&gt;x&lt;/b&gt;" in text
    outside: list[str] = []
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

        def guard(route: Any) -> None:
            if route.request.url.startswith("file://"):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        page.route("**/*", guard)
        page.goto(out.as_uri())
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
        n_plots = page.locator(".js-plotly-plot").count()
        page.screenshot(path=str(SHOTS / "report.png"), full_page=False)
        browser.close()
    assert n_plots >= 5 and outside == [] and dialogs == []


def test_dashboard_in_the_browser(running_app: RunningApp, chromium_path: str) -> None:
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        page.on(
            "request",
            lambda r: None if r.url.startswith(("http://127.0.0.1", "data:", "blob:")) else outside.append(r.url),
        )
        open_dashboard(page, running_app.url, "rita", "b-main")
        page.wait_for_selector("#jl-fig-heatmap .js-plotly-plot .main-svg", timeout=60_000)
        page.wait_for_selector("#jl-fig-position .js-plotly-plot .main-svg", timeout=60_000)
        assert "judge<b>x</b>" in page.inner_text("#jl-headline")  # a hostile rater name stays text
        page.screenshot(path=str(SHOTS / "dashboard.png"), full_page=True)
        browser.close()
    assert outside == [], f"the dashboard made requests outside localhost: {outside[:5]}"


@pytest.mark.vllm
def test_admin_starts_watches_and_cancels_a_judge(sqlite_services: Services, tmp_path: Path, vllm_server: Any) -> None:
    import time

    _task_with_labels(sqlite_services, tmp_path)
    config = (
        f"name: smol-admin\nmodel: {vllm_server.model}\nbase_url: {vllm_server.base_url}\nmode: reasoning\nswap: true\n"
        "concurrency: 4\nsampling: {max_tokens: 64}\n"  # slow enough (about 5/s) for the cancel to land mid-run
    )
    with pytest.raises(AccessError):
        dashboard.start_judge(sqlite_services, "rita", "t", config)
    with pytest.raises(JudgelabError, match="has not allowed this host"):  # until the operator allows it
        dashboard.start_judge(sqlite_services, "adam", "t", config)
    sqlite_services.settings.web_judge_hosts = vllm_server.base_url.split("//")[1].split("/")[0]
    message = dashboard.start_judge(sqlite_services, "adam", "t", config)
    assert "started judge smol-admin" in message
    deadline = time.monotonic() + 120
    run_id = None
    while time.monotonic() < deadline:
        runs = dashboard.judge_runs(sqlite_services, "rita", "t")
        if runs and runs[0][5] > 0:
            run_id = runs[0][0]
            break
        time.sleep(0.2)
    assert run_id is not None, "the judge run never made progress"
    assert "cancellation requested" in dashboard.cancel_run(sqlite_services, "adam", run_id)
    while time.monotonic() < deadline:
        status = dashboard.judge_runs(sqlite_services, "rita", "t")[0]
        if status[3] == "cancelled":
            break
        time.sleep(0.2)
    assert status[3] == "cancelled" and 0 < status[5] < 122  # stopped before the 61 items x 2 orders


def test_report_png_figures(running_app: RunningApp, chromium_path: str, tmp_path: Path) -> None:
    out = tmp_path / "png"
    assert main(["--db", str(running_app.db), "report", "--task", "b-main", "--n-boot", "50", "--png", str(out)]) == 0
    files = sorted(out.glob("*.png"))
    assert {"agreement_heatmap.png", "position_bias.png"} <= {f.name for f in files}
    assert all(f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f.stat().st_size > 5_000 for f in files)


def test_dashboard_shows_one_question_at_a_time(sqlite_services: Services, tmp_path: Path) -> None:
    """Issue 17: a task of several questions: the dashboard opens on the first question, shows the
    one asked for, and the HTML report has the table across questions and a section per question."""
    from analysis.report import build_task_report
    from annotation.accounts import add_user
    from annotation.label_frames import task_question_frames
    from annotation.schema import load_schema_file
    from app.report_html import render_html

    schema = tmp_path / "s.yaml"
    schema.write_text(
        "questions:\n  - {name: verdict, kind: pairwise}\n  - {name: harmful, kind: choice, options: ['yes', 'no']}\n",
        encoding="utf-8",
    )
    sample = PROJECT_ROOT / "data" / "sample_pairwise.jsonl"
    ids = [json.loads(line)["id"] for line in sample.read_text().splitlines()][:20]
    rows = [
        {"item_id": i, "annotator": r, "annotator_kind": k, "question": q, "value": v}
        for n, i in enumerate(ids)
        for r, k in (("h0", "human"), ("h1", "human"), ("j", "llm_judge"))
        for q, v in (("verdict", "AB"[(n + len(r)) % 2]), ("harmful", ("yes", "no")[n % 2]))
    ]
    labels = tmp_path / "l.jsonl"
    labels.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with sqlite_services.session() as s:
        import_file(s, sample, task="q", label_schema=load_schema_file(schema))
        import_file(s, labels, task="q", fmt="labels")
        add_user(s, "rita", role="researcher", password="tulip-orbit-canyon-42")
    first = dashboard.dashboard(sqlite_services, "rita", "q", n_boot=50)
    assert (first.questions, first.question) == (["verdict", "harmful"], "verdict")
    assert first.report.question is not None and first.report.question.kind == "pairwise"
    harmful = dashboard.dashboard(sqlite_services, "rita", "q", question="harmful", n_boot=50)
    assert harmful.report.question is not None and harmful.report.question.level == "nominal"
    assert harmful.report.judges_vs_humans[0].with_ties.agreement == 1.0  # type: ignore[union-attr]
    with pytest.raises(JudgelabError, match="asks no question 'nope'"):
        dashboard.dashboard(sqlite_services, "rita", "q", question="nope")
    with sqlite_services.session() as s:
        frames, items, _ = task_question_frames(s, "q")
    html = render_html(build_task_report(frames, items, task="q", n_boot=50))
    assert html.count('class="question"') == 2 and 'id="overall"' in html
    assert html.count("plotly.js v") <= 1, "plotly.js inline once"
