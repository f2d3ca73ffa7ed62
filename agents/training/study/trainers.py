"""The study's trainers: the project's own `SFTTrainer` and `GRPOTrainer`, whose held-out
evaluation is the study's (solve rates per problem, saved per step and condition).

`StudySFT` evaluates the validation problems at every check and stops at the first whose
solve rate reaches `sft_target` (the start must be well below saturation). `StudyGRPO`
evaluates the held-out problems clean every `eval_every` steps and under every condition
at the last step; an evaluation already saved (a resumed run) is read, not replayed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from deeptool_env.settings import SettingsError

from ..grpo.trainer import GRPOTrainer
from ..sft.trainer import SFTTrainer
from .config import CONDITIONS, StudyConfig
from .evaluate import Evaluation, evaluate


def saved_or_run(path: Path, run: Any) -> Evaluation:
    """The evaluation saved at `path`, else `run()` saved there."""
    if path.exists():
        return Evaluation.load(path)
    result = run()
    result.save(path)
    return result


def check_turn_budget(trajectories: str, tokenizer: Any, limit: int) -> None:
    """Refuse SFT data whose assistant turns the policy could never finish within
    `max_tokens_per_turn`: every such turn would be cut in the rollouts and evaluations."""
    longest, over, total = 0, 0, 0
    for line in Path(trajectories).read_text().splitlines():
        for message in json.loads(line)["messages"]:
            if message["role"] == "assistant":
                size = len(tokenizer(message["content"], add_special_tokens=False)["input_ids"])
                longest, over, total = max(longest, size), over + (size > limit), total + 1
    if over:
        raise SettingsError(f"{over} of {total} assistant turns of {trajectories} are longer "
                            f"than max_tokens_per_turn={limit} tokens (longest {longest}): "
                            "the policy could never finish them. Raise max_tokens_per_turn "
                            "or choose families with shorter templated solutions")


class StudySFT(SFTTrainer):
    """SFT that stops once the validation solve rate reaches the study's target."""

    def __init__(self, config: Any, *, study: StudyConfig, validation: Path,
                 results: Path) -> None:
        self.study, self.validation, self.results = study, validation, results
        super().__init__(config)

    def prepare(self) -> None:
        super().prepare()
        check_turn_budget(self.config.train_file, self.tokenizer, self.study.max_tokens_per_turn)

    def resume(self, resume_from: str) -> None:
        """Also restore the stop: a run resumed at or after the step whose check reached
        the target trains no further."""
        super().resume(resume_from)
        for path in sorted(self.results.glob("sft-step*.json")):
            check = Evaluation.load(path)
            if check.step <= self.step and check.solve_rate >= self.study.sft_target:
                self.total_steps = self.step

    def evaluate(self) -> dict[str, float]:
        name = f"sft-step{self.step:03d}"
        result = saved_or_run(self.results / f"{name}.json", lambda: evaluate(
            self.model, self.tokenizer, self.study, self.validation,
            self.study.validation_problems, "clean", name=name, step=self.step, samples=1))
        if result.solve_rate >= self.study.sft_target:
            self.total_steps = self.step  # stop here: the loop ends and final/ is written
        return {"validation_solve_rate": result.solve_rate}


class StudyGRPO(GRPOTrainer):
    """GRPO of one arm and seed, evaluated on the held-out problems as the study says."""

    def __init__(self, config: Any, *, study: StudyConfig, heldout: Path, results: Path,
                 name: str) -> None:
        self.study, self.heldout, self.results, self.name = study, heldout, results, name
        super().__init__(config)

    def evaluate(self) -> dict[str, float]:
        if self.step == 0:  # the SFT start, evaluated once for every arm
            return {}
        last = self.step == self.total_steps
        conditions = CONDITIONS if last else ("clean",)
        metrics = {}
        for condition in conditions:
            name = f"{self.name}-step{self.step:03d}-{condition}"
            result = saved_or_run(self.results / f"{name}.json", lambda c=condition, n=name:
                                  evaluate(self.model, self.tokenizer, self.study,
                                           self.heldout, self.study.heldout_problems, c,
                                           name=n, step=self.step))
            metrics[f"heldout_{condition}"] = result.solve_rate
        return metrics
