"""Typed run settings shared by the trainers: one flat dataclass per command, loadable from
YAML and from the command line under the same names.

`Settings` gives a dataclass `from_dict` / `from_yaml` / `with_overrides` / `to_dict` /
`defaults`. Unknown keys are errors that suggest the closest field, because a misspelt
`klcoef: 0.1` that is silently ignored wastes a whole training run. `add_options` and
`from_args` turn the fields into `--kebab-case` options whose values override the
`--config` file, which overrides the defaults.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
from dataclasses import MISSING, asdict, fields, replace
from typing import Any, TypeVar

S = TypeVar("S", bound="Settings")


class Settings:
    """Mixin of a settings dataclass (see the module docstring)."""

    @classmethod
    def from_dict(cls: type[S], data: dict[str, Any]) -> S:
        """Build from plain data, naming unknown keys (with the closest valid one)."""
        reject_unknown(cls, data)
        return cls(**data)

    @classmethod
    def from_yaml(cls: type[S], path: str | os.PathLike,
                  overrides: dict[str, Any] | None = None) -> S:
        """Load a YAML mapping of fields; `overrides` (e.g. from the CLI) win over it."""
        import yaml

        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: a {cls.__name__} file must be a YAML mapping of fields")
        return cls.from_dict({**data, **(overrides or {})})

    def with_overrides(self: S, **overrides: Any) -> S:
        """A copy with some fields changed (validated again)."""
        reject_unknown(type(self), overrides)
        return replace(self, **overrides)  # type: ignore[type-var]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Every field's default value, for documentation and `--help`."""
        return {f.name: f.default if f.default is not MISSING else f.default_factory()
                for f in fields(cls)}  # type: ignore[arg-type]


def reject_unknown(cls: type, data: dict[str, Any]) -> None:
    known = [f.name for f in fields(cls)]
    unknown = [key for key in data if key not in known]
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(str(key), known, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ValueError(f"unknown {cls.__name__} key(s): {', '.join(hints)}")


def to_float(name: str, value: Any) -> float:
    """A float field's value (YAML reads `1e-5` as text); booleans are refused."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got {value!r}")
    try:
        return float(value)
    except ValueError:
        raise TypeError(f"{name} must be a number, got {value!r}") from None


def coerce_floats(settings: Any) -> None:
    """Turn the ints and numeric strings of `float` fields into floats, in place."""
    for f in fields(settings):
        if f.type == "float" and isinstance(getattr(settings, f.name), (int, str)):
            setattr(settings, f.name, to_float(f.name, getattr(settings, f.name)))


def check(name: str, value: Any, ok: Any, what: str, kind: type) -> None:
    """Raise `ValueError` unless `value` is a `kind` (not a bool) for which `ok` holds."""
    valid_type = isinstance(value, kind) or (kind is float and isinstance(value, int))
    if isinstance(value, bool) or not valid_type or not ok(value):
        raise ValueError(f"{name} must be {what}, got {value!r}")


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")


def _parse_value(field_type: str, text: str) -> Any:
    """A CLI string as the field's value: text fields stay text, others are YAML."""
    import yaml

    if field_type.startswith("str") and "list" not in field_type:
        return None if text.lower() in ("null", "none") and "None" in field_type else text
    return yaml.safe_load(text)


def field_docs(cls: type) -> dict[str, str]:
    """Each field's description from the docstrings of the class and its bases, whose
    entries read `name [default]: what it does` (several names may share one entry; a
    subclass's entry wins)."""
    docs: dict[str, str] = {}
    entries: list[str] = []
    text = "\n".join(base.__doc__ or "" for base in reversed(cls.__mro__)
                     if base.__dict__.get("__doc__"))
    for line in text.splitlines():
        indent = len(line) - len(line.lstrip())
        if indent == 8 and re.match(r"\w+ \[", line.lstrip()):
            entries.append(line.strip())
        elif indent > 8 and entries:
            entries[-1] += " " + line.strip()
        elif line.strip():
            entries.append("")
    for entry in entries:
        match = re.match(r"(.*?\])\s*:\s*(.*)$", entry)
        if match:
            for name in re.findall(r"(\w+) \[", match.group(1)):
                docs[name] = match.group(2)
    return docs


def add_options(parser: argparse.ArgumentParser, cls: type[Settings],
                skip: tuple[str, ...] = ()) -> None:
    """`--config FILE` plus one `--field-name VALUE` option per field of `cls`, its help
    taken from the class docstring."""
    parser.add_argument("--config", help=f"YAML file of {cls.__name__} fields")
    defaults, docs = cls.defaults(), field_docs(cls)
    for f in fields(cls):  # type: ignore[arg-type]
        if f.name in skip:
            continue
        what = docs.get(f.name, "").replace("%", "%%")
        parser.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name,
                            default=argparse.SUPPRESS, metavar=f.name.upper(),
                            help=f"{what} ({f.type}; default: {defaults[f.name]!r})")


def from_args(cls: type[S], args: argparse.Namespace) -> S:
    """The settings of parsed arguments: defaults < `--config` file < options."""
    types = {f.name: str(f.type) for f in fields(cls)}  # type: ignore[arg-type]
    overrides = {name: _parse_value(types[name], value)
                 for name, value in vars(args).items() if name in types}
    if getattr(args, "config", None):
        return cls.from_yaml(args.config, overrides)
    return cls.from_dict(overrides)


def add_command(commands: Any, name: str, cls: type[Settings], run: Any, *, help: str,
                description: str) -> argparse.ArgumentParser:
    """A `deeptool-train` subcommand whose options are the fields of `cls`; `run(parser,
    args)` is called with the parsed arguments."""
    parser = commands.add_parser(name, help=help, description=description,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_options(parser, cls)
    parser.set_defaults(run=run)
    return parser


def settings_or_exit(parser: argparse.ArgumentParser, cls: type[S],
                     args: argparse.Namespace) -> S:
    """`from_args`, with invalid settings reported as a usage error (exit status 2)."""
    try:
        return from_args(cls, args)
    except (ValueError, TypeError, OSError) as exc:
        parser.error(str(exc))
        raise  # parser.error exits
