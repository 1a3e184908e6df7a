"""``judgelab``: the command line. Each command builds the one Services object and calls annotation/
analysis; errors are printed as one line (what, which value, how to fix) with exit code 2."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from annotation.config import load_settings
from annotation.errors import JudgelabError
from annotation.services import Services
from app.messages import EXPECTED, message_for
from contracts.vocab import EXPORT_FORMATS, IMPORT_FORMATS, PROTOCOLS, ROLES

Handler = Callable[[argparse.Namespace, Services], int]
PROJECT_DATA = Path(__file__).resolve().parent.parent / "data"


def _set_quiet_env() -> None:
    for key, value in (("GRADIO_ANALYTICS_ENABLED", "False"), ("HF_HUB_OFFLINE", "1"), ("VLLM_NO_USAGE_STATS", "1")):
        os.environ.setdefault(key, value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="judgelab", description="Human and LLM-judge labels, side by side.")
    parser.add_argument(
        "--db",
        help="database URL or SQLite file path (default: JUDGELAB_DATABASE_URL, else judgelab.db in the data dir)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = sub.add_parser("db", help="database schema and health").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply the Alembic migrations up to the newest schema").set_defaults(
        func=cmd_db_upgrade
    )
    db.add_parser("check", help="integrity check: constraints, orphan rows").set_defaults(func=cmd_db_check)

    imp = sub.add_parser("import", help="import items and labels from a file (one transaction)")
    imp.add_argument("path", type=Path)
    imp.add_argument("--task", required=True)
    imp.add_argument(
        "--format",
        default="auto",
        dest="fmt",
        choices=IMPORT_FORMATS,
    )
    imp.add_argument("--protocol", choices=PROTOCOLS)
    imp.add_argument("--instructions", type=Path, help="a markdown file with the task's guidelines")
    imp.add_argument("--overlap", type=int, help="annotators per item (new tasks; default 3)")
    imp.add_argument("--scale", help="for single tasks: the scale as MIN-MAX, e.g. 1-10 (default 1-5)")
    imp.add_argument(
        "--anchors", help='for scale tasks: what points mean, shown on the page, e.g. "1=unusable,5=excellent"'
    )
    imp.add_argument("--judge", help="pandalm judge files: the judge's name (default: from the file name)")
    imp.add_argument(
        "--schema",
        type=Path,
        help="new tasks: a YAML file of the questions asked of every item (see README, label schemas)",
    )
    imp.add_argument("--ask-rationale", action="store_true", help="new tasks: annotators may write why")
    imp.add_argument("--ask-confidence", action="store_true", help="new tasks: annotators give a 1-5 confidence")
    imp.set_defaults(func=cmd_import)

    users = sub.add_parser("users", help="accounts for the web app").add_subparsers(dest="users_command", required=True)
    add = users.add_parser(
        "add", help="add a user; the password is read from stdin with --password-stdin, else generated and printed once"
    )
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--password-stdin", action="store_true")
    add.set_defaults(func=cmd_users_add)
    users.add_parser("list", help="list users and roles").set_defaults(func=cmd_users_list)
    passwd = users.add_parser(
        "passwd", help="a new password (from stdin with --password-stdin, else generated); ends the user's sessions"
    )
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true")
    passwd.set_defaults(func=cmd_users_passwd)
    for verb, helptext in (
        ("disable", "disable a login; ends the user's sessions (labels stay)"),
        ("enable", "enable a disabled login again"),
        ("remove", "remove a login; ends the user's sessions (the annotator and its labels stay)"),
    ):
        cmd = users.add_parser(verb, help=helptext)
        cmd.add_argument("name")
        cmd.set_defaults(func=cmd_users_change, verb=verb)

    exp = sub.add_parser("export", help="export labels: long, wide, dpo (.jsonl/.csv/.parquet) or hf (a folder)")
    exp.add_argument("--task", required=True)
    exp.add_argument("--format", dest="fmt", required=True, choices=EXPORT_FORMATS)
    exp.add_argument("--out", required=True, type=Path)
    exp.add_argument("--raters", help="dpo: comma-separated rater names whose majority decides (default: humans)")
    exp.add_argument(
        "--min-votes",
        type=int,
        metavar="N",
        help="wide, dpo: the fewest verdicts a majority needs (default 2; 1 for a dpo export of one named rater)",
    )
    exp.add_argument("--question", help="dpo: the pairwise question to read (default: the task's first)")
    exp.set_defaults(func=cmd_export)

    tasks = sub.add_parser("tasks", help="tasks in the database").add_subparsers(dest="tasks_command", required=True)
    tasks.add_parser("list", help="tasks with item and label counts").set_defaults(func=cmd_tasks_list)

    serve = sub.add_parser("serve", help="serve the web app (annotator page, researcher pages)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=7860)
    serve.set_defaults(func=cmd_serve)

    demo = sub.add_parser(
        "demo", help="the main job on the sample data: import, accounts, a judge in the background, the app"
    )
    demo.add_argument("--data", type=Path, default=PROJECT_DATA, help="the folder of the sample files")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=7860)
    demo.add_argument("--judge-url", help="use this vLLM (OpenAI-compatible) server, e.g. http://gpu:8000/v1")
    demo.add_argument("--judge-model", help="with --judge-url: the served model name")
    demo.add_argument("--no-judge", action="store_true", help="skip judging")
    demo.add_argument(
        "--reset-passwords", action="store_true", help="new passwords for the demo accounts (else the last run's)"
    )
    demo.set_defaults(func=cmd_demo)

    from app import cli_analysis, cli_estimate, cli_judge

    cli_analysis.register(sub)
    cli_estimate.register(sub)
    cli_judge.register(sub)
    return parser


def services_for(args: argparse.Namespace) -> Services:
    settings = load_settings()
    if args.command == "demo" and not args.db and not os.environ.get("JUDGELAB_DATABASE_URL"):
        args.db = str(settings.data_dir / "demo.db")  # the demo keeps to its own database
    if args.db:
        if "://" not in args.db:
            Path(args.db).resolve().parent.mkdir(parents=True, exist_ok=True)
        url = args.db if "://" in args.db else f"sqlite:///{Path(args.db).resolve()}"
        settings = settings.model_copy(update={"database_url": url})
    return Services.from_settings(settings)


def main(argv: Sequence[str] | None = None) -> int:
    _set_quiet_env()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        services = services_for(args)
        try:
            func: Handler = args.func
            return func(args, services)
        finally:
            services.close()
    except EXPECTED as exc:
        print(f"judgelab: error: {message_for(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("judgelab: interrupted", file=sys.stderr)
        return 130


# ---------------------------------------------------------------- commands


def cmd_db_upgrade(args: argparse.Namespace, services: Services) -> int:
    from annotation.db import current_revision

    print(
        f"database {services.engine.url.render_as_string(hide_password=True)} at revision "
        f"{current_revision(services.engine)}"
    )
    return 0


def cmd_db_check(args: argparse.Namespace, services: Services) -> int:
    from annotation.health import check_database

    report = check_database(services.engine)
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


def parse_anchors(text: str) -> dict[int, str]:
    """``--anchors "1=unusable,5=excellent"``: what scale points mean, shown on the annotator's page.

    >>> parse_anchors("1=unusable, 5=excellent")
    {1: 'unusable', 5: 'excellent'}
    """
    out: dict[int, str] = {}
    for part in text.split(","):
        point, sep, label = part.partition("=")
        if not sep or not point.strip().lstrip("-").isdigit() or not label.strip():
            raise JudgelabError(
                "--anchors must list POINT=LABEL pairs",
                value=part.strip(),
                fix='write e.g. --anchors "1=poor,5=excellent"',
            )
        out[int(point)] = label.strip()
    return out


def import_schema(args: argparse.Namespace) -> dict[str, object] | None:
    """The label schema a new task gets: ``--schema FILE`` (YAML: questions), or the one-question
    flags (``--scale``, ``--anchors``, ``--ask-rationale``, ``--ask-confidence``); ``None``: the
    protocol's default."""
    from annotation.schema import load_schema_file

    asks = {"ask_rationale": args.ask_rationale, "ask_confidence": args.ask_confidence}
    if args.schema:
        if args.scale or args.anchors:
            raise JudgelabError(
                "--schema declares the questions; --scale and --anchors would declare one more",
                fix="put the scale and its anchors into the schema file's question",
            )
        return load_schema_file(args.schema, **{k: v for k, v in asks.items() if v})
    question: dict[str, object] | None = None
    if args.ask_rationale or args.ask_confidence:
        single = (args.protocol or "pairwise") == "single" or args.scale
        question = {"kind": "scale" if single else "pairwise"}
    if args.scale:
        try:
            low, high = (int(v) for v in args.scale.split("-", 1))
        except ValueError:
            raise JudgelabError(
                "--scale must look like MIN-MAX", value=args.scale, fix="write e.g. --scale 1-10"
            ) from None
        question = {"kind": "scale", "min": low, "max": high}
    if args.anchors:
        if question is None or question.get("kind") != "scale":
            question = {"kind": "scale", "min": 1, "max": 5}
        question["anchors"] = parse_anchors(args.anchors)
    return None if question is None else {"questions": [question], **asks}


def cmd_import(args: argparse.Namespace, services: Services) -> int:
    from annotation.ingest import import_file

    schema = import_schema(args)
    instructions = args.instructions.read_text(encoding="utf-8") if args.instructions else None
    s = services.settings
    with services.session() as session:
        summary = import_file(
            session,
            args.path,
            task=args.task,
            fmt=args.fmt,
            protocol=args.protocol,
            instructions=instructions,
            overlap=args.overlap,
            label_schema=schema,
            max_chars=s.max_field_chars,
            max_bytes=s.max_import_bytes,
            batch_size=s.import_batch_size,
            judge=args.judge,
        )
    print(summary.describe())
    return 0


def cmd_export(args: argparse.Namespace, services: Services) -> int:
    from annotation.export import export

    raters = [r.strip() for r in args.raters.split(",")] if args.raters else None
    with services.session() as session:
        n = export(
            session, args.task, args.fmt, args.out, raters=raters, min_votes=args.min_votes, question=args.question
        )
    print(f"exported {n} rows of task {args.task!r} as {args.fmt} to {args.out}")
    return 0


def cmd_users_add(args: argparse.Namespace, services: Services) -> int:
    from annotation.accounts import add_user, generate_password

    generated = not args.password_stdin
    password = generate_password() if generated else sys.stdin.readline().rstrip("\n")
    with services.session() as session:
        account = add_user(session, args.name, role=args.role, password=password)
    print(f"user {account.name!r} added with role {account.role}")
    if generated:
        print(f"password (shown once): {password}")
    return 0


def cmd_users_passwd(args: argparse.Namespace, services: Services) -> int:
    from annotation.accounts import generate_password, set_password

    generated = not args.password_stdin
    password = generate_password() if generated else sys.stdin.readline().rstrip("\n")
    with services.session() as session:
        set_password(session, args.name, password)
    print(f"user {args.name!r}: password changed; every session of the user has ended")
    if generated:
        print(f"password (shown once): {password}")
    return 0


def cmd_users_change(args: argparse.Namespace, services: Services) -> int:
    from annotation.accounts import disable_user, remove_user

    with services.session() as session:
        if args.verb == "remove":
            remove_user(session, args.name)
        else:
            disable_user(session, args.name, disabled=args.verb == "disable")
    ended = "" if args.verb == "enable" else "; every session of the user has ended"
    print(f"user {args.name!r}: {args.verb}d{ended}")
    return 0


def cmd_users_list(args: argparse.Namespace, services: Services) -> int:
    from annotation.accounts import list_accounts

    with services.session() as session:
        for account in list_accounts(session):
            print(f"{account.name}\t{account.role}")
    return 0


def cmd_tasks_list(args: argparse.Namespace, services: Services) -> int:
    from annotation.summary import task_summaries

    with services.session() as session:
        for line in task_summaries(session):
            print(line)
    return 0


def cmd_serve(args: argparse.Namespace, services: Services) -> int:
    from app.launch import launch

    print(f"judgelab serving on http://{args.host}:{args.port} (Ctrl-C stops)", flush=True)
    launch(services, host=args.host, port=args.port)
    return 0


def cmd_demo(args: argparse.Namespace, services: Services) -> int:
    from app.demo import run_demo

    if args.judge_url and not args.judge_model:
        raise JudgelabError("--judge-url needs --judge-model", fix="add --judge-model NAME (as the server serves it)")
    return run_demo(args, services)


if __name__ == "__main__":
    raise SystemExit(main())
