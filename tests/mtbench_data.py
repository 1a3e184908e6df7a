"""Synthetic rows in the public MT-Bench human-judgments schema (for import and agreement tests)."""

from __future__ import annotations

import random
from typing import Any

MODELS = ["alpaca-13b", "claude-v1", "gpt-3.5-turbo", "gpt-4", "llama-13b", "vicuna-13b-v1.2"]
WINNERS = ["model_a", "model_b", "tie", "tie (bothbad)"]


def conversation(qid: int, model: str) -> list[dict[str, str]]:
    return [
        {"role": "user", "content": f"Question {qid}, turn 1"},
        {"role": "assistant", "content": f"{model} answers {qid}.1"},
        {"role": "user", "content": f"Question {qid}, turn 2"},
        {"role": "assistant", "content": f"{model} answers {qid}.2"},
    ]


def synthetic_votes(seed: int = 7, n_questions: int = 12) -> list[dict[str, Any]]:
    """Human votes (expert_*/author_*) and one GPT-4 pair vote per (question, pair, turn)."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    experts = [f"expert_{i}" for i in range(8)] + ["author_1", "author_2"]
    for qid in range(81, 81 + n_questions):
        pairs = rng.sample([(a, b) for a in MODELS for b in MODELS if a < b], 4)
        for first, second in pairs:
            for turn in (1, 2):
                truth = rng.choice(WINNERS)
                voters = rng.sample(experts, rng.randint(1, 4))
                votes = [(v, truth if rng.random() < 0.6 else rng.choice(WINNERS)) for v in voters]
                votes.append((["gpt-4", "pair-v2"], truth if rng.random() < 0.7 else rng.choice(WINNERS)))
                for judge, winner in votes:
                    flip = rng.random() < 0.5  # the vote's own order
                    model_a, model_b = (second, first) if flip else (first, second)
                    if flip:
                        winner = {"model_a": "model_b", "model_b": "model_a"}.get(winner, winner)
                    rows.append(
                        {
                            "question_id": qid,
                            "model_a": model_a,
                            "model_b": model_b,
                            "winner": winner,
                            "judge": judge,
                            "turn": turn,
                            "conversation_a": conversation(qid, model_a),
                            "conversation_b": conversation(qid, model_b),
                        }
                    )
    return rows
