"""Which perturbations an environment applies, how often and how hard: presets and specs."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

from ..settings import FRACTION, NON_NEGATIVE, Settings, SettingsError, reject_unknown, setting
from .base import Kind
from .corrupted import CORRUPTED
from .extrinsic import EXTRINSIC
from .intrinsic import INTRINSIC
from .numbers import NUMERIC_MODES

KIND_SPECS: dict[str, Kind] = {kind.name: kind for kind in (*EXTRINSIC, *CORRUPTED, *INTRINSIC)}
KINDS: dict[str, str] = {name: kind.family for name, kind in KIND_SPECS.items()}
FAMILIES: tuple[str, ...] = ("extrinsic", "corrupted", "intrinsic")


def _valid(what: str, names: Any) -> str:
    return f"valid {what}: {', '.join(names)}"


@dataclass(frozen=True)
class PerturbationConfig(Settings):
    """Perturbation settings of one environment (`perturbation=` of `gym.make`)."""

    settings_label = "perturbation option"

    rate: float = setting(0.0, "probability that a code turn is perturbed", rule=FRACTION)
    severity: float = setting(0.5, "how much is changed: size of numeric changes, how many "
                              "numbers/lines, how little output is kept", rule=FRACTION)
    kinds: tuple[str, ...] = setting((), "enabled kind names; each item may be a name or a "
                                     "(name, weight) pair, or pass a dict {name: weight}; "
                                     "empty means every kind of `families`")
    weights: tuple[float, ...] = setting((), "one weight per kind (default 1)")
    families: tuple[str, ...] = setting(
        (), "allowed families; with neither kinds nor families, every extrinsic and "
        "corrupted kind (intrinsic kinds change the code that runs, so they are only used "
        "when asked for by name or family)")
    max_per_episode: int | None = setting(None, "cap on applied perturbations per episode "
                                          "(None: no cap)", rule=NON_NEGATIVE)
    numeric_modes: tuple[str, ...] = setting(NUMERIC_MODES, "modes numeric corruption may use")
    fallback: bool = setting(True, "when the drawn kind cannot apply, try the others in a "
                             "seeded weighted order (False: that turn is not perturbed)")
    name: str = setting("custom", "the preset this config is or was made from")

    def __post_init__(self) -> None:
        kinds, weights = self._split_kinds(self.kinds, self.weights)
        families = (self.families,) if isinstance(self.families, str) else self.families
        modes = (self.numeric_modes,) if isinstance(self.numeric_modes, str) \
            else self.numeric_modes
        object.__setattr__(self, "kinds", kinds)
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "families", tuple(families))
        object.__setattr__(self, "numeric_modes", tuple(modes))
        super().__post_init__()
        self._validate()

    @staticmethod
    def _split_kinds(kinds: Any, weights: Any) -> tuple[tuple[str, ...], tuple[float, ...]]:
        """Names and weights from names, (name, weight) pairs or a {name: weight} dict."""
        if isinstance(kinds, str):
            kinds = (kinds,)
        items = list(kinds.items()) if isinstance(kinds, dict) else list(kinds)
        if any(not isinstance(item, str) for item in items):
            pairs = [(item, 1.0) if isinstance(item, str) else tuple(item) for item in items]
            if weights or any(len(pair) != 2 for pair in pairs):
                raise SettingsError("kinds must be names, (name, weight) pairs or a dict "
                                    "{name: weight}; do not also pass weights")
            return tuple(p[0] for p in pairs), tuple(float(p[1]) for p in pairs)
        names = tuple(items)
        weights = tuple(float(w) for w in weights) if weights else (1.0,) * len(names)
        if len(weights) != len(names):
            raise SettingsError(f"weights has {len(weights)} values for {len(names)} kinds")
        return names, weights

    def _validate(self) -> None:
        for family in self.families:
            if family not in FAMILIES:
                raise SettingsError(f"unknown perturbation family {family!r}; "
                                    f"{_valid('families', FAMILIES)}")
        for kind, weight in zip(self.kinds, self.weights, strict=True):
            if kind not in KINDS:
                raise SettingsError(f"unknown perturbation kind {kind!r}; "
                                    f"{_valid('kinds', KINDS)}")
            if self.families and KINDS[kind] not in self.families:
                raise SettingsError(f"perturbation kind {kind!r} is in family {KINDS[kind]!r}, "
                                    f"which is not in families {list(self.families)}")
            if not (math.isfinite(weight) and weight > 0):
                raise SettingsError(f"weight of {kind!r} must be a positive number, got {weight}")
        if len(set(self.kinds)) != len(self.kinds):
            raise SettingsError(f"perturbation kinds listed twice: {list(self.kinds)}")
        if not self.numeric_modes:
            raise SettingsError(f"numeric_modes is empty; {_valid('modes', NUMERIC_MODES)}")
        for mode in self.numeric_modes:
            if mode not in NUMERIC_MODES:
                raise SettingsError(f"unknown numeric mode {mode!r}; "
                                    f"{_valid('modes', NUMERIC_MODES)}")

    @property
    def enabled(self) -> tuple[tuple[str, float], ...]:
        """(kind, weight) of every kind this config may apply, in a fixed order."""
        if self.kinds:
            return tuple(zip(self.kinds, self.weights, strict=True))
        families = self.families or ("extrinsic", "corrupted")
        return tuple((name, 1.0) for name, family in KINDS.items() if family in families)

    @property
    def active(self) -> bool:
        return self.rate > 0 and self.max_per_episode != 0


_EXTRINSIC = tuple(kind.name for kind in EXTRINSIC)
_CORRUPTED = tuple(kind.name for kind in CORRUPTED)

PRESETS: dict[str, PerturbationConfig] = {
    "none": PerturbationConfig(rate=0.0, name="none"),
    "light": PerturbationConfig(
        rate=0.15, severity=0.3, kinds=(*_EXTRINSIC, ("numeric_corruption", 2.0)),
        families=("extrinsic", "corrupted"), max_per_episode=2,
        numeric_modes=("off_by_k", "digit_swap"), name="light"),
    "adversarial": PerturbationConfig(
        rate=0.4, severity=0.7,
        kinds={name: 2.0 if name == "numeric_corruption" else 1.0
               for name in (*_EXTRINSIC, *_CORRUPTED)},
        families=("extrinsic", "corrupted"), name="adversarial"),
    "intrinsic": PerturbationConfig(
        rate=0.25, severity=0.5, families=("intrinsic",), max_per_episode=1,
        name="intrinsic"),
}


def resolve_perturbation(spec: str | PerturbationConfig | dict[str, Any] | None
                         ) -> PerturbationConfig:
    """A `PerturbationConfig` from a preset name, a config, a dict of its fields (with an
    optional "preset" key to start from) or None (no perturbation)."""
    if spec is None:
        return PRESETS["none"]
    if isinstance(spec, PerturbationConfig):
        return spec
    if isinstance(spec, str):
        name = spec.strip().lower()
        if name not in PRESETS:
            raise SettingsError(f"unknown perturbation preset {spec!r}; "
                                f"{_valid('presets', PRESETS)} (or pass a "
                                "PerturbationConfig or a dict of its fields)")
        return PRESETS[name]
    if isinstance(spec, dict):
        options = dict(spec)
        base = resolve_perturbation(options.pop("preset", "none"))
        reject_unknown(PerturbationConfig.label(), options,
                       ["preset", *(f.name for f in fields(PerturbationConfig))])
        if "kinds" in options and "weights" not in options:
            options["weights"] = ()
        if "families" in options and "kinds" not in options:
            options.update(kinds=(), weights=())
        options.setdefault("name", "custom" if options else base.name)
        return replace(base, **options)
    raise SettingsError(f"perturbation must be a preset name, a PerturbationConfig, a dict or "
                        f"None, got {type(spec).__name__}")
