"""The two ways a turn can be written, as one interface the env dispatches on.

`tags` (the default, `protocol.py`): `<code>`/`<answer>` tags. `tools` (`tool_call_protocol`):
the chat template's native JSON tool calls. Both parse to the same `ParsedAction`, so the
env's sandbox, perturbations, rewards and grader do not know which one was used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import protocol, tool_call_protocol
from .protocol import ParsedAction


@dataclass(frozen=True)
class TurnProtocol:
    """What differs between the protocols: prompt, parser, error text, what is graded."""

    name: str
    system_prompt: Callable[[int], str]
    parse: Callable[..., ParsedAction]  # parse(text, max_chars=...) -> ParsedAction
    render_error: Callable[[ParsedAction], str]
    graded_text: Callable[[str, ParsedAction], str]  # (action, parsed) -> grader input
    tools: tuple[dict[str, Any], ...] = ()
    stop_sequences: tuple[str, ...] = ()

    def observation_role(self, parsed: ParsedAction) -> str:
        """The role of the observation in `env.messages`: every tools-protocol observation
        (errors too) is a tool response; in the tag protocol only code output is."""
        return "tool" if self.tools or parsed.kind == "code" else "user"


PROTOCOLS: dict[str, TurnProtocol] = {
    "tags": TurnProtocol("tags", protocol.system_prompt, protocol.parse_action,
                         protocol.render_error, lambda action, parsed: action,
                         stop_sequences=protocol.STOP_SEQUENCES),
    "tools": TurnProtocol("tools", tool_call_protocol.system_prompt,
                          tool_call_protocol.parse_tool_call,
                          tool_call_protocol.render_error,
                          lambda action, parsed: tool_call_protocol.graded_text(parsed),
                          tools=tool_call_protocol.TOOLS,
                          stop_sequences=tool_call_protocol.STOP_SEQUENCES),
}
