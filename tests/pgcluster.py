"""A throwaway PostgreSQL cluster for tests and benchmarks, started from the machine's binaries.

``initdb`` refuses to run as root, so as root the cluster is owned by (and run as) the ``postgres``
OS user, created when absent. Authentication is ``trust`` on 127.0.0.1 only; ``fsync`` is off
(throwaway data).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from annotation.judges.local_server import free_port


class PostgresUnavailable(RuntimeError):
    pass


def find_bindir() -> Path | None:
    explicit = os.environ.get("JUDGELAB_PG_BINDIR")
    candidates = [explicit] if explicit else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for c in candidates:
        if c and (Path(c) / "initdb").exists():
            return Path(c)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@dataclass
class PgCluster:
    bindir: Path
    datadir: Path
    port: int
    run_as: str | None

    @property
    def base_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"

    def _cmd(self, *args: str) -> list[str]:
        if self.run_as:
            return ["runuser", "-u", self.run_as, "--", *args]
        return list(args)

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"{self.base_url}/{name}"

    def stop(self) -> None:
        subprocess.run(
            self._cmd(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "stop"),
            capture_output=True,
            check=False,
        )

    def start(self) -> None:
        subprocess.run(
            self._cmd(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-w",
                "-t",
                "60",
                "-l",
                str(self.datadir / "server.log"),
                "-o",
                f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                "start",
            ),
            capture_output=True,
            check=True,
            text=True,
        )

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def _ensure_postgres_user() -> str:
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True, capture_output=True)
    return "postgres"


def start_cluster() -> PgCluster:
    """Start a fresh cluster; raises :class:`PostgresUnavailable` with the reason when it cannot."""
    bindir = find_bindir()
    if bindir is None:
        raise PostgresUnavailable("no PostgreSQL binaries (initdb) found; install postgresql or set JUDGELAB_PG_BINDIR")
    run_as = _ensure_postgres_user() if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="judgelab-pg-"))
    datadir = root / "data"
    datadir.mkdir()
    if run_as:
        uid = pwd.getpwnam(run_as).pw_uid
        gid = pwd.getpwnam(run_as).pw_gid
        os.chown(root, uid, gid)
        os.chown(datadir, uid, gid)
    cluster = PgCluster(bindir, datadir, free_port(), run_as)
    init = subprocess.run(
        cluster._cmd(
            str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise PostgresUnavailable(f"initdb failed: {init.stderr.strip()[-500:]}")
    try:
        cluster.start()
    except subprocess.CalledProcessError as exc:
        log = (datadir / "server.log").read_text() if (datadir / "server.log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise PostgresUnavailable(f"pg_ctl start failed: {exc.stderr} {log[-500:]}") from None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", cluster.port), timeout=1):
                break
        except OSError:
            time.sleep(0.2)
    return cluster
