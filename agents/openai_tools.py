"""Native tool calling through an OpenAI-compatible server, mapped to `protocol="tools"`.

`OpenAIToolCallAgent` sends the env's tool schema as `tools=[...]` (from `info["tools"]`),
reads the reply's `tool_calls` and turns them into the tools protocol's action string
(`<tool_call>{"name": ..., "arguments": {...}}</tool_call>`, after any text and
reasoning), so the env parses and scores them like any other turn. The conversation goes
back to the server in its own form: each assistant turn as the server returned it
(`tool_calls` with their ids), and the observation as one `tool` message per call id. A
turn without tool calls gets its observation (a parse error) as a user message.

The system message loses the tool schema the env put in it (the server's template renders
`tools=` itself), and no stop sequences are sent: the server needs the whole call to
parse it.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

from deeptool_env import tool_call_protocol

from .base import Generation
from .openai_agent import OpenAIChatAgent, OpenAIProtocolError, parse_completion
from .prompt import complete_action, observation_message

#: Assistant turns remembered (by action text) to send back in the server's form.
REMEMBERED_TURNS = 4096


def call_text(call: Any) -> str:
    """One OpenAI `tool_calls` entry as a tools-protocol call; `OpenAIProtocolError` if it
    is not one. Arguments that are not JSON are put in as they are, so the env reports
    them (`bad_json`) instead of this agent guessing."""
    try:
        function = call["function"]
        name, arguments = function["name"], function["arguments"]
    except (KeyError, TypeError) as exc:
        raise OpenAIProtocolError(f"tool call without function.name/arguments ({exc!r}): "
                                  f"{json.dumps(call)[:300]}") from None
    if not isinstance(name, str) or not isinstance(arguments, str | dict):
        raise OpenAIProtocolError(f"tool call with a {type(name).__name__} name and "
                                  f"{type(arguments).__name__} arguments")
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except (ValueError, RecursionError):
            return tool_call_protocol.format_call(name, arguments)
    return tool_call_protocol.format_call(name, json.dumps(arguments, ensure_ascii=False))


def fold_tool_calls(data: Any) -> tuple[Any, dict[str, Any] | None]:
    """(the reply with its `tool_calls` appended to the content as tools-protocol calls,
    the assistant message to send back); a body that is no chat completion is returned
    as it is (with None), for `parse_completion` to reject."""
    try:
        message = data["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        return data, None
    calls = message.get("tool_calls") if isinstance(message, dict) else None
    if not calls:
        return data, None
    if not isinstance(calls, list):
        raise OpenAIProtocolError(f"tool_calls is {type(calls).__name__}, not a list")
    content = message.get("content")
    text = (content if isinstance(content, str) else "") + "".join(map(call_text, calls))
    folded = {**data, "choices": [{**data["choices"][0], "message": {**message,
                                                                     "content": text}}]}
    return folded, {"role": "assistant", "content": content, "tool_calls": calls}


def server_messages(messages: list[dict[str, Any]],
                    turns: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """A ChatAgent conversation (action strings, observations) in the server's form;
    `turns` maps an action string to the assistant message the server sent for it."""
    block = tool_call_protocol.tools_block()
    out: list[dict[str, Any]] = []
    pending: list[str] = []  # the call ids the next observation answers
    for message in messages:
        role, content = message["role"], message["content"]
        if role == "system":
            out.append({"role": "system", "content": content.removesuffix(block)})
        elif role == "assistant":
            sent = turns.get(content, {"role": "assistant", "content": content})
            pending = [call.get("id", "") for call in sent.get("tool_calls", [])]
            out.append(sent)
        elif pending:
            for call_id in pending:
                response = observation_message(content, protocol="tools", tool_role=True)
                out.append({**response, "tool_call_id": call_id})
            pending = []
        else:
            out.append(dict(message))
    return out


class OpenAIToolCallAgent(OpenAIChatAgent):
    """An `OpenAIChatAgent` that uses the server's native tool calling, for envs made with
    `protocol="tools"` (a vLLM server needs `--enable-auto-tool-choice
    --tool-call-parser hermes`). Arguments as `OpenAIChatAgent`; `stop` defaults to none,
    and `tools`/`tool_choice` go in the request body (`extra_body` may override them)."""

    name = "openai-tools"

    def __init__(self, model: str | None = None, *, extra_body: dict[str, Any] | None = None,
                 **options: Any) -> None:
        options.setdefault("stop", ())
        body = {"tools": [dict(t) for t in tool_call_protocol.TOOLS], "tool_choice": "auto",
                **(extra_body or {})}
        super().__init__(model, extra_body=body, **options)
        self._turns: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._turns_lock = threading.Lock()

    def reset(self, observation: str, info: dict[str, Any]) -> None:
        if info.get("protocol", "tools") != "tools":
            raise ValueError("OpenAIToolCallAgent plays envs made with protocol='tools' "
                             f"(this one uses {info['protocol']!r}); use OpenAIChatAgent")
        if info.get("tools"):
            self.extra_body["tools"] = [dict(t) for t in info["tools"]]
        super().reset(observation, info)

    def _complete(self, model: str, messages: list[dict[str, Any]],
                  abort: threading.Event) -> Generation:
        with self._turns_lock:
            sent = server_messages(messages, self._turns)
        return super()._complete(model, sent, abort)

    def _request(self, method: str, path: str, payload: dict[str, Any] | None) -> Any:
        data = super()._request(method, path, payload)
        if path != "/chat/completions":
            return data
        folded, reply = fold_tool_calls(data)
        if reply is not None:
            key = complete_action(parse_completion(folded).text)
            with self._turns_lock:
                self._turns[key] = reply
                while len(self._turns) > REMEMBERED_TURNS:
                    self._turns.popitem(last=False)
        return folded
