"""One way to configure: typed settings dataclasses whose fields carry their own help.

Every config of the project (the env's `EnvConfig`, `SandboxConfig`, `PerturbationConfig`,
the trainers', the harness's `RunConfig`, the leaderboard's `ServerConfig`) is a dataclass
that subclasses `Settings` and declares each field with `setting(default, help, ...)`:

    max_turns: int = setting(8, "assistant turns per episode", rule=POSITIVE)

From those declarations alone a config is built from a dict (`from_dict`, what
`gym.make(**kwargs)` uses), a YAML file (`from_yaml`) or the command line
(`deeptool_env.settings_cli`), and checked the same way wherever it comes from: unknown keys
are named with the closest valid one, values are checked against the field's type (ints are
widened to floats, numpy integers accepted, booleans never taken for numbers, a comma string
is a tuple), its `choices` and its `rule`. Text sources (YAML, the command line) also turn
numeric text into numbers, since YAML 1.1 reads `1e-5` as a string.

Every bad setting raises `SettingsError`.
"""

from __future__ import annotations

import difflib
import math
import numbers
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from typing import Any, TypeVar

S = TypeVar("S", bound="Settings")


class SettingsError(ValueError, TypeError):
    """A bad setting (unknown key, wrong type, value out of range); the message names it and
    what it accepts. A `ValueError`, and a `TypeError` for the callers of the configs that
    used to raise one."""


@dataclass(frozen=True)
class Rule:
    """A condition on a field's value; `what` completes "must be a number ..." (or reads
    "positive", giving "a positive integer"/"a positive number")."""

    ok: Callable[[Any], bool]
    what: str


POSITIVE = Rule(lambda v: v > 0, "positive")
NON_NEGATIVE = Rule(lambda v: v >= 0, ">= 0")
FRACTION = Rule(lambda v: 0 <= v <= 1, "in [0, 1]")
BELOW_ONE = Rule(lambda v: 0 <= v < 1, "in [0, 1)")
PROBABILITY_MASS = Rule(lambda v: 0 < v <= 1, "in (0, 1]")
NOT_BLANK = Rule(lambda v: v.strip() != "", "not blank")


def setting(default: Any = MISSING, help: str = "", *,
            factory: Callable[[], Any] | None = None, rule: Rule | None = None,
            choices: Sequence[Any] | None = None, section: str | None = None) -> Any:
    """A dataclass field with its help text (shown by `--help`), an optional `rule` and
    `choices` (each item of a list field must be one), and `section`: the heading of the
    `--help` group this field and the ones after it belong to."""
    metadata = {"help": help, "rule": rule, "choices": tuple(choices) if choices else None,
                "section": section}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def like(cls: type, name: str, **changes: Any) -> Any:
    """A field declared as `cls`'s field `name` (same default, help and checks) but for
    `changes`, for a config that forwards that option (e.g. the harness's `max_turns` to
    the env) or shares it with another default (each trainer's `output_dir`)."""
    source = next(f for f in fields(cls) if f.name == name)
    options = {"help": source.metadata.get("help", ""), "rule": source.metadata.get("rule"),
               "choices": source.metadata.get("choices"),
               "section": source.metadata.get("section")}
    if source.default_factory is not MISSING:
        options["factory"] = source.default_factory
    else:
        options["default"] = source.default
    return setting(**{**options, **changes})


def field_docs(cls: type) -> dict[str, str]:
    """Each field's help text (empty when it has none)."""
    return {f.name: f.metadata.get("help", "") for f in fields(cls)}


def field_kind(annotation: Any) -> tuple[str | None, bool]:
    """(`int`, `float`, `bool`, `str`, `tuple`, `list`, `dict` or None when the generic check
    does not apply, whether None is allowed) of a field's annotation."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    parts = [part.strip() for part in text.split("|")]
    optional = "None" in parts
    parts = [part for part in parts if part != "None"]
    head = parts[0].split("[")[0] if len(parts) == 1 else ""
    known = head in ("int", "float", "bool", "str", "tuple", "list", "dict")
    return (head if known else None), optional


_NOUNS = {"int": "integer", "float": "number", "bool": "True or False", "str": "a string",
          "tuple": "a list", "list": "a list", "dict": "a mapping"}


def describe(kind: str | None, optional: bool, rule: Rule | None = None) -> str:
    """What a field accepts, in words: "a positive integer", "a number in [0, 1] or None"."""
    noun = _NOUNS.get(kind or "", "a value")
    if kind in ("int", "float"):
        if rule is not None and rule.what == "positive":
            noun = f"a positive {noun}"
        else:
            noun = ("an " if kind == "int" else "a ") + noun
            noun += f" {rule.what}" if rule is not None else ""
    elif rule is not None:
        noun += f" ({rule.what})"
    return noun + (" or None" if optional else "")


def _converted(kind: str | None, value: Any) -> tuple[bool, Any]:
    """(whether `value` is acceptable for `kind`, the value converted to it)."""
    if kind is None:
        return True, value
    if kind == "float" and isinstance(value, numbers.Real) and not isinstance(value, bool):
        return math.isfinite(value), float(value)
    if kind == "int" and isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return True, int(value)
    if kind == "bool" and isinstance(value, bool):
        return True, value
    if kind == "str" and isinstance(value, str | os.PathLike):
        return True, os.fspath(value)
    if kind == "tuple" and isinstance(value, str):
        return True, tuple(item.strip() for item in value.split(",") if item.strip())
    if kind in ("tuple", "list") and isinstance(value, str | list | tuple):
        items = [value] if isinstance(value, str) else value
        return True, (tuple if kind == "tuple" else list)(items)
    if kind == "dict" and isinstance(value, dict):
        return True, value
    return False, value


def check_field(f: Any, value: Any) -> Any:
    """`value` checked and converted for field `f` (see the module docstring)."""
    kind, optional = field_kind(f.type)
    if value is None and (optional or kind is None):
        return None
    rule, choices = f.metadata.get("rule"), f.metadata.get("choices")
    ok, converted = _converted(kind, value)
    if ok and rule is not None and kind not in ("tuple", "list"):
        try:
            ok = bool(rule.ok(converted))
        except TypeError:
            ok = False
    if not ok:
        raise SettingsError(f"{f.name} must be {describe(kind, optional, rule)}, got {value!r}")
    value = converted
    for item in value if kind in ("tuple", "list") else [value]:
        if choices and item not in choices:
            raise SettingsError(f"{f.name} must be one of {list(choices)}, got {item!r}")
    return value


def reject_unknown(label: str, data: Iterable[str], known: Sequence[str]) -> None:
    """Raise `SettingsError` naming every key of `data` not in `known`, with the closest
    valid one and the list of valid ones."""
    unknown = [key for key in data if key not in known]
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(str(key), list(known), n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise SettingsError(f"unknown {label}(s): {', '.join(hints)}; valid options: "
                            f"{', '.join(known)}")


def number_from_text(kind: str | None, value: Any) -> Any:
    """Numeric text (`"1e-5"`, `"8"`) as the number a `float`/`int` field wants."""
    if not isinstance(value, str) or kind not in ("float", "int"):
        return value
    try:
        number = float(value)
    except ValueError:
        return value
    return int(number) if kind == "int" and number.is_integer() and "." not in value else number


class Settings:
    """Base of a settings dataclass (see the module docstring). A subclass's `__post_init__`
    calls `super().__post_init__()` first, then checks what involves several fields."""

    settings_label = ""  # how unknown keys are named: "unknown <label>(s)"
    settings_error: type[SettingsError] = SettingsError  # what a bad setting raises

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            try:
                value = check_field(f, getattr(self, f.name))
            except SettingsError as error:
                raise self.settings_error(str(error)) from None
            object.__setattr__(self, f.name, value)

    @classmethod
    def label(cls) -> str:
        return cls.settings_label or f"{cls.__name__} key"

    @classmethod
    def from_dict(cls: type[S], data: dict[str, Any], *, text: bool = False) -> S:
        """Build from plain data, naming unknown keys; `text`: the values come from text
        (YAML, the command line), so numeric strings are numbers."""
        if not isinstance(data, dict):
            raise cls.settings_error(f"a {cls.__name__} must be a mapping of fields, got "
                                     f"{type(data).__name__}")
        try:
            reject_unknown(cls.label(), data, [f.name for f in fields(cls)])  # type: ignore[arg-type]
        except SettingsError as error:
            raise cls.settings_error(str(error)) from None
        if text:
            kinds = {f.name: field_kind(f.type)[0] for f in fields(cls)}  # type: ignore[arg-type]
            data = {key: number_from_text(kinds[key], value) for key, value in data.items()}
        return cls(**data)

    @classmethod
    def from_yaml(cls: type[S], path: str | os.PathLike,
                  overrides: dict[str, Any] | None = None) -> S:
        """Load a YAML mapping of fields; `overrides` (e.g. from the CLI) win over it."""
        import yaml

        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
        if not isinstance(data, dict):
            raise SettingsError(f"{path}: a {cls.__name__} file must be a YAML mapping of "
                                "fields")
        return cls.from_dict({**data, **(overrides or {})}, text=True)

    def with_overrides(self: S, **overrides: Any) -> S:
        """A copy with some fields changed (checked again)."""
        reject_unknown(self.label(), overrides, [f.name for f in fields(self)])  # type: ignore[arg-type]
        return replace(self, **overrides)  # type: ignore[type-var]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Every field's default value, for documentation and `--help`."""
        return {f.name: f.default if f.default is not MISSING else f.default_factory()
                for f in fields(cls)}  # type: ignore[arg-type]


def check(name: str, value: Any, ok: Callable[[Any], bool], what: str) -> None:
    """Raise `SettingsError` unless `ok(value)`: for conditions of several fields."""
    if not ok(value):
        raise SettingsError(f"{name} must be {what}, got {value!r}")
