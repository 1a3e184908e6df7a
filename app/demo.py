"""``judgelab demo``: the main job on the sample data."""

from __future__ import annotations

import argparse
from pathlib import Path

from annotation.ingest import import_file
from annotation.services import Services
from annotation.summary import task_summaries

SAMPLES = (
    ("sample_pairwise.jsonl", "demo-pairwise", "pairwise"),
    ("sample_single.jsonl", "demo-single", "single"),
)


def run_demo(args: argparse.Namespace, services: Services) -> int:
    data: Path = args.data
    print(f"judgelab demo: database {services.engine.url.render_as_string(hide_password=True)}")
    guidelines = (data / "guidelines.md").read_text(encoding="utf-8") if (data / "guidelines.md").exists() else None
    s = services.settings
    for filename, task, protocol in SAMPLES:
        print(f"- importing {data / filename} into task '{task}'")
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
        print(f"  {summary.describe()}")
    with services.session() as session:
        for line in task_summaries(session):
            print(f"  {line}")
    return 0
