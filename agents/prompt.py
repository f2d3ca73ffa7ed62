"""The one prompt template of every chat agent: how observations become messages, and
how a generation cut at a stop sequence becomes a complete action."""

from __future__ import annotations

import re
from typing import Any

from deeptool_env import protocol as tag_protocol
from deeptool_env import tool_call_protocol

# Tag-protocol tool results go back as user messages: many chat templates (SmolLM2's among
# them) have no tool role, and the `<output>` tags already say what the text is.
OBSERVATION_ROLE = "user"

_STOPS = tag_protocol.STOP_SEQUENCES + tool_call_protocol.STOP_SEQUENCES
_OPENERS = {stop: stop.replace("</", "<") for stop in _STOPS}
# A template that handles tool messages compares a role with "tool" (Qwen2.5, Hermes).
_TOOL_ROLE = re.compile(r"""==\s*["']tool["']""")


def template_has_tool_role(tokenizer: Any) -> bool:
    """Whether the tokenizer's chat template renders `tool` messages itself."""
    return bool(_TOOL_ROLE.search(getattr(tokenizer, "chat_template", None) or ""))


def observation_message(observation: str, *, protocol: str = "tags",
                        tool_role: bool = False) -> dict[str, str]:
    """The chat message that carries a tool observation (or a protocol error).

    Tag protocol: a user message. Tools protocol (`protocol="tools"`): a `tool` message
    when the template has a tool role (`tool_role`, see `template_has_tool_role`), else a
    user message holding `<tool_response>...</tool_response>`, the text Qwen2.5's
    template renders for a tool message, so both kinds of template show the same thing.
    """
    if protocol != "tools":
        return {"role": OBSERVATION_ROLE, "content": observation}
    if tool_role:
        return {"role": "tool", "content": observation}
    return {"role": "user", "content": f"<tool_response>\n{observation}\n</tool_response>"}


def complete_action(text: str) -> str:
    """Re-append the stop sequence a sampler cut off (`<code>x` -> `<code>x</code>`,
    `<tool_call>{...}` -> `<tool_call>{...}</tool_call>`).

    Servers strip the matched stop string from the returned text; the env needs the
    closing tag to see a complete action.
    """
    for stop, opener in _OPENERS.items():
        if text.rfind(opener) > text.rfind(stop):
            return text + stop
    return text
