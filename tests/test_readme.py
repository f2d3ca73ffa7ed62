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
    assert capsys.readouterr().out.startswith("True [0.08, 1.12]")
