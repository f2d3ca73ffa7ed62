"""`DeepToolMathEnv`: multi-turn math solving with a sandboxed Python tool.

One episode is one problem. `reset` returns the rendered prompt (system instructions plus
the problem); each `step(action)` takes one assistant turn (`protocol.py` for the default
`protocol="tags"`, `tool_call_protocol.py` for `protocol="tools"`): code runs
in the episode's sandbox session and its output comes back as the next observation; a final
answer ends the episode with the outcome reward from the grader.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import gymnasium as gym

from . import protocol
from .env_config import EnvConfig, EnvConfigError
from .perturbations import PerturbationPlan, Perturber, resolve_perturbation, resolve_plan
from .rewards import RewardTracker, Turn, resolve_reward
from .sandbox import Session, shared
from .spaces import UnicodeText, unicode_text
from .tasks import Task, TaskSet, load_tasks
from .tool_turn import run_tool_turn
from .turn_protocols import PROTOCOLS

MAX_OBSERVATION_CHARS = 65536
#: What `reset(options=...)` accepts: a task by id or index, and a `PerturbationPlan`
#: (or a dict {turn: kind or [kinds]}) for this episode only.
RESET_OPTIONS = ("task_id", "index", "perturbations")


class DeepToolMathEnv(gym.Env[str, str]):
    """Tool-integrated math reasoning as a Gymnasium environment.

    Observations and actions are `UnicodeText` strings (any Unicode): the observation is
    the prompt after `reset` and the tool output (or a protocol error) after `step`, at most
    `MAX_OBSERVATION_CHARS` characters (more when `max_output_chars` needs it); an action is
    one assistant turn of at most `max_action_chars`. Options: the fields of `EnvConfig`.

    `step` never raises on a string action: whatever the turn holds (any text, lone
    surrogates, code too deep to parse) it returns an observation in `observation_space`.
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(self, render_mode: str | None = None, **options: Any) -> None:
        self.config = EnvConfig.from_kwargs(**options)
        if render_mode not in (None, "ansi"):
            raise EnvConfigError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.render_mode = render_mode
        self.tasks: TaskSet = load_tasks(self.config.tasks, data_dir=self.config.data_dir,
                                         strict=self.config.strict_data)
        self._sandbox_config = self.config.sandbox_config()
        self.perturber = Perturber(resolve_perturbation(self.config.perturbation),
                                   timeout_s=self.config.tool_timeout_s)
        self.rewards = RewardTracker(resolve_reward(self.config.reward))
        self.turns = PROTOCOLS[self.config.protocol]
        self.observation_space = UnicodeText(max(
            MAX_OBSERVATION_CHARS,
            protocol.max_rendered_output_chars(self.config.max_output_chars)))
        self.action_space = UnicodeText(self.config.max_action_chars)
        self._sandbox = None
        self._session: Session | None = None
        self._closed = False
        self.task: Task | None = None
        self.messages: list[dict[str, str]] = []
        self._episode_over = True

    # -- episode --------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """Start an episode. A reset that raises on its options or seed changes nothing
        (the episode under way, if any, goes on; the random stream is untouched); one that
        fails later (the sandbox, a prompt too long) leaves the env needing a reset."""
        task, plan = self._checked_options(options)
        super().reset(seed=seed)
        self._episode_over = True  # from here on, a failure leaves the env needing a reset
        self._close_session()
        if task is None:
            task = self.tasks[int(self.np_random.integers(len(self.tasks)))]
        system = self.turns.system_prompt(self.config.max_turns)
        user = protocol.USER_TEMPLATE.format(problem=unicode_text(task.problem))
        observation = f"{system}\n\n{user}"
        if not self.observation_space.contains(observation):
            raise ValueError(f"the prompt of task {task.id!r} has {len(observation)} "
                             f"characters, more than the observation space's "
                             f"{self.observation_space.max_length}; shorten the problem text")
        self._new_session()
        self.task = task
        self.perturber.reset(int(self.np_random.integers(2**62)), plan)
        self.rewards.reset(task.solution, problem=task.problem)
        self.messages = [{"role": "system", "content": system},
                         {"role": "user", "content": user}]
        self._turn = 0
        self._invalid_streak = 0
        self._tokens = self.config.count_tokens(observation)
        self._chars = len(observation)
        self._tool_calls = 0
        self._episode_over = False
        info = {"task_id": self.task.id, "benchmark": self.task.benchmark,
                "task_source": self.tasks.name, "messages": [dict(m) for m in self.messages],
                "tokens": self._tokens, "max_turns": self.config.max_turns,
                "protocol": self.turns.name}
        if self.turns.tools:
            info["tools"] = [dict(tool) for tool in self.turns.tools]
        return observation, info

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        if not isinstance(action, str):
            raise TypeError(f"action must be a str (one assistant turn), got "
                            f"{type(action).__name__}")
        action = unicode_text(action)  # lone surrogates can be neither run nor recorded
        if self._episode_over:
            raise RuntimeError("the episode is over (or reset() was never called): call "
                               "reset() before step()")
        self._turn += 1
        parsed = self.turns.parse(action, max_chars=self.config.max_action_chars)
        self.messages.append({"role": "assistant", "content": action})
        # A key holds one type on every turn (a dict key is absent, never None, when it does
        # not apply): vector envs batch infos by the type they see first.
        info: dict[str, Any] = {"turn": self._turn, "action_kind": parsed.kind,
                                "parse_error": parsed.error,
                                "hallucinated_output": parsed.hallucinated_output}
        terminated, correct = False, None
        if parsed.kind == "code" and not self.config.tool:
            observation, turn = protocol.TOOL_OFF_MESSAGE, Turn("invalid", "tool_off")
            info["tool_refused"] = True
        elif parsed.kind == "code":
            observation, turn = self._run_code(parsed.code or "", info)
        elif parsed.kind == "answer":
            observation, terminated = "", True
            correct, turn = self._grade(self.turns.graded_text(action, parsed), info)
            info["termination"] = "answer"
        else:
            self._invalid_streak += 1
            observation = self.turns.render_error(parsed)
            turn = Turn(kind="invalid", parse_error=parsed.error)
            if self._invalid_streak >= self.config.max_invalid_turns:
                terminated = True
                info["termination"] = "invalid_turns"
        observation = unicode_text(observation)
        info["reward_terms"] = self.rewards.score(turn, correct=correct)
        reward = info["reward_terms"]["process"] + info["reward_terms"]["outcome"]
        if parsed.valid:
            self._invalid_streak = 0
        if observation:
            self.messages.append({"role": self.turns.observation_role(parsed),
                                  "content": observation})
        self._tokens += self.config.count_tokens(action) + self.config.count_tokens(observation)
        self._chars += len(action) + len(observation)
        truncated = False
        if not terminated and self._turn >= self.config.max_turns:
            truncated, info["termination"] = True, "max_turns"
        elif not terminated and self._tokens >= self.config.max_episode_tokens:
            truncated, info["termination"] = True, "max_episode_tokens"
        info.update({"tokens": self._tokens, "chars": self._chars,
                     "tool_calls": self._tool_calls, "invalid_streak": self._invalid_streak})
        self._episode_over = terminated or truncated
        if self._episode_over:
            info["turn_rewards"] = list(self.rewards.turn_rewards)
            info["turn_reward_terms"] = [dict(t) for t in self.rewards.turn_terms]
            self._close_session()
        return observation, reward, terminated, truncated, info

    # -- pieces ---------------------------------------------------------------------------

    def _checked_options(self, options: Any) -> tuple[Task | None, PerturbationPlan]:
        """The task `reset` options ask for (None: draw one from the seed) and the
        episode's plan; ValueError, naming the option, before anything changes."""
        if options is None:
            options = {}
        if not isinstance(options, Mapping):
            raise ValueError(f"reset options must be a dict with keys among "
                             f"{', '.join(map(repr, RESET_OPTIONS))}, got "
                             f"{type(options).__name__} {options!r}")
        unknown = set(options) - set(RESET_OPTIONS)
        if unknown:
            raise ValueError(f"unknown reset option(s) {sorted(map(str, unknown))}; use "
                             f"{', '.join(map(repr, RESET_OPTIONS))}")
        try:
            plan = resolve_plan(options.get("perturbations"), max_turns=self.config.max_turns)
        except ValueError as exc:
            raise ValueError(f"reset option 'perturbations': {exc}") from None
        return self._requested_task(options), plan

    def _requested_task(self, options: Mapping[str, Any]) -> Task | None:
        """The task named by `task_id` or `index`, or None when neither is given."""
        if "task_id" in options:
            task_id = options["task_id"]
            if not isinstance(task_id, str):
                raise ValueError(f"reset option task_id={task_id!r} must be a str, e.g. "
                                 f"{self.tasks[0].id!r}")
            try:
                return self.tasks.by_id(task_id)
            except KeyError:
                close = self.tasks.close_ids(task_id)
                hint = (f"did you mean {' or '.join(map(repr, close))}?" if close
                        else f"ids look like {self.tasks[0].id!r}")
                raise ValueError(f"reset option task_id={task_id!r}: no such task in "
                                 f"{self.tasks.name}; {hint}") from None
        index = options.get("index")
        if index is None:
            return None
        size = len(self.tasks)
        try:
            return self.tasks[index]
        except (IndexError, TypeError):
            raise ValueError(f"reset option index={index!r} must be an integer from 0 to "
                             f"{size - 1} ({self.tasks.name} has {size} tasks; negative "
                             f"indices count from the end)") from None

    def _run_code(self, code: str, info: dict[str, Any]) -> tuple[str, Turn]:
        assert self._session is not None
        self._tool_calls += 1
        done = run_tool_turn(self._session, self.perturber, code, self._turn,
                             timeout_s=self.config.tool_timeout_s,
                             max_output_chars=self.config.max_output_chars)
        info.update(done.info)
        return done.observation, done.turn

    def _grade(self, action: str, info: dict[str, Any]) -> tuple[bool, Turn]:
        from .grading import extract_answer, grade

        assert self.task is not None
        verdict = grade(action, self.task.answer, benchmark=self.task.benchmark,
                        meta=self.task.meta)
        info["verdict"] = verdict.to_dict()
        return verdict.correct, Turn(kind="answer", answer=extract_answer(action))

    def _new_session(self) -> None:
        if self._closed:
            raise RuntimeError("this environment is closed; make a new one")
        self._close_session()
        if self._sandbox is None:
            self._sandbox = shared.acquire(self._sandbox_config)
        self._session = self._sandbox.session()

    def _close_session(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in self.messages)

    def close(self) -> None:
        """Release the sandbox session (and the shared sandbox); safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._close_session()
        if self._sandbox is not None:
            shared.release(self._sandbox_config)
            self._sandbox = None
        super().close()

    def config_dict(self) -> dict[str, Any]:
        """The options as plain data (for result files)."""
        data = asdict(self.config)
        data["token_counter"] = None if self.config.token_counter is None else "custom"
        return data
