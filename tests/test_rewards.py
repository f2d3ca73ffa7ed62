"""The action-centric process reward: each term, the cap, and its guards."""

from __future__ import annotations

import pytest

from deeptool_env.rewards import PRESETS, TERMS, RewardConfig, RewardTracker, Turn, resolve_reward

W = PRESETS["deeptool"]


def earned(tracker: RewardTracker, turn: Turn, **kw) -> dict[str, float]:
    """What each term gives `turn` (a code turn's credit is held until the answer), then
    score it."""
    terms = {name: term(turn, tracker.history, tracker.config) for name, term in TERMS.items()}
    tracker.score(turn, **kw)
    return terms


def code(text: str, status: str = "ok", stdout: str = "", **kw) -> Turn:
    return Turn(kind="code", code=text, status=status, stdout=stdout, **kw)


def answer(text: str) -> Turn:
    return Turn(kind="answer", answer=text)


def test_format_rewards_a_valid_turn_and_penalises_a_void_one():
    tracker = RewardTracker(W)
    assert earned(tracker, code("x = 1"))["format"] == W.format
    void = Turn(kind="invalid", parse_error="no_action")
    assert earned(tracker, void)["format"] == -W.void_penalty
    assert earned(tracker, Turn(kind="invalid", parse_error="empty_code"))["format"] == \
        -W.malformed_penalty


def test_execution_ok_versus_failure():
    tracker = RewardTracker(W)
    assert earned(tracker, code("print(1)", stdout="1\n"))["execution"] == W.execution
    assert earned(tracker, code("1/0", status="error"))["execution"] == -W.execution_error
    assert earned(tracker, code("f()", status="timeout"))["execution"] == -W.execution_error
    assert earned(tracker, code("x", status=None))["execution"] == 0.0


def test_novelty_uses_normalised_code():
    tracker = RewardTracker(W)
    assert earned(tracker, code("x = 1  # set x"))["novelty"] == W.novelty
    assert earned(tracker, code("x=1\n\n"))["novelty"] == -W.rerun_penalty
    assert earned(tracker, code("x = 2"))["novelty"] == W.novelty


def test_recovery_after_an_error_needs_changed_code():
    tracker = RewardTracker(W)
    earned(tracker, code("1/0", status="error"))
    assert earned(tracker, code("1/0", status="ok"))["recovery"] == 0.0
    tracker = RewardTracker(W)
    earned(tracker, code("1/0", status="error"))
    assert earned(tracker, code("1/1", status="ok"))["recovery"] == W.error_recovery


def test_crashing_on_purpose_to_be_paid_for_the_fix_never_pays():
    def total(turns):
        tracker = RewardTracker(W)
        for turn in turns:
            tracker.score(turn, correct=turn.kind == "answer")
        return sum(tracker.turn_rewards)

    solve = code("print(2**10)", stdout="1024\n")
    direct = total([solve, answer("1024")])
    assert total([code("1/0", status="error"), solve, answer("1024")]) < direct
    assert total([code("raise ValueError", status="error"), code("print(2**10 + 0)",
                  stdout="1024\n"), answer("1024")]) < direct


def test_rerun_after_a_perturbed_observation_is_a_check_not_a_rerun():
    tracker = RewardTracker(W)
    earned(tracker, code("print(6*7)", stdout="42\n", perturbed=True, injected=frozenset({"43"})))
    terms = earned(tracker, code("print(6*7)", stdout="42\n"))
    assert terms["recovery"] == W.recovery and terms["novelty"] == 0.0


def test_building_on_a_perturbed_value_costs():
    tracker = RewardTracker(W)
    earned(tracker, code("print(6*7)", stdout="42\n", perturbed=True, injected=frozenset({"43"})))
    assert earned(tracker, code("y = 43 + 1"))["recovery"] == -W.trust_penalty
    tracker = RewardTracker(W)
    earned(tracker, code("print(6*7)", stdout="42\n", perturbed=True, injected=frozenset({"43"})))
    assert earned(tracker, answer("43"))["recovery"] == -W.trust_penalty


def test_grounding_only_for_values_the_code_computed():
    tracker = RewardTracker(W)
    earned(tracker, code("print(2**10)", stdout="1024\n"))
    assert earned(tracker, answer("1024"))["grounding"] == W.grounding
    copied = RewardTracker(W)
    earned(copied, code("print(1024)", stdout="1024\n"))  # spelled out, e.g. from a hint
    assert earned(copied, answer("1024"))["grounding"] == 0.0
    failed = RewardTracker(W)
    earned(failed, code("print(2**10); 1/0", status="error", stdout="1024\n"))
    assert earned(failed, answer("1024"))["grounding"] == 0.0


def test_reference_alignment_with_the_solution():
    tracker = RewardTracker(W)
    tracker.reset("The sum is 3 * 97 = 291, so the answer is 291.")
    assert earned(tracker, code("print(3*97)", stdout="291\n"))["reference"] == W.reference
    assert earned(tracker, code("print(5)", stdout="5\n"))["reference"] == 0.0


def test_budget_costs_calls_beyond_it():
    tracker = RewardTracker(W)
    budgets = [earned(tracker, code(f"x = {i}"))["budget"] for i in range(W.budget_calls + 2)]
    assert budgets[:W.budget_calls] == [-W.call_cost] * W.budget_calls
    assert budgets[W.budget_calls:] == [-W.call_cost - W.budget_cost] * 2


def test_process_sum_is_capped_and_turn_rewards_add_up():
    rich = RewardConfig(execution=0.5, process_cap=0.3, process_floor=0.3)
    tracker = RewardTracker(rich)
    tracker.reset("The value is 12345.")
    paid = sum(tracker.score(code(f"x{i} = {i} ** 3 + 12345")).get("process")
               for i in range(3))
    paid += tracker.score(code("print(x0 + x1 + x2)", stdout="37044\n"))["process"]
    paid += tracker.score(answer("37044"), correct=False)["process"]
    assert tracker.process_total == pytest.approx(rich.process_cap) == pytest.approx(paid)
    assert sum(tracker.turn_rewards) == pytest.approx(rich.process_cap)
    worst = RewardTracker(W)
    for _ in range(50):
        earned(worst, Turn(kind="invalid", parse_error="no_action"))
    assert worst.process_total == pytest.approx(-W.process_floor)


def test_a_wrong_answer_never_beats_a_right_one():
    perfect_wrong = RewardTracker(W)
    for i in range(10):
        earned(perfect_wrong, code(f"print({i} * 1001)", stdout=f"{i * 1001}\n"))
    earned(perfect_wrong, answer("9009"), correct=False)
    sloppy_right = RewardTracker(W)
    for _ in range(10):
        earned(sloppy_right, code("1/0", status="error"))
    earned(sloppy_right, answer("7"), correct=True)
    assert sum(sloppy_right.turn_rewards) > sum(perfect_wrong.turn_rewards)


def test_outcome_preset_has_no_process_terms():
    tracker = RewardTracker(resolve_reward("outcome"))
    terms = tracker.score(answer("1"), correct=True)
    assert terms == {"process": 0.0, "outcome": 1.0}


def test_bad_reward_specs_raise_clear_errors():
    with pytest.raises(ValueError, match="unknown reward preset"):
        resolve_reward("dense")
    with pytest.raises(TypeError, match="unknown reward field"):
        resolve_reward({"novel": 1.0})
    with pytest.raises(ValueError, match="must stay below outcome"):
        RewardConfig(process_cap=0.7, process_floor=0.5)
    assert resolve_reward({"grounding": 0.2}).grounding == 0.2


def test_the_old_spelling_normalise_code_still_works_and_warns():
    import deeptool_env.rewards as rewards

    with pytest.warns(DeprecationWarning, match="now normalize_code"):
        old = rewards.normalise_code
    assert old is rewards.normalize_code
    with pytest.raises(AttributeError):
        rewards.no_such_name  # noqa: B018
