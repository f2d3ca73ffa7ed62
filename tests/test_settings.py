"""Settings: every field of every config is documented where it is declared (the CLI's
--help is built from it), YAML and CLI overrides apply in order, misspelt keys are named
with a suggestion, and every bad setting raises one error type."""

from __future__ import annotations

import argparse
from dataclasses import fields

import pytest

from agents.training.grpo.config import GRPOConfig
from agents.training.settings import add_options, from_args
from agents.training.sft.config import SFTConfig
from agents.training.synthesis import SynthesisConfig
from benchmarks.runner import RunConfig
from deeptool_env import EnvConfig
from deeptool_env.env_config import EnvConfigError
from deeptool_env.perturbations import PerturbationConfig
from deeptool_env.sandbox import SandboxConfig
from deeptool_env.settings import SettingsError, field_docs
from leaderboard.config import ConfigError, ServerConfig

CONFIGS = [GRPOConfig, SFTConfig, SynthesisConfig, EnvConfig, SandboxConfig,
           PerturbationConfig, RunConfig, ServerConfig]


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
def test_every_field_is_documented_in_the_help(cls):
    docs = field_docs(cls)
    assert [f.name for f in fields(cls) if not docs.get(f.name)] == []
    parser = argparse.ArgumentParser(  # one line per option: no wrapping at hyphens
        formatter_class=lambda prog: argparse.HelpFormatter(prog, width=100_000))
    add_options(parser, cls)
    text = parser.format_help()
    for f in fields(cls):
        assert f"--{f.name.replace('_', '-')}" in text
        assert docs[f.name] in text  # the field's own help, not a placeholder


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
def test_every_config_raises_the_one_error_type(cls):
    with pytest.raises(SettingsError, match="did you mean"):
        cls.from_dict({f"{fields(cls)[0].name}x": 1})
    assert issubclass(EnvConfigError, SettingsError) and issubclass(ConfigError, SettingsError)
    assert issubclass(SettingsError, ValueError) and issubclass(SettingsError, TypeError)


def test_types_are_checked_and_text_is_parsed_only_from_text():
    with pytest.raises(SettingsError, match="keep_checkpoints must be a positive integer"):
        SFTConfig(train_file="a", keep_checkpoints=1.5)
    with pytest.raises(SettingsError, match="learning_rate must be a number >= 0"):
        SFTConfig(train_file="a", learning_rate="1e-5")  # Python values are not parsed
    config = SFTConfig.from_dict({"train_file": "a", "learning_rate": "1e-5", "epochs": "3"},
                                 text=True)
    assert (config.learning_rate, config.epochs) == (1e-5, 3)
    assert SFTConfig(train_file="a", weight_decay=0).weight_decay == 0.0  # int widened
    assert SFTConfig(train_file="a", report_to="wandb").report_to == ["wandb"]
    with pytest.raises(SettingsError, match="report_to must be one of"):
        SFTConfig(train_file="a", report_to=["mlflow"])


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
