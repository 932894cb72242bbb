"""Settings declared once: name, kind (type and range), default and help, from which the rest is derived.

An estimator's constructor arguments are the fields of a keyword-only dataclass; each field is made by
`declared` from a `Setting`, which holds everything known about it. From that one declaration come

- the constructor's signature and defaults (`dataclasses` writes `__init__`, which stores every argument
  unchanged, as scikit-learn estimators must; `get_params`, `set_params` and `clone` read that signature),
- the validation of every value (`check_settings`, one message style: `"<name> must be <what>; got <value>."`),
- the command line options (`forecast train --help`: the kind parses the text, the help is the setting's),
- the reference pages of the documentation (a table per estimator, generated from `settings_of`),
- the JSON form of a saved model's parameters (`Kind.to_json` / `Kind.from_json`).

A setting shared by several estimators (`horizon`, `freq`) is one `Setting` object that each of them
turns into its own field.

For example:

```python
HORIZON = Setting("horizon", Integer(), 12, "steps forecast after each origin")


@settings_dataclass
class Naive(BaseForecaster):
    horizon: int = declared(HORIZON)
```
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
from collections.abc import Callable, Sequence
from typing import Any

from pipelines.checks import check_choice, check_integer, check_number, number_range

_METADATA_KEY = "setting"


class Kind:
    """What values a setting takes: checks them, parses them from command-line text, describes them in words."""

    #: the command line writes a true/false setting as `--name/--no-name`
    is_flag = False

    def check(self, name: str, value: Any) -> None:
        """Raise `ValueError` (one line, naming the setting) unless `value` is valid."""

    def parse(self, name: str, text: str) -> Any:
        """The value of the command-line text `text` (`ValueError` naming the option when it is not one)."""
        return text

    def describe(self) -> str:
        """The valid values in words (docs and `--help`)."""
        return "any value"

    def metavar(self) -> str:
        """The placeholder of the option's value in `--help`."""
        return "TEXT"

    def to_json(self, value: Any) -> Any:
        """The value as written to a saved model's `params.json`."""
        return value

    def from_json(self, value: Any) -> Any:
        """The value read back from `params.json` (JSON gives lists where the setting holds tuples)."""
        return value

    def show(self, value: Any) -> str:
        """The value as the command line and the docs write it (`None` as `none`)."""
        if value is None:
            return "none"
        if isinstance(value, (tuple, list)):
            return ",".join(str(item) for item in value)
        return str(value)


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _none_text(text: str) -> bool:
    return text.strip().lower() in ("none", "")


@dataclasses.dataclass(frozen=True)
class Integer(Kind):
    """An integer `>= minimum` (NumPy integers too, not booleans), or None where `allow_none`."""

    minimum: int = 1
    allow_none: bool = False
    maximum: int | None = None

    def check(self, name: str, value: Any) -> None:
        try:
            check_integer(name, value, minimum=self.minimum, allow_none=self.allow_none)
            too_large = value is not None and self.maximum is not None and value > self.maximum
        except ValueError:
            if self.maximum is None:
                raise
            too_large = True
        if too_large:
            what = self.describe().replace(" or none", "")
            raise ValueError(f"{name} must be {what}{' or None' if self.allow_none else ''}; got {value!r}.")

    def parse(self, name: str, text: str) -> int | None:
        if self.allow_none and _none_text(text):
            return None
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{_option(name)} must be {self.describe()}; got {text!r}") from None

    def describe(self) -> str:
        what = {1: "a positive integer", 0: "a non-negative integer"}.get(self.minimum, f"an integer >= {self.minimum}")
        if self.maximum is not None:
            what += f" up to {self.maximum:,}"
        return what + (" or none" if self.allow_none else "")

    def metavar(self) -> str:
        return "INTEGER"


@dataclasses.dataclass(frozen=True)
class IntegerOrAuto(Integer):
    """A positive integer, or `"auto"` (chosen from the data)."""

    def check(self, name: str, value: Any) -> None:
        if value != "auto":
            check_integer(name, value, minimum=self.minimum)

    def parse(self, name: str, text: str) -> int | str:
        if text.strip() == "auto":
            return "auto"
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{_option(name)} must be {self.describe()}; got {text!r}") from None

    def describe(self) -> str:
        return "a positive integer or 'auto'"

    def metavar(self) -> str:
        return "INTEGER|auto"


@dataclasses.dataclass(frozen=True)
class Number(Kind):
    """A finite real number in a range (not a boolean, not NaN or infinite), or None where `allow_none`."""

    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True
    allow_none: bool = False

    def check(self, name: str, value: Any) -> None:
        check_number(
            name,
            value,
            low=self.low,
            high=self.high,
            low_inclusive=self.low_inclusive,
            high_inclusive=self.high_inclusive,
            allow_none=self.allow_none,
            finite=True,
        )

    def parse(self, name: str, text: str) -> float | None:
        if self.allow_none and _none_text(text):
            return None
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{_option(name)} must be {self.describe()}; got {text!r}") from None

    def describe(self) -> str:
        what = number_range(self.low, self.high, self.low_inclusive, self.high_inclusive)
        return what + (" or none" if self.allow_none else "")

    def metavar(self) -> str:
        return "FLOAT"


@dataclasses.dataclass(frozen=True)
class Choice(Kind):
    """One of `options` (None may be one of them, written `none` on the command line)."""

    options: tuple[Any, ...] = ()

    def check(self, name: str, value: Any) -> None:
        check_choice(name, value, self.options)

    def parse(self, name: str, text: str) -> Any:
        for option in self.options:
            if (option is None and _none_text(text)) or (
                option is not None and str(option).lower() == text.strip().lower()
            ):
                return option
        raise ValueError(f"{_option(name)} must be one of {self.describe_options()}; got {text!r}")

    def describe_options(self) -> str:
        return ", ".join(self.show(option) for option in self.options)

    def show(self, value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        return super().show(value)

    def describe(self) -> str:
        return f"one of {self.describe_options()}"

    def metavar(self) -> str:
        return "CHOICE"


@dataclasses.dataclass(frozen=True)
class Flag(Kind):
    """True or False."""

    is_flag = True

    def check(self, name: str, value: Any) -> None:
        check_choice(name, value, (True, False))

    def describe(self) -> str:
        return "true or false"

    def show(self, value: Any) -> str:
        return "true" if value else "false"


@dataclasses.dataclass(frozen=True)
class Names(Kind):
    """A sequence of distinct column names (given on the command line as `a,b,c`); stored as a tuple."""

    def check(self, name: str, value: Any) -> None:
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise ValueError(f"{name} must be a sequence of column names; got {value!r}.")
        if not all(isinstance(item, str) and item for item in value):
            raise ValueError(f"{name} must be a sequence of column names (non-empty strings); got {list(value)!r}.")

    def parse(self, name: str, text: str) -> tuple[str, ...]:
        return _split(text)

    def describe(self) -> str:
        return "column names (a,b,c)"

    def metavar(self) -> str:
        return "COLUMNS"

    def to_json(self, value: Any) -> Any:
        return list(value)

    def from_json(self, value: Any) -> Any:
        return tuple(value)

    def show(self, value: Any) -> str:
        return ",".join(value) if value else "none"


def level_percent(q: float) -> str:
    """A level as the percent that names its columns (`y_hat_q10`, `coverage_80`): `100 q` to 10 decimals, without
    trailing zeros (`0.1 -> "10"`, `0.025 -> "2.5"`, `0.1000001 -> "10.00001"`)."""
    return f"{round(100.0 * q, 10):.12g}"


@dataclasses.dataclass(frozen=True)
class Levels(Kind):
    """Distinct quantile levels strictly between 0 and 1 (`0.1,0.9`), or None where `allow_none`."""

    allow_none: bool = True

    def check(self, name: str, value: Any) -> None:
        if value is None and self.allow_none:
            return
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not len(value):
            given = f"a {type(value).__name__} of {value.tolist()!r}" if hasattr(value, "tolist") else repr(value)
            raise ValueError(
                f"{name} must be a non-empty list (or tuple) of levels strictly between 0 and 1 or None; got {given}."
            )
        for level in value:
            check_number(name, level, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
        if len({level_percent(float(level)) for level in value}) != len(value):  # as a forecast column names them
            raise ValueError(f"{name} must not repeat a level (to 10 decimals of a percent); got {list(value)!r}.")

    def parse(self, name: str, text: str) -> tuple[float, ...] | None:
        if self.allow_none and _none_text(text):
            return None
        parts = _split(text)
        try:
            return tuple(float(part) for part in parts)
        except ValueError:
            raise ValueError(f"{_option(name)} must be {self.describe()}; got {text!r}") from None

    def describe(self) -> str:
        return "quantile levels strictly between 0 and 1 (0.1,0.9)" + (" or none" if self.allow_none else "")

    def metavar(self) -> str:
        return "LEVELS"

    def to_json(self, value: Any) -> Any:
        return None if value is None else [float(level) for level in value]

    def from_json(self, value: Any) -> Any:
        return None if value is None else tuple(value)


@dataclasses.dataclass(frozen=True)
class Text(Kind):
    """A non-empty string, or None where `allow_none`."""

    allow_none: bool = False

    def check(self, name: str, value: Any) -> None:
        if value is None and self.allow_none:
            return
        if not isinstance(value, str) or not value:
            raise ValueError(
                f"{name} must be a non-empty string{' or None' if self.allow_none else ''}; got {value!r}."
            )

    def parse(self, name: str, text: str) -> str | None:
        return None if self.allow_none and _none_text(text) else text

    def describe(self) -> str:
        return "text" + (" or none" if self.allow_none else "")


@dataclasses.dataclass(frozen=True)
class Frequency(Kind):
    """A pandas offset alias (`"MS"`, `"D"`, ...), a positive integer step of integer `ds`, or None (inferred)."""

    def check(self, name: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1:
            return
        if isinstance(value, str) and value:
            from pipelines.frequency import parse_frequency  # pandas: loaded only where an alias is given

            try:
                parse_frequency(value)
            except ValueError:
                pass
            else:
                return
        raise ValueError(f"{name} must be {self.describe()}; got {value!r}.")

    def parse(self, name: str, text: str) -> str | int | None:
        if _none_text(text):
            return None
        return int(text) if text.strip().isdigit() else text.strip()

    def describe(self) -> str:
        return "a pandas offset alias (MS, D, W-SUN, h, ...), a positive integer step, or none (inferred)"

    def metavar(self) -> str:
        return "FREQ"


@dataclasses.dataclass(frozen=True)
class Calendar(Kind):
    """`"auto"` (fields chosen from the frequency), None, or a sequence of calendar field names."""

    fields: tuple[str, ...] = ()

    def check(self, name: str, value: Any) -> None:
        if value is None or value == "auto":
            return
        if isinstance(value, str):
            fields = [field.strip() for field in value.split(",") if field.strip()]
            raise ValueError(f"{name} must be {self.describe()}; got the text {value!r}: give a list, {fields!r}.")
        if not isinstance(value, Sequence):
            raise ValueError(f"{name} must be {self.describe()}; got {value!r}.")
        unknown = [field for field in value if field not in self.fields]
        if unknown:
            raise ValueError(f"{name} must be {self.describe()}; got unknown field(s) {unknown}.")

    def parse(self, name: str, text: str) -> tuple[str, ...] | str | None:
        if _none_text(text):
            return None
        return "auto" if text.strip() == "auto" else _split(text)

    def describe(self) -> str:
        return f"'auto', none, or a list of fields among {', '.join(self.fields)}"

    def metavar(self) -> str:
        return "auto|FIELDS"

    def to_json(self, value: Any) -> Any:
        return value if value is None or isinstance(value, str) else list(value)

    def from_json(self, value: Any) -> Any:
        return value if value is None or isinstance(value, str) else tuple(value)


@dataclasses.dataclass(frozen=True)
class Setting:
    """One constructor argument: its name, kind, default and help, declared once.

    `cli=False` keeps a setting off the command line; `option` names its command-line option where the
    setting's own name would be ambiguous there (`Tracking.errors` is `--tracking-errors`).
    """

    name: str
    kind: Kind
    default: Any
    help: str
    cli: bool = True
    option: str | None = None

    @property
    def option_name(self) -> str:
        """The command-line option: `--` and the name with dashes (or `option` where the name would mislead)."""
        return _option(self.option or self.name)

    def parse(self, text: str) -> Any:
        """The value of the option's text (`ValueError` naming the option)."""
        return self.kind.parse(self.option or self.name, text)

    def field(self) -> Any:
        """A keyword-only dataclass field with this setting's default, carrying the setting in its metadata."""
        return dataclasses.field(default=self.default, metadata={_METADATA_KEY: self}, kw_only=True)


def declared(setting: Setting) -> Any:
    """The dataclass field of `setting` (write `name: type = declared(SETTING)` in a settings dataclass)."""
    return setting.field()


def settings_dataclass(cls: type) -> type:
    """Make `cls` a keyword-only dataclass whose `__init__` stores its settings (scikit-learn style).

    `repr` and `eq` stay those of the class (scikit-learn's `BaseEstimator.__repr__`, identity). Settings given by
    position are refused naming the estimator (Python's own message names the dataclass that declared them).
    """
    made = dataclasses.dataclass(kw_only=True, repr=False, eq=False)(cls)
    stores = made.__init__

    @functools.wraps(stores)  # its signature stays the settings' (scikit-learn's get_params reads it)
    def __init__(self, *given, **settings):
        if given:
            named = ", ".join(f"{setting.name}=..." for setting in settings_of(self)[: len(given)])
            raise TypeError(
                f"{type(self).__name__} takes its settings by name, e.g. {type(self).__name__}({named}); got "
                f"{len(given)} positional argument{'s' if len(given) > 1 else ''}"
            )
        stores(self, **settings)

    made.__init__ = __init__
    return made


def settings_of(cls_or_instance: Any) -> list[Setting]:
    """The declared settings of an estimator class (or instance), in declaration order."""
    return [
        field.metadata[_METADATA_KEY]
        for field in dataclasses.fields(cls_or_instance)
        if _METADATA_KEY in field.metadata
    ]


def check_settings(instance: Any, skip: Callable[[Setting], bool] | None = None) -> None:
    """Check every declared setting of `instance` against its kind (`ValueError` naming the first bad one)."""
    for setting in settings_of(instance):
        if skip is None or not skip(setting):
            setting.kind.check(setting.name, getattr(instance, setting.name))


def settings_to_json(instance: Any) -> dict[str, Any]:
    """The declared settings of `instance` in their JSON form (a saved model's `params.json`)."""
    return {setting.name: setting.kind.to_json(getattr(instance, setting.name)) for setting in settings_of(instance)}


def settings_from_json(cls: type, params: dict[str, Any]) -> dict[str, Any]:
    """Constructor arguments of `cls` from their JSON form (unknown names are left to the constructor to refuse)."""
    kinds = {setting.name: setting.kind for setting in settings_of(cls)}
    return {name: kinds[name].from_json(value) if name in kinds else value for name, value in params.items()}


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())
