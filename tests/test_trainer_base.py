"""`agents.training.base.Trainer` on its own: the loop's schedule (evaluate at the start,
every N and at the last step; save every N and at the last; `final/`), logging, and a
resume that continues exactly, the subclass's own state included (each rank's own under
torchrun)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.training.base import Trainer
from agents.training.batches import token_logprobs
from agents.training.checkpoint import latest_checkpoint
from agents.training.sft.config import SFTConfig

os.environ["HF_HUB_OFFLINE"] = "1"
torch.set_num_threads(1)
pytest.importorskip("transformers")


class Recording(Trainer):
    """One SGD step on the NLL of a fixed sequence per step; each step also draws from
    its own RNG (checkpointed through `state_dict`) and from torch's (the process RNG)."""

    def prepare(self) -> None:
        self.total_steps = self.config.max_steps
        self.evaluated: list[int] = []
        self.draws = np.random.default_rng(7 + self.rank)

    def state_dict(self) -> dict:
        return {"draws": self.draws.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.draws.bit_generator.state = state["draws"]

    def train_step(self) -> dict:
        ids = torch.tensor([[5, 6, 7, 8, 9]])

        def loss_of(batch: torch.Tensor) -> torch.Tensor:
            logp, _ = token_logprobs(self.train_model, batch, torch.ones_like(batch))
            return -logp.mean()

        norm = self.optimizer_step([ids], loss_of)
        self.step += 1
        return {"step": self.step, "grad_norm": norm, "draw": float(self.draws.random()),
                "noise": float(torch.rand(()))}

    def evaluate(self) -> dict:
        self.evaluated.append(self.step)
        return {"eval_step": self.step}


def config(tiny, out, **overrides) -> SFTConfig:
    fields = {"model": tiny, "train_file": "unused.jsonl", "output_dir": str(out),
              "max_steps": 5, "eval_every": 3, "save_every": 2, "keep_checkpoints": 5,
              "learning_rate": 1e-2, "seed": 4}
    return SFTConfig(**{**fields, **overrides})


def test_the_loop_evaluates_saves_logs_and_resumes_exactly(tiny, tmp_path):
    straight = Recording(config(tiny, tmp_path / "a"))
    shown: list[dict] = []
    history = straight.train(on_step=shown.append)
    straight.close()
    assert [m["step"] for m in history] == [0, 1, 2, 3, 4, 5] and shown == history
    assert straight.evaluated == [0, 3, 5]
    assert all(m["grad_norm"] > 0 for m in history[1:])
    logged = [json.loads(line) for line in (tmp_path / "a" / "metrics.jsonl").open()]
    assert logged == history
    saved = sorted(p.name for p in (tmp_path / "a" / "checkpoints").glob("step-*"))
    assert saved == ["step-00000002", "step-00000004", "step-00000005"]
    assert (tmp_path / "a" / "final" / "config.json").is_file()

    midway = tmp_path / "a" / "checkpoints" / "step-00000002"
    resumed = Recording(config(tiny, tmp_path / "b", resume_from=str(midway)))
    assert resumed.step == 2 and resumed.optimizer.state_dict()["state"]
    rest = resumed.train()
    resumed.close()
    assert [m["step"] for m in rest] == [3, 4, 5] and resumed.evaluated == [3, 5]
    for got, expected in zip(rest, history[3:], strict=True):
        assert got["draw"] == expected["draw"] and got["noise"] == expected["noise"]
        assert got["grad_norm"] == pytest.approx(expected["grad_norm"], rel=1e-5)
    for name, value in straight.model.state_dict().items():
        assert torch.allclose(value, resumed.model.state_dict()[name], atol=1e-6), name
    assert latest_checkpoint(tmp_path / "b").name == "step-00000005"
    state = json.loads((latest_checkpoint(tmp_path / "b") / "trainer_state.json").read_text())
    assert state["step"] == 5 and "draws" in state and state["config"]["seed"] == 4


def test_every_rank_resumes_its_own_state(tiny, tmp_path):
    """On 2 gloo ranks (torchrun): rank 1's own RNG (a GRPO rank's task sampler)
    continues as in the uninterrupted run after a resume, instead of taking rank 0's."""
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                    __file__, str(tiny), str(tmp_path)],
                   env=env, check=True, capture_output=True, timeout=300)
    runs = {name: [json.loads((tmp_path / f"{name}-{rank}.json").read_text())
                   for rank in range(2)] for name in ("straight", "resumed")}
    for rank in range(2):
        assert ([m["draw"] for m in runs["resumed"][rank]]
                == [m["draw"] for m in runs["straight"][rank][3:]])
    assert runs["straight"][0][3]["draw"] != runs["straight"][1][3]["draw"]


if __name__ == "__main__":  # the ranks of test_every_rank_resumes_its_own_state
    model, out = sys.argv[1], Path(sys.argv[2])
    for name, directory, overrides in (("straight", "a", {}), ("half", "b", {"max_steps": 2}),
                                       ("resumed", "b", {"resume_from": "latest"})):
        trainer = Recording(config(model, out / directory, **{"max_steps": 4, **overrides}))
        history = trainer.train()
        trainer.close()
        (out / f"{name}-{trainer.rank}.json").write_text(json.dumps(history))
