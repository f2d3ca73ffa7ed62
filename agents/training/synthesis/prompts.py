"""The teacher's prompts: rewrite a worked solution as tool turns; write a recovery thought.

Versioned (`PROMPT_VERSION` is stored in every record's provenance and in the run
manifest): change the version whenever the wording changes, so data made with different
prompts is never mixed silently. The env's own protocol text (`deeptool_env.protocol`) is
quoted verbatim rather than restated, so the teacher writes exactly the format the policy
is trained and evaluated on.
"""

from __future__ import annotations

from deeptool_env import protocol
from deeptool_env.tasks import Task

PROMPT_VERSION = "synth-v1"

_EXAMPLE = """\
<think>I need the sum of the first 100 primes. Adding them by hand is hopeless; sympy \
lists primes, so I will let the tool add them.</think>
<code>
import sympy
primes = list(sympy.primerange(2, sympy.prime(100) + 1))
print(len(primes), sum(primes))
</code>
<think>The tool confirms there are 100 primes in the list, and it printed their sum, \
which is the answer.</think>
<answer>\\boxed{24133}</answer>"""


def rewrite_system_prompt(max_turns: int) -> str:
    """Instructions for turning a solution into think/code/answer turns."""
    rules = protocol.system_prompt(max_turns)
    return f"""\
You turn worked solutions of math problems into transcripts of a solver that reasons \
step by step and uses a Python tool. The transcripts train a model to solve problems \
this way, so they must be correct, natural and faithful to the format below.

The solver works under exactly these instructions (its system prompt):
---
{rules}
---

Write the solver's turns in order and nothing else:
- Every turn is <think>...</think> followed by exactly one action.
- Each turn but the last ends with a code action: <code>, a newline, Python, a newline, \
</code>. The code must print() every value that the next thought uses. Variables and \
imports persist between turns; math, numpy and sympy are available; no input(), files, \
network or plots.
- The last turn is <think>...</think><answer>\\boxed{{final answer}}</answer>.
- Never write a tool output yourself (no <output> blocks, no "Output:" lines, no \
```output fences): the real outputs are inserted by running your code. A thought may \
only rely on values that earlier code printed.
- Follow the worked solution's ideas, but let the code do the calculations and the \
checks (sympy for algebra, brute force to confirm a formula when it is cheap).
- Use between 1 and {max_turns - 1} code turns; fewer is better when they suffice.
- Write as the solver, in the first person. The solver has not seen the worked solution \
or the answer: never mention them.

Example (for the problem "Find the sum of the first 100 primes"):
{_EXAMPLE}"""


def rewrite_user_prompt(task: Task) -> str:
    """The problem, the worked solution (or none) and the gold answer, for the teacher."""
    if task.solution:
        source = f"Worked solution (for you only):\n{task.solution.strip()}"
    else:
        source = ("There is no worked solution: solve the problem yourself, checking every "
                  "step with code.")
    return (f"Problem:\n{task.problem.strip()}\n\n{source}\n\n"
            f"Correct final answer (for you only): {task.answer}\n\n"
            "Write the solver's turns now.")


def rewrite_messages(task: Task, max_turns: int) -> list[dict[str, str]]:
    return [{"role": "system", "content": rewrite_system_prompt(max_turns)},
            {"role": "user", "content": rewrite_user_prompt(task)}]


RECOVERY_SYSTEM = """\
You write one short piece of reasoning for a transcript of a solver that uses a Python \
tool. Something went wrong in the solver's last tool call; the solver must notice it from \
what it can see and decide what to do next. Write 1 to 3 sentences in the first person, \
plain text only: no tags, no code, no final answer. Do not mention that you were told \
what went wrong."""


def recovery_messages(problem: str, action: str, observation: str, what_happened: str,
                      next_code: str) -> list[dict[str, str]]:
    """Ask for the thought of the turn after an anomaly (the code of that turn is fixed)."""
    user = (f"Problem:\n{problem.strip()}\n\nThe solver's last turn:\n{action}\n\n"
            f"What the tool returned:\n{observation}\n\n"
            f"What really happened (hidden from the solver): {what_happened}\n\n"
            f"The solver's next action will run this code:\n<code>\n{next_code}\n</code>\n\n"
            "Write the solver's reasoning that comes before that action.")
    return [{"role": "system", "content": RECOVERY_SYSTEM},
            {"role": "user", "content": user}]
