"""`run_study(config)`: the whole study from nothing, resumable at every stage.

Stages, each skipped when its result is already on disk: problem files -> templated
trajectories (`deeptool-train synth --llm template`) -> SFT cold start, stopped early
(`StudySFT`) -> the start's held-out evaluation under every condition -> every arm and
seed of GRPO (`StudyGRPO`, checkpointed at each evaluation and resumed from the latest)
-> the report (`report.build_report`). `state.json` in the results folder records what
is done and how long each stage took; the small files (evaluations, metrics, table,
plot) are written to the results folder as they come, models only to the work folder.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from agents.progress_bar import LiveBar

from ..grpo.config import GRPOConfig
from ..sft.config import SFTConfig
from ..synthesis import SynthesisConfig, synthesize
from .config import ARMS, CONDITIONS, StudyConfig
from .evaluate import Evaluation, evaluate
from .report import build_report
from .tasks import write_task_files
from .trainers import StudyGRPO, StudySFT, saved_or_run


class Study:
    """One study's folders, state and stages (see the module docstring)."""

    def __init__(self, config: StudyConfig) -> None:
        self.config = config
        self.work, self.results = Path(config.work_dir), Path(config.results_dir)
        self.state_path = self.results / "state.json"
        self.state: dict[str, Any] = (json.loads(self.state_path.read_text())
                                      if self.state_path.exists() else {})
        self.stage = "starting"
        self.bar: LiveBar | None = None

    def save_state(self) -> None:
        self.results.mkdir(parents=True, exist_ok=True)
        temporary = self.state_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.state, indent=1, sort_keys=True))
        os.replace(temporary, self.state_path)

    def done(self, key: str, **record: Any) -> None:
        self.state[key] = {**record, "finished": time.time()}
        self.save_state()
        if self.bar is not None:
            self.bar.advance()

    def policy_settings(self) -> dict[str, Any]:
        config = self.config
        return {"finetune": "lora", "lora_r": config.lora_r, "lora_alpha": config.lora_alpha,
                "lora_target_modules": config.lora_target_modules, "device": config.device}

    # -- stages ---------------------------------------------------------------------

    def synth(self, train: Path) -> Path:
        out = self.work / "synth" / "trajectories.jsonl"
        if "synth" not in self.state or not out.exists():  # e.g. a fresh clone
            started = time.perf_counter()
            summary = synthesize(SynthesisConfig(
                llm="template", recovery="template", train_data=str(train),
                limit=self.config.sft_trajectories, max_turns=self.config.max_turns,
                perturb_rate=self.config.sft_perturb_rate, max_perturbations=1,
                sandbox=self.config.sandbox, out=str(out), progress=False))
            self.done("synth", kept=summary.total_kept, rejected=summary.total_rejected,
                      wall_s=time.perf_counter() - started)
        return out

    def sft(self, trajectories: Path, validation: Path) -> Path:
        config, final = self.config, self.work / "sft" / "final"
        if "sft" in self.state and final.exists():
            return final
        started = time.perf_counter()
        trainer = StudySFT(SFTConfig(
            model=config.model, **{**self.policy_settings(), "finetune": config.sft_finetune},
            train_file=str(trajectories),
            output_dir=str(self.work / "sft"), learning_rate=config.sft_learning_rate,
            batch_size=config.sft_batch_size, max_steps=config.sft_max_steps,
            eval_every=config.sft_check_every, save_every=config.sft_check_every,
            keep_checkpoints=1, resume_from="latest", max_length=config.max_tokens_per_episode),
            study=config, validation=validation, results=self.results / "sft")
        try:
            trainer.train()
        finally:
            trainer.close()
        checks = [{"step": check.step, "validation_solve_rate": check.solve_rate}
                  for check in map(Evaluation.load, sorted((self.results / "sft").glob("*.json")))]
        self.done("sft", stopped_at=trainer.step, checks=checks,
                  wall_s=time.perf_counter() - started)
        return final

    def start_eval(self, model_dir: Path, heldout: Path) -> None:
        if "start_eval" in self.state:
            return
        from agents.models import load_model

        started = time.perf_counter()
        model, tokenizer = load_model(str(model_dir), device=self.config.device)
        for condition in CONDITIONS:
            name = f"start-{condition}"
            saved_or_run(self.results / "evals" / f"{name}.json", lambda c=condition, n=name:
                         evaluate(model, tokenizer, self.config, heldout,
                                  self.config.heldout_problems, c, name=n, step=0))
        self.done("start_eval", wall_s=time.perf_counter() - started)

    def arm(self, arm: str, seed: int, start: Path, train: Path, heldout: Path) -> None:
        config, name = self.config, f"{arm}-s{seed}"
        if name in self.state:
            return
        self.stage = f"GRPO {name}"
        output = self.work / "grpo" / name
        env = config.arm_env(arm)
        started = time.perf_counter()
        trainer = StudyGRPO(GRPOConfig(
            model=str(start), **self.policy_settings(), output_dir=str(output), seed=seed,
            train_data=str(train), env_options=dict(env),
            group_size=config.group_size, prompts_per_step=config.prompts_per_step,
            max_turns=config.max_turns, max_tokens_per_turn=config.max_tokens_per_turn,
            max_tokens_per_episode=config.max_tokens_per_episode,
            temperature=config.temperature, learning_rate=config.learning_rate,
            process_weight=ARMS[arm]["process_weight"], max_steps=config.grpo_steps,
            eval_every=config.eval_every, save_every=config.eval_every, keep_checkpoints=1,
            resume_from="latest", generation=config.generation),
            study=config, heldout=heldout, results=self.results / "evals", name=name)
        try:
            trainer.train(on_step=lambda _: self.bar.advance() if self.bar else None)
            trainer.evaluate()  # a run resumed at its last step still gets its evaluations
        finally:
            trainer.close()
        runs = self.results / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(output / "metrics.jsonl", runs / f"{name}.metrics.jsonl")
        shutil.rmtree(output / "final", ignore_errors=True)  # a full model: not kept
        self.state[name] = {"wall_s": time.perf_counter() - started, "finished": time.time()}
        self.save_state()

    def units(self) -> tuple[int, int]:
        """(total, done) of the progress bar: 3 set-up stages and every GRPO step."""
        arms = [f"{a}-s{s}" for s in self.config.seeds for a in self.config.arms]
        total = 3 + len(arms) * self.config.grpo_steps
        done = sum(k in self.state for k in ("synth", "sft", "start_eval"))
        return total, done + self.config.grpo_steps * sum(a in self.state for a in arms)

    def run(self) -> dict[str, Any]:
        config = self.config
        total, done = self.units()
        with LiveBar("study", total, done, lambda: self.stage,
                     enabled=config.progress) as self.bar:
            self.stage = "tasks"
            paths = write_task_files(config)
            self.stage = "synth"
            trajectories = self.synth(paths["train"])
            self.stage = "SFT"
            start = self.sft(trajectories, paths["validation"])
            self.stage = "start evaluation"
            self.start_eval(start, paths["heldout"])
            for seed in config.seeds:
                for arm in config.arms:
                    self.arm(arm, seed, start, paths["train"], paths["heldout"])
        return build_report(config)


def run_study(config: StudyConfig) -> dict[str, Any]:
    """Run (or resume) the study and return the report's summary."""
    return Study(config).run()
