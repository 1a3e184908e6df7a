"""Judge configs, prompts and answer parsing (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotation.errors import ConfigError
from annotation.judges.config import load_config, parse_config
from annotation.judges.parsing import majority, option_probabilities, parse_reasoning
from annotation.judges.prompts import ItemView, build_request


def test_yaml_errors_name_key_value_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "j.yaml"
    path.write_text("model: m\nmode: fast\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "key 'mode'" in str(err.value) and "'fast'" in str(err.value) and "Fix:" in str(err.value)
    path.write_text("model: m\ntemprature: 0.2\n")
    with pytest.raises(ConfigError, match="unknown key 'temprature'"):
        load_config(path)
    path.write_text("mode: logprobs\n")
    with pytest.raises(ConfigError, match="key 'model' is required"):
        load_config(path)
    with pytest.raises(ConfigError, match="NAME of an environment variable"):
        parse_config({"model": "m", "api_key_env": "sk-abc123"})
    with pytest.raises(ConfigError, match="not set"):
        parse_config({"model": "m", "api_key_env": "JUDGELAB_TEST_UNSET_KEY"}).api_key()
    with pytest.raises(ConfigError, match=r"set sampling\.n to 1"):
        parse_config({"model": "m", "mode": "logprobs", "sampling": {"n": 3}})


def test_identity_changes_with_what_makes_a_rater() -> None:
    base = parse_config({"model": "m", "base_url": "http://a:1/v1"})
    assert base.annotator_name().startswith("m@") and len(base.identity_hash()) == 64
    moved = parse_config({"model": "m", "base_url": ["http://b:2/v1", "http://c:3/v1"], "concurrency": 8})
    assert moved.identity_hash() == base.identity_hash()  # where it runs is not who it is
    warmer = parse_config({"model": "m", "sampling": {"temperature": 0.7}})
    assert warmer.identity_hash() != base.identity_hash()


def test_prompt_puts_guidelines_first_and_swaps_sides() -> None:
    config = parse_config({"model": "m"})
    item = ItemView(1, "What is 2+2?", "four", "five")
    ab = build_request(config, config.template_text(), instructions="Be strict.", item=item, order="ab")
    ba = build_request(config, config.template_text(), instructions="Be strict.", item=item, order="ba")
    assert ab.messages[0]["role"] == "system" and "Be strict." in ab.messages[0]["content"]
    assert ab.messages[0] == ba.messages[0]  # the shared prefix is identical (vLLM prefix cache)
    user = ab.messages[1]["content"]
    assert user.index("four") < user.index("five")
    assert ba.messages[1]["content"].index("five") < ba.messages[1]["content"].index("four")
    assert (ab.to_value["A"], ba.to_value["A"], ba.to_value["C"]) == ("A", "B", "tie")
    ref = parse_config({"model": "m", "protocol": "pairwise_reference"})
    assert build_request(ref, ref.template_text(), instructions="", item=item, order="ab").error is not None


def test_logprobs_on_a_ten_point_scale_is_refused() -> None:
    config = parse_config({"model": "m", "protocol": "single", "mode": "logprobs"})
    item = ItemView(1, "q", "r", None)
    with pytest.raises(ConfigError, match="single-token"):
        build_request(config, config.template_text(), instructions="", item=item, order="ab", scale=(1, 10))


def test_parsing_never_coerces() -> None:
    opts = ["A", "B", "C"]
    assert parse_reasoning('{"rationale": "x", "verdict": "B"}', opts).option == "B"
    assert parse_reasoning('{"rationale": "x",\n\n "verdict": "A"\n\n\n', opts).option == "A"  # cut after the field
    assert parse_reasoning('{"rationale": "x", "verdict": "D"}', opts).option is None
    assert parse_reasoning("I think A is better", opts).option is None
    probs = option_probabilities([("A", -0.1), (" A", -3.0), ("B", -2.0), ("<x>", -9999.0)], opts)
    assert probs is not None and abs(sum(probs.values()) - 1) < 1e-12 and probs["A"] > probs["B"] > probs["C"] == 0
    assert majority(["A", "B", "A"], pairwise=True) == "A"
    assert majority(["A", "B"], pairwise=True) == "tie"
    assert majority(["2", "4"], pairwise=False) == "3"
