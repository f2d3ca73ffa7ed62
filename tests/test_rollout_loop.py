"""The one rollout loop (`agents.rollout`): continuous scheduling against a local fake
OpenAI server with a fixed per-token delay (the server stays full, no round barriers,
the same records whatever the concurrency), the loop's own order and error rules,
vector envs refilled job after job, and GRPO rollouts that repeat whatever
`rollout_concurrency`."""

from __future__ import annotations

import re
import threading
import time

import gymnasium as gym
import pytest

from agents.openai_agent import OpenAIChatAgent
from agents.rollout import Batched, Served, play, play_in_order
from benchmarks.episodes import WorkItem, play_episodes

from .fake_openai_server import FakeOpenAIServer, Reply

CONCURRENCY = 4


def uneven_solver(body: dict) -> Reply:
    """nth-prime by one tool call then the answer; n decides how long a reply is (its
    completion tokens) and whether the episode answers at once (odd n: a guess)."""
    last = body["messages"][-1]["content"]
    if "<output>" in last:
        value = re.findall(r"-?\d+", last.split("<output>")[-1])[-1]
        return Reply(f"<answer>\\boxed{{{value}}}</answer>", usage={
            "prompt_tokens": 50, "completion_tokens": 4})
    n = int(re.search(r"p_\{(\d+)\}", last).group(1))
    if n % 2:
        return Reply("<answer>\\boxed{2}</answer>",
                     usage={"prompt_tokens": 40, "completion_tokens": 3 + n % 7})
    return Reply(f"<code>import sympy\nprint(sympy.prime({n}))</code>",
                 usage={"prompt_tokens": 40, "completion_tokens": 6 + 3 * (n % 5)})


def make_env(name: str) -> gym.Env:
    return gym.make("DeepTool-Math-v0", tasks=name, max_turns=3)


def items(count: int, k: int = 1) -> list[WorkItem]:
    return [WorkItem("procedural:nth_prime", i, s, seed=1000 + 10 * i + s)
            for i in range(count) for s in range(k)]


def play_against(server: FakeOpenAIServer, work: list[WorkItem], concurrency: int):
    agent = OpenAIChatAgent("fake", base_url=server.base_url, temperature=0, seed=7)
    return list(play_episodes(work, agent, make_env, concurrency=concurrency))


def mean_in_flight(requests: list[dict], until: float) -> float:
    """Time-weighted mean of requests in flight from the first start to `until`."""
    begin = min(r["start"] for r in requests)
    points = sorted([(r["start"], 1) for r in requests] + [(r["end"], -1) for r in requests])
    area, level, last = 0.0, 0, begin
    for moment, change in points:
        if moment > until:
            break
        area += level * (moment - last)
        level, last = level + change, moment
    return (area + level * (until - last)) / (until - begin)


def test_the_server_stays_full_and_episodes_never_wait_for_a_round():
    with FakeOpenAIServer(uneven_solver, token_delay_s=0.05) as server:
        records = play_against(server, items(12), CONCURRENCY)
    requests = [r for r in server.requests if "body" in r]
    assert len(records) == 12 and all(r.termination == "answer" for r in records)
    assert server.max_in_flight == CONCURRENCY
    problem = {id(r): r["body"]["messages"][1]["content"] for r in requests}
    firsts = {}
    for r in sorted(requests, key=lambda r: r["start"]):
        firsts.setdefault(problem[id(r)], r["start"])
    tail = max(firsts.values())  # the last episode has started: the tail begins
    assert mean_in_flight(requests, tail) >= 0.7 * CONCURRENCY  # lock-step rounds: 0.54
    # no round barrier: some second turn is sent while a request that started before
    # the first turn of its episode ended is still being generated
    by_problem: dict[str, list[dict]] = {}
    for r in sorted(requests, key=lambda r: r["start"]):
        by_problem.setdefault(problem[id(r)], []).append(r)
    overlaps = [(first, second, other)
                for turns in by_problem.values() if len(turns) == 2
                for first, second in [turns]
                for other in requests
                if problem[id(other)] != problem[id(first)]
                and other["start"] < first["end"] and other["end"] > second["start"]]
    assert overlaps


def untimed(value):
    """`value` without its timings (`wall_s`, `wall_ms`), which differ from run to run."""
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if k not in ("wall_s", "wall_ms")}
    if isinstance(value, list):
        return [untimed(v) for v in value]
    return value


def test_records_are_the_same_whatever_the_concurrency():
    work = items(5, k=2)
    runs = []
    for concurrency in (1, 3, 8):
        with FakeOpenAIServer(uneven_solver, token_delay_s=0.002) as server:
            records = play_against(server, work, concurrency)
        runs.append(sorted((r.key, untimed(r.to_dict())) for r in records))
    assert len(runs[0]) == 10 and len({key for key, _ in runs[0]}) == 10
    assert runs[0] == runs[1] == runs[2]


class Counting:
    """An episode of `turns` turns whose env steps take `step_s` each."""

    def __init__(self, turns: int, step_s: float = 0.0, fail_at: int | None = None) -> None:
        self.turns, self.step_s, self.fail_at = turns, step_s, fail_at
        self.seed, self.replies = turns, []

    def begin(self):
        return self.turns

    def advance(self, reply):
        time.sleep(self.step_s)
        if self.fail_at == len(self.replies):
            raise KeyError("episode failed")
        self.replies.append(reply)
        return None if len(self.replies) == self.turns else self.turns

    def result(self):
        return self.replies


def test_results_come_in_order_and_errors_are_raised():
    batches: list[int] = []

    def generate(requests):
        batches.append(len(requests))
        return [(r.prompt, r.turn, r.seed) for r in requests]

    played = play_in_order([Counting(n) for n in (3, 1, 2)], Batched(generate), concurrency=3)
    assert [[turn for _, turn, _ in replies] for replies in played] == [[0, 1, 2], [0], [0, 1]]
    assert batches[0] == 3  # the first call waits for every reset
    again = play_in_order([Counting(n) for n in (3, 1, 2)], Batched(generate), concurrency=1)
    assert again == played  # per-request seeds: the same whatever the concurrency
    with pytest.raises(KeyError, match="episode failed"):
        play_in_order([Counting(2), Counting(2, fail_at=1)], Batched(generate), concurrency=2)
    with pytest.raises(ZeroDivisionError):
        play_in_order([Counting(1), Counting(2)], Batched(lambda rs: 1 / 0), concurrency=2)


def test_a_slow_tool_call_holds_no_other_episode_back():
    lock, in_flight, most = threading.Lock(), [0], [0]

    def serve(request):
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        time.sleep(0.01)
        with lock:
            in_flight[0] -= 1
        return request.turn

    episodes = [Counting(1, step_s=1.0)] + [Counting(3) for _ in range(6)]
    started = time.monotonic()
    order = [index for index, _ in play(episodes, Served(serve, in_flight=3), concurrency=3)]
    assert time.monotonic() - started < 2.0
    assert order[-1] == 0 and sorted(order) == list(range(7))  # the slow one ends last
    assert most[0] == 3


def scripted(tokenizer):
    """A deterministic token policy: a tool call for even n, then the answer it saw."""
    def reply(context: list[int]) -> list[int]:
        text = tokenizer.decode(context)
        n = int(text.split("p_{")[1].split("}")[0])
        if text.count("<|im_start|>assistant") > 1:
            value = text.rsplit("<output>", 1)[1].split("</output>")[0].strip()
            action = f"<answer>\\boxed{{{value}}}</answer>"
        elif n % 2:
            action = "<answer>\\boxed{7}</answer>"
        else:
            action = f"<code>import sympy\nprint(sympy.prime({n}))</code>"
        return tokenizer(action, add_special_tokens=False)["input_ids"]

    return reply


def test_a_vector_env_is_refilled_job_after_job(tiny):
    from transformers import AutoTokenizer

    from agents.rollout import play_on_vector, rollout_episode
    from agents.rollout.token_episodes import batched_ids

    tokenizer = AutoTokenizer.from_pretrained(tiny)
    policy = scripted(tokenizer)
    jobs = [(11, {"index": 3}), (12, {"index": 4}), (13, {"index": 8}), (14, {"index": 1}),
            (15, {"index": 6})]
    env = gym.make("DeepTool-Math-v0", tasks="procedural:nth_prime", max_turns=3)
    single = [rollout_episode(env, tokenizer, policy, seed=s, options=o) for s, o in jobs]
    env.close()
    envs = gym.make_vec("DeepTool-Math-v0", num_envs=2, tasks="procedural:nth_prime",
                        max_turns=3)
    try:
        vector = play_on_vector(envs, tokenizer,
                                batched_ids(lambda cs: [policy(c) for c in cs]), jobs)
    finally:
        envs.close()
    assert {len(t.actions) for t in single} == {1, 2}
    for one, many in zip(single, vector, strict=True):
        assert (many.ids, many.loss_mask, many.actions) == (one.ids, one.loss_mask, one.actions)
        assert (many.outcome, many.turn_process) == (one.outcome, one.turn_process)
        assert many.info["parse_errors"] == one.info["parse_errors"]


def test_grpo_rollouts_repeat_whatever_the_rollout_concurrency(tiny, tmp_path):
    from agents.training.grpo.config import GRPOConfig
    from agents.training.grpo.trainer import GRPOTrainer

    config = GRPOConfig(model=tiny, train_data="procedural:modpow", output_dir=str(tmp_path),
                        group_size=3, prompts_per_step=2, max_turns=2, max_tokens_per_turn=8,
                        max_steps=1, filter_void_turns=False, seed=3)
    jobs = [(0, 21), (0, 22), (0, 23), (5, 24), (5, 25), (5, 26)]
    played = {}
    for concurrency in (1, 4, 0):
        trainer = GRPOTrainer(config.with_overrides(rollout_concurrency=concurrency))
        played[concurrency] = trainer.play("train", jobs)
        if concurrency == 0:
            other = trainer.play("train", [(0, 31)] * 3)
        trainer.close()
    for trajectories in played.values():
        assert [(t.ids, t.loss_mask, t.turn_of_token, t.outcome) for t in trajectories] == [
            (t.ids, t.loss_mask, t.turn_of_token, t.outcome) for t in played[1]]
    assert len({tuple(t.ids) for t in played[1][:3]}) > 1  # sampled, not greedy
    assert [t.ids for t in other] != [t.ids for t in played[1][:3]]
