"""`gym.make("DeepTool-Math-v0")`: registration, reset/step semantics, budgets, vectors."""

from __future__ import annotations

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import deeptool_env
from deeptool_env import BENCHMARK_IDS, DeepToolMathEnv
from deeptool_env.env_config import EnvConfigError


@pytest.fixture
def env():
    environment = gym.make("DeepTool-Math-v0", reward="outcome")
    yield environment
    environment.close()


def test_all_ids_are_registered():
    for env_id in ["DeepTool-Math-v0", *BENCHMARK_IDS]:
        assert env_id in gym.registry
    assert deeptool_env.DeepToolMathEnv is DeepToolMathEnv


def test_check_env_passes():
    environment = DeepToolMathEnv()
    check_env(environment, skip_render_check=True)
    environment.close()


def test_reset_is_deterministic_and_hides_the_answer(env):
    obs1, info1 = env.reset(seed=123)
    obs2, info2 = env.reset(seed=123)
    assert obs1 == obs2 and info1["task_id"] == info2["task_id"]
    task = env.unwrapped.task
    assert task.problem in obs1 and "<code>" in obs1
    assert task.answer not in str(info1)
    assert {"task_id", "benchmark", "messages"} <= set(info1)
    other = {env.reset(seed=s)[1]["task_id"] for s in range(20)}
    assert len(other) > 10


def test_reset_by_index_and_task_id(env):
    _, info = env.reset(options={"index": 5})
    task_id = info["task_id"]
    _, again = env.reset(options={"task_id": task_id})
    assert again["task_id"] == task_id
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"problem": 1})


def test_state_persists_and_a_correct_answer_ends_with_reward(env):
    env.reset(seed=7)
    task = env.unwrapped.task
    obs, reward, terminated, truncated, info = env.step(
        "<think>store it</think><code>value = 6 * 7</code>")
    assert (reward, terminated, truncated) == (0.0, False, False)
    assert info["tool"]["status"] == "ok" and "no output" in obs
    obs, *_ = env.step("<code>print(value)</code>")
    assert obs == "<output>\n42\n</output>"
    obs, reward, terminated, truncated, info = env.step(
        f"<think>done</think><answer>\\boxed{{{task.answer}}}</answer>")
    assert (reward, terminated, truncated) == (1.0, True, False)
    assert info["verdict"]["correct"]
    assert info["reward_terms"] == {"process": 0.0, "outcome": 1.0}
    assert info["termination"] == "answer"
    with pytest.raises(RuntimeError, match="call reset"):
        env.step("<answer>1</answer>")


def test_wrong_answer_gets_zero(env):
    env.reset(seed=8)
    _, reward, terminated, _, info = env.step("<answer>\\boxed{-1.5}</answer>")
    assert terminated and reward == 0.0 and not info["verdict"]["correct"]


def test_tool_errors_are_observations(env):
    env.reset(seed=1)
    obs, _, _, _, info = env.step("<code>1/0</code>")
    assert info["tool"]["status"] == "error" and "ZeroDivisionError" in obs
    assert 'File "<cell-1>", line 1' in obs


def test_invalid_turns_are_capped():
    environment = gym.make("DeepTool-Math-v0", max_invalid_turns=2, reward="outcome")
    environment.reset(seed=0)
    _, _, terminated, _, info = environment.step("just talking")
    assert info["parse_error"] == "no_action" and not terminated
    _, reward, terminated, _, info = environment.step("<code></code>")
    assert info["parse_error"] == "empty_code" and terminated and reward == 0.0
    assert info["termination"] == "invalid_turns"
    environment.close()


def test_turn_and_token_budgets_truncate():
    environment = gym.make("DeepTool-Math-v0", max_turns=2)
    environment.reset(seed=0)
    assert not environment.step("<code>x = 1</code>")[3]
    _, _, terminated, truncated, info = environment.step("<code>x = 2</code>")
    assert truncated and not terminated and info["termination"] == "max_turns"
    environment.close()
    environment = gym.make("DeepTool-Math-v0", max_episode_tokens=400)
    environment.reset(seed=0)
    _, _, _, truncated, info = environment.step("<code>print('word ' * 300)</code>")
    assert truncated and info["termination"] == "max_episode_tokens"
    assert info["tokens"] >= 400
    environment.close()


def test_bad_actions_and_options_raise_clear_errors(env):
    env.reset(seed=0)
    with pytest.raises(TypeError, match="action must be a str"):
        env.step(42)
    with pytest.raises(EnvConfigError, match="unknown DeepTool env option"):
        gym.make("DeepTool-Math-v0", max_turn=3)
    with pytest.raises(ValueError, match="max_turns must be a positive"):
        gym.make("DeepTool-Math-v0", max_turns=0)


def test_unicode_actions_are_in_the_action_space(env):
    action = "<think>√2 ≈ 1.414, π — 😀</think><code>print('∑')</code>"
    assert env.action_space.contains(action)
    env.reset(seed=0)
    obs, *_ = env.step(action)
    assert "∑" in obs and env.observation_space.contains(obs)


def test_close_is_idempotent_and_releases_the_session():
    environment = DeepToolMathEnv()
    environment.reset(seed=0)
    session = environment._session
    environment.close()
    environment.close()
    assert session.closed


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_vector_envs(mode):
    envs = gym.make_vec("DeepTool-Math-v0", num_envs=2, vectorization_mode=mode)
    try:
        obs, infos = envs.reset(seed=[1, 2])
        assert len(obs) == 2 and all("Problem:" in o for o in obs)
        obs, rewards, terminated, truncated, infos = envs.step(
            ("<code>print(40 + 2)</code>", "<answer>\\boxed{0}</answer>"))
        assert obs[0] == "<output>\n42\n</output>"
        assert terminated[1] and not terminated[0]
    finally:
        envs.close()


def test_benchmark_env_loads_real_data(data_dir):
    environment = gym.make("DeepTool-AIME24-v0", data_dir=str(data_dir))
    _, info = environment.reset(seed=0)
    assert info["benchmark"] == "aime24" and info["task_id"].startswith("aime24-")
    environment.close()


def test_readme_example_still_holds():
    env = gym.make("DeepTool-Math-v0")
    obs, _ = env.reset(seed=0)
    assert "p_{9718}" in obs
    obs, *_ = env.step("<think>let me compute</think><code>import sympy\n"
                       "print(sympy.prime(9718))</code>")
    assert obs == "<output>\n101483\n</output>"
    _, reward, terminated, _, info = env.step("<answer>\\boxed{101483}</answer>")
    # the answer step also pays the code turn's held credit (settled: 0.08)
    assert (round(reward, 2), terminated) == (1.2, True)
    assert [round(r, 2) for r in info["turn_rewards"]] == [0.07, 1.12]
    env.close()


def test_default_reward_reports_every_term_and_the_turn_vector():
    environment = gym.make("DeepTool-Math-v0")
    environment.reset(seed=0)
    _, reward, _, _, info = environment.step("<code>x = 2 ** 10\nprint(x)</code>")
    assert set(info["reward_terms"]) == {"format", "execution", "novelty", "recovery",
                                         "grounding", "reference", "budget", "process",
                                         "outcome"}
    # the call's credit is held until the answer; only its cost is paid now
    assert reward == pytest.approx(info["reward_terms"]["process"]) == pytest.approx(-0.01)
    assert "perturbation" not in info and not info["perturbed"]
    assert info["observation_clean"] == "<output>\n1024\n</output>"
    _, _, terminated, _, info = environment.step("<answer>\\boxed{1024}</answer>")
    assert terminated and len(info["turn_rewards"]) == 2
    assert len(info["turn_reward_terms"]) == 2
    environment.close()


def test_perturbed_steps_are_recorded_and_reproducible():
    def run(seed):
        environment = gym.make("DeepTool-Math-v0", perturbation={"rate": 1.0})
        environment.reset(seed=seed)
        steps = [environment.step(f"<code>print({i} * 12345 + 678)</code>")
                 for i in range(3)]
        environment.close()
        return steps

    first, again = run(5), run(5)
    for (obs, _, _, _, info), (obs2, _, _, _, info2) in zip(first, again, strict=True):
        assert info["perturbed"] and info["perturbation"]["kind"]
        assert info["perturbation"] == info2["perturbation"] and obs == obs2
        assert "<output>" in info["observation_clean"]
    assert any(obs != info["observation_clean"] for obs, *_, info in first)


def test_answers_are_graded_from_agent_text_only():
    environment = gym.make("DeepTool-Math-v0", reward="outcome")
    environment.reset(seed=0)
    task = environment.unwrapped.task
    environment.step(f"<code>print({task.answer})</code>")
    _, reward, terminated, _, info = environment.step("<answer>the value printed above</answer>")
    assert terminated and reward == 0.0 and not info["verdict"]["correct"]
    environment.close()


def test_a_memory_error_keeps_the_interpreter_state(env):
    """Only timeout, killed, output_limit and sandbox_error lose the session's state
    (`STATE_LOST_STATUSES`); a cell's MemoryError is caught in the interpreter, which keeps
    its variables and does not restart (no restart notice next turn)."""
    from deeptool_env.sandbox.result import STATE_LOST_STATUSES

    env.reset(seed=0)
    env.step("<code>kept = 41</code>")
    _, _, _, _, info = env.step("<code>big = bytearray(2**40)</code>")
    assert info["tool"]["status"] == "memory" and "memory" not in STATE_LOST_STATUSES
    obs, *_ = env.step("<code>print(kept + 1)</code>")
    assert obs == "<output>\n42\n</output>"
