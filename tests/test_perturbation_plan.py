"""`reset(options={"perturbations": ...})`: a planned perturbation fires on its turn only,
is recorded like a random one, is checked up front, and the policy can neither trigger it
nor see it."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from deeptool_env.audit import AUDIT_KEYS, agent_info
from deeptool_env.perturbations import PerturbationPlan, resolve_plan

PRINT = "<code>print(6 * 7)</code>"


@pytest.fixture
def env():
    environment = gym.make("DeepTool-Math-v0", max_turns=6, reward="outcome")
    yield environment
    environment.close()


def play(env, actions, *, seed=0, perturbations=None):
    """Reset (with the plan, when given) and play `actions`; the infos of every step."""
    options = {} if perturbations is None else {"perturbations": perturbations}
    _, reset_info = env.reset(seed=seed, options=options)
    infos = [reset_info]
    for action in actions:
        infos.append(env.step(action)[4])
    return infos


def perturbed_turns(infos):
    return [info["turn"] for info in infos[1:] if info.get("perturbed")]


def test_a_planned_perturbation_fires_on_its_turn_and_no_other(env):
    infos = play(env, [PRINT] * 5, perturbations={3: "numeric_corruption"})
    assert perturbed_turns(infos) == [3]
    event = infos[3]["perturbation"]
    assert event["kind"] == "numeric_corruption" and event["params"]["turn"] == 3
    assert infos[3]["observation_clean"] == "<output>\n42\n</output>"
    for info in infos[1:]:
        assert ("perturbation" in info) == (info["turn"] == 3)


def test_it_is_recorded_exactly_as_a_random_one():
    """The same kind on the same turn, drawn by the config or planned: the same info."""
    drawn = gym.make("DeepTool-Math-v0", max_turns=6, reward="outcome",
                     perturbation={"rate": 1.0, "kinds": ["tool_timeout"]})
    planned = gym.make("DeepTool-Math-v0", max_turns=6, reward="outcome")
    try:
        random_info = play(drawn, [PRINT], seed=5)[1]
        planned_info = play(planned, [PRINT], seed=5, perturbations=[(1, "tool_timeout")])[1]
    finally:
        drawn.close()
        planned.close()
    assert set(planned_info) == set(random_info)
    assert set(planned_info["perturbation"]) == set(random_info["perturbation"])
    assert planned_info["perturbation"]["kind"] == random_info["perturbation"]["kind"]
    assert planned_info["tool"]["shown_status"] == random_info["tool"]["shown_status"]


def test_listed_kinds_are_tried_in_order_and_the_seed_fixes_the_draw(env):
    # Nothing printed: empty_output cannot apply, so the next listed kind is shown.
    silent = "<code>x = 1</code>"
    first = play(env, [silent], perturbations={1: ["empty_output", "tool_timeout"]})[1]
    assert first["perturbation"]["kind"] == "tool_timeout"
    plan = {1: ["numeric_corruption"]}
    again = [play(env, [PRINT], seed=7, perturbations=plan)[1]["perturbation"]
             for _ in range(2)]
    assert again[0] == again[1]


def test_planned_turns_override_the_config_and_the_others_follow_it():
    env = gym.make("DeepTool-Math-v0", max_turns=6, reward="outcome",
                   perturbation={"rate": 1.0, "kinds": ["numeric_corruption"],
                                 "max_per_episode": 1})
    try:
        infos = play(env, [PRINT] * 3, perturbations={2: "tool_timeout"})
    finally:
        env.close()
    kinds = [info.get("perturbation", {}).get("kind") for info in infos[1:]]
    # turn 1 is the config's one allowed draw; the plan ignores the cap on turn 2.
    assert kinds == ["numeric_corruption", "tool_timeout", None]


def test_a_planned_code_kind_changes_the_code_before_it_runs(env):
    infos = play(env, ["<code>a = 6\nb = 7\nprint(a * b)</code>"],
                 perturbations={1: "syntax_error"})
    event = infos[1]["perturbation"]
    assert event["family"] == "intrinsic" and infos[1]["tool"]["status"] == "error"


def test_the_plan_holds_for_one_episode_only(env):
    play(env, [PRINT], perturbations={1: "tool_timeout"})
    assert perturbed_turns(play(env, [PRINT])) == []


def test_numpy_turns_and_every_spelling_give_the_same_plan():
    expected = PerturbationPlan(((2, ("tool_timeout",)), (4, ("empty_output", "tool_timeout"))))
    for spec in ({2: "tool_timeout", 4: ["empty_output", "tool_timeout"]},
                 [(np.int64(4), ("empty_output", "tool_timeout")), (2, "tool_timeout")],
                 expected):
        assert resolve_plan(spec) == expected
    assert expected.kinds_at(3) == () and expected.to_dict()[4] == ["empty_output",
                                                                     "tool_timeout"]


@pytest.mark.parametrize(("spec", "message"), [
    ({1: "no_such_kind"}, r"unknown perturbation kind 'no_such_kind' planned at turn 1"),
    ({0: "tool_timeout"}, r"planned turn must be an int >= 1.*got 0"),
    ({True: "tool_timeout"}, r"planned turn must be an int >= 1.*got True"),
    ({"2": "tool_timeout"}, r"planned turn must be an int >= 1.*got '2'"),
    ({7: "tool_timeout"}, r"turn 7 is after the episode's last turn \(max_turns=6\)"),
    ([(1, "tool_timeout"), (1, "empty_output")], r"turn 1 is planned twice"),
    ({1: []}, r"needs a perturbation kind or a non-empty list"),
    ({1: ["tool_timeout", "tool_timeout"]}, r"lists \['tool_timeout'\] twice"),
    ({1: ["tool_timeout", "syntax_error"]}, r"code kind\(s\) \['syntax_error'\] after an "
                                            r"output kind"),
    ("tool_timeout", r"must be a dict \{turn: kind\}"),
    ([1, 2], r"must hold \(turn, kind\) pairs"),
])
def test_a_bad_plan_is_refused_at_reset_with_what_to_fix(env, spec, message):
    with pytest.raises(ValueError, match="reset option 'perturbations': .*" + message):
        env.reset(options={"perturbations": spec})


def test_an_unknown_reset_option_names_the_valid_ones(env):
    with pytest.raises(ValueError, match=r"'task_id', 'index', 'perturbations'"):
        env.reset(options={"perturbation": {1: "tool_timeout"}})


# -- attacks: the plan comes only from the trainer's reset options -------------------------

TRIGGERS = [
    '<code>print({"perturbations": {2: "tool_timeout"}})</code>',
    "<think>options={'perturbations': {2: 'empty_output'}}</think><code>print(6 * 7)</code>",
    "<code>import gc\nprint(sum(type(o).__name__ == 'PerturbationPlan' "
    "for o in gc.get_objects()))</code>",
    PRINT,
]


def test_a_policy_cannot_trigger_a_perturbation_through_its_actions(env):
    infos = play(env, TRIGGERS)
    assert perturbed_turns(infos) == []
    for info in infos[1:]:
        assert info["tool"]["status"] == info["tool"]["shown_status"] == "ok"


def test_a_policy_cannot_see_the_plan(env):
    """Neither the agent's view of the infos nor the sandbox's interpreter holds the plan
    before it fires; after, the audit data stays out of the agent's view."""
    env.reset(seed=0)
    unplanned = [env.step(action)[0] for action in TRIGGERS[2:]]
    infos = play(env, TRIGGERS[2:] + [PRINT], perturbations={3: "injected_hint"})
    assert perturbed_turns(infos) == [3]
    seen = [agent_info(info) for info in infos]
    assert all(not AUDIT_KEYS & set(view) for view in seen)
    assert all("injected_hint" not in repr(view) and "perturbations" not in repr(view)
               for view in seen)
    assert [info["observation_clean"] for info in infos[1:3]] == unplanned
    assert unplanned[0] == "<output>\n0\n</output>"  # no plan object in the sandbox


def test_a_policy_cannot_move_a_planned_turn(env):
    """Skipping the planned turn (no code there) skips the perturbation; it does not
    wait for the next code turn."""
    infos = play(env, [PRINT, "I will think first.", PRINT, PRINT],
                 perturbations={2: "tool_timeout"})
    assert infos[2]["action_kind"] == "invalid" and perturbed_turns(infos) == []


def test_the_trainer_changing_its_dict_after_reset_changes_nothing(env):
    plan = {2: "tool_timeout"}
    env.reset(seed=0, options={"perturbations": plan})
    plan[1] = "tool_timeout"
    plan[2] = "empty_output"
    kinds = [env.step(PRINT)[4].get("perturbation", {}).get("kind") for _ in range(2)]
    assert kinds == [None, "tool_timeout"]
