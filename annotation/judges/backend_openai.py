"""``backend: openai``: any OpenAI-compatible server, one or several base URLs. Requests go to the
least-loaded URL, at most ``concurrency`` in flight per URL; connection errors, timeouts, 429 and 5xx
are retried with jittered exponential backoff (Retry-After honoured), at most ``max_retries`` times.
:func:`request_kwargs` is the one place constrained output is asked for."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from annotation.judges.backends import Completion, GiveUp
from annotation.judges.config import OpenAIConfig
from annotation.judges.prompts import JudgeRequest


def request_kwargs(config: OpenAIConfig, req: JudgeRequest) -> dict[str, Any]:
    """The chat-completion arguments for one request: the one place where constrained output is
    requested for the OpenAI-compatible backend."""
    s = config.sampling
    kwargs: dict[str, Any] = {"model": config.model, "messages": req.messages, "temperature": s.temperature}
    if s.seed is not None:
        kwargs["seed"] = s.seed
    extra: dict[str, Any] = {}
    if config.mode == "logprobs":
        kwargs.update(max_tokens=1, logprobs=True, top_logprobs=config.top_logprobs)
        if config.constrained == "structured_outputs":
            extra["structured_outputs"] = {"choice": req.options}
    else:
        kwargs.update(max_tokens=s.max_tokens, n=s.n)
        schema = req.json_schema
        if config.constrained == "structured_outputs":
            extra["structured_outputs"] = {"json": schema}
        elif config.constrained == "response_format":
            kwargs["response_format"] = {"type": "json_schema", "json_schema": {"name": "verdict", "schema": schema}}
    if extra:
        kwargs["extra_body"] = extra
    return kwargs


@dataclass
class _Endpoint:
    url: str
    client: Any
    semaphore: asyncio.Semaphore
    in_flight: int = 0


@dataclass
class OpenAIBackend:
    config: OpenAIConfig
    endpoints: list[_Endpoint] = field(default_factory=list)
    retries: int = 0  # total retries made, for the summary
    batched: bool = False

    @classmethod
    def create(cls, config: OpenAIConfig) -> OpenAIBackend:
        from openai import AsyncOpenAI

        key = config.api_key()
        endpoints = [
            _Endpoint(
                url,
                AsyncOpenAI(base_url=url, api_key=key, max_retries=0, timeout=config.timeout_s),
                asyncio.Semaphore(config.concurrency),
            )
            for url in config.base_url
        ]
        return cls(config, endpoints)

    @property
    def slots(self) -> int:
        return self.config.concurrency * len(self.endpoints)

    def _pick(self) -> _Endpoint:
        return min(self.endpoints, key=lambda e: e.in_flight)

    async def complete(self, req: JudgeRequest) -> Completion:
        """Send one request, retrying connection errors, timeouts, 429 and 5xx with jittered
        exponential backoff (Retry-After honoured), at most ``max_retries`` times."""
        import openai

        kwargs = request_kwargs(self.config, req)
        last = ""
        for attempt in range(self.config.max_retries + 1):
            endpoint = self._pick()
            endpoint.in_flight += 1
            start = time.perf_counter()
            try:
                async with endpoint.semaphore:
                    response = await endpoint.client.chat.completions.create(**kwargs)
                return _completion(response, time.perf_counter() - start, attempt + 1, endpoint.url)
            except (openai.APIConnectionError, openai.APITimeoutError) as exc:
                last = f"{type(exc).__name__}: {exc}"
                delay = None
            except openai.APIStatusError as exc:
                if exc.status_code != 429 and exc.status_code < 500:
                    raise GiveUp(
                        f"HTTP {exc.status_code} from {endpoint.url}: {_short(exc.message)}", attempt + 1
                    ) from None
                last = f"HTTP {exc.status_code}: {_short(exc.message)}"
                delay = _retry_after(exc)
            except (ValueError, openai.APIResponseValidationError) as exc:  # a body that is not JSON
                last = f"unreadable response body: {_short(str(exc))}"
                delay = None
            finally:
                endpoint.in_flight -= 1
            if attempt == self.config.max_retries:
                break
            self.retries += 1
            backoff = self.config.backoff_s * (2**attempt) * random.uniform(0.5, 1.5)
            await asyncio.sleep(max(backoff, delay or 0.0))
        raise GiveUp(
            f"gave up after {self.config.max_retries + 1} attempts; last error: {last}", self.config.max_retries + 1
        )

    async def complete_batch(self, requests: Sequence[JudgeRequest]) -> list[Completion | GiveUp]:
        raise NotImplementedError("the openai backend answers one request at a time")

    async def close(self) -> None:
        for e in self.endpoints:
            await e.client.close()


def _retry_after(exc: Any) -> float | None:
    try:
        value = exc.response.headers.get("retry-after")
        return min(float(value), 60.0) if value else None
    except (AttributeError, TypeError, ValueError):
        return None


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _completion(response: Any, seconds: float, attempts: int, url: str) -> Completion:
    choices = response.choices or []
    if not choices:
        raise ValueError("the response has no choices")
    texts = [c.message.content or "" for c in choices]
    top = None
    lp = getattr(choices[0], "logprobs", None)
    if lp is not None and lp.content:
        top = [(t.token, t.logprob) for t in (lp.content[0].top_logprobs or [])]
    usage = response.usage
    return Completion(
        texts=texts,
        top_logprobs=top,
        prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
        completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
        latency_ms=int(seconds * 1000),
        attempts=attempts,
        endpoint=url,
    )
