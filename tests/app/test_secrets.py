"""Secrets: passwords live only as argon2 hashes; no password (right or wrong) and no API key
reaches the database, the server's log, a judge run's output or any export. API keys come only
from the environment variable a judge config names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from annotation.errors import JudgelabError
from annotation.judges.config import parse_config
from app.page_client import PageClient, PageError
from tests.app.conftest import PASSWORD, RunningApp
from tests.conftest import PROJECT_ROOT

WRONG_PASSWORD = "wrong-Pa55word-typed-by-mistake"
API_KEY = "sk-judgelab-test-7f3a9c1e5b2d4a6f8e0c"


def test_api_keys_only_by_environment_variable_name() -> None:
    with pytest.raises(JudgelabError, match="NAME of an environment variable"):
        parse_config({"model": "m", "base_url": "http://x/v1", "api_key_env": API_KEY})
    with pytest.raises(Exception, match="api_key"):
        parse_config({"model": "m", "base_url": "http://x/v1", "api_key": API_KEY})


@pytest.mark.vllm
def test_no_secret_in_database_logs_or_exports(running_app: RunningApp, vllm_server: Any, tmp_path: Path) -> None:
    PageClient(running_app.url, "ann1", PASSWORD).call("open")
    with pytest.raises(PageError):
        PageClient(running_app.url, "ann1", WRONG_PASSWORD)
    config = tmp_path / "judge.yaml"
    config.write_text(
        f"model: {vllm_server.model}\nbase_url: {vllm_server.base_url}\nmode: logprobs\n"
        "api_key_env: JUDGELAB_TEST_API_KEY\n"
    )
    env = {**os.environ, "JUDGELAB_TEST_API_KEY": API_KEY, "JUDGELAB_LOG_LEVEL": "DEBUG"}
    cli = [sys.executable, "-m", "app.cli", "--db", str(running_app.db)]
    run = subprocess.run(
        [*cli, "judge", "run", "--task", "b-main", "--config", str(config), "--limit", "4"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    outputs = [run.stdout + run.stderr]
    for fmt, name in (("long", "long.csv"), ("wide", "wide.csv"), ("dpo", "dpo.jsonl"), ("hf", "hf")):
        done = subprocess.run(
            [*cli, "export", "--task", "b-main", "--format", fmt, "--out", str(tmp_path / name)],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        outputs.append(done.stdout + done.stderr)
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "judge.yaml"]
    files += [p for p in running_app.db.parent.glob(running_app.db.name + "*")]  # the database, its WAL
    files.append(PROJECT_ROOT / "test-output" / "serve.log")
    blobs = [p.read_bytes() for p in files] + [o.encode() for o in outputs]
    for secret in (PASSWORD, WRONG_PASSWORD, API_KEY):
        leaks = [str(p) for p, b in zip([*files, *range(len(outputs))], blobs, strict=True) if secret.encode() in b]
        assert leaks == [], f"{secret[:6]}... found in {leaks}"
    import sqlite3

    with sqlite3.connect(running_app.db) as conn:
        hashes = [h for (h,) in conn.execute("SELECT password_hash FROM users")]
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
