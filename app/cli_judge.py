"""``judgelab judge ...``: run a judge over a task, serve the local judge, prepare its model."""

from __future__ import annotations

import argparse
import signal
import time
from pathlib import Path
from typing import Any

from annotation.services import Services


def register(sub: Any) -> None:
    judge = sub.add_parser("judge", help="LLM judges").add_subparsers(dest="judge_command", required=True)
    run = judge.add_parser("run", help="label a task with the judge a YAML file describes (resumable)")
    run.add_argument("--task", required=True)
    run.add_argument("--config", required=True, type=Path, help="judge YAML (see docs/judges.md)")
    run.add_argument("--limit", type=int, help="only the first N items")
    run.add_argument("--retry-failed", action="store_true", help="redo this judge's failed labels too")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=cmd_judge_run)
    gen = sub.add_parser(
        "checklist", help="a judge writes each item's YES/NO checklist (TICK) for a task's checklist question"
    )
    gen.add_argument("--task", required=True)
    gen.add_argument("--config", required=True, type=Path, help="judge YAML (mode: reasoning)")
    gen.add_argument("--limit", type=int, help="only the first N items")
    gen.add_argument("--max-entries", type=int, default=6, help="questions per checklist (default 6, at most 12)")
    gen.set_defaults(func=cmd_checklist)
    serve = judge.add_parser("serve-local", help="serve SmolLM2-135M with vLLM on 127.0.0.1 (CPU) until Ctrl-C")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(func=cmd_serve_local)
    prep = judge.add_parser("prepare-model", help="convert the local judge's GGUF into a Hugging Face folder")
    prep.set_defaults(func=cmd_prepare_model)


def models_dir(services: Services) -> Path:
    return services.settings.model_cache_dir


def cmd_judge_run(args: argparse.Namespace, services: Services) -> int:
    from annotation.judges.config import load_config
    from annotation.judges.runner import run_judge

    config = load_config(args.config)
    how = f"{config.backend}, {config.mode}, swap={config.swap}"
    print(f"judge {config.name or config.model} ({how}) on task {args.task!r}")
    summary = run_judge(
        services,
        task=args.task,
        config=config,
        limit=args.limit,
        retry_failed=args.retry_failed,
        progress=not args.quiet,
    )
    print(summary.describe())
    return 0


def cmd_checklist(args: argparse.Namespace, services: Services) -> int:
    from annotation.judges.checklists import generate_checklists
    from annotation.judges.config import load_config

    summary = generate_checklists(
        services, task=args.task, config=load_config(args.config), limit=args.limit, max_entries=args.max_entries
    )
    print(summary.describe())
    return 0


def cmd_serve_local(args: argparse.Namespace, services: Services) -> int:
    from annotation.judges.local_server import LocalServer

    with LocalServer(models_dir(services), port=args.port) as server:
        print(f"serving model {server.model!r} at {server.base_url}; Ctrl-C stops it")
        stop = {"now": False}
        signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
        try:
            while not stop["now"] and server.process is not None and server.process.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        print("stopping the vLLM server")
    return 0


def cmd_prepare_model(args: argparse.Namespace, services: Services) -> int:
    from annotation.judges.local_model import prepare_model

    print(prepare_model(models_dir(services)))
    return 0
