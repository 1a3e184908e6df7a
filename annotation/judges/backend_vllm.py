"""``backend: vllm``: ``vllm.LLM`` in this process, every request in one batched ``LLM.chat`` call
(offline batches on a GPU machine, from the CLI; never in the web process). vllm is imported here,
when the backend is used."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from annotation.errors import ConfigError
from annotation.judges.backends import Completion, GiveUp
from annotation.judges.config import VLLMConfig
from annotation.judges.prompts import JudgeRequest


@dataclass
class VLLMBackend:
    config: VLLMConfig
    batched: bool = True
    slots: int = 1
    retries: int = 0

    @classmethod
    def create(cls, config: VLLMConfig) -> VLLMBackend:
        return cls(config)

    async def complete(self, req: JudgeRequest) -> Completion:
        (result,) = await self.complete_batch([req])
        if isinstance(result, GiveUp):
            raise result
        return result

    async def complete_batch(self, requests: Sequence[JudgeRequest]) -> list[Completion | GiveUp]:
        if not requests:
            return []
        return list(await asyncio.to_thread(vllm_offline, self.config, requests))

    async def close(self) -> None:
        return None


def vllm_offline(config: VLLMConfig, requests: Sequence[JudgeRequest]) -> list[Completion]:
    """All requests in one batched ``vllm.LLM.chat`` call (backend ``vllm``)."""
    try:
        from vllm import LLM, SamplingParams
        from vllm.sampling_params import StructuredOutputsParams
    except ImportError:
        raise ConfigError(
            "backend 'vllm' needs the vllm package in this environment",
            fix="pip install 'judgelab[gpu]' on a GPU machine (or 'judgelab[cpu]'), or use backend: openai",
        ) from None
    llm = LLM(model=config.model, **config.vllm_args)
    s = config.sampling
    params = []
    for req in requests:
        if config.mode == "logprobs":
            structured = StructuredOutputsParams(choice=req.options)
            params.append(
                SamplingParams(
                    max_tokens=1, temperature=s.temperature, logprobs=config.top_logprobs, structured_outputs=structured
                )
            )
        else:
            structured = StructuredOutputsParams(json=req.json_schema)
            params.append(
                SamplingParams(
                    max_tokens=s.max_tokens,
                    temperature=s.temperature,
                    n=s.n,
                    seed=s.seed,
                    structured_outputs=structured,
                )
            )
    start = time.perf_counter()
    conversations: list[Any] = [r.messages for r in requests]
    outputs = llm.chat(conversations, params)
    per = int((time.perf_counter() - start) * 1000 / max(len(requests), 1))
    results = []
    for out in outputs:
        texts = [o.text for o in out.outputs]
        top = None
        first = out.outputs[0]
        if config.mode == "logprobs" and first.logprobs:
            top = [(lp.decoded_token or "", lp.logprob) for lp in first.logprobs[0].values()]
        results.append(
            Completion(texts, top, len(out.prompt_token_ids or []), sum(len(o.token_ids) for o in out.outputs), per)
        )
    return results
