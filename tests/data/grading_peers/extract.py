"""Rebuild `pairs.json` from the peer graders' own test suites (run by hand, not by pytest).

    python3 tests/data/grading_peers/extract.py MIRROR > tests/data/grading_peers/pairs.json

`MIRROR` holds git mirrors named `owner+name/repo` (the `fetch` tool's layout). Only test data is
read: literal (gold, prediction, label) triples in `pytest.mark.parametrize` lists, unittest
`assertTrue`/`assertFalse(is_equiv(...))` pairs and a few hand-transcribed cases, each with its
repository, path, commit and test name. Pairs whose test passes non-default options to the peer
grader (other precision, `strict=False`, set-relation comparison, non-maths targets) are left
out, and duplicates across suites are kept once (the first suite listed wins). Answer-only
graders' pairs (MATH, NeMo-Skills, simple-evals) are boxed, as the harness boxes extracted
answers; the others' predictions are model text, given verbatim. `marked` says whether that
text marks its answer (a box, an `<answer>` tag or an answer phrase). Qwen2.5-Math and rLLM
hold no labelled pairs at the commits read (only commented-out or printed examples).
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

SUITES = {  # repo -> test files with literal pairs
    "huggingface/Math-Verify": [
        "tests/test_all.py",
        "tests/test_boxed.py",
        "tests/test_numina_cases.py",
        "tests/test_open_thoughts.py",
        "tests/test_string_extraction.py",
        "tests/test_yujianll.py",
    ],
    "huggingface/lighteval": ["tests/unit/metrics/test_extractive_match.py"],
    "hendrycks/math": ["modeling/math_equivalence_test.py"],
    "NVIDIA/NeMo-Skills": ["tests/test_math_equal.py"],
}
GOLD = {"gold", "test_in"}
PRED = {"pred", "test_out"}
LABEL = {"expected", "result"}
DEFAULT_OPTIONS = {"precision": 6, "strict": True, "allow_set_relation_comp": False}
SKIP_MATCH_TYPES = {"NativeLetters"}  # multiple-choice letters, not maths answers
HAND = [  # (repo, path, test, gold, response, label): cases written inline, not as lists
    (
        "huggingface/open-r1",
        "tests/test_rewards.py",
        "test_accuracy_reward_correct_answer",
        r"\frac{63}{400}",
        r"\boxed{\frac{63}{400}}",
        True,
    ),
    (
        "huggingface/open-r1",
        "tests/test_rewards.py",
        "test_accuracy_reward_wrong_answer",
        r"\frac{63}{400}",
        r"\boxed{\frac{64}{400}}",
        False,
    ),
    (
        "huggingface/open-r1",
        "tests/test_rewards.py",
        "test_accuracy_reward_wrong_answer_no_latex",
        "6",
        r"\boxed{3}",
        False,
    ),
]
# simple-evals grades with an LLM; its prompt's worked examples are the labelled pairs.
SIMPLE_EVALS = ("openai/simple-evals", "common.py", "EQUALITY_TEMPLATE")
# Labels this project's policy deliberately departs from, with the reason (`disputed` field;
# the tests count them in the agreement but do not call them false positives).
DISPUTED = {
    ("10, 4, -2", "4, 10, -2"): "MATH compares lists in order; this grader's lists are unordered",
    ("0.1, 4, 2", "4, .1, 2"): "MATH compares lists in order; this grader's lists are unordered",
    (
        "3245/5",
        "649",
    ): "simple-evals' prompt says 'these are actually equal' and asks an LLM for No",
    ("$1 - \\frac{1}{\\mathrm{e}}$", "$1 + \\frac{1}{\\mathrm{e}}$"): "labelled equal; they differ",
}
ANSWER_ONLY = {"hendrycks/math", "NVIDIA/NeMo-Skills", "openai/simple-evals"}
MARKED = re.compile(r"\\(?:boxed|fbox)|<answer>|\banswer\s*\**\s*[:：]|final\s+answer\s+is", re.I)


def _git(mirror: Path, repo: str, *args: str) -> str:
    path = mirror / repo.replace("/", "+") / "repo"
    return subprocess.run(
        ["git", "-C", str(path), *args], check=True, capture_output=True, text=True
    ).stdout


def _options(call: ast.Call | None) -> dict[str, Any]:
    if call is None:
        return {}
    return {
        kw.arg: ast.literal_eval(kw.value)
        for kw in call.keywords
        if kw.arg and isinstance(kw.value, ast.Constant | ast.List)
    }


def _inner_call(fn: ast.FunctionDef) -> ast.Call | None:
    """The call to the peer grader inside a test body (for its keyword options)."""
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") in {"compare_strings"}:
            return node
    return None


def _parametrized(fn: ast.FunctionDef) -> list[tuple[str, str, bool]]:
    out: list[tuple[str, str, bool]] = []
    opts = _options(_inner_call(fn))
    if set(opts.get("match_types", [])) & SKIP_MATCH_TYPES:
        return out
    for deco in fn.decorator_list:
        if not (isinstance(deco, ast.Call) and getattr(deco.func, "attr", "") == "parametrize"):
            continue
        names = [n.strip() for n in ast.literal_eval(deco.args[0]).split(",")]
        for row in deco.args[1].elts:
            try:
                values = ast.literal_eval(row)
            except ValueError:
                continue  # f-strings and computed cases
            if len(names) == 1:
                values = (values,)
            case = dict(zip(names, values, strict=False))
            merged = {
                **DEFAULT_OPTIONS,
                **{k: v for k, v in opts.items() if k in DEFAULT_OPTIONS},
                **{k: v for k, v in case.items() if k in DEFAULT_OPTIONS},
            }
            if merged != DEFAULT_OPTIONS:
                continue
            if "output_pair" in case:  # NeMo-Skills: label from the test's name
                gold, pred = case["output_pair"]
                label = "incorrect" not in fn.name
            else:
                gold = next((case[k] for k in GOLD if k in case), None)
                pred = next((case[k] for k in PRED if k in case), None)
                label = next((bool(case[k]) for k in LABEL if k in case), None)
            if gold is None or pred is None or label is None:
                continue
            out.append((str(gold), str(pred), label))
    return out


def _unittest(fn: ast.FunctionDef) -> list[tuple[str, str, bool]]:
    values = {
        t.id: n.value.value
        for n in fn.body
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in {
            "assertTrue",
            "assertFalse",
        }:
            if "test_in" in values and "test_out" in values:
                label = node.func.attr == "assertTrue"  # type: ignore[attr-defined]
                return [(values["test_in"], values["test_out"], label)]
    return []


def _simple_evals(text: str) -> list[tuple[str, str, bool]]:
    block = re.findall(r"Expression 1: (.*)\n\s*Expression 2: (.*)\n\n(Yes|No)", text)
    return [(a.strip(), b.strip(), verdict == "Yes") for a, b, verdict in block]


def main(mirror: Path) -> None:
    pairs: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()

    def add(repo: str, path: str, commit: str, test: str, gold: str, pred: str, label: bool):
        response = "\\boxed{" + pred + "}" if repo in ANSWER_ONLY else pred
        disputed = DISPUTED.get((gold, pred))
        if (gold, response) in seen:
            return
        seen.add((gold, response))
        pairs.append(
            {
                "repo": repo,
                "path": path,
                "commit": commit,
                "test": test,
                "gold": gold,
                "response": response,
                "label": label,
                "marked": bool(MARKED.search(response)),
                **({"disputed": disputed} if disputed else {}),
            }
        )

    for repo, paths in SUITES.items():
        commit = _git(mirror, repo, "rev-parse", "HEAD").strip()
        for path in paths:
            tree = ast.parse(_git(mirror, repo, "show", f"HEAD:{path}"))
            for fn in ast.walk(tree):
                if isinstance(fn, ast.FunctionDef):
                    for gold, pred, label in _parametrized(fn) + _unittest(fn):
                        add(repo, path, commit, fn.name, gold, pred, label)
    for repo, path, test, gold, pred, label in HAND:
        add(repo, path, _git(mirror, repo, "rev-parse", "HEAD").strip(), test, gold, pred, label)
    repo, path, test = SIMPLE_EVALS
    for gold, pred, label in _simple_evals(_git(mirror, repo, "show", f"HEAD:{path}")):
        add(repo, path, _git(mirror, repo, "rev-parse", "HEAD").strip(), test, gold, pred, label)
    json.dump(pairs, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
