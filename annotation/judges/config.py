"""Judge configuration, loaded from YAML. Every error names the key, the value and the fix."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from annotation.catalog import config_hash
from annotation.errors import ConfigError
from annotation.judges.template_files import template_source

Protocol = Literal["pairwise", "single", "pairwise_reference", "single_reference"]


class Sampling(BaseModel):
    model_config = ConfigDict(extra="forbid")

    temperature: float = Field(0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(256, ge=1, le=32_768)
    n: int = Field(1, ge=1, le=32, description="samples per request; the label is their majority")
    seed: int | None = None


class JudgeConfig(BaseModel):
    """What every judge has, whatever runs it. The fields of :meth:`identity` decide which annotator it
    is (a change = a new rater); each backend's config adds only its own keys, and refuses the keys of
    another backend (``extra="forbid"``)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    backend: str = "openai"
    model: str
    protocol: Protocol = "pairwise"
    template: str = "builtin"
    mode: Literal["reasoning", "logprobs"] = "reasoning"
    swap: bool = False
    sampling: Sampling = Field(default_factory=Sampling)
    top_logprobs: int = Field(10, ge=1, le=20)
    constrained: Literal["structured_outputs", "response_format", "none"] = "structured_outputs"

    @model_validator(mode="after")
    def _logprobs_single_token(self) -> JudgeConfig:
        if self.mode == "logprobs" and self.sampling.n != 1:
            raise ValueError("mode 'logprobs' reads one token's distribution; set sampling.n to 1")
        return self

    # ------------------------------------------------------------------ identity

    def template_text(self, *, questions: bool = False) -> str:
        """``questions``: the task asks several questions (``annotation.judges.prompts.asks_questions``)."""
        return template_source(self.template, self.protocol, questions=questions)

    def identity(self, *, questions: bool = False, template: str | None = None) -> dict[str, Any]:
        """What makes this judge this rater: backend, model, template text, sampling, protocol, mode.
        ``template``: the text it is asked with instead of its own (a checklist writer's)."""
        return {
            "backend": self.backend,
            "model": self.model,
            "protocol": self.protocol,
            "template": template if template is not None else self.template_text(questions=questions),
            "mode": self.mode,
            "swap": self.swap,
            "sampling": self.sampling.model_dump(),
            "top_logprobs": self.top_logprobs if self.mode == "logprobs" else None,
            "constrained": self.constrained,
        }

    def identity_hash(self, *, questions: bool = False, template: str | None = None) -> str:
        return config_hash(self.identity(questions=questions, template=template))

    def annotator_name(self, *, questions: bool = False, template: str | None = None) -> str:
        short = self.model.rstrip("/").split("/")[-1]
        return self.name or f"{short}@{self.identity_hash(questions=questions, template=template)[:8]}"


class OpenAIConfig(JudgeConfig):
    """``backend: openai``: any OpenAI-compatible server (vllm serve, SGLang, llama.cpp, hosted APIs)."""

    backend: Literal["openai"] = "openai"
    base_url: list[str] = Field(default_factory=lambda: ["http://127.0.0.1:8000/v1"])
    api_key_env: str | None = None
    concurrency: int = Field(64, ge=1, le=4096, description="requests in flight per base URL")
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(4, ge=0, le=20)
    backoff_s: float = Field(0.5, gt=0, description="first retry delay; doubles each time, with jitter")

    @field_validator("base_url", mode="before")
    @classmethod
    def _urls(cls, value: object) -> object:
        if isinstance(value, str):
            return [value]
        return value

    @field_validator("base_url")
    @classmethod
    def _check_urls(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("give at least one base URL, e.g. http://127.0.0.1:8000/v1")
        for url in value:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{url!r} is not an http(s) URL; write e.g. http://127.0.0.1:8000/v1")
        return [u.rstrip("/") for u in value]

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and (not value or not value.replace("_", "").isalnum() or value.startswith("sk-")):
            raise ValueError(
                "api_key_env is the NAME of an environment variable (e.g. OPENAI_API_KEY), never the key itself"
            )
        return value

    def api_key(self) -> str:
        """The API key, read from the environment variable this config names (never stored)."""
        if self.api_key_env is None:
            return "EMPTY"
        value = os.environ.get(self.api_key_env)
        if not value:
            raise ConfigError(
                f"the environment variable {self.api_key_env!r} named by api_key_env is not set",
                fix=f"export {self.api_key_env}=... before running the judge",
            )
        return value


class VLLMConfig(JudgeConfig):
    """``backend: vllm``: ``vllm.LLM`` in this process, one batched call (GPU machines, the CLI)."""

    backend: Literal["vllm"] = "vllm"
    vllm_args: dict[str, Any] = Field(default_factory=dict, description="extra vllm.LLM(...) arguments")


class FakeConfig(JudgeConfig):
    """``backend: fake``: a deterministic judge for tests and dry runs; no model, no server.

    The answer to a request is ``answers[(item_id + k) % len(answers)]`` with ``k`` = 1 for the
    ``ba`` order and 0 for ``ab``: an option of the label set (``A``, ``B``, ``C`` = tie, or a scale
    value) is a verdict; anything else is an unparseable output (a ``failed`` label with that raw
    text). Every item whose id is a multiple of ``give_up_every`` gives up as a server fault would.
    On a task of several questions the scripted answer answers each question it is an option of, and
    an option chosen by the item answers the others; ``omit_question`` leaves one out of every reply."""

    backend: Literal["fake"] = "fake"
    answers: list[str] = Field(default_factory=lambda: ["A"], min_length=1)
    omit_question: str | None = None
    give_up_every: int = Field(0, ge=0, description="0: never")
    latency_ms: int = Field(0, ge=0, le=60_000)
    concurrency: int = Field(8, ge=1, le=1024)


# backend name -> its config class (the backend itself is imported when used: annotation.judges.backends)
CONFIGS: dict[str, type[JudgeConfig]] = {"openai": OpenAIConfig, "vllm": VLLMConfig, "fake": FakeConfig}


def load_config(path: Path) -> JudgeConfig:
    """Read a judge YAML file. Errors name the file, the key, the value and the fix."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"judge config {str(path)!r} does not exist", fix="check the --config path") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})", fix="fix the YAML syntax") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys", value=data)
    return parse_config(data, source=str(path))


def parse_config(data: dict[str, Any], *, source: str = "judge config") -> JudgeConfig:
    """A judge config of the backend ``data`` names (default ``openai``); keys of another backend are
    refused, not ignored."""
    backend = data.get("backend", "openai")
    config_class = CONFIGS.get(backend) if isinstance(backend, str) else None
    if config_class is None:
        raise ConfigError(f"{source}: key 'backend': unknown backend", value=backend, fix=f"use one of {list(CONFIGS)}")
    try:
        return config_class.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        value = err.get("input")
        if err["type"] == "extra_forbidden":
            known = ", ".join(config_class.model_fields)
            raise ConfigError(
                f"{source}: unknown key '{key}' for backend '{backend}'", fix=f"known keys are: {known}"
            ) from None
        if err["type"] == "missing":
            raise ConfigError(f"{source}: key '{key}' is required", fix=f"add '{key}: ...'") from None
        raise ConfigError(
            f"{source}: key '{key}': {err['msg']}",
            value=value,
            fix="see docs/judges.md for every key and its allowed values",
        ) from None
