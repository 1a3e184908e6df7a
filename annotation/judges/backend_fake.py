"""``backend: fake``: a deterministic judge, scripted by its config (``answers``, ``give_up_every``,
``latency_ms``), so the runner, the label mapping and the request building are tested in seconds
without a server. Its outputs look like a real server's: a JSON verdict in ``reasoning`` mode, one
token with top logprobs in ``logprobs`` mode."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from annotation.judges.backends import Completion, GiveUp
from annotation.judges.config import FakeConfig
from annotation.judges.prompts import JudgeRequest


@dataclass
class FakeBackend:
    config: FakeConfig
    batched: bool = False
    retries: int = 0
    requests: list[JudgeRequest] = field(default_factory=list)  # what it was asked, in order

    @classmethod
    def create(cls, config: FakeConfig) -> FakeBackend:
        return cls(config)

    @property
    def slots(self) -> int:
        return self.config.concurrency

    def answer(self, req: JudgeRequest) -> str:
        answers = self.config.answers
        return answers[(req.item_id + (req.presented_order == "ba")) % len(answers)]

    async def complete(self, req: JudgeRequest) -> Completion:
        self.requests.append(req)
        if self.config.latency_ms:
            await asyncio.sleep(self.config.latency_ms / 1000)
        every = self.config.give_up_every
        if every and req.item_id % every == 0:
            raise GiveUp(f"fake fault: item {req.item_id} gives up (give_up_every: {every})", 1)
        answer = self.answer(req)
        tokens = sum(len(m["content"].split()) for m in req.messages)
        if req.schema_override is not None and "checklist" in str(req.schema_override.get("properties")):
            # a checklist writer: three questions about the item (an unparseable answer when scripted so)
            questions = [f"Does the response answer request {req.item_id}?", "Is it correct?", "Is it concise?"]
            text = answer if answer.startswith("!") else json.dumps({"checklist": questions})
            return Completion([text], None, tokens, 20, self.config.latency_ms, 1, "fake")
        if req.asks and self.config.mode != "logprobs":
            # several questions: the scripted answer where it is an option, else an option by item
            answers = {
                a.key: answer if answer in a.options else a.options[(req.item_id + i) % len(a.options)]
                for i, a in enumerate(req.asks)
            }
            if self.config.omit_question:
                answers.pop(self.config.omit_question, None)
            text = json.dumps({"rationale": f"fake judge answers {answer}", **answers})
            return Completion([text] * self.config.sampling.n, None, tokens, 12, self.config.latency_ms, 1, "fake")
        if req.asks and answer not in req.options:
            answer = req.options[req.item_id % len(req.options)]
        if self.config.mode == "logprobs":
            rest = [o for o in req.options if o != answer]
            top = [(answer, math.log(0.7))] + [(o, math.log(0.3 / len(rest))) for o in rest]
            return Completion([answer], top, tokens, 1, self.config.latency_ms, 1, "fake")
        text = json.dumps({"rationale": f"fake judge answers {answer}", "verdict": answer})
        return Completion([text] * self.config.sampling.n, None, tokens, 12, self.config.latency_ms, 1, "fake")

    async def complete_batch(self, requests: Sequence[JudgeRequest]) -> list[Completion | GiveUp]:
        raise NotImplementedError("the fake backend answers one request at a time")

    async def close(self) -> None:
        return None
