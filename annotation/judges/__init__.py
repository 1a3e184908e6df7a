"""LLM judges: a judge is one more annotator whose identity is its exact configuration.

Public API: :class:`JudgeConfig`, :func:`load_config`, :func:`run_judge`. Backends are imported only
when used; ``import annotation.judges`` never imports vllm or torch.
"""

from annotation.judges.config import JudgeConfig, load_config

__all__ = ["JudgeConfig", "load_config"]
