"""`deeptool_env.seeding`: the one way seeds are derived, and the streams it replaced are
unchanged (procedural tasks, perturbations, synthesis plans and sample seeds stay the same)."""

from __future__ import annotations

import hashlib
import random

import pytest

from agents.training.synthesis.perturb import task_rng as synthesis_rng
from benchmarks.runner import _sample_seed
from deeptool_env.perturbations import Perturber
from deeptool_env.seeding import derived_rng, derived_seed
from deeptool_env.tasks.procedural.base import GENERATOR_VERSION
from deeptool_env.tasks.procedural.taskset import task_rng as procedural_rng


def sha_seed(key: str, nbytes: int) -> int:
    """The formula each helper used to inline."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:nbytes], "big")


def draws(rng: random.Random) -> list[float]:
    return [rng.random() for _ in range(3)]


def test_a_derived_seed_depends_on_every_part_and_nothing_else():
    assert derived_seed("a", 1, "x") == derived_seed("a", 1, "x") == sha_seed("a|1|x", 8)
    assert len({derived_seed("a", 1, "x"), derived_seed("a", 2, "x"),
                derived_seed("a", 1, "y"), derived_seed("a", 1, "x", sep=":")}) == 4
    assert derived_seed("a", nbytes=6) < 2**48 <= derived_seed("a", nbytes=16)
    assert draws(derived_rng("a", 1)) == draws(random.Random(sha_seed("a|1", 8)))


@pytest.mark.parametrize(("family", "seed", "index", "difficulty"),
                         [("modpow", 0, 17, None), ("crt", 3, 2, 2)])
def test_procedural_streams_are_unchanged(family, seed, index, difficulty):
    key = (f"deeptool-procedural:v{GENERATOR_VERSION}:{family}:{seed}:{index}:"
           f"{difficulty or 'mixed'}")
    assert draws(procedural_rng(family, seed, index, difficulty)) == draws(
        random.Random(sha_seed(key, 16)))


def test_perturbation_synthesis_and_sample_streams_are_unchanged():
    perturber = Perturber("adversarial")
    perturber.reset(1234)
    assert draws(perturber._rng(3, "plan")) == draws(
        random.Random(sha_seed("deeptool-perturbation|1234|3|plan", 8)))
    assert draws(synthesis_rng(7, "aime-1", "plan")) == draws(
        random.Random(sha_seed("deeptool-synthesis|7|aime-1|plan", 8)))
    assert _sample_seed(0, "aime24", 5, 2) == sha_seed("0|aime24|5|2", 6)
