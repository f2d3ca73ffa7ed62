"""One GRPO optimisation step: ours vs TRL's `GRPOTrainer`, single-turn, same settings.

Run with `python -m pytest tests/benchmarks/test_grpo_speed.py --benchmark-only -s`.
Both train the tiny random Qwen2 of `tests/tiny_model.py` (full fine-tuning, one CPU
thread) on the same batch: 2 prompts of the env (system prompt + problem, chat
template) x 4 samples, up to 32 new tokens each, temperature 1, token-level loss,
clip 0.2/0.28, no KL, one optimiser step per batch. A step is everything: sampling,
(for us) the env's parsing and rewards, log-probabilities, backward and AdamW. TRL
samples the 8 completions in one batched `generate`; we play 8 episodes through the env.
The ratio (ours / TRL, per step) is printed and stored in the benchmark's extra_info.
Skipped when `trl` is not installed (`pip install trl`: it keeps torch and transformers).
"""

from __future__ import annotations

import os
import statistics
import time

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
        disable_tqdm=True, seed=0)
    trainer = TRLTrainer(
        model=AutoModelForCausalLM.from_pretrained(model_dir), reward_funcs=format_reward,
        args=args, train_dataset=Dataset.from_dict({"prompt": prompts * STEPS * GROUP}),
        processing_class=AutoTokenizer.from_pretrained(model_dir), callbacks=[Timer()])
    trainer.train()
    lengths = [log["completions/mean_length"] for log in trainer.state.log_history
               if "completions/mean_length" in log]
    return times, statistics.mean(lengths) * PROMPTS * GROUP


@pytest.mark.benchmark(group="grpo: one optimisation step, 2 prompts x 4 samples x 32 tokens")
def test_grpo_step_vs_trl(benchmark, tmp_path):
    pytest.importorskip("trl")
    pytest.importorskip("datasets")
    from agents.training.grpo import GRPOConfig, GRPOTrainer
    from tests.tiny_model import shared_tiny_model

    model_dir = str(shared_tiny_model())
    config = GRPOConfig(
        model=model_dir, train_data="procedural:modpow", output_dir=str(tmp_path / "ours"),
        group_size=GROUP, prompts_per_step=PROMPTS, max_turns=1,
        max_tokens_per_turn=NEW_TOKENS, learning_rate=1e-5, kl_coef=0.0,
        filter_void_turns=False, llds_coef=0.0, save_every=0, seed=0)
    ours = GRPOTrainer(config)
    prompts = []
    for index in range(PROMPTS):
        _, info = ours.env.reset(options={"index": index})
        prompts.append(info["messages"])
    trl_times, trl_tokens = _trl_steps(model_dir, prompts, str(tmp_path / "trl"))
    trl_times = trl_times[1:]
    ours.train_step()  # warm-up, as TRL's first step
    generated: list[int] = []

    def step() -> None:
        generated.append(ours.train_step()["generated_tokens"])

    benchmark.pedantic(step, rounds=STEPS - 1, iterations=1)
    ours.close()
    ratio = benchmark.stats.stats.median / statistics.median(trl_times)
    benchmark.extra_info.update(trl_median_s=statistics.median(trl_times), ratio=ratio,
                                ours_tokens=statistics.mean(generated), trl_tokens=trl_tokens)
    print(f"\nGRPO step: ours {benchmark.stats.stats.median:.3f} s, TRL "
          f"{statistics.median(trl_times):.3f} s, ratio ours/TRL {ratio:.2f}; generated "
          f"tokens per step: ours {statistics.mean(generated):.0f}, TRL {trl_tokens:.0f}")
    assert ratio > 0
