"""One GRPO optimisation step: ours vs TRL's `GRPOTrainer`, single-turn, same settings;
and our single-turn vs 3-turn cost per generated token.

Run with `python -m pytest tests/benchmarks/test_grpo_speed.py --benchmark-only -s`.
Both train the tiny random Qwen2 of `tests/tiny_model.py` (full fine-tuning in float32,
no gradient checkpointing, one CPU thread: TRL's `bf16` and `gradient_checkpointing`
defaults are turned off to match) on the same batch: 2 prompts of the env (system
prompt + problem, chat template) x 4 samples, up to 32 new tokens each, temperature 1,
token-level loss, clip 0.2/0.28, no KL, one optimiser step per batch. A step is
everything: sampling, (for us) the env's parsing and rewards, log-probabilities, backward
and AdamW. TRL samples the 8 completions in one batched `generate`; we play 8 episodes
through the env, which stop at `</code>`/`</answer>`, so the fair unit is the generated
token: the ratio ours/TRL per generated token is printed and stored in extra_info.
Skipped when `trl` is not installed (`pip install trl`: it keeps torch and transformers).
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

import pytest
import torch

os.environ["HF_HUB_OFFLINE"] = "1"
torch.set_num_threads(1)

PROMPTS, GROUP, NEW_TOKENS, STEPS = 2, 4, 32, 4


def _trl_steps(model_dir: str, prompts: list[list[dict[str, str]]],
               out: str) -> tuple[list[float], float]:
    """Seconds of each of `STEPS` TRL GRPO steps (the first is warm-up), and the mean
    number of tokens it generated per step."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig as TRLConfig
    from trl import GRPOTrainer as TRLTrainer

    times: list[float] = []

    class Timer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            times.append(time.perf_counter() - self.start)

    def format_reward(completions, **kwargs) -> list[float]:
        return [float("<code>" in c[0]["content"]) for c in completions]

    args = TRLConfig(
        output_dir=out, use_cpu=True, per_device_train_batch_size=PROMPTS * GROUP,
        num_generations=GROUP, max_completion_length=NEW_TOKENS, max_steps=STEPS,
        learning_rate=1e-5, beta=0.0, epsilon=0.2, epsilon_high=0.28, loss_type="dapo",
        temperature=1.0, top_k=0, report_to="none", save_strategy="no", logging_steps=1,
        disable_tqdm=True, seed=0, bf16=False, gradient_checkpointing=False)
    trainer = TRLTrainer(
        model=AutoModelForCausalLM.from_pretrained(model_dir), reward_funcs=format_reward,
        args=args, train_dataset=Dataset.from_dict({"prompt": prompts * STEPS * GROUP}),
        processing_class=AutoTokenizer.from_pretrained(model_dir), callbacks=[Timer()])
    trainer.train()
    lengths = [log["completions/mean_length"] for log in trainer.state.log_history
               if "completions/mean_length" in log]
    return times, statistics.mean(lengths) * PROMPTS * GROUP


def _ours(model_dir: str, out: str, turns: int) -> Any:
    """Our trainer on the benchmark's batch, episodes of up to `turns` turns."""
    from agents.training.grpo import GRPOConfig, GRPOTrainer

    return GRPOTrainer(GRPOConfig(
        model=model_dir, train_data="procedural:modpow", output_dir=out,
        group_size=GROUP, prompts_per_step=PROMPTS, max_turns=turns,
        max_tokens_per_turn=NEW_TOKENS, learning_rate=1e-5, kl_coef=0.0,
        filter_void_turns=False, llds_coef=0.0, save_every=0, seed=0))


def _timed_steps(trainer: Any) -> tuple[list[float], float]:
    """Seconds of `STEPS - 1` steps after a warm-up one, and mean generated tokens."""
    trainer.train_step()
    times, tokens = [], []
    for _ in range(STEPS - 1):
        start = time.perf_counter()
        tokens.append(trainer.train_step()["generated_tokens"])
        times.append(time.perf_counter() - start)
    return times, statistics.mean(tokens)


def _benchmarked_steps(benchmark: Any, trainer: Any) -> tuple[float, float]:
    """(median seconds, mean generated tokens) of `STEPS - 1` benchmarked steps after a
    warm-up one (as TRL's first step); closes the trainer."""
    trainer.train_step()
    generated: list[int] = []

    def step() -> None:
        generated.append(trainer.train_step()["generated_tokens"])

    benchmark.pedantic(step, rounds=STEPS - 1, iterations=1)
    trainer.close()
    return benchmark.stats.stats.median, statistics.mean(generated)


@pytest.mark.benchmark(group="grpo: one optimisation step, 2 prompts x 4 samples x 32 tokens")
def test_grpo_step_vs_trl(benchmark, tmp_path):
    pytest.importorskip("trl")
    pytest.importorskip("datasets")
    from tests.tiny_model import shared_tiny_model

    model_dir = str(shared_tiny_model())
    ours = _ours(model_dir, str(tmp_path / "ours"), turns=1)
    prompts = []
    for index in range(PROMPTS):
        _, info = ours.env.reset(options={"index": index})
        prompts.append(info["messages"])
    trl_times, trl_tokens = _trl_steps(model_dir, prompts, str(tmp_path / "trl"))
    trl_times = trl_times[1:]
    ours_s, ours_tokens = _benchmarked_steps(benchmark, ours)
    trl_s = statistics.median(trl_times)
    per_token = (ours_s / ours_tokens) / (trl_s / trl_tokens)
    benchmark.extra_info.update(trl_median_s=trl_s, ratio=ours_s / trl_s,
                                ratio_per_token=per_token, ours_tokens=ours_tokens,
                                trl_tokens=trl_tokens)
    print(f"\nGRPO step: ours {ours_s:.3f} s, TRL {trl_s:.3f} s, ratio ours/TRL "
          f"{ours_s / trl_s:.2f}; generated tokens per step: ours {ours_tokens:.0f}, TRL "
          f"{trl_tokens:.0f}; per generated token: ours {ours_s / ours_tokens * 1e3:.2f} ms, "
          f"TRL {trl_s / trl_tokens * 1e3:.2f} ms, ratio {per_token:.2f}")
    assert per_token > 0


@pytest.mark.benchmark(group="grpo: one optimisation step, 3-turn vs single-turn episodes")
def test_grpo_multi_turn_step(benchmark, tmp_path):
    """Episodes of up to 3 turns (observations appended, the context grows) against
    single-turn ones, back to back; the ratio is per generated token."""
    from tests.tiny_model import shared_tiny_model

    model_dir = str(shared_tiny_model())
    single = _ours(model_dir, str(tmp_path / "single"), turns=1)
    single_times, single_tokens = _timed_steps(single)
    single.close()
    multi_s, multi_tokens = _benchmarked_steps(
        benchmark, _ours(model_dir, str(tmp_path / "multi"), turns=3))
    single_s = statistics.median(single_times)
    per_token = (multi_s / multi_tokens) / (single_s / single_tokens)
    benchmark.extra_info.update(single_median_s=single_s, multi_tokens=multi_tokens,
                                single_tokens=single_tokens, ratio_per_token=per_token)
    print(f"\nGRPO step, 3 turns: {multi_s:.3f} s for {multi_tokens:.0f} tokens "
          f"({multi_s / multi_tokens * 1e3:.2f} ms/token); single turn: {single_s:.3f} s "
          f"for {single_tokens:.0f} tokens ({single_s / single_tokens * 1e3:.2f} ms/token); "
          f"ratio 3-turn/single per token {per_token:.2f}")
    assert per_token > 0
