"""Judge throughput against the real local vLLM server (CPU, SmolLM2-135M).

Prints judgments/s of the project's runner (prompting, retries, parsing, writing labels to SQLite)
next to a bare ``AsyncOpenAI`` loop sending the same requests at the same concurrency, and their
ratio (goal >= 0.9); and judgments/s in ``logprobs`` vs ``reasoning`` mode (bare loop). A warm-up
pass fills vLLM's prefix cache first; then the two are alternated and medians reported.
Usage: python benchmarks/bench_judge.py [--items 48] [--concurrency 12] [--repeat 3] [--base-url URL --model M]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from annotation.config import Settings, load_settings  # noqa: E402
from annotation.ingest import import_file  # noqa: E402
from annotation.judges.backend_openai import request_kwargs  # noqa: E402
from annotation.judges.config import OpenAIConfig, parse_config  # noqa: E402
from annotation.judges.runner import plan, run_judge  # noqa: E402
from annotation.services import Services  # noqa: E402


async def bare_loop(config: OpenAIConfig, kwargs_list: list[dict], concurrency: int) -> float:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=config.base_url[0], api_key="EMPTY", max_retries=0, timeout=300)
    sem = asyncio.Semaphore(concurrency)

    async def one(kwargs: dict) -> None:
        async with sem:
            await client.chat.completions.create(**kwargs)

    start = time.perf_counter()
    await asyncio.gather(*(one(k) for k in kwargs_list))
    elapsed = time.perf_counter() - start
    await client.close()
    return len(kwargs_list) / elapsed


def openai_config(data: dict) -> OpenAIConfig:
    config = parse_config(data)
    assert isinstance(config, OpenAIConfig)
    return config


def fresh_services(tmp: Path, n: int) -> Services:
    services = Services.from_settings(Settings(database_url=f"sqlite:///{tmp}/b{n}.db", data_dir=tmp))
    with services.session() as s:
        import_file(s, ROOT / "data" / "sample_pairwise.jsonl", task="bench")
    return services


def requests_for(config: OpenAIConfig, tmp: Path, items: int) -> list[dict]:
    services = fresh_services(tmp, 999)
    p = plan(services, "bench", config, limit=items, retry_failed=False)
    services.close()
    return [request_kwargs(config, r) for r in p.requests]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=48)
    parser.add_argument("--concurrency", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--base-url")
    parser.add_argument("--model")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="judgelab-bench-judge-"))
    server = None
    if args.base_url:
        base_url, model = args.base_url, args.model or "smollm2-135m"
    else:
        from annotation.judges.local_server import LocalServer

        server = LocalServer(load_settings().model_cache_dir, log_path=tmp / "vllm.log").start(verbose=False)
        base_url, model = server.base_url, server.model
    try:
        common = {"model": model, "base_url": base_url, "concurrency": args.concurrency}
        lp = openai_config({**common, "mode": "logprobs"})
        rs = openai_config({**common, "mode": "reasoning", "sampling": {"max_tokens": 96}})
        lp_requests = requests_for(lp, tmp, args.items)
        rs_requests = requests_for(rs, tmp, max(args.items // 2, 8))
        asyncio.run(bare_loop(lp, lp_requests, args.concurrency))  # warm-up: prefix cache, compiled kernels
        runner_rates, bare_rates = [], []
        for r in range(args.repeat):
            services = fresh_services(tmp, r)
            summary = run_judge(services, task="bench", config=lp, limit=args.items, progress=False)
            services.close()
            runner_rates.append(summary.per_second)
            bare_rates.append(asyncio.run(bare_loop(lp, lp_requests, args.concurrency)))
        runner, bare = statistics.median(runner_rates), statistics.median(bare_rates)
        print(
            f"bench_judge: {len(lp_requests)} pairwise judgments, concurrency {args.concurrency}, "
            f"vLLM CPU + SmolLM2-135M, median of {args.repeat} runs"
        )
        print(
            f"  logprobs mode: judgelab runner {runner:5.2f}/s | bare AsyncOpenAI loop {bare:5.2f}/s | "
            f"ratio {runner / bare:4.2f} | goal >= 0.9: {'OK' if runner / bare >= 0.9 else 'UNDER GOAL'}"
        )
        asyncio.run(bare_loop(rs, rs_requests, args.concurrency))  # warm-up
        reasoning = statistics.median(
            asyncio.run(bare_loop(rs, rs_requests, args.concurrency)) for _ in range(args.repeat)
        )
        print(
            f"  bare loop: logprobs (1 token) {bare:5.2f}/s | reasoning (<= 96 tokens) {reasoning:5.2f}/s | "
            f"logprobs is {bare / reasoning:4.1f}x faster"
        )
        result = {"bench": "judge", "judgments": len(lp_requests), "concurrency": args.concurrency}
        rates = {"runner_per_s": runner, "bare_per_s": bare, "reasoning_per_s": reasoning}
        print("RESULT " + json.dumps({**result, **rates}))
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
