"""Trajectory synthesis: worked solutions -> verified tool-use trajectories (SFT data).

    from agents.synthesis import SynthesisConfig, synthesize
    summary = synthesize(SynthesisConfig(train_data="aime_1983_2023", limit=50,
                                         out="data/synth/aime.jsonl"))

A teacher LLM (any `agents.ChatAgent`: an OpenAI-compatible server or a local model)
rewrites each solution as think/code/answer turns; every code turn is replayed through the
real env, so observations are true; anomalies with recovery turns are injected; only
trajectories whose answer grades correct are kept, with provenance. For procedural
problems `llm="template"` is a scripted teacher instead (`template_transcript`: each
family's solution written from the task's generator parameters, no model). Also the
`deeptool-train synth` command (`agents.synthesis.cli`). Nothing here imports torch: the
local teacher (`llm="hf"`) loads it only when built.
"""

from .config import SynthesisConfig
from .parse import ParsedRewrite, TeacherTurn, parse_rewrite
from .pipeline import select_tasks, synthesize
from .prompts import PROMPT_VERSION
from .records import SettingsMismatchError
from .summary import SynthesisSummary
from .templates import TEMPLATE_VERSION, template_transcript

__all__ = ["PROMPT_VERSION", "TEMPLATE_VERSION", "ParsedRewrite", "SettingsMismatchError",
           "SynthesisConfig", "SynthesisSummary", "TeacherTurn", "parse_rewrite",
           "select_tasks", "synthesize", "template_transcript"]
