"""A running ``judgelab serve`` on a temporary SQLite database (one per module), and Chromium."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from annotation.judges.local_server import free_port
from app.tab_annotate import ITEM_OUTPUTS, LAYOUT_OUTPUTS, OPEN_PICKERS
from tests.conftest import PROJECT_ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PASSWORD = "tulip-orbit-canyon-42"
HOSTILE = (
    '<img src=x onerror=alert(1)> and <script>alert("xss")</script> then [click](javascript:alert(2)) and ' + "x" * 3000
)

INDENTED_CODE = "**2**, as Python prints it:\n\n    x = 1 + 1\n    print(x)"

# an item view as the app returns it (app/tab_annotate.py names its outputs): where the answer buttons
# and the id of the item on screen are; "open" returns the task pickers and the layout outputs first
CHOICE, ITEM = ITEM_OUTPUTS.index("choice"), ITEM_OUTPUTS.index("shown_item")
OPEN_PREFIX = len(OPEN_PICKERS) + len(LAYOUT_OUTPUTS)


def open_view(client: Any) -> list[Any]:
    """The item view a page client gets when it opens the app (first task)."""
    return list(client.call("open")[OPEN_PREFIX:])


def chosen_item(view: list[Any]) -> Any:
    """The shown item's id in what "choose_task" returns (the guidelines and the layout come first)."""
    return view[1 + len(LAYOUT_OUTPUTS) + ITEM]


def answer_buttons(view: list[Any]) -> list[str]:
    """The answer buttons of a view that sets them (opening a task, going back); the next item after
    a submit keeps the buttons and sends only the answer's value."""
    return [c[1] if isinstance(c, list | tuple) else c for c in view[CHOICE]["choices"]]


def login_annotator(page: Any, url: str, user: str) -> None:
    """Log in on the page and wait for the Annotate tab's first item."""
    page.goto(url)
    page.get_by_label("username").fill(user)
    page.get_by_label("password").fill(PASSWORD)
    page.get_by_role("button", name="Login").click()
    page.wait_for_selector("#jl-who", timeout=30_000)
    page.wait_for_function("document.querySelector('#jl-progress').innerText.includes('for you')", timeout=30_000)


def open_dashboard(page: Any, url: str, user: str, task: str) -> None:
    """Log in to the page as a researcher (who lands on the Dashboard tab) and show ``task``."""
    page.goto(url)
    page.get_by_label("username").fill(user)
    page.get_by_label("password").fill(PASSWORD)
    page.get_by_role("button", name="Login").click()
    page.wait_for_selector("#jl-dash-task input", state="visible", timeout=30_000)
    # the page opens on the first task with labels; another task is chosen (which refreshes)
    page.wait_for_function("document.querySelector('#jl-dash-task input').value !== ''", timeout=30_000)
    if page.locator("#jl-dash-task input").input_value() != task:
        page.locator("#jl-dash-task input").click()
        page.get_by_role("option", name=task).last.click()


def tab_button(page: Any, name: str) -> Any:
    """A tab's button (Gradio draws each tab's button twice: the bar and its overflow menu)."""
    return page.locator("button[role=tab]:visible", has_text=name).last


def visible_tabs(page: Any) -> set[str]:
    return set(page.eval_on_selector_all("button[role=tab]", "els => els.map(e => e.innerText.trim())"))


@dataclass
class RunningApp:
    url: str
    db: Path
    process: subprocess.Popen[bytes]


def _cli(db: Path, *args: str, stdin: str | None = None) -> None:
    subprocess.run(
        [sys.executable, "-m", "app.cli", "--db", str(db), *args],
        cwd=PROJECT_ROOT,
        input=stdin,
        text=True,
        check=True,
        capture_output=True,
    )


def start_server(db: str, log: Path, *extra: str, port: int | None = None) -> tuple[str, subprocess.Popen[bytes]]:
    """``judgelab --db DB serve`` on ``port`` (default: a free one), its output in ``log``; returns
    once it answers."""
    port = port or free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    log.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "--db", db, "serve", "--port", str(port), *extra],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            urllib.request.urlopen(url, timeout=1)
            return url, proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    pytest.fail(f"judgelab serve did not answer on {url}; see {log}")


UNFENCED_CODE = "Here is the function:\ndef f(x):\n    if x:\n        return 1\n    return 0"
LONG_TEXT = "\n\n".join(f"Paragraph {n}: " + "a long answer that goes on. " * 12 for n in range(1, 41))
SCALE_ANCHORS = "1=unusable,3=acceptable,5=excellent"


def prepare_app_db(tmp: Path) -> Path:
    """The page tests' database: a hostile task, the sample pairwise task with expert and judge labels,
    a 1-5 scale task with anchors and long or code-shaped responses, and the accounts."""
    db = tmp / "app.db"
    hostile = tmp / "hostile.jsonl"
    hostile.write_text(
        json.dumps(
            {
                "id": "h1",
                "prompt": "<script>alert('p')</script> What is 1+1?",
                "response_a": HOSTILE,
                # every line after the first indented: Gradio's Markdown postprocessing would dedent
                # the code block into prose (the page must show the response as written)
                "response_b": INDENTED_CODE,
            }
        )
        + "\n"
    )
    _cli(db, "import", str(hostile), "--task", "a-hostile")
    _cli(
        db,
        "import",
        str(PROJECT_ROOT / "data" / "sample_pairwise.jsonl"),
        "--task",
        "b-main",
        "--instructions",
        str(PROJECT_ROOT / "data" / "guidelines.md"),
    )
    rows = [json.loads(line) for line in (PROJECT_ROOT / "data" / "sample_pairwise.jsonl").read_text().splitlines()]
    labels = tmp / "labels.jsonl"
    with labels.open("w") as fh:
        for n, r in enumerate(rows[40:52]):
            for k in range(3):
                value = r["expected"] if (n + k) % 4 else "tie"
                fh.write(json.dumps({"item_id": r["id"], "annotator": f"expert{k}", "value": value}) + "\n")
            fh.write(
                json.dumps(
                    {
                        "item_id": r["id"],
                        "annotator": "judge<b>x</b>",
                        "annotator_kind": "llm_judge",
                        "value": "A",
                        "probabilities": {"A": 0.6, "B": 0.3, "tie": 0.1},
                        "rationale": "<script>alert('r')</script>",
                    }
                )
                + "\n"
            )
    _cli(db, "import", str(labels), "--task", "b-main", "--format", "labels")
    scale = tmp / "scale.jsonl"
    scale.write_text(
        "".join(
            json.dumps({"id": f"s{n}", "prompt": f"Question {n}: write f.", "response": text}) + "\n"
            for n, text in enumerate((UNFENCED_CODE, LONG_TEXT))
        )
    )
    _cli(db, "import", str(scale), "--task", "c-scale", "--protocol", "single", "--anchors", SCALE_ANCHORS)
    for name, role in (
        ("ann1", "annotator"),
        ("ann2", "annotator"),
        ("ann3", "annotator"),
        ("rita", "researcher"),
        ("adam", "admin"),
    ):
        _cli(db, "users", "add", name, "--role", role, "--password-stdin", stdin=PASSWORD + "\n")
    return db


@pytest.fixture(scope="module")
def running_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    db = prepare_app_db(tmp_path_factory.mktemp("app"))
    url, proc = start_server(str(db), PROJECT_ROOT / "test-output" / "serve.log")
    yield RunningApp(url, db, proc)
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        if os.environ.get("JUDGELAB_REQUIRE_BROWSER") == "1":
            pytest.fail("Debian chromium is required (JUDGELAB_REQUIRE_BROWSER=1) but not installed")
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    return CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))
