"""`DeepToolEnvironment`: one DeepTool episode behind TRL's `environment_factory` contract.

TRL (`trl.GRPOTrainer(environment_factory=DeepToolEnvironment)`) builds instances with no
arguments, pools them and, for every rollout, calls `reset(**row)` with the dataset row's
columns, appends the returned string to the row's last user message, exposes every other
public typed method as a function-calling tool and scores the rollout with `get_reward()`.

Each tool call is one step of the real env (`gym.make(env_id, **options)`), so its sandbox
session, perturbations, reward terms, turn budget and grader apply unchanged: `python(code)`
is the turn `<code>code</code>` and `answer(text)` the turn `<answer>text</answer>` of the tag
protocol. A call the env cannot take (the episode is over, an argument is not a string, code
that the tag protocol cannot carry) is a tool error string and never reaches the env; nothing
here raises into the training loop. Dropping the instance closes the env (its sandbox session).
"""

from __future__ import annotations

import textwrap
import weakref
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

import deeptool_env  # noqa: F401  (registers the env ids)
from deeptool_env import protocol

#: Prepended to the problem by `reset`: the tool-calling counterpart of the env's
#: tag-protocol system prompt (TRL renders the tool schemas itself).
TOOL_INSTRUCTIONS = (
    "Solve the math problem below. Call the `python` tool to run Python in a persistent "
    "session (variables and imports stay across calls; math, numpy and sympy are "
    "available; print what you need). Tool output may be cut or wrong: check surprising "
    "results. Finish by calling the `answer` tool with your final answer as "
    "\\boxed{{...}}; it ends the episode. You have at most {max_turns} tool calls.")

#: The env's parse errors a tool call can still hit, phrased for tool calls.
TOOL_PARSE_ERRORS = {
    "empty_code": "the code was empty; pass the Python to run as `code`",
    "too_long": "the call was longer than {max_chars} characters and was not run; "
                "send shorter code",
}

SUBMITTED = "Answer submitted. The episode is over."


@dataclass
class ToolCallRecord:
    """One tool call of an episode: what the env made of it, or why it never reached it."""

    tool: str
    turn: int | None = None
    reward: float = 0.0
    reward_terms: dict[str, float] = field(default_factory=dict)
    parse_error: str | None = None
    tool_status: str | None = None
    rejected: str | None = None


@dataclass
class EpisodeLog:
    """The current episode for logging: every call, and at the end the env's per-turn terms."""

    task_id: str | None = None
    calls: list[ToolCallRecord] = field(default_factory=list)
    reward: float = 0.0
    done: bool = False
    termination: str | None = None
    turn_rewards: list[float] = field(default_factory=list)
    turn_reward_terms: list[dict[str, float]] = field(default_factory=list)
    verdict: dict[str, Any] | None = None

    @property
    def sandbox_calls(self) -> int:
        """Calls that ran code in the sandbox (those with a tool status)."""
        return sum(call.tool_status is not None for call in self.calls)


class DeepToolEnvironment:
    """A DeepTool-Math episode whose `python` and `answer` tools step the real env.

    A dataset row names its task by one of `task_id` (a task id of the env's task set),
    `task_index` (an index into it, negative from the end) or only `seed` (the env draws the
    task from it); `seed` also seeds the episode's perturbations. Other columns (`prompt`,
    anything else) are ignored. `functools.partial(DeepToolEnvironment, perturbation="light")`
    passes env options; the rollout's per-turn reward terms are in `episode`.
    """

    def __init__(self, env_id: str = "DeepTool-Math-v0", **env_options: Any) -> None:
        self.env = gym.make(env_id, **env_options)
        self._finalizer = weakref.finalize(self, self.env.close)
        self._max_action_chars = self.env.unwrapped.config.max_action_chars
        self.episode = EpisodeLog()

    def __enter__(self) -> DeepToolEnvironment:
        return self

    def __exit__(self, *exc: object) -> None:
        self._finalizer()

    def reset(self, task_id: str | None = None, task_index: int | None = None,
              seed: int | None = None, **columns: Any) -> str:
        """Start the episode a dataset row names and return its prompt (instructions and problem).

        A bad row (both `task_id` and `task_index`, an unknown id, an index out of range) is
        a `ValueError`: a dataset error to fix before training, not a policy mistake.
        """
        if task_id is not None and task_index is not None:
            raise ValueError(f"a row names its task by task_id or task_index, not both "
                             f"(got task_id={task_id!r}, task_index={task_index!r})")
        options: dict[str, Any] = {}
        if task_id is not None:
            options["task_id"] = task_id
        elif task_index is not None:
            options["index"] = task_index
        _, info = self.env.reset(seed=None if seed is None else int(seed), options=options)
        self.episode = EpisodeLog(task_id=info["task_id"])
        problem = info["messages"][-1]["content"]
        return f"{TOOL_INSTRUCTIONS.format(max_turns=info['max_turns'])}\n\n{problem}"

    def python(self, code: str) -> str:
        """Run Python code in this episode's persistent sandbox session.

        Args:
            code: The Python source to run. Variables and imports persist across calls;
                print the values you need.

        Returns:
            The printed output (and the value of a final bare expression), or the error.
        """
        return self._call("python", "code", code, "<code>\n{}\n</code>")

    def answer(self, text: str) -> str:
        """Submit the final answer; this ends the episode.

        Args:
            text: The final answer, preferably as \\boxed{...}.

        Returns:
            A confirmation that the answer was recorded.
        """
        return self._call("answer", "text", text, "<answer>{}</answer>")

    def get_reward(self) -> float:
        """The episode's reward: the sum of its turns' outcome and process rewards.

        A rollout that never called `answer` gets what its turns earned so far (the env
        settles tool credit only at an answer, so that is the call costs).
        """
        return self.episode.reward

    # -- one tool call = one env step -----------------------------------------------------

    def _call(self, tool: str, arg: str, value: object, template: str) -> str:
        refusal = self._refusal(tool, arg, value, template)
        if refusal is not None:
            self.episode.calls.append(ToolCallRecord(tool=tool, rejected=refusal))
            return f"error: {refusal}"
        observation, reward, terminated, truncated, info = self.env.step(
            template.format(value))
        self._record(tool, float(reward), terminated or truncated, info)
        error = info["parse_error"]
        if error in TOOL_PARSE_ERRORS:
            observation = "error: " + TOOL_PARSE_ERRORS[error].format(
                max_chars=self._max_action_chars)
        elif info["action_kind"] == "answer":
            return SUBMITTED
        if terminated or truncated:
            observation += (f"\n(the episode is over: {info['termination']}; further "
                            f"calls are refused)")
        return observation

    def _refusal(self, tool: str, arg: str, value: object, template: str) -> str | None:
        """Why this call cannot become an env turn, or None when it can."""
        if self.episode.task_id is None:
            return "no episode: reset() was never called"
        if self.episode.done:
            return (f"the episode is over ({self.episode.termination}); "
                    f"no more tool calls are accepted")
        if not isinstance(value, str):
            return f"{tool}({arg}) takes a string, got {type(value).__name__}"
        action = template.format(value)
        parsed = protocol.parse_action(action, max_chars=self._max_action_chars)
        if parsed.error in TOOL_PARSE_ERRORS:
            return None  # the env itself refuses it, as an invalid turn it pays for
        if tool == "python":
            carried = parsed.kind == "code" and parsed.code == _as_code(value)
        else:
            carried = parsed.kind == "answer" and parsed.answer == value.strip()
        if not carried:
            return (f"the {arg} holds text the env's turn protocol reserves (such as "
                    f"</code>, <answer>, <output> or </think> outside a string split "
                    f"like '</' + 'code>'); rewrite it without those literals")
        return None

    def _record(self, tool: str, reward: float, done: bool, info: dict[str, Any]) -> None:
        episode = self.episode
        status = info["tool"]["status"] if "tool" in info else None
        episode.calls.append(ToolCallRecord(
            tool=tool, turn=info["turn"], reward=reward,
            reward_terms=dict(info["reward_terms"]), parse_error=info["parse_error"],
            tool_status=status))
        episode.reward += reward
        if done:
            episode.done = True
            episode.termination = info["termination"]
            episode.turn_rewards = list(info["turn_rewards"])
            episode.turn_reward_terms = [dict(t) for t in info["turn_reward_terms"]]
            episode.verdict = info.get("verdict")


def _as_code(code: str) -> str:
    """The code the env runs for `code` (the protocol strips blank edges and dedents)."""
    return textwrap.dedent(code.strip("\n"))
