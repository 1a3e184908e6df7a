"""``judgelab judge serve-local``: vLLM's OpenAI-compatible server on 127.0.0.1 with SmolLM2-135M
(CPU build, float32, eager), started as a child process and stopped cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from annotation.errors import JudgelabError
from annotation.judges.local_model import SERVED_NAME, prepare_model

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _parent_death_signal() -> Callable[[], None] | None:
    """A function for the child to run between fork and exec that asks Linux to send it SIGTERM when
    its parent dies, however it dies. Resolved here, in the parent: the child must not import."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def die_with_parent() -> None:  # pragma: no cover - runs in the child
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))

    return die_with_parent


def spawn_child(cmd: list[str], *, log: Any, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A server child process in its own session (our stop signal reaches its whole group) that
    dies with its parent: a parent killed without cleanup (SIGKILL, a crash) leaves no server
    holding a port and a gigabyte of memory."""
    return subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True, preexec_fn=_parent_death_signal()
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalServer:
    """A context manager: ``with LocalServer(cache_dir) as server: server.base_url``."""

    def __init__(
        self, cache_dir: Path, *, port: int | None = None, log_path: Path | None = None, start_timeout_s: float = 300.0
    ) -> None:
        self.cache_dir = cache_dir
        self.port = port or free_port()
        self.log_path = log_path or cache_dir / "vllm-server.log"
        self.start_timeout_s = start_timeout_s
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    model = SERVED_NAME

    def start(self, *, verbose: bool = True) -> LocalServer:
        model_dir = prepare_model(self.cache_dir, log=verbose)
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "VLLM_NO_USAGE_STATS": "1",
            "VLLM_CPU_KVCACHE_SPACE": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }
        cmd = [
            sys.executable,
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            str(model_dir),
            "--served-model-name",
            SERVED_NAME,
            "--dtype",
            "float32",
            "--enforce-eager",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--max-model-len",
            "4096",
        ]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        if verbose:
            print(f"starting vLLM (CPU) on {self.base_url}; log: {self.log_path}", flush=True)
        self.process = spawn_child(cmd, log=log, env=env)
        started = time.monotonic()
        deadline = started + self.start_timeout_s
        next_note = started + 10
        while time.monotonic() < deadline:
            if verbose and time.monotonic() >= next_note:
                print(f"  vLLM still starting ({time.monotonic() - started:.0f} s)", flush=True)
                next_note += 10
            if self.process.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-1500:]
                raise JudgelabError(
                    f"the vLLM server exited with code {self.process.returncode} while starting:\n{tail}",
                    fix=f"read {self.log_path}",
                )
            if self.ready():
                if verbose:
                    print("vLLM server ready", flush=True)
                return self
            time.sleep(0.5)
        self.stop()
        raise JudgelabError(
            f"the vLLM server did not answer /v1/models within {self.start_timeout_s:.0f} s",
            fix=f"read {self.log_path}",
        )

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass

    def __enter__(self) -> LocalServer:
        return self.start() if self.process is None else self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
