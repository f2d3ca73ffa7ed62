"""`StudyConfig`: every setting of the learning study (`deeptool-train study`), and its arms.

The study asks whether the reference pipeline learns: procedural problems, an SFT cold
start from templated trajectories stopped early, then GRPO arms that differ in one thing
each, all from the same start with the same budget, evaluated on the same held-out
problems with the same sampling seeds (so differences between arms are paired).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deeptool_env.perturbations import PRESETS
from deeptool_env.settings import (
    FRACTION,
    NON_NEGATIVE,
    POSITIVE,
    Settings,
    SettingsError,
    setting,
)

#: Families whose templated solution turn fits 160 tokens (prime_sum's sieve and
#: digit_sums' loop take 210-290, so their turns would be cut).
STUDY_FAMILIES = ("modpow", "binomial_mod", "prime_count", "nth_prime", "catalan",
                  "prime_factors")

#: Arm -> (env reward, process_weight, training perturbation preset). A: plain GRPO on
#: the outcome; B: the paper's method (outcome + action-centric process reward); C: B
#: trained under perturbed tool output.
ARMS: dict[str, dict[str, Any]] = {
    "A": {"reward": "outcome", "process_weight": 0.0, "perturbation": "none",
          "label": "A: outcome reward only"},
    "B": {"reward": "deeptool", "process_weight": 1.0, "perturbation": "none",
          "label": "B: outcome + process reward"},
    "C": {"reward": "deeptool", "process_weight": 1.0, "perturbation": "train",
          "label": "C: B + perturbed tool output in training"},
}

CONDITIONS = ("clean", "adversarial", "tool_off")


@dataclass
class StudyConfig(Settings):
    """Settings of one study: tasks, model, SFT start, GRPO arms, evaluation, output."""

    families: tuple[str, ...] = setting(STUDY_FAMILIES, "procedural families of every "
                                        "problem", section="Tasks")
    difficulty: int = setting(1, "procedural difficulty level (1-3)", rule=POSITIVE)
    train_seed: int = setting(101, "procedural seed of the training problems (SFT and GRPO)",
                              rule=NON_NEGATIVE)
    validation_seed: int = setting(102, "seed of the problems that decide when SFT stops",
                                   rule=NON_NEGATIVE)
    heldout_seed: int = setting(103, "seed of the held-out evaluation problems",
                                rule=NON_NEGATIVE)
    train_problems: int = setting(2048, "training problems (GRPO samples from them; SFT "
                                  "uses the first `sft_trajectories`)", rule=POSITIVE)
    validation_problems: int = setting(32, "problems of the SFT stopping rule",
                                       rule=POSITIVE)
    heldout_problems: int = setting(64, "held-out problems of every evaluation",
                                    rule=POSITIVE)
    model: str | None = setting(None, "the policy to start from (None: the embedded "
                                "SmolLM2-135M-Instruct)", section="Model")
    device: str = setting("cpu", "torch device of the policy (`cuda` at GPU scale)")
    generation: str = setting("hf", "GRPO rollout backend: `hf` or `vllm` (the held-out "
                              "evaluations always generate with transformers)",
                              choices=("hf", "vllm"))
    sft_finetune: str = setting("full", "SFT trains every weight (`full`) or a LoRA "
                                "adapter (`lora`, with the settings below)",
                                choices=("full", "lora"))
    lora_r: int = setting(16, "LoRA rank of the GRPO adapter", rule=POSITIVE)
    lora_alpha: int = setting(32, "LoRA alpha", rule=POSITIVE)
    lora_target_modules: str = setting("all-linear", "modules with an adapter (peft: "
                                       "`all-linear`, or a regex of module names)")
    sft_trajectories: int = setting(256, "templated trajectories synthesised for SFT",
                                    rule=POSITIVE, section="SFT start")
    sft_perturb_rate: float = setting(0.2, "share of synthesised code turns with an injected "
                                      "anomaly and a recovery turn", rule=FRACTION)
    sft_learning_rate: float = setting(5e-5, "peak SFT learning rate", rule=POSITIVE)
    sft_batch_size: int = setting(8, "trajectories per SFT step", rule=POSITIVE)
    sft_max_steps: int = setting(48, "SFT steps at most (the cosine schedule's length)",
                                 rule=POSITIVE)
    sft_check_every: int = setting(4, "SFT steps between checks of the stopping rule",
                                   rule=POSITIVE)
    sft_target: float = setting(0.2, "SFT stops at the first check whose validation solve "
                                "rate reaches this (the start should be well below "
                                "saturation)", rule=FRACTION)
    arms: tuple[str, ...] = setting(tuple(ARMS), "GRPO arms to run (A, B, C)",
                                    section="GRPO arms")
    seeds: tuple[int, ...] = setting((0, 1), "training seeds of every arm")
    grpo_steps: int = setting(16, "GRPO steps of every arm", rule=POSITIVE)
    eval_every: int = setting(8, "GRPO steps between clean evaluations (all conditions "
                              "are evaluated at the start and the end)", rule=POSITIVE)
    learning_rate: float = setting(2e-4, "GRPO learning rate (LoRA)", rule=POSITIVE)
    group_size: int = setting(4, "GRPO group size G", rule=POSITIVE)
    prompts_per_step: int = setting(4, "problems per GRPO step", rule=POSITIVE)
    train_perturbation: str = setting("adversarial", "perturbation preset arm C trains "
                                      "under (the evaluation's preset: same kinds, other "
                                      "problems and seeds)",
                                      choices=tuple(PRESETS))
    max_turns: int = setting(3, "assistant turns per episode", rule=POSITIVE,
                             section="Episodes")
    max_tokens_per_turn: int = setting(160, "new tokens per turn (the templated turns of "
                                       "the default families take at most 151)",
                                       rule=POSITIVE)
    max_tokens_per_episode: int = setting(768, "context budget of an episode in tokens",
                                          rule=POSITIVE)
    temperature: float = setting(1.0, "sampling temperature of training and evaluation",
                                 rule=NON_NEGATIVE)
    eval_samples: int = setting(2, "sampled episodes per held-out problem (seeds fixed "
                                "across evaluations)", rule=POSITIVE, section="Evaluation")
    eval_perturbation: str = setting("adversarial", "perturbation preset of the robustness "
                                     "condition", choices=tuple(PRESETS))
    bootstrap: int = setting(2000, "bootstrap resamples of the 95% intervals", rule=POSITIVE)
    work_dir: str = setting("runs/study", "checkpoints, models and episodes (large; not "
                            "committed)", section="Output")
    results_dir: str = setting("studies/cpu", "small result files: metrics, evaluations, "
                               "table, plot (committed)")
    sandbox: str = setting("local", "sandbox backend of every episode")
    progress: bool = setting(True, "show a progress bar")
    report_only: bool = setting(False, "rebuild the table, plot and summary from the saved "
                                "results; run nothing")

    def __post_init__(self) -> None:
        super().__post_init__()
        unknown = [arm for arm in self.arms if arm not in ARMS]
        if unknown or not self.arms:
            raise SettingsError(f"arms: unknown {unknown}; choose from {list(ARMS)}")
        if len(set(self.seeds)) != len(self.seeds) or not self.seeds:
            raise SettingsError(f"seeds must be distinct and not empty, got {self.seeds}")
        seeds = (self.train_seed, self.validation_seed, self.heldout_seed)
        if len(set(seeds)) != 3:
            raise SettingsError(f"train, validation and held-out seeds must differ "
                                f"(disjoint problems), got {seeds}")
        if self.grpo_steps % self.eval_every:
            raise SettingsError(f"grpo_steps ({self.grpo_steps}) must be a multiple of "
                                f"eval_every ({self.eval_every})")
        if self.sft_trajectories > self.train_problems:
            raise SettingsError("sft_trajectories cannot exceed train_problems")

    def arm_env(self, arm: str) -> dict[str, Any]:
        """The `gym.make` options an arm trains with."""
        spec = ARMS[arm]
        perturbation = self.train_perturbation if spec["perturbation"] == "train" else "none"
        return {"reward": spec["reward"], "perturbation": perturbation,
                "sandbox": self.sandbox}
