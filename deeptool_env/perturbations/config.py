"""Which perturbations an environment applies, how often and how hard: presets and specs."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

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
class PerturbationConfig:
    """Perturbation settings of one environment.

    rate: probability (0..1) that a code turn is perturbed. severity (0..1): how much is
    changed (size of numeric changes, how many numbers/lines, how little output is kept).
    kinds: enabled kind names; each item may be a name or a (name, weight) pair, or pass a
    dict {name: weight}; empty means every kind of `families`. weights: one per kind
    (default 1). families: allowed families; with neither kinds nor families, every
    extrinsic and corrupted kind (intrinsic kinds change the code that runs, so they are
    only used when asked for by name or family). max_per_episode: cap on applied
    perturbations per episode (None: no cap). numeric_modes: modes numeric corruption may
    use. fallback: when the drawn kind cannot apply, try the others in a seeded weighted
    order (False: that turn is not perturbed).
    """

    rate: float = 0.0
    severity: float = 0.5
    kinds: tuple[str, ...] = ()
    weights: tuple[float, ...] = ()
    families: tuple[str, ...] = ()
    max_per_episode: int | None = None
    numeric_modes: tuple[str, ...] = NUMERIC_MODES
    fallback: bool = True
    name: str = "custom"

    def __post_init__(self) -> None:
        kinds, weights = self._split_kinds(self.kinds, self.weights)
        families = (self.families,) if isinstance(self.families, str) else self.families
        modes = (self.numeric_modes,) if isinstance(self.numeric_modes, str) \
            else self.numeric_modes
        object.__setattr__(self, "kinds", kinds)
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "families", tuple(families))
        object.__setattr__(self, "numeric_modes", tuple(modes))
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
                raise ValueError("kinds must be names, (name, weight) pairs or a dict "
                                 "{name: weight}; do not also pass weights")
            return tuple(p[0] for p in pairs), tuple(float(p[1]) for p in pairs)
        names = tuple(items)
        weights = tuple(float(w) for w in weights) if weights else (1.0,) * len(names)
        if len(weights) != len(names):
            raise ValueError(f"weights has {len(weights)} values for {len(names)} kinds")
        return names, weights

    def _validate(self) -> None:
        for label, value in (("rate", self.rate), ("severity", self.severity)):
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not 0.0 <= value <= 1.0:
                raise ValueError(f"perturbation {label} must be a number in [0, 1], "
                                 f"got {value!r}")
        for family in self.families:
            if family not in FAMILIES:
                raise ValueError(f"unknown perturbation family {family!r}; "
                                 f"{_valid('families', FAMILIES)}")
        for kind, weight in zip(self.kinds, self.weights, strict=True):
            if kind not in KINDS:
                raise ValueError(f"unknown perturbation kind {kind!r}; {_valid('kinds', KINDS)}")
            if self.families and KINDS[kind] not in self.families:
                raise ValueError(f"perturbation kind {kind!r} is in family {KINDS[kind]!r}, "
                                 f"which is not in families {list(self.families)}")
            if not (math.isfinite(weight) and weight > 0):
                raise ValueError(f"weight of {kind!r} must be a positive number, got {weight}")
        if len(set(self.kinds)) != len(self.kinds):
            raise ValueError(f"perturbation kinds listed twice: {list(self.kinds)}")
        if self.max_per_episode is not None and (
                isinstance(self.max_per_episode, bool)
                or not isinstance(self.max_per_episode, int) or self.max_per_episode < 0):
            raise ValueError(f"max_per_episode must be None or an int >= 0, got "
                             f"{self.max_per_episode!r}")
        if not self.numeric_modes:
            raise ValueError(f"numeric_modes is empty; {_valid('modes', NUMERIC_MODES)}")
        for mode in self.numeric_modes:
            if mode not in NUMERIC_MODES:
                raise ValueError(f"unknown numeric mode {mode!r}; "
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
            raise ValueError(f"unknown perturbation preset {spec!r}; {_valid('presets', PRESETS)} "
                             "(or pass a PerturbationConfig or a dict of its fields)")
        return PRESETS[name]
    if isinstance(spec, dict):
        options = dict(spec)
        base = resolve_perturbation(options.pop("preset", "none"))
        names = [f.name for f in fields(PerturbationConfig)]
        unknown = sorted(set(options) - set(names))
        if unknown:
            raise ValueError(f"unknown perturbation option(s) {unknown}; "
                             f"{_valid('options', ['preset', *names])}")
        if "kinds" in options and "weights" not in options:
            options["weights"] = ()
        if "families" in options and "kinds" not in options:
            options.update(kinds=(), weights=())
        options.setdefault("name", "custom" if options else base.name)
        return replace(base, **options)
    raise TypeError(f"perturbation must be a preset name, a PerturbationConfig, a dict or "
                    f"None, got {type(spec).__name__}")
