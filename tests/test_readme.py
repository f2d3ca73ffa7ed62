"""The documented examples and commands (README.md and the docs/ pages) run as written."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def code_blocks() -> list[str]:
    """The fenced code blocks of README.md and every docs/ page (commands live on any page)."""
    blocks = []
    for page in [README, *sorted(DOCS.glob("*.md"))]:
        block = None
        for line in page.read_text().splitlines():
            if re.fullmatch(r"\s*```[a-z]*\s*", line):  # a fence line (not inline ```` code)
                if block is not None:
                    blocks.append("\n".join(block) + "\n")
                block = None if block is not None else []
            elif block is not None:
                block.append(line)
    return blocks


def test_custom_agent_example_runs(capsys):
    text = (DOCS / "agents.md").read_text()
    section = text[text.index("A custom agent in"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(code, "README-example", "exec"), {"__name__": "readme_example"})
    assert capsys.readouterr().out.startswith("True [0.07, 1.12]")


def documented_commands(program: str) -> list[str]:
    """Every `program ...` command in the documentation's code blocks (continuations joined)."""
    text = "\n".join(code_blocks()).replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip().startswith(program)
            or "-m agents.cli " in line]


def test_training_commands_in_the_docs_parse_and_validate(monkeypatch):
    """The documented `deeptool-train` commands name real options and valid settings."""
    import shlex

    from agents.cli import build_parser
    from agents.training.grpo.config import GRPOConfig
    from agents.training.settings import from_args
    from agents.training.sft.config import SFTConfig
    from agents.training.study import StudyConfig
    from agents.training.synthesis import SynthesisConfig

    monkeypatch.chdir(README.parent)
    kinds = {"grpo": GRPOConfig, "sft": SFTConfig, "synth": SynthesisConfig,
             "study": StudyConfig}
    commands, validated = documented_commands("deeptool-train"), 0
    assert len(commands) >= 8
    for command in commands:
        words = shlex.split(command.split(" &")[0].split(" #")[0])
        args = build_parser().parse_args(words[words.index(next(
            w for w in words if w in kinds)):])
        if args.config is None or Path(args.config).is_file():  # not a placeholder file
            from_args(kinds[args.command], args)
            validated += 1
    assert validated >= 6
