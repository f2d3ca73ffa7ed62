"""Trainer settings: every field is documented (the CLI's --help is built from it), YAML
and CLI overrides apply in order, and misspelt keys are named with a suggestion."""

from __future__ import annotations

import argparse
from dataclasses import fields

import pytest

from agents.training.grpo.config import GRPOConfig
from agents.training.settings import add_options, field_docs, from_args
from agents.training.sft.config import SFTConfig
from agents.training.synthesis import SynthesisConfig

CONFIGS = [GRPOConfig, SFTConfig, SynthesisConfig]


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
def test_every_field_is_documented_in_the_help(cls):
    docs = field_docs(cls)
    assert [f.name for f in fields(cls) if not docs.get(f.name)] == []
    parser = argparse.ArgumentParser()
    add_options(parser, cls)
    text = parser.format_help()
    assert all(f"--{f.name.replace('_', '-')}" in text for f in fields(cls))


def test_options_override_the_file_which_overrides_defaults(tmp_path):
    path = tmp_path / "sft.yaml"
    path.write_text("train_file: a.jsonl\nepochs: 5\nlearning_rate: 1e-4\n")
    parser = argparse.ArgumentParser()
    add_options(parser, SFTConfig)
    config = from_args(SFTConfig, parser.parse_args(
        ["--config", str(path), "--epochs", "7", "--report-to", "[tensorboard]"]))
    assert (config.train_file, config.epochs, config.learning_rate) == ("a.jsonl", 7, 1e-4)
    assert config.report_to == ["tensorboard"] and config.batch_size == 8
    with pytest.raises(ValueError, match="did you mean 'epochs'"):
        SFTConfig.from_dict({"train_file": "a", "epoch": 3})
    with pytest.raises(ValueError, match="YAML mapping"):
        path.write_text("- 1\n")
        SFTConfig.from_yaml(path)


def test_the_shipped_recipe_configs_load():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "configs"
    kinds = {"sft": SFTConfig, "grpo": GRPOConfig, "synth": SynthesisConfig}
    loaded = 0
    for path in sorted(root.rglob("*.yaml")):
        cls = kinds.get(path.stem.split("-")[0])
        if cls is not None:
            cls.from_yaml(path)
            loaded += 1
    assert loaded >= 3
