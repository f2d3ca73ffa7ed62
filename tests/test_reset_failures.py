"""A reset that raises leaves the env usable: the next good reset and its steps are exactly
those of a fresh env, through `gym.make` (with gymnasium's passive env checker and order
enforcing) and on the unwrapped env.

The reported failure: on a `gym.make` env whose first reset raised, the passive checker had
already marked its reset check done without the reset's data, so the first step after a
good reset died in the checker with "TypeError: cannot unpack non-iterable NoneType".
"""

from __future__ import annotations

import json
from typing import Any

import gymnasium as gym
import pytest
from gymnasium.error import ResetNeeded

from deeptool_env import DeepToolMathEnv

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

OPTIONS = {"tasks": "procedural:modpow", "max_turns": 3, "perturbation": "light"}
CODE = "<code>\nprint(6 * 7)\n</code>"
ANSWER = "<answer>\\boxed{1}</answer>"
#: Resets that must raise ValueError (or gymnasium's seeding error), naming what is wrong.
BAD_RESETS: dict[str, dict[str, Any]] = {
    "unknown task_id": {"options": {"task_id": "nope"}},
    "unhashable task_id": {"options": {"task_id": ["nope"]}},
    "index out of range": {"options": {"index": 10**9}},
    "index not an int": {"options": {"index": "x"}},
    "perturbations not a plan": {"options": {"perturbations": "nope"}},
    "unknown perturbation kind": {"options": {"perturbations": {1: "nope"}}},
    "perturbation after the last turn": {"options": {"perturbations": {9: "tool_timeout"}}},
    "unknown option": {"options": {"bogus": 1}},
    "options not a dict": {"options": "task_id"},
    "negative seed": {"seed": -1, "options": {"index": 0}},
    "good seed, bad option": {"seed": 7, "options": {"index": -(10**9)}},
}
ERRORS = (ValueError, gym.error.Error)
VOLATILE = {"wall_ms", "cached"}  # timings, and the grader's cache of earlier verdicts


def _stable(data: Any) -> Any:
    """`data` without its volatile keys, for comparing two runs."""
    if isinstance(data, dict):
        return {key: _stable(value) for key, value in data.items() if key not in VOLATILE}
    if isinstance(data, list | tuple):
        return [_stable(value) for value in data]
    return data


def _episode(env: gym.Env, **reset: Any) -> list[Any]:
    """Reset (seed 0 unless given) and play a code turn and an answer: what came back."""
    reset.setdefault("seed", 0)
    record = [_stable(env.reset(**reset))]
    for action in (CODE, ANSWER):
        record.append(_stable(env.step(action)))
    return record


def _fresh_episode(make, **reset: Any) -> list[Any]:
    env = make()
    try:
        return _episode(env, **reset)
    finally:
        env.close()


MAKERS = {"gym.make": lambda: gym.make("DeepTool-Math-v0", **OPTIONS),
          "unwrapped": lambda: DeepToolMathEnv(**OPTIONS)}


@pytest.fixture(scope="module", autouse=True)
def warm_sandbox():
    """An env holding the shared sandbox, so each test's env takes a warm spare."""
    holder = DeepToolMathEnv(**OPTIONS)
    holder.reset(seed=0)
    yield
    holder.close()


@pytest.fixture(scope="module")
def fresh(warm_sandbox) -> list[Any]:
    return _fresh_episode(MAKERS["unwrapped"])


@pytest.fixture(params=list(MAKERS))
def make(request):
    return MAKERS[request.param]


@pytest.fixture
def env(make):
    environment = make()
    yield environment
    environment.close()


def test_gym_make_runs_the_passive_env_checker(env):
    if env is env.unwrapped:
        pytest.skip("the unwrapped env has no checker")
    wrappers, layer = [], env
    while layer is not layer.unwrapped:
        wrappers.append(type(layer))
        layer = layer.env
    assert gym.wrappers.PassiveEnvChecker in wrappers


def test_the_reported_sequence(env, fresh):
    with pytest.raises(ValueError, match="task_id='nope'"):
        env.reset(options={"task_id": "nope"})
    assert _episode(env) == fresh


@pytest.mark.parametrize("name", list(BAD_RESETS))
def test_a_failed_first_reset_leaves_a_fresh_env(env, fresh, name):
    with pytest.raises(ERRORS):
        env.reset(**BAD_RESETS[name])
    # As on a fresh env, stepping still needs a reset first.
    with pytest.raises((ResetNeeded, RuntimeError)):
        env.step(ANSWER)
    assert _episode(env) == fresh


def test_repeated_failures_before_and_after_a_step_attempt(env, fresh):
    for name in ("unknown task_id", "unknown option"):
        with pytest.raises(ERRORS):
            env.reset(**BAD_RESETS[name])
        with pytest.raises((ResetNeeded, RuntimeError)):
            env.step(ANSWER)
    assert _episode(env) == fresh


@pytest.mark.parametrize("name", list(BAD_RESETS))
def test_a_failed_reset_after_an_episode(env, fresh, name):
    assert _episode(env, seed=3)[-1][2] is True  # the answer ended it
    with pytest.raises(ERRORS):
        env.reset(**BAD_RESETS[name])
    with pytest.raises(RuntimeError, match="episode is over"):
        env.step(ANSWER)
    assert _episode(env) == fresh


def test_a_failed_reset_mid_episode_changes_nothing(env, make):
    """The episode under way goes on as if the bad reset had not been called."""
    env.reset(seed=5)
    with pytest.raises(ValueError):
        env.reset(seed=11, options={"task_id": "nope"})
    after_failure = [_stable(env.step(action)) for action in (CODE, ANSWER)]
    other = make()
    try:
        other.reset(seed=5)
        assert after_failure == [_stable(other.step(action)) for action in (CODE, ANSWER)]
    finally:
        other.close()


def test_a_failed_reset_does_not_consume_the_random_stream(env, make):
    """An unseeded reset after a failed one draws the task a fresh run would draw."""
    env.reset(seed=3)
    with pytest.raises(ValueError):
        env.reset(**BAD_RESETS["good seed, bad option"])
    _, info = env.reset()
    other = make()
    try:
        other.reset(seed=3)
        assert other.reset()[1]["task_id"] == info["task_id"]
    finally:
        other.close()


def test_the_error_names_the_bad_option():
    environment = DeepToolMathEnv(**OPTIONS)
    try:
        with pytest.raises(ValueError, match="options must be a dict"):
            environment.reset(options="task_id")
        with pytest.raises(ValueError, match="task_id=\\['nope'\\]"):
            environment.reset(options={"task_id": ["nope"]})
    finally:
        environment.close()


def test_a_reset_that_fails_after_its_checks_ends_the_episode_under_way(make, tmp_path):
    """A prompt too long for the observation space is found once the task is drawn: the
    episode under way is over then (never half-reset), and the next good reset is fresh."""
    records = [{"id": "short", "problem": "What is 1 + 1?", "answer": "2"},
               {"id": "huge", "problem": "x" * 70_000, "answer": "1"}]
    path = tmp_path / "tasks.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    options = {**OPTIONS, "tasks": str(path)}
    first = _fresh_episode(lambda: DeepToolMathEnv(**options), options={"task_id": "short"})
    maker = (lambda: gym.make("DeepTool-Math-v0", **options)) if make is MAKERS["gym.make"] \
        else (lambda: DeepToolMathEnv(**options))
    environment = maker()
    try:
        environment.reset(seed=0, options={"task_id": "short"})
        with pytest.raises(ValueError, match="prompt of task 'huge'"):
            environment.reset(options={"task_id": "huge"})
        with pytest.raises(RuntimeError, match="episode is over"):
            environment.step(ANSWER)
        assert _episode(environment, options={"task_id": "short"}) == first
    finally:
        environment.close()
