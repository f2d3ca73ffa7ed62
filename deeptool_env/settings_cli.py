"""Command lines generated from `Settings` dataclasses (`deeptool-train`, `deeptool-bench run`).

`add_options` gives every field a `--kebab-case` option, grouped under the fields'
sections, with the field's help, what it accepts and its default; `from_args` builds the
settings: defaults < `--config` YAML file < options. Values are read as YAML scalars
(`--report-to '[tensorboard]'`, `--max-invalid-turns null`), text fields stay text.
"""

from __future__ import annotations

import argparse
from dataclasses import fields
from typing import Any, TypeVar

from .settings import Settings, SettingsError, describe, field_kind

S = TypeVar("S", bound=Settings)
USAGE = "%(prog)s [--config FILE] [--OPTION VALUE ...]"


def _help(f: Any, default: Any) -> str:
    kind, optional = field_kind(f.type)
    choices = ", ".join(map(str, f.metadata.get("choices") or ()))
    accepts = describe(kind, optional, f.metadata.get("rule"))
    if choices:
        accepts = f"a list of {choices}" if kind in ("tuple", "list") else f"one of {choices}"
    text = f.metadata.get("help", "")
    return f"{text} [{accepts}; default: {default!r}]".replace("%", "%%").strip()


def add_options(parser: argparse.ArgumentParser, cls: type[Settings],
                skip: tuple[str, ...] = (), *, config_option: bool = True) -> None:
    """`--config FILE` plus one `--field-name VALUE` option per field of `cls` (but `skip`),
    in argument groups named by the fields' sections."""
    if config_option:
        parser.add_argument("--config", metavar="FILE",
                            help=f"YAML file of {cls.__name__} fields (options override it)")
    group: Any = parser
    defaults = cls.defaults()
    for f in fields(cls):  # type: ignore[arg-type]
        if f.metadata.get("section"):
            group = parser.add_argument_group(f.metadata["section"])
        if f.name in skip:
            continue
        group.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name,
                           default=argparse.SUPPRESS, metavar=f.name.upper(),
                           help=_help(f, defaults[f.name]))


def _parse_value(annotation: Any, text: Any) -> Any:
    """A CLI string as the field's value: text fields stay text (`null`/`none` is None when
    the field allows it), others are read as YAML."""
    import yaml

    if not isinstance(text, str):
        return text
    kind, optional = field_kind(annotation)
    if kind == "str":
        return None if optional and text.lower() in ("null", "none") else text
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SettingsError(f"cannot read {text!r} as a value: {exc}") from None


def cli_values(cls: type[Settings], args: argparse.Namespace) -> dict[str, Any]:
    """The fields of `cls` given on the command line, as values."""
    types = {f.name: f.type for f in fields(cls)}  # type: ignore[arg-type]
    return {name: _parse_value(types[name], value)
            for name, value in vars(args).items() if name in types}


def from_args(cls: type[S], args: argparse.Namespace) -> S:
    """The settings of parsed arguments: defaults < `--config` file < options."""
    overrides = cli_values(cls, args)
    if getattr(args, "config", None):
        return cls.from_yaml(args.config, overrides)
    return cls.from_dict(overrides, text=True)


def add_command(commands: Any, name: str, cls: type[Settings], run: Any, *, help: str,
                description: str) -> argparse.ArgumentParser:
    """A subcommand whose options are the fields of `cls`; `run(parser, args)` is called
    with the parsed arguments."""
    parser = commands.add_parser(name, help=help, description=description, usage=USAGE,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_options(parser, cls)
    parser.set_defaults(run=run)
    return parser


def settings_or_exit(parser: argparse.ArgumentParser, cls: type[S],
                     args: argparse.Namespace) -> S:
    """`from_args`, with bad settings (or an unreadable `--config`) reported as a usage
    error (exit status 2)."""
    try:
        return from_args(cls, args)
    except (SettingsError, OSError) as exc:
        parser.error(str(exc))
        raise  # parser.error exits

