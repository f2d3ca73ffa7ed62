"""Adversarial perturbations: every kind, the config/presets, and the seeded Perturber."""

from __future__ import annotations

import builtins
import io
import json
import random
import tokenize

import pytest

from deeptool_env.perturbations import (
    KIND_SPECS,
    KINDS,
    NUMERIC_MODES,
    PRESETS,
    Context,
    PerturbationConfig,
    PerturbationEvent,
    Perturber,
    ToolOutput,
    injected_values,
    numbers_in,
    resolve_perturbation,
)
from deeptool_env.perturbations.extrinsic import TRANSIENT_ERRORS
from deeptool_env.perturbations.intrinsic import compiles
from deeptool_env.perturbations.numbers import mutate_number

SAMPLE = ToolOutput("n = 101483\ntotal: 3.14\nratio -7/18\ndone\n", "", "ok")
PREVIOUS = ToolOutput("earlier 55\n", "", "ok")
CODE = ("import sympy\nn = sympy.prime(9718)\nvals = [n % 7, n // 3]\n"
        "for i in range(3):\n    print(i, vals[0] + 2)\nprint('n =', n)\n")
CTX = Context(severity=0.5, code=CODE, cell=2, previous=(1, PREVIOUS))
SEEDS = range(12)


def apply(kind: str, target, seed: int = 0, ctx: Context = CTX):
    return KIND_SPECS[kind].apply(target, random.Random(seed), ctx)


def lines(text: str) -> list[str]:
    return text.splitlines()


def literals(code: str) -> list[str]:
    tokens = tokenize.generate_tokens(io.StringIO(code).readline)
    return [tok.string for tok in tokens if tok.type == tokenize.NUMBER]


# -- numbers -------------------------------------------------------------------------------

def test_numbers_in():
    text = "x = -3, y = 7/18, z = 2.5e-3; x2 log10 5-3 [1, 22] <cell-4> 12th 0.5"
    assert numbers_in(text) == ["-3", "7/18", "2.5e-3", "5", "3", "1", "22", "4", "0.5"]
    assert numbers_in("no digits") == []


@pytest.mark.parametrize("mode", NUMERIC_MODES)
def test_mutate_number_changes_the_value(mode):
    for token in ["7", "101483", "-3.14", "7/18", "1.5e-10", "250"]:
        for seed in SEEDS:
            new = mutate_number(token, mode, random.Random(seed), 0.5)
            if new is not None:
                assert new != token and numbers_in(new) == [new]
    assert mutate_number("0", "sign_flip", random.Random(0)) is None
    assert mutate_number("0", "wrong_magnitude", random.Random(0)) is None
    assert mutate_number("7", "digit_swap", random.Random(0)) is None
    assert mutate_number("12", "digit_swap", random.Random(0)) == "21"
    assert mutate_number("12", "sign_flip", random.Random(0), allow_negative=False) is None


# -- extrinsic kinds -----------------------------------------------------------------------

def test_tool_timeout():
    for seed in SEEDS:
        shown, params = apply("tool_timeout", SAMPLE, seed)
        assert shown.status == "timeout" and "TimeoutError" in shown.stderr
        assert "10 s" in shown.stderr and params["timeout_s"] == 10.0
        assert lines(shown.stdout) == lines(SAMPLE.stdout)[:params["kept_lines"]]
    assert apply("tool_timeout", ToolOutput("", "x", "timeout")) is None


def test_transient_error():
    shown, params = apply("transient_error", SAMPLE)
    assert shown.status == "sandbox_error" and shown.stdout == ""
    assert shown.stderr == TRANSIENT_ERRORS[params["message_index"]]
    assert apply("transient_error", ToolOutput("", "boom", "sandbox_error")) is None


def test_truncated_output():
    markers = set()
    for seed in SEEDS:
        shown, params = apply("truncated_output", SAMPLE, seed)
        kept = SAMPLE.stdout[:params["kept_chars"]].rstrip("\n")
        assert shown.stdout.startswith(kept) and len(kept) < len(SAMPLE.stdout.strip())
        assert shown.stdout[len(kept):].strip() == (
            f"...[{params['total_chars'] - params['kept_chars']} characters omitted]..."
            if params["marker"] else "")
        markers.add(params["marker"])
    assert markers == {True, False}
    for stdout in ("", "7\n"):
        assert apply("truncated_output", ToolOutput(stdout, "", "ok")) is None


def test_empty_output():
    shown, params = apply("empty_output", SAMPLE)
    assert shown == ToolOutput("", "", "ok") and params["dropped_chars"] == len(SAMPLE.stdout)
    assert apply("empty_output", ToolOutput("", "", "ok")) is None
    assert apply("empty_output", ToolOutput("1\n", "Traceback", "error")) is None


def test_stale_output_kind():
    shown, params = apply("stale_output", SAMPLE)
    assert shown == PREVIOUS and params == {"stale_from_turn": 1}
    assert apply("stale_output", SAMPLE, ctx=Context(previous=None)) is None
    assert apply("stale_output", SAMPLE, ctx=Context(previous=(1, SAMPLE))) is None


def test_duplicated_lines():
    for seed in SEEDS:
        shown, params = apply("duplicated_lines", SAMPLE, seed)
        original, doubled = lines(SAMPLE.stdout), lines(shown.stdout)
        assert len(doubled) == len(original) + len(params["lines"]) >= len(original) + 1
        expected = [x for i, line in enumerate(original)
                    for x in ([line, line] if i in params["lines"] else [line])]
        assert doubled == expected
    assert apply("duplicated_lines", ToolOutput("\n", "", "ok")) is None


def test_reordered_lines():
    for seed in SEEDS:
        shown, params = apply("reordered_lines", SAMPLE, seed)
        original = lines(SAMPLE.stdout)
        assert lines(shown.stdout) == [original[k] for k in params["order"]] != original
        assert sorted(params["order"]) == list(range(len(original)))
    assert apply("reordered_lines", ToolOutput("a\na\n", "", "ok")) is None
    assert apply("reordered_lines", ToolOutput("a\n", "", "ok")) is None


# -- corrupted kinds -----------------------------------------------------------------------

@pytest.mark.parametrize("mode", NUMERIC_MODES)
def test_numeric_corruption_changes_numbers(mode):
    ctx = Context(severity=0.5, numeric_modes=(mode,))
    before = numbers_in(SAMPLE.stdout)
    for seed in SEEDS:
        shown, params = apply("numeric_corruption", SAMPLE, seed, ctx)
        after = numbers_in(shown.stdout)
        assert params["mode"] == mode and params["changes"]
        changed = {c["index"]: c for c in params["changes"]}
        assert len(after) == len(before)
        for i, (old, new) in enumerate(zip(before, after, strict=True)):
            if i in changed:
                assert (changed[i]["old"], changed[i]["new"]) == (old, new) and old != new
            else:
                assert old == new
    assert apply("numeric_corruption", ToolOutput("no numbers here\n", "", "ok")) is None


def test_numeric_corruption_severity_changes_more():
    many = ToolOutput(" ".join(str(n) for n in range(11, 40)) + "\n", "", "ok")
    low = apply("numeric_corruption", many, ctx=Context(severity=0.0))[1]
    high = apply("numeric_corruption", many, ctx=Context(severity=1.0))[1]
    assert len(low["changes"]) == 1 and len(high["changes"]) == 3


def test_fake_traceback():
    code_lines = CODE.splitlines()
    for seed in SEEDS:
        shown, params = apply("fake_traceback", SAMPLE, seed)
        assert shown.status == "error"
        tb = shown.stderr.splitlines()
        assert tb[0] == "Traceback (most recent call last):"
        assert tb[1] == f'  File "<cell-2>", line {params["line"]}, in <module>'
        assert tb[2].strip() == code_lines[params["line"] - 1].strip()
        assert tb[-1] == f"{params['exception']}: {params['message']}"
        assert issubclass(getattr(builtins, params["exception"]), BaseException)
        assert lines(shown.stdout) == lines(SAMPLE.stdout)[:params["kept_lines"]]
    no_code = apply("fake_traceback", SAMPLE, ctx=Context())[0]
    assert no_code.stderr.startswith("Traceback") and no_code.status == "error"
    assert apply("fake_traceback", ToolOutput("", "Traceback ...", "error")) is None


def test_injected_hint():
    clean = set(numbers_in(SAMPLE.stdout))
    for seed in SEEDS:
        shown, params = apply("injected_hint", SAMPLE, seed)
        assert params["text"] in lines(shown.stdout) and params["value"] in params["text"]
        assert params["value"] not in clean
        assert lines(shown.stdout)[params["line"]] == params["text"]
    shown, params = apply("injected_hint", ToolOutput("", "", "ok"))
    assert shown.stdout.strip() == params["text"] and params["derived_from"] is None


# -- intrinsic kinds -----------------------------------------------------------------------

@pytest.mark.parametrize("code", [CODE, "x = 2**61 - 1\nprint(x % 97)",
                                  "def f(n):\n    return n * (n + 1) // 2\nf(10)", "42"])
def test_syntax_error_breaks_compile(code):
    for seed in SEEDS:
        new_code, params = apply("syntax_error", code, seed)
        assert not compiles(new_code) and compiles(code)
        changed = [i for i, (a, b) in enumerate(zip(code.split("\n"), new_code.split("\n"),
                                                    strict=True)) if a != b]
        assert changed == [params["line"] - 1] and params["injected"] == []
    assert apply("syntax_error", "print((1)") is None


def test_wrong_constant_changes_exactly_one_literal():
    for seed in SEEDS:
        new_code, params = apply("wrong_constant", CODE, seed)
        before, after = literals(CODE), literals(new_code)
        diffs = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
        assert diffs == [(params["old"], params["new"])] and compiles(new_code)
        assert params["new"].isdigit() and params["injected"] == [params["new"]]
    assert apply("wrong_constant", "print(x)\ns = 'abc 12'  # 34") is None


# -- config --------------------------------------------------------------------------------

def test_kinds_and_families():
    assert set(KINDS.values()) == {"extrinsic", "corrupted", "intrinsic"}
    assert len(KINDS) == 12 and KINDS["stale_output"] == "extrinsic"
    assert {k for k, f in KINDS.items() if f == "intrinsic"} == {"syntax_error", "wrong_constant"}


def test_presets_resolve():
    assert set(PRESETS) == {"none", "light", "adversarial", "intrinsic"}
    assert resolve_perturbation(None) is PRESETS["none"] and not PRESETS["none"].active
    assert resolve_perturbation(" Light ") is PRESETS["light"]
    assert 0.1 <= PRESETS["light"].rate <= 0.2 and PRESETS["adversarial"].rate >= 0.35
    adversarial = {kind for kind, _ in PRESETS["adversarial"].enabled}
    assert adversarial == {k for k, f in KINDS.items() if f != "intrinsic"}
    assert {KINDS[k] for k, _ in PRESETS["intrinsic"].enabled} == {"intrinsic"}
    assert {KINDS[k] for k, _ in PRESETS["light"].enabled} == {"extrinsic", "corrupted"}
    custom = resolve_perturbation({"preset": "light", "rate": 0.5})
    assert custom.rate == 0.5 and custom.kinds == PRESETS["light"].kinds
    weighted = resolve_perturbation({"rate": 1, "kinds": {"empty_output": 3, "tool_timeout": 1}})
    assert weighted.enabled == (("empty_output", 3.0), ("tool_timeout", 1.0))
    pairs = PerturbationConfig(rate=1, kinds=["empty_output", ("tool_timeout", 2)])
    assert pairs.weights == (1.0, 2.0)
    config = PRESETS["adversarial"]
    assert resolve_perturbation(config) is config and json.dumps(config.to_dict())
    default = {kind for kind, _ in resolve_perturbation({"rate": 1.0}).enabled}
    assert default == adversarial


@pytest.mark.parametrize("spec, message", [
    ("heavy", "valid presets: none, light, adversarial, intrinsic"),
    ({"kinds": ["numeric_corrupt"]}, "valid kinds: tool_timeout"),
    ({"families": ["bogus"]}, "valid families: extrinsic, corrupted, intrinsic"),
    ({"rate": 1.5}, "rate must be a number in [0, 1]"),
    ({"severity": -0.1}, "severity must be a number in [0, 1]"),
    ({"rat": 0.1}, "valid options: preset, rate"),
    ({"kinds": ["syntax_error"], "families": ["extrinsic"]}, "not in families"),
    ({"kinds": ["empty_output"], "weights": [1, 2]}, "weights has 2 values for 1 kinds"),
    ({"kinds": {"empty_output": 0}}, "must be a positive number"),
    ({"numeric_modes": ["off_by_two"]}, "valid modes: off_by_k"),
    ({"max_per_episode": -1}, "max_per_episode"),
])
def test_bad_specs_raise_helpfully(spec, message):
    with pytest.raises(ValueError) as error:
        resolve_perturbation(spec)
    assert message in str(error.value)


def test_bad_spec_type():
    with pytest.raises(TypeError, match="preset name"):
        resolve_perturbation(3)  # type: ignore[arg-type]


# -- Perturber -----------------------------------------------------------------------------

def fake_run(code: str, turn: int) -> ToolOutput:
    """A deterministic stand-in for the sandbox."""
    return ToolOutput(f"step {turn}: {turn * 37}\nvalue = {turn ** 3 + len(code)}\nok\n", "",
                      "ok")


def episode(perturber: Perturber, seed: int, turns: int = 10) -> list:
    perturber.reset(seed)
    log = []
    for turn in range(1, turns + 1):
        code, event1 = perturber.before_run(f"x = {turn} * 3\nprint(x + 1)", turn)
        shown, event2 = perturber.after_run(fake_run(code, turn), turn)
        assert event1 is None or event2 is None
        event = event1 or event2
        log.append((code, shown, None if event is None else json.dumps(event.to_dict())))
    return log


ALL = PerturbationConfig(rate=0.6, severity=0.6, families=("extrinsic", "corrupted", "intrinsic"))


def test_same_seed_same_events_different_seeds_differ():
    a, b = Perturber(ALL), Perturber(ALL)
    assert episode(a, 7) == episode(b, 7) == episode(a, 7)
    runs = [episode(a, seed) for seed in range(6)]
    assert len({json.dumps([entry[2] for entry in run]) for run in runs}) == 6
    assert sum(entry[2] is not None for run in runs for entry in run) > 10


def test_rate_zero_never_and_rate_one_always():
    never = Perturber(PerturbationConfig(rate=0.0))
    for seed in range(5):
        assert all(event is None for _, _, event in episode(never, seed))
    for preset in ("adversarial", "intrinsic"):
        config = resolve_perturbation({"preset": preset, "rate": 1.0, "max_per_episode": None})
        always = Perturber(config)
        for seed in range(5):
            assert all(event is not None for _, _, event in episode(always, seed))


def test_max_per_episode_and_no_fallback():
    capped = Perturber(PerturbationConfig(rate=1.0, kinds=("empty_output",), max_per_episode=2))
    assert sum(event is not None for _, _, event in episode(capped, 0)) == 2
    strict = Perturber(PerturbationConfig(rate=1.0, kinds=("numeric_corruption",
                                                          "transient_error"), fallback=False))
    strict.reset(0)
    events = [strict.after_run(ToolOutput("no digits\n", "", "ok"), turn)[1]
              for turn in range(1, 11)]
    assert {e.kind for e in events if e} == {"transient_error"} and None in events


def test_weights_are_respected():
    config = PerturbationConfig(rate=1.0, kinds={"empty_output": 9, "duplicated_lines": 1},
                                fallback=False)
    perturber = Perturber(config)
    perturber.reset(3)
    kinds = [perturber.after_run(SAMPLE, turn)[1].kind for turn in range(1, 201)]
    assert 150 < kinds.count("empty_output") < 200


def test_stale_output_delivers_previous_then_withheld():
    perturber = Perturber(PerturbationConfig(rate=1.0, kinds=("stale_output",)))
    perturber.reset(0)
    outs = [ToolOutput(f"result {t}\n", "", "ok") for t in range(5)]
    shown1, event1 = perturber.after_run(outs[1], 1)
    assert shown1 == outs[1] and event1 is None
    shown2, event2 = perturber.after_run(outs[2], 2)
    assert shown2 == outs[1] and event2.kind == "stale_output"
    assert event2.params["stale_from_turn"] == 1 and event2.params["phase"] == "show"
    assert injected_values(event2) == set()
    shown3, event3 = perturber.after_run(outs[3], 3)
    assert shown3.stdout == "result 2\nresult 3\n" and event3.params["phase"] == "deliver"
    assert event3.params["withheld_turn"] == 2 and injected_values(event3) == set()
    shown4, event4 = perturber.after_run(outs[4], 4)
    assert shown4 == shown3 and event4.params["stale_from_turn"] == 3
    assert injected_values(event4) == set()


def test_stale_replay_of_a_corrupted_output_keeps_its_injected_values():
    config = PerturbationConfig(rate=1.0, kinds=("numeric_corruption", "stale_output"),
                                fallback=False)
    perturber = Perturber(config)
    outs = [ToolOutput(f"result {t}: {t * 1000 + 7}\n", "", "ok") for t in range(3)]
    for seed in range(50):
        perturber.reset(seed)
        shown1, first = perturber.after_run(outs[1], 1)
        shown2, second = perturber.after_run(outs[2], 2)
        kinds = (first and first.kind, second and second.kind)
        if kinds == ("numeric_corruption", "stale_output"):
            break
    else:
        pytest.fail("no seed in 0..49 gives numeric corruption then stale output")
    assert shown2 == shown1 != outs[1] and second.params["stale_from_turn"] == 1
    assert injected_values(second) == injected_values(first) != set()


def test_perturber_numeric_corruption_and_injected_values():
    perturber = Perturber({"rate": 1.0, "kinds": ["numeric_corruption"]})
    perturber.reset(5)
    shown, event = perturber.after_run(SAMPLE, 1)
    assert shown != SAMPLE and event.family == "corrupted" and event.params["turn"] == 1
    new = {c["new"] for c in event.params["changes"]}
    assert injected_values(event) == new - set(numbers_in(SAMPLE.stdout))
    assert injected_values(event.to_dict()) == injected_values(event)
    assert all(c["old"] in numbers_in(SAMPLE.stdout) for c in event.params["changes"])
    assert injected_values(None) == set()


def test_injected_values_of_hint_and_constant():
    hint = Perturber({"rate": 1.0, "kinds": ["injected_hint"]})
    hint.reset(1)
    event = hint.after_run(SAMPLE, 1)[1]
    assert injected_values(event) == {event.params["value"]}
    constant = Perturber({"preset": "intrinsic", "rate": 1.0, "kinds": ["wrong_constant"]})
    constant.reset(1)
    code, event = constant.before_run(CODE, 1)
    assert code != CODE and injected_values(event) == {event.params["new"]}
    assert constant.after_run(SAMPLE, 1) == (SAMPLE, None)


def test_perturber_needs_reset_and_reset_replays():
    with pytest.raises(RuntimeError, match="reset"):
        Perturber("adversarial").after_run(SAMPLE, 1)
    perturber = Perturber("adversarial")
    perturber.reset(None)
    assert isinstance(perturber.seed, int)
    first = episode(perturber, perturber.seed)
    assert episode(perturber, perturber.seed) == first
    assert all(isinstance(e, PerturbationEvent) for e in perturber.events)
