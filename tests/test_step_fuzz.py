"""`step()` never raises on a string action, and every observation is in the space.

First the crashes once found, each as a regression test; then a seeded fuzz over the
single env and the sync and async vector envs: random Unicode (lone surrogates, NULs,
controls), huge and deeply nested code, nested and unclosed tags, odd answers. The only
exception `step()` may raise on an action is the documented `TypeError` for a non-string.
"""

from __future__ import annotations

import math
import random

import gymnasium as gym
import pytest

from deeptool_env import DeepToolMathEnv

FAST = {"tool_timeout_s": 5.0, "max_turns": 4}


def _assert_step_ok(env: DeepToolMathEnv, result: tuple) -> None:
    observation, reward, terminated, truncated, info = result
    assert env.observation_space.contains(observation), (len(observation), observation[:200])
    observation.encode("utf-8")  # no lone surrogates: storable, tokenisable, JSON-able
    assert isinstance(reward, float) and math.isfinite(reward)
    assert isinstance(terminated, bool) and isinstance(truncated, bool)
    assert isinstance(info, dict)


@pytest.fixture(scope="module", params=["none", "intrinsic"])
def env(request):
    environment = DeepToolMathEnv(perturbation=request.param, **FAST)
    yield environment
    environment.close()


DEEP_CODE = {
    "long_sum": "x = " + "+".join(["1"] * 2000),  # RecursionError in ast.dump
    "deep_unary": "-" * 30000 + "1",  # MemoryError in the parser
    "deep_not": "not " * 5000 + "x",  # RecursionError in the parser
    "lone_surrogate": "print('\ud800')",  # UnicodeEncodeError on the way to the sandbox
    "nul": "print(1)\0print(2)",
    "huge_literal": "x = 1" + "0" * 30000 + "\nprint(x % 7)",  # int() limit in the reward
}


@pytest.mark.parametrize("name", sorted(DEEP_CODE))
def test_ordinary_code_turns_do_not_raise(env, name):
    env.reset(seed=0)
    result = env.step(f"<code>{DEEP_CODE[name]}</code>")
    _assert_step_ok(env, result)
    assert result[4]["action_kind"] == "code"
    # The reward still scores the turn (no missing entry in the per-turn vector).
    assert len(env.rewards.turn_rewards) == 1


def test_lone_surrogate_in_an_answer_is_graded_not_raised(env):
    env.reset(seed=0)
    result = env.step("<answer>\\boxed{\ud800 42}</answer>")
    _assert_step_ok(env, result)
    assert result[2] and result[4]["verdict"]["correct"] is False


def test_the_sandbox_receives_the_code_with_surrogates_replaced(env):
    env.reset(seed=0)
    observation, *_ = env.step("<code>s = '\ud800x'\nprint(len(s), s == '\\ufffdx')</code>")
    assert observation == "<output>\n2 True\n</output>"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_vector_env_survives_a_lone_surrogate_action(mode):
    envs = gym.make_vec("DeepTool-Math-v0", num_envs=4, vectorization_mode=mode, **FAST)
    try:
        envs.reset(seed=[1, 2, 3, 4])
        observations, rewards, *_ = envs.step(("<code>print('\ud800')</code>",) * 4)
        assert all(envs.single_observation_space.contains(o) for o in observations)
        assert list(observations) == ["<output>\n\ufffd\n</output>"] * 4
    finally:
        envs.close()


@pytest.mark.parametrize("actions", [
    ("no action at all", "<code>print(1)</code>"),  # info["tool"]: None, then a dict
    ("<code>print(1)</code>", "<code>import time\ntime.sleep(30)</code>"),  # exit_code 0, None
])
def test_a_vector_env_batches_the_infos_of_different_turns(actions):
    envs = gym.make_vec("DeepTool-Math-v0", num_envs=2, vectorization_mode="sync",
                        **{**FAST, "tool_timeout_s": 1.0})
    try:
        envs.reset(seed=[1, 2])
        *_, infos = envs.step(actions)
        assert list(infos["_tool"]) == [a.startswith("<code>") for a in actions]
    finally:
        envs.close()


def test_non_string_actions_raise_type_error(env):
    env.reset(seed=0)
    for action in (None, b"<code>print(1)</code>", 42, ["<code>1</code>"]):
        with pytest.raises(TypeError, match="action must be a str"):
            env.step(action)


# -- fuzz --------------------------------------------------------------------------------

_RANGES = [(0x00, 0x1F), (0x20, 0x7E), (0x80, 0x2FF), (0x300, 0x36F), (0x391, 0x3C9),
           (0x4E00, 0x4E80), (0xD800, 0xDFFF), (0xE000, 0xE010), (0xFFF0, 0xFFFF),
           (0x1F600, 0x1F64F), (0x10FFF0, 0x10FFFF)]
_SNIPPETS = ["<code>", "</code>", "<answer>", "</answer>", "<think>", "</think>",
             "<output>", "</output>", "```python\n", "```", "\\boxed{", "}", "{", "\0",
             "\ud800", "\udfff", "\r\n", "\t", "print(", ")", "'", '"""', "\\", "$"]


def _unicode(rng: random.Random, size: int) -> str:
    chars = []
    for _ in range(size):
        low, high = rng.choice(_RANGES)
        chars.append(chr(rng.randint(low, high)))
    return "".join(chars)


def _soup(rng: random.Random) -> str:
    """Tags, fences and odd characters in random order (nested, unclosed, doubled)."""
    parts = [rng.choice(_SNIPPETS) if rng.random() < 0.6 else _unicode(rng, rng.randint(0, 8))
             for _ in range(rng.randint(1, 30))]
    return "".join(parts)


def _code(rng: random.Random) -> str:
    n = rng.choice([10, 500, 3000, 30000])
    return rng.choice([
        lambda: _unicode(rng, rng.randint(1, 200)),
        lambda: f"print({_unicode(rng, rng.randint(1, 20))!r})",
        lambda: "x = " + "+".join(["1"] * n),
        lambda: "-" * n + "1",
        lambda: "not " * n + "x",
        lambda: "(" * n + "1" + ")" * n,
        lambda: "[" * n + "]" * n,
        lambda: "(" * n,
        lambda: "print(" + "9" * n + ")",
        lambda: "x = " + "9" * n + "\nprint(x % 7)",
        lambda: f"print('{_unicode(rng, 3)}' * {n})",
        lambda: f"print(chr({rng.randint(0xD800, 0xDFFF)}))",
        lambda: f"import sys; sys.stdout.buffer.write(bytes({rng.randbytes(40)!r}))",
        lambda: "raise ValueError('\\ud800' * 3)",
        lambda: "print(1)\0" + _unicode(rng, 5),
        lambda: "def f(n):\n    return f(n + 1)\nf(0)",
        lambda: "\n".join(f"{'    ' * i}if True:" for i in range(rng.randint(1, 120)))
        + "\n" + "    " * 120 + "pass",
        lambda: _soup(rng),
    ])()


def _answer(rng: random.Random) -> str:
    n = rng.choice([5, 200, 3000])
    return rng.choice([
        lambda: _unicode(rng, rng.randint(0, 50)),
        lambda: "\\frac{" * n + "1" + "}" * n,
        lambda: "(" * n + "1" + ")" * n,
        lambda: "9" * n,
        lambda: "-" * n + "1",
        lambda: _soup(rng),
    ])()


def fuzz_action(rng: random.Random) -> str:
    """One random assistant turn: mostly shaped like the protocol, sometimes not at all."""
    think = rng.choice(["", "<think>" + _unicode(rng, rng.randint(0, 40)) + "</think>",
                        "<think>" + _soup(rng)])
    return think + rng.choice([
        lambda: f"<code>{_code(rng)}</code>",
        lambda: f"```python\n{_code(rng)}\n```",
        lambda: f"<code>{_code(rng)}",
        lambda: f"<code><code>{_code(rng)}</code></code>",
        lambda: f"<answer>\\boxed{{{_answer(rng)}}}</answer>",
        lambda: f"<answer>{_answer(rng)}",
        lambda: f"\\boxed{{{_answer(rng)}",
        lambda: f"<output>{_unicode(rng, 30)}</output><code>print(1)</code>",
        lambda: _soup(rng),
        lambda: _unicode(rng, rng.randint(0, 300)),
        lambda: "\ud800" * rng.randint(1, 50),
        lambda: "\0" * rng.randint(1, 50),
    ])()


def _fuzz_single(seed: int, cases: int, **options) -> None:
    rng = random.Random(seed)
    environment = DeepToolMathEnv(**{**FAST, **options})
    try:
        environment.reset(seed=seed)
        for _ in range(cases):
            action = fuzz_action(rng)
            try:
                result = environment.step(action)
            except Exception as exc:
                raise AssertionError(f"step raised {exc!r} on {action[:300]!r}") from exc
            _assert_step_ok(environment, result)
            if result[2] or result[3]:
                observation, _ = environment.reset(seed=rng.randrange(10_000))
                assert environment.observation_space.contains(observation)
    finally:
        environment.close()


def _fuzz_vector(mode: str, seed: int, rounds: int, num_envs: int = 3, *,
                 perturbation: str = "none") -> None:
    rng = random.Random(seed)
    envs = gym.make_vec("DeepTool-Math-v0", num_envs=num_envs, vectorization_mode=mode,
                        perturbation=perturbation, **FAST)
    space = envs.single_observation_space
    try:
        observations, _ = envs.reset(seed=seed)
        assert all(space.contains(o) for o in observations)
        for _ in range(rounds):
            actions = tuple(fuzz_action(rng) for _ in range(num_envs))
            try:
                observations, rewards, terminated, truncated, _ = envs.step(actions)
            except Exception as exc:
                raise AssertionError(f"step raised {exc!r} on {actions!r}"[:2000]) from exc
            assert all(space.contains(o) for o in observations)
            assert all(math.isfinite(float(r)) for r in rewards)
    finally:
        envs.close()


@pytest.mark.parametrize("perturbation", ["none", "intrinsic", "adversarial"])
def test_fuzz_single_env(perturbation):
    _fuzz_single(seed=12, cases=150, perturbation=perturbation)


@pytest.mark.parametrize(("mode", "perturbation"), [("sync", "adversarial"),
                                                     ("async", "none")])
def test_fuzz_vector_envs(mode, perturbation):
    _fuzz_vector(mode, seed=7, rounds=40, perturbation=perturbation)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
def test_fuzz_single_env_long(seed):
    _fuzz_single(seed=1000 + seed, cases=1000, perturbation="adversarial")


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_fuzz_vector_envs_long(mode):
    _fuzz_vector(mode, seed=99, rounds=300, num_envs=4, perturbation="adversarial")
