"""The MCP tools of a session: `python(code)` and `answer(text)`, each one env step.

A tool call is rendered as the assistant turn the env's tag protocol parses, so it goes
through the same parser, sandbox session, perturbations, reward and grader as a `step`.
The result is the policy-facing part of the observation only: no `audit` field (a tool
result usually goes straight back into the model's context).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastmcp import FastMCP

if TYPE_CHECKING:
    from .environment import DeepToolOpenEnv

#: Observation fields an MCP tool result carries (everything but the audit record).
TOOL_RESULT_EXCLUDE = {"audit", "metadata"}


def code_turn(code: str) -> str:
    """The assistant turn that runs `code` (the tag protocol)."""
    return f"<code>\n{code}\n</code>"


def answer_turn(text: str) -> str:
    """The assistant turn that submits `text` as the final answer (boxed unless it is)."""
    boxed = text if "\\boxed" in text else f"\\boxed{{{text}}}"
    return f"<answer>{boxed}</answer>"


def _need_str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"argument {name!r} must be a string, got {type(value).__name__}")
    return value


def build_tool_server(env: DeepToolOpenEnv) -> FastMCP:
    """A FastMCP server whose tools step `env`'s current episode."""
    server = FastMCP(f"deeptool:{env.env_id}")

    async def python(code: str) -> dict[str, Any]:
        """Run Python in the episode's persistent sandbox session (variables and imports
        stay across calls); returns the printed output as `text`, with reward and done."""
        obs = await env.play_async(code_turn(_need_str("code", code)))
        return obs.model_dump(exclude=TOOL_RESULT_EXCLUDE)

    async def answer(text: str) -> dict[str, Any]:
        """Submit the final answer (ends the episode); returns the graded observation."""
        obs = await env.play_async(answer_turn(_need_str("text", text)))
        return obs.model_dump(exclude=TOOL_RESULT_EXCLUDE)

    server.tool(python)
    server.tool(answer)
    return server
