"""Local generation tokens/s, idle and with a 2-process busy loop, torch defaults vs
`agents.cpu_threads` (issue: "Speed under load").

Run with `python -m pytest tests/benchmarks/test_generation_under_load.py --benchmark-only -s`
(the tokens/s are printed and kept in `extra_info`). Each policy runs in its own worker
process, because the OpenMP wait policy is read once, when torch is imported:

- `torch-defaults`: torch imported first (spinning wait), all affinity cores as threads,
  i.e. what HFAgent did before the policy.
- `auto`: a fresh process where HFAgent(threads=None) chooses (passive wait, usable cores).

The model is the embedded SmolLM2-135M (exported once to a Hugging Face directory): the tiny
random test model is too small for threads to matter. A round is one request of
`NEW_TOKENS` sampled tokens after a ~190-token prompt (prefill included, as in an episode).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

NEW_TOKENS = 4
POLICIES = ("torch-defaults", "auto")


def worker(policy: str) -> None:
    """Load the model under `policy`, then answer each stdin line with one generation."""
    if policy == "torch-defaults":
        import torch  # before the agent: libgomp keeps its spinning wait

        threads: int | None = len(os.sched_getaffinity(0))
    else:
        threads = None
    from agents.hf_agent import HFAgent
    from agents.models import default_hf_dir
    from deeptool_env.protocol import system_prompt

    agent = HFAgent(str(default_hf_dir()), temperature=0.7, seed=0,
                    max_new_tokens=NEW_TOKENS, stop=("@@@@",), threads=threads)
    conversation = [{"role": "system", "content": system_prompt(8)},
                    {"role": "user", "content": "Problem:\nCompute the 30th prime number."}]
    agent.generate_batch([conversation])
    import torch

    plan = agent.cpu_threads
    print(json.dumps({"threads": torch.get_num_threads(),
                      "wait": plan.wait_policy if plan else None}), flush=True)
    for _ in sys.stdin:
        print(agent.generate_batch([conversation])[0].completion_tokens, flush=True)


@pytest.fixture(scope="module", params=POLICIES)
def generator(request):
    if request.config.getoption("benchmark_skip", False):
        pytest.skip("benchmark (--benchmark-skip active): no model worker started")
    # tests/conftest.py pins OMP/MKL_NUM_THREADS=1 for the test process; the workers
    # must see the machine as a user's process does
    unset = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    proc = subprocess.Popen([sys.executable, "-m", __name__, request.param], text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    info = json.loads(proc.stdout.readline())
    yield request.param, info, proc
    proc.stdin.close()
    proc.wait(timeout=60)


@pytest.fixture(params=(0, 2), ids=("idle", "busy2"))
def busy(request):
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
             for _ in range(request.param)]
    time.sleep(0.3 if procs else 0)
    yield request.param
    for proc in procs:
        proc.kill()
        proc.wait()


@pytest.mark.timeout(900)  # torch defaults on shared cores: minutes per round
@pytest.mark.benchmark(group="SmolLM2 generation under load")
def test_generation_under_load(benchmark, generator, busy):
    policy, info, proc = generator
    tokens = []

    def one_request() -> int:
        proc.stdin.write("go\n")
        proc.stdin.flush()
        tokens.append(int(proc.stdout.readline()))
        return tokens[-1]

    benchmark.pedantic(one_request, rounds=2, warmup_rounds=0)
    rate = sum(tokens) / (benchmark.stats.stats.mean * len(tokens))
    load = open("/proc/loadavg").read().split()[0]
    benchmark.extra_info.update(tokens_per_s=round(rate, 2), busy_processes=busy,
                                policy=policy, load_1min=load, **info)
    print(f"\n{policy:15s} busy={busy} threads={info['threads']} wait={info['wait']} "
          f"{rate:.2f} tokens/s (1-min load {load})")
    assert min(tokens) > 0


if __name__ == "__main__":
    worker(sys.argv[1])
