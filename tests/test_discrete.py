"""`DiscreteCandidateWrapper`: candidate programs, masks, SB3 checks, MaskablePPO learning.

The wrapper runs on the real env (real sandbox, real grader). The learning test trains
MaskablePPO for 2048 steps (about 15 s on 2 cores) and compares its greedy policy with a
uniformly random masked policy on the same 30 fresh seeds.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Callable, Iterator

import gymnasium as gym
import numpy as np
import pytest

from agents.candidates import PROGRAM_KINDS, SOLVERS, program
from agents.discrete import (
    CandidateProposer,
    DiscreteCandidateWrapper,
    answer_turn,
    last_value,
    make_discrete_env,
)
from deeptool_env.grading import grade
from deeptool_env.tasks.procedural import FAMILIES, generate

from .conftest import backend_unavailable

FAMILIES_UNDER_TEST = ("modpow", "crt", "nth_prime", "prime_factors")
SOLVE, BUGGY, CRASH, VALUE0, VALUE1, GUESS = 0, 1, 2, 3, 4, 7


@pytest.fixture(scope="module", autouse=True)
def _local_sandbox() -> None:
    reason = backend_unavailable("local")
    if reason:
        pytest.skip(reason)


@pytest.fixture
def env() -> Iterator[DiscreteCandidateWrapper]:
    environment = make_discrete_env(FAMILIES_UNDER_TEST)
    yield environment
    environment.close()


def _printed(code: str) -> str:
    """What `code` prints, run in-process (the solvers are pure computation)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(code, {})
    return out.getvalue().strip()


def test_every_family_has_a_correct_solver_and_a_wrong_buggy_variant():
    assert set(SOLVERS) == set(FAMILIES)
    for family in FAMILIES:
        for difficulty in (1, 2, 3):
            for index in range(2):
                task = generate(family, 7, index, difficulty)
                params = task.meta["params"]
                solved = _printed(program(family, params, "solve"))
                assert grade(answer_turn(solved), task.answer,
                             benchmark="procedural").correct, (family, difficulty, index)
                assert _printed(program(family, params, "buggy")) != solved
                with pytest.raises(KeyError):
                    _printed(program(family, params, "crash"))


def test_last_value_reads_integers_and_fractions():
    assert last_value("<output>\n12\n-3/7\n</output>") == "-3/7"
    assert last_value("<output>\n101483\n</output>") == "101483"
    assert last_value("<output>\n(no output: print() the values you need)\n</output>") is None


def test_masks_follow_the_values_seen(env):
    obs, info = env.reset(seed=3)
    assert env.observation_space.contains(obs) and "text_observation" in info
    assert env.action_masks().tolist() == [True, True, True, False, False, False, False, True]
    env.step(BUGGY)
    assert env.action_masks()[VALUE0] and not env.action_masks()[VALUE1]
    obs, reward, terminated, truncated, info = env.step(SOLVE)
    assert info["candidate"] == "solve" and info["tool"]["status"] == "ok"
    assert env.action_masks()[[VALUE0, VALUE1]].all()
    assert [c and c.label for c in env.candidates][VALUE0:VALUE1 + 1] == ["value0", "value1"]
    assert env.observation_space.contains(obs) and reward == 0.0
    _, reward, terminated, _, info = env.step(VALUE0)
    assert terminated and reward == 1.0 and info["verdict"]["correct"]
    assert not env.action_masks().any()


@pytest.mark.parametrize("seed", range(4))
def test_solve_then_answer_wins_and_the_buggy_value_loses(env, seed):
    env.reset(seed=seed)
    env.step(SOLVE)
    env.step(BUGGY)
    _, reward, terminated, _, _ = env.step(VALUE1)
    assert terminated and reward == 1.0
    env.reset(seed=seed)
    env.step(BUGGY)
    _, reward, _, _, _ = env.step(VALUE0)
    assert reward == 0.0


def test_masked_action_is_a_protocol_error_not_an_exception(env):
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step(VALUE1)
    assert info["masked_action"] and info["parse_error"] == "no_action"
    assert not terminated and reward == 0.0
    obs, *_ = env.step(CRASH)
    assert env.observation_space.contains(obs) and not env.action_masks()[VALUE0]
    with pytest.raises(ValueError):
        env.step(env.n_actions)


def test_reset_is_deterministic_and_the_guess_is_seeded(env):
    first = env.reset(seed=11)[0], [c and c.text for c in env.candidates]
    second = env.reset(seed=11)[0], [c and c.text for c in env.candidates]
    assert np.array_equal(first[0], second[0]) and first[1] == second[1]
    assert env.unwrapped.task.answer not in "".join(t or "" for t in first[1][VALUE0:])


def test_non_procedural_task_sets_are_rejected(tmp_path):
    path = tmp_path / "tiny.jsonl"
    path.write_text(json.dumps({"id": "t1", "problem": "1+1?", "answer": "2"}) + "\n")
    base = gym.make("DeepTool-Math-v0", tasks=str(path))
    with pytest.raises(ValueError, match="procedural"):
        DiscreteCandidateWrapper(base)
    base.close()
    with pytest.raises(ValueError):
        CandidateProposer(n_actions=len(PROGRAM_KINDS) + 1)


def test_sb3_check_env_and_vec_masks(env):
    pytest.importorskip("sb3_contrib")
    from sb3_contrib.common.maskable.utils import get_action_masks, is_masking_supported
    from stable_baselines3.common.env_checker import check_env
    from stable_baselines3.common.vec_env import DummyVecEnv

    check_env(env, warn=True)
    vec = DummyVecEnv([lambda: make_discrete_env(FAMILIES_UNDER_TEST)])
    assert is_masking_supported(vec)
    vec.seed(0)
    vec.reset()
    masks = get_action_masks(vec)
    assert masks.shape == (1, env.n_actions)
    assert masks[0][[SOLVE, BUGGY, CRASH, GUESS]].all() and not masks[0][VALUE0:GUESS].any()
    vec.close()


def _train(env: DiscreteCandidateWrapper, steps: int, n_steps: int):
    torch = pytest.importorskip("torch")
    sb3_contrib = pytest.importorskip("sb3_contrib")
    torch.set_num_threads(1)
    model = sb3_contrib.MaskablePPO(
        "MlpPolicy", env, n_steps=n_steps, batch_size=n_steps, n_epochs=4, learning_rate=3e-3,
        gamma=0.99, policy_kwargs={"net_arch": [32, 32]}, seed=0, device="cpu", verbose=0)
    return model.learn(steps)


def _mean_reward(env: DiscreteCandidateWrapper, seeds: range,
                 pick: Callable[[np.ndarray, np.ndarray], int]) -> float:
    totals = []
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(pick(obs, env.action_masks()))
            total, done = total + reward, terminated or truncated
        totals.append(total)
    return float(np.mean(totals))


def test_maskable_ppo_smoke(env):
    model = _train(env, steps=64, n_steps=32)
    obs, _ = env.reset(seed=1)
    action, _ = model.predict(obs, action_masks=env.action_masks(), deterministic=True)
    assert env.action_masks()[int(action)]


def test_maskable_ppo_beats_a_random_masked_policy(env):
    start = time.perf_counter()
    model = _train(env, steps=2048, n_steps=128)
    rng = np.random.default_rng(0)
    seeds = range(10_000, 10_030)
    trained = _mean_reward(env, seeds, lambda obs, mask: int(
        model.predict(obs, action_masks=mask, deterministic=True)[0]))
    random = _mean_reward(env, seeds, lambda obs, mask: int(rng.choice(np.flatnonzero(mask))))
    elapsed = time.perf_counter() - start
    print(f"MaskablePPO 2048 steps: trained {trained:.3f}, random {random:.3f}, {elapsed:.1f}s")
    assert trained >= random + 0.5 and trained >= 0.8
