"""The README's custom-agent example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_custom_agent_example_runs(capsys):
    text = README.read_text()
    section = text[text.index("A custom agent in"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(code, "README-example", "exec"), {"__name__": "readme_example"})
    assert capsys.readouterr().out.startswith("True [0.07, 1.12]")


def readme_commands(program: str) -> list[str]:
    """Every `program ...` command in the README's code blocks (continuations joined)."""
    blocks = re.findall(r"```[a-z]*\n(.*?)```", README.read_text(), re.S)
    text = "\n".join(blocks).replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip().startswith(program)
            or "-m agents.cli " in line]


def test_training_commands_in_the_readme_parse_and_validate(monkeypatch):
    """The documented `deeptool-train` commands name real options and valid settings."""
    import shlex

    from agents.cli import build_parser
    from agents.training.grpo.config import GRPOConfig
    from agents.training.settings import from_args
    from agents.training.sft.config import SFTConfig
    from agents.training.synthesis import SynthesisConfig

    monkeypatch.chdir(README.parent)
    kinds = {"grpo": GRPOConfig, "sft": SFTConfig, "synth": SynthesisConfig}
    commands, validated = readme_commands("deeptool-train"), 0
    assert len(commands) >= 8
    for command in commands:
        words = shlex.split(command.split(" &")[0].split(" #")[0])
        args = build_parser().parse_args(words[words.index(next(
            w for w in words if w in kinds)):])
        if args.config is None or Path(args.config).is_file():  # not a placeholder file
            from_args(kinds[args.command], args)
            validated += 1
    assert validated >= 6
