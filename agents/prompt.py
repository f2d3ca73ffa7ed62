"""The one prompt template of every chat agent: how observations become messages, and
how a generation cut at a stop sequence becomes a complete action."""

from __future__ import annotations

from deeptool_env.protocol import STOP_SEQUENCES

# Tool results go back as user messages: many chat templates (SmolLM2's among them) have
# no tool role, and the `<output>` tags already say what the text is.
OBSERVATION_ROLE = "user"

_OPENERS = {stop: stop.replace("</", "<") for stop in STOP_SEQUENCES}


def observation_message(observation: str) -> dict[str, str]:
    """The chat message that carries a tool observation (or a protocol error)."""
    return {"role": OBSERVATION_ROLE, "content": observation}


def complete_action(text: str) -> str:
    """Re-append the stop sequence a sampler cut off (`<code>x` -> `<code>x</code>`).

    Servers strip the matched stop string from the returned text; the env needs the
    closing tag to see a complete action.
    """
    for stop, opener in _OPENERS.items():
        if text.rfind(opener) > text.rfind(stop):
            return text + stop
    return text
