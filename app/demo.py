"""``judgelab demo``: the main job on the sample data, in one command.

1. a SQLite database (``demo.db`` in the data dir, or ``--db``) with the sample tasks imported;
2. three simulated human raters (``sim-human-1..3``, clearly named: they are not people) label every
   sample item with a stated noise, so the dashboard has every figure on first open;
3. an admin, a researcher and two annotator accounts; their passwords are printed on the first run
   and kept (in a file beside the database, readable by its owner only) for the next run of the
   same demo database, or made anew with ``--reset-passwords``;
4. the app on http://127.0.0.1:7860, at once;
5. in the background, an LLM judge labels both sample tasks: the local vLLM server (CPU,
   SmolLM2-135M) started here, or an existing server (``--judge-url``/``--judge-model``), or none
   (``--no-judge``); the dashboard fills in as it goes, and the Judges tab's example config points
   at that server (which its web admins may then use).

Ctrl-C (or SIGTERM, SIGHUP) stops the app, the judge run and the server it started.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from annotation.accounts import add_user, generate_password, get_account, set_password
from annotation.ingest import import_file
from annotation.judges.config import JudgeConfig, parse_config
from annotation.judges.web_config import host_port
from annotation.models import Annotator, Item, JudgeRun, Label, Task
from annotation.services import Services
from annotation.summary import task_summaries

SAMPLES = (
    ("sample_pairwise.jsonl", "demo-pairwise", "pairwise", None),
    # the page shows what the ends and the middle of the scale mean
    (
        "sample_single.jsonl",
        "demo-single",
        "single",
        {"kind": "scale", "min": 1, "max": 5, "anchors": {1: "unusable", 3: "acceptable", 5: "excellent"}},
    ),
)
JUDGED_TASKS = {"demo-pairwise": "pairwise", "demo-single": "single"}  # task: the judge's protocol
ACCOUNTS = (
    ("demo-admin", "admin"),
    ("demo-researcher", "researcher"),
    ("demo-annotator-1", "annotator"),
    ("demo-annotator-2", "annotator"),
)
SIMULATED = ("sim-human-1", "sim-human-2", "sim-human-3")
SIM_NOISE = 0.2  # the chance a simulated human answers other than the sample's expected answer
SIM_SEED = 0


def say(message: str) -> None:
    print(message, flush=True)


def import_samples(services: Services, data: Path) -> None:
    guidelines = (data / "guidelines.md").read_text(encoding="utf-8") if (data / "guidelines.md").exists() else None
    s = services.settings
    for filename, task, protocol, schema in SAMPLES:
        say(f"- importing {data / filename} into task '{task}'")
        with services.session() as session:
            summary = import_file(
                session,
                data / filename,
                task=task,
                protocol=protocol,
                instructions=guidelines,
                label_schema=schema,
                # the simulated humans and both annotator accounts label every item
                overlap=len(SIMULATED) + sum(role == "annotator" for _, role in ACCOUNTS),
                max_chars=s.max_field_chars,
                max_bytes=s.max_import_bytes,
            )
        say(f"  {summary.describe()}")


def logins_file(services: Services) -> Path:
    """Where the demo keeps its accounts' passwords: beside a SQLite database, else in the data dir."""
    url = services.settings.resolved_database_url()
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///") + ".logins.json")
    return services.settings.data_dir / "demo-logins.json"


def demo_accounts(services: Services, *, reset: bool = False) -> tuple[list[tuple[str, str, str]], bool]:
    """Create the demo accounts, or keep the passwords of the last run of this database (unless
    ``reset`` or an account's password no longer matches); returns ((name, role, password), whether
    any password is new)."""
    from annotation.accounts import login_record, verify
    from annotation.files import write_atomically

    path = logins_file(services)
    try:
        kept: dict[str, str] = {} if reset else json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        kept = {}
    out, changed = [], False
    with services.session() as session:
        for name, role in ACCOUNTS:
            password = kept.get(name)
            if get_account(session, name) is None:
                password = generate_password()
                add_user(session, name, role=role, password=password)
                changed = True
            elif password is None or verify(login_record(session, name), password) is None:
                password = generate_password()
                set_password(session, name, password)
                changed = True
            out.append((name, role, password))

    def write(tmp: Path) -> None:
        tmp.write_text(json.dumps({n: p for n, _, p in out}, indent=1), encoding="utf-8")
        os.chmod(tmp, 0o600)

    if changed or not path.exists():
        write_atomically(path, write)
    return out, changed


def simulate_humans(services: Services) -> str:
    """Three simulated human raters label every sample item once, through the one write path: on
    the pairwise task each picks the sample's expected answer with probability 1 - SIM_NOISE, else
    another answer at random, and sees a random order; on the single-answer task each gives the
    item's latent score (seeded, 1-5) moved by one point with probability SIM_NOISE. Nothing is
    written when they have labeled before (a second run of the demo). Returns what was done."""
    from annotation.catalog import ensure_annotator
    from annotation.store import LabelIn, submit_labels

    rng = random.Random(SIM_SEED)
    with services.session() as session:
        ids = [ensure_annotator(session, name, kind="human").id for name in SIMULATED]
        done = session.scalar(select(func.count()).select_from(Label).where(Label.annotator_id.in_(ids)))
        if done:
            return f"simulated humans {', '.join(SIMULATED)}: labeled before ({done} labels)"
        labels = []
        for task_name in JUDGED_TASKS:
            task = session.scalars(select(Task).where(Task.name == task_name)).one()
            items = session.scalars(select(Item).where(Item.task_id == task.id).order_by(Item.id)).all()
            for item in items:
                expected = (item.meta or {}).get("expected")
                latent = rng.randint(1, 5)
                for annotator_id in ids:
                    order = rng.choice(("ab", "ba"))
                    if task.protocol == "pairwise":
                        right = expected if expected in ("A", "B", "tie") else rng.choice(("A", "B"))
                        others = [v for v in ("A", "B", "tie") if v != right]
                        value = right if rng.random() >= SIM_NOISE else rng.choice(others)
                    else:
                        order = "ab"
                        step = rng.choice((-1, 1)) if rng.random() < SIM_NOISE else 0
                        value = str(min(5, max(1, latent + step)))
                    labels.append(
                        LabelIn(item.id, annotator_id, value, presented_order=order, meta={"simulated": True})
                    )
        submit_labels(session, labels, changed_by="judgelab demo (simulated humans)")
    return (
        f"simulated humans {', '.join(SIMULATED)} (not people): {len(labels)} labels; each gives the sample's "
        f"expected answer with probability {1 - SIM_NOISE:.1f} (seed {SIM_SEED})"
    )


def judge_config(url: str, model: str, protocol: str = "pairwise") -> JudgeConfig:
    config: dict[str, object] = {"model": model, "base_url": url, "mode": "logprobs", "concurrency": 4, "timeout_s": 60}
    if protocol == "pairwise":
        config["swap"] = True
    else:
        config["protocol"] = protocol
    return parse_config(config, source="demo judge")


class BackgroundJudge:
    """In a thread: start the judge's server when the demo owns one, then judge each sample task in
    turn; a reporter prints the progress every few seconds. The app serves meanwhile."""

    def __init__(self, services: Services, base_url: str, model: str, local: Any = None) -> None:
        self.services = services
        self.configs = {task: judge_config(base_url, model, protocol) for task, protocol in JUDGED_TASKS.items()}
        self.local = local  # a LocalServer to start first, or None (an existing server)
        self.error: str | None = None
        self.task = next(iter(JUDGED_TASKS))
        self.done = threading.Event()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="demo-judge", daemon=True)
        self.reporter = threading.Thread(target=self._report, name="demo-judge-progress", daemon=True)

    def start(self) -> None:
        self.thread.start()
        self.reporter.start()

    def _run(self) -> None:
        from annotation.judges.runner import run_judge

        try:
            if self.local is not None:
                say("judge: preparing the local model and starting vLLM (CPU); about a minute the first time")
                self.local.start(verbose=False)
                say(f"judge: vLLM serves {self.local.model} at {self.local.base_url}")
            for task in JUDGED_TASKS:
                if self.stopping.is_set():
                    break
                self.task = task
                summary = run_judge(self.services, task=task, config=self.configs[task], progress=False)
                say(f"judge: task '{task}' finished: {summary.describe()}")
        except Exception as exc:  # shown to the user; the app keeps serving
            self.error = str(exc)
            say(f"judge: stopped: {exc}")
        finally:
            self.done.set()

    def _counts(self) -> tuple[int, int]:
        config = self.configs[self.task]
        name = config.annotator_name()
        with self.services.session() as session:
            task_id = session.scalars(select(Task.id).where(Task.name == self.task)).one()
            items = session.scalar(select(func.count()).select_from(Item).where(Item.task_id == task_id)) or 0
            done = session.scalar(
                select(func.count())
                .select_from(Label)
                .join(Annotator, Label.annotator_id == Annotator.id)
                .join(Item, Label.item_id == Item.id)
                .where(Annotator.name == name, Item.task_id == task_id)
            )
        return int(done or 0), items * (2 if config.swap else 1)

    def _report(self) -> None:
        last = -1
        while not self.done.wait(5.0):
            done, total = self._counts()
            if done != last and done:
                say(f"judge: {done}/{total} judgments of '{self.task}' stored (the dashboard fills in as they arrive)")
                last = done

    def stop(self) -> None:
        """Ask the run to stop (the runner checks between batches) and wait a little for it."""
        self.stopping.set()
        if self.done.is_set():
            return
        with self.services.session() as session:
            runs = session.scalars(
                select(JudgeRun)
                .join(Annotator, JudgeRun.annotator_id == Annotator.id)
                .where(
                    JudgeRun.status == "running",
                    Annotator.name.in_([c.annotator_name() for c in self.configs.values()]),
                )
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
    # a demo started from a non-interactive shell in the background inherits SIGINT ignored (Python
    # then installs no Ctrl-C handler): `kill -INT` did nothing and the demo ran on
    signal.signal(signal.SIGINT, signal.default_int_handler)


def run_demo(args: argparse.Namespace, services: Services) -> int:
    from app.launch import launch

    say(f"judgelab demo: database {services.engine.url.render_as_string(hide_password=True)}")
    import_samples(services, args.data)
    say(f"- {simulate_humans(services)}")
    with services.session() as session:
        for line in task_summaries(session):
            say(f"  {line}")
    accounts, new = demo_accounts(services, reset=args.reset_passwords)
    url = f"http://{args.host}:{args.port}"
    local = None
    judge = None
    app = None
    _stop_on_every_signal()
    try:
        if not args.no_judge:
            if args.judge_url:
                base_url, model = args.judge_url, args.judge_model
                say(f"- judge: the vLLM server at {base_url}, model {model}")
            else:
                from annotation.judges.local_server import LocalServer

                local = LocalServer(services.settings.model_cache_dir)  # named first: a stop mid-start stops it
                base_url, model = local.base_url, local.model
            judge = BackgroundJudge(services, base_url, model, local)
            # the Judges tab's example config points at this server, which the web admins may use
            settings = services.settings
            host = host_port(base_url)  # as the web config check compares it
            settings.web_judge_hosts = ",".join(filter(None, (settings.web_judge_hosts, host)))
            settings.web_judge_example = f"model: {model}\nbase_url: {base_url}\nmode: logprobs\nswap: true\n"
        say(f"- serving the app on {url}")
        app = launch(services, host=args.host, port=args.port, block=False)
        if judge is not None:
            names = ", ".join(f"{c.annotator_name()} on '{t}'" for t, c in judge.configs.items())
            say(f"- judge: {names}, in the background")
            judge.start()
        else:
            say("- judge: skipped (--no-judge)")
        say("")
        say(f"Open {url} and log in:")
        for name, role, password in accounts:
            say(f"  {role:<10} {name:<18} password: {password}")
        kept = "new passwords" if new else "the passwords of the last run"
        say(f"({kept}; kept in {logins_file(services)} for the next run, --reset-passwords makes new ones)")
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
