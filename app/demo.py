"""``judgelab demo``: the main job on the sample data, in one command.

1. a SQLite database (``demo.db`` in the data dir, or ``--db``) with the sample tasks imported;
2. one researcher and two annotator accounts (their passwords are reset and printed on every run);
3. an LLM judge labeling the pairwise task in the background: the local vLLM server (CPU,
   SmolLM2-135M) started here, or an existing server (``--judge-url``/``--judge-model``), or none
   (``--no-judge``); the dashboard fills in as it goes;
4. the app on http://127.0.0.1:7860. Ctrl-C stops the app, the judge run and the server it started.
"""

from __future__ import annotations

import argparse
import signal
import threading
import time
from pathlib import Path

from sqlalchemy import func, select

from annotation.accounts import add_user, generate_password, get_account, set_password
from annotation.ingest import import_file
from annotation.judges.config import JudgeConfig, parse_config
from annotation.models import Annotator, Item, JudgeRun, Label, Task
from annotation.services import Services
from annotation.summary import task_summaries

SAMPLES = (
    ("sample_pairwise.jsonl", "demo-pairwise", "pairwise"),
    ("sample_single.jsonl", "demo-single", "single"),
)
JUDGED_TASK = "demo-pairwise"
ACCOUNTS = (("demo-researcher", "researcher"), ("demo-annotator-1", "annotator"), ("demo-annotator-2", "annotator"))


def say(message: str) -> None:
    print(message, flush=True)


def import_samples(services: Services, data: Path) -> None:
    guidelines = (data / "guidelines.md").read_text(encoding="utf-8") if (data / "guidelines.md").exists() else None
    s = services.settings
    for filename, task, protocol in SAMPLES:
        say(f"- importing {data / filename} into task '{task}'")
        with services.session() as session:
            summary = import_file(
                session,
                data / filename,
                task=task,
                protocol=protocol,
                instructions=guidelines,
                max_chars=s.max_field_chars,
                max_bytes=s.max_import_bytes,
            )
        say(f"  {summary.describe()}")


def demo_accounts(services: Services) -> list[tuple[str, str, str]]:
    """Create the demo accounts, or give them fresh passwords; returns (name, role, password)."""
    out = []
    with services.session() as session:
        for name, role in ACCOUNTS:
            password = generate_password()
            if get_account(session, name) is None:
                add_user(session, name, role=role, password=password)
            else:
                set_password(session, name, password)
            out.append((name, role, password))
    return out


def judge_config(url: str, model: str) -> JudgeConfig:
    return parse_config(
        {"model": model, "base_url": url, "mode": "logprobs", "swap": True, "concurrency": 4, "timeout_s": 60},
        source="demo judge",
    )


class BackgroundJudge:
    """The judge run in a thread, and a reporter printing its progress every few seconds."""

    def __init__(self, services: Services, config: JudgeConfig) -> None:
        self.services = services
        self.config = config
        self.error: str | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="demo-judge", daemon=True)
        self.reporter = threading.Thread(target=self._report, name="demo-judge-progress", daemon=True)

    def start(self) -> None:
        self.thread.start()
        self.reporter.start()

    def _run(self) -> None:
        from annotation.judges.runner import run_judge

        try:
            summary = run_judge(self.services, task=JUDGED_TASK, config=self.config, progress=False)
            say(f"judge: finished: {summary.describe()}")
        except Exception as exc:  # shown to the user; the app keeps serving
            self.error = str(exc)
            say(f"judge: stopped: {exc}")
        finally:
            self.done.set()

    def _counts(self) -> tuple[int, int]:
        name = self.config.annotator_name()
        with self.services.session() as session:
            task_id = session.scalars(select(Task.id).where(Task.name == JUDGED_TASK)).one()
            items = session.scalar(select(func.count()).select_from(Item).where(Item.task_id == task_id)) or 0
            done = session.scalar(
                select(func.count())
                .select_from(Label)
                .join(Annotator, Label.annotator_id == Annotator.id)
                .join(Item, Label.item_id == Item.id)
                .where(Annotator.name == name, Item.task_id == task_id)
            )
        return int(done or 0), items * (2 if self.config.swap else 1)

    def _report(self) -> None:
        last = -1
        while not self.done.wait(5.0):
            done, total = self._counts()
            if done != last:
                say(f"judge: {done}/{total} judgments stored (the dashboard fills in as they arrive)")
                last = done

    def stop(self) -> None:
        """Ask the run to stop (the runner checks between batches) and wait a little for it."""
        if self.done.is_set():
            return
        with self.services.session() as session:
            runs = session.scalars(
                select(JudgeRun)
                .join(Annotator, JudgeRun.annotator_id == Annotator.id)
                .where(JudgeRun.status == "running", Annotator.name == self.config.annotator_name())
            )
            for run in runs:
                run.status = "cancelling"
        self.thread.join(timeout=15)


def _stop_on_every_signal() -> None:
    """SIGTERM (``docker stop``, systemd) and SIGHUP (a closed terminal) stop the demo as Ctrl-C does:
    the app, the judge and the vLLM server it started, in the ``finally`` below. (A SIGKILL cannot be
    caught: the vLLM child then dies with its parent, ``local_server.spawn_child``.)"""

    def stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)


def run_demo(args: argparse.Namespace, services: Services) -> int:
    from app.launch import launch

    say(f"judgelab demo: database {services.engine.url.render_as_string(hide_password=True)}")
    import_samples(services, args.data)
    with services.session() as session:
        for line in task_summaries(session):
            say(f"  {line}")
    accounts = demo_accounts(services)
    url = f"http://{args.host}:{args.port}"
    local = None
    judge = None
    app = None
    _stop_on_every_signal()
    try:
        if not args.no_judge:
            if args.judge_url:
                say(f"- judge: using the vLLM server at {args.judge_url}, model {args.judge_model}")
                base_url, model = args.judge_url, args.judge_model
            else:
                from annotation.judges.local_server import LocalServer

                say("- judge: preparing the local model and starting vLLM (CPU); about a minute the first time")
                local = LocalServer(services.settings.model_cache_dir)  # named first: a stop mid-start stops it
                local.start(verbose=True)
                base_url, model = local.base_url, local.model
            judge = BackgroundJudge(services, judge_config(base_url, model))
            say(f"- judge: {judge.config.annotator_name()} labels task '{JUDGED_TASK}' in the background")
            judge.start()
        else:
            say("- judge: skipped (--no-judge)")
        say(f"- serving the app on {url}")
        app = launch(services, host=args.host, port=args.port, block=False)
        say("")
        say(f"Open {url} and log in:")
        for name, role, password in accounts:
            say(f"  {role:<10} {name:<18} password: {password}")
        say("Annotators label on the Annotate tab; the researcher compares on the Dashboard tab.")
        say("Ctrl-C stops everything this command started.")
        while True:
            time.sleep(1)
    except KeyboardInterrupt as why:
        say(f"\nstopping ({why or 'Ctrl-C'}) ...")
    finally:
        for sig in (signal.SIGTERM, signal.SIGHUP):  # one stop at a time: a second signal waits for this one
            signal.signal(sig, signal.SIG_IGN)
        if app is not None:
            app.close()
            say("- app stopped")
        if judge is not None:
            judge.stop()
            say("- judge run stopped" if judge.done.is_set() else "- judge run asked to stop")
        if local is not None:
            local.stop()
            say("- vLLM server stopped")
    return 0
