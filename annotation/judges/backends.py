"""The judge backends behind one interface, registered by name and imported only when used
(``import annotation`` never imports openai's client internals, vllm or torch):

- ``openai`` (:mod:`annotation.judges.backend_openai`): any OpenAI-compatible server (vllm serve,
  SGLang, llama.cpp, hosted APIs), one or several base URLs;
- ``vllm`` (:mod:`annotation.judges.backend_vllm`): ``vllm.LLM`` in this process, one batched call;
- ``fake`` (:mod:`annotation.judges.backend_fake`): deterministic verdicts and faults, for tests.

A backend answers a :class:`JudgeRequest` with a :class:`Completion`, or raises :class:`GiveUp`
(the label becomes ``failed``). Constrained output is asked for in one place per backend.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from annotation.errors import ConfigError
from annotation.judges.config import CONFIGS, JudgeConfig
from annotation.judges.prompts import JudgeRequest


@dataclass
class Completion:
    texts: list[str]
    top_logprobs: list[tuple[str, float]] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: int = 0
    attempts: int = 1
    endpoint: str = ""


class GiveUp(Exception):
    """A request that still failed after the bounded retries; the label becomes ``failed``."""

    def __init__(self, reason: str, attempts: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts


class Backend(Protocol):
    """What the runner needs of a backend. ``batched`` backends answer the whole plan in one
    :meth:`complete_batch` call; the others answer one request at a time, ``slots`` at once."""

    batched: bool
    slots: int
    retries: int  # retries made so far, for the run's summary

    async def complete(self, req: JudgeRequest) -> Completion: ...

    async def complete_batch(self, requests: Sequence[JudgeRequest]) -> list[Completion | GiveUp]: ...

    async def close(self) -> None: ...


# backend name -> "module:factory"; the factory takes the backend's config
REGISTRY: dict[str, str] = {
    "openai": "annotation.judges.backend_openai:OpenAIBackend.create",
    "vllm": "annotation.judges.backend_vllm:VLLMBackend.create",
    "fake": "annotation.judges.backend_fake:FakeBackend.create",
}
assert set(REGISTRY) == set(CONFIGS), "every backend has a config class and a factory"


def create_backend(config: JudgeConfig) -> Backend:
    """The backend ``config.backend`` names, imported now."""
    target = REGISTRY.get(config.backend)
    if target is None:
        raise ConfigError(f"unknown backend {config.backend!r}", fix=f"use one of {list(REGISTRY)}")
    module_name, _, attr = target.partition(":")
    factory: object = importlib.import_module(module_name)
    for part in attr.split("."):
        factory = getattr(factory, part)
    backend: Backend = factory(config)  # type: ignore[operator]
    return backend
