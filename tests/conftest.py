"""Shared fixtures: real SQLite files and a real throwaway PostgreSQL cluster (one per session)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")

from annotation.config import Settings
from annotation.services import Services
from tests.pgcluster import PgCluster, PostgresUnavailable, start_cluster

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    try:
        cluster = start_cluster()
    except PostgresUnavailable as exc:
        if os.environ.get("JUDGELAB_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required (JUDGELAB_REQUIRE_POSTGRES=1) but unavailable: {exc}")
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    yield cluster
    cluster.cleanup()


def all_at_once(worker: Callable[[Any], None], args: Iterable[Any]) -> list[str]:
    """Run ``worker(arg)`` for every arg in its own thread, all released together by a barrier; the
    errors they raised, as text (an empty list: none)."""
    args = list(args)
    barrier = threading.Barrier(len(args))
    errors: list[str] = []

    def run(arg: Any) -> None:
        try:
            barrier.wait()
            worker(arg)
        except BaseException as exc:  # collected and returned
            errors.append(f"{arg}: {type(exc).__name__}: {exc}"[:300])

    threads = [threading.Thread(target=run, args=(a,)) for a in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def make_services(url: str, tmp_path: Path) -> Services:
    settings = Settings(database_url=url, data_dir=tmp_path / "data")
    return Services.from_settings(settings)


@pytest.fixture(params=["sqlite", "postgres"])
def services(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Services]:
    """A migrated, empty database: a SQLite file, or a fresh database in the PostgreSQL cluster."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'judgelab.db'}"
    else:
        cluster: PgCluster = request.getfixturevalue("pg_cluster")
        url = cluster.create_database()
    svc = make_services(url, tmp_path)
    yield svc
    svc.close()


@pytest.fixture
def sqlite_services(tmp_path: Path) -> Iterator[Services]:
    svc = make_services(f"sqlite:///{tmp_path / 'judgelab.db'}", tmp_path)
    yield svc
    svc.close()


@pytest.fixture
def pandalm_dir() -> Path:
    path = SHARED_DATA / "pandalm"
    if not (path / "testset-v1.json").exists():
        pytest.skip("../shared/data/pandalm is absent")
    return path


@pytest.fixture(scope="session")
def vllm_server() -> Iterator[object]:
    """The real local judge: vLLM's CPU build serving SmolLM2-135M, started once per session."""
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        if os.environ.get("JUDGELAB_REQUIRE_VLLM") == "1":
            pytest.fail("vLLM is required (JUDGELAB_REQUIRE_VLLM=1) but not installed; run 'make install-judge'")
        pytest.skip("vLLM (the cpu extra) is not installed")
    from annotation.judges.local_server import LocalServer

    cache = Path(os.environ.get("JUDGELAB_MODEL_CACHE_DIR", Path.home() / ".cache" / "judgelab" / "models"))
    server = LocalServer(cache, log_path=PROJECT_ROOT / "test-output" / "vllm-server.log")
    server.start(verbose=False)
    yield server
    server.stop()
