"""The generated reference pages of the documentation: settings, command line and job spec.

Each function returns the Markdown of one page, built from the one place its content is declared, so the pages
cannot drift from the code:

- `settings_reference`: the declared settings of every estimator (`pipelines.settings.settings_of`: name,
  command-line option, kind, default, help);
- `cli_reference`: the `forecast` command and its subcommands, walked from the typer app as click sees it
  (usage, arguments and options with the help `--help` prints);
- `job_spec_reference`: the YAML job spec, walked from the pydantic model `forecast.jobs.spec.JobSpec`
  (its fields, their nested models, types, defaults, constraints and descriptions).

`docs/hooks.py` adds them to the site as virtual files at build time; nothing generated is written into the
source tree. None of them imports TensorFlow, Keras or MLflow.
"""

from __future__ import annotations

import html
import inspect
import re
import types
import typing
from collections.abc import Iterable
from typing import Any

SETTINGS_PAGE = "reference/settings.md"
CLI_PAGE = "reference/cli.md"
JOB_SPEC_PAGE = "reference/job-spec.md"

HELP_OPTION = "--help"


# ------------------------------------------------------------------------------------------------- Markdown


def cell(text: str) -> str:
    """`text` safe inside a Markdown table cell: HTML escaped, pipes and emphasis markers neutralised."""
    escaped = html.escape(" ".join(str(text).split()), quote=False)
    return escaped.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*").replace("`", "\\`")


def code(text: str) -> str:
    """`text` as an inline code span (Markdown tables do not split a row at a pipe inside one)."""
    shown = " ".join(str(text).split())
    fence = "``" if "`" in shown else "`"
    return f"{fence}{shown}{fence}"


def table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def anchor(text: str) -> str:
    """A stable HTML id for a heading (given explicitly with `{#id}`, so links never depend on a slugifier)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def paragraphs(docstring: str | None) -> str:
    """A docstring as Markdown text: dedented, RST double backticks kept (they render as code)."""
    return inspect.cleandoc(docstring) if docstring else ""


# ------------------------------------------------------------------------------------------------- settings


def settings_classes() -> list[tuple[str, type, str, bool]]:
    """(title, class with declared settings, where it is used, whether the command line has its options)."""
    from forecast.baselines import Drift, ExponentialSmoothing, Naive, SeasonalNaive
    from forecast.settings import ForecasterSettings, Tracking
    from pipelines.windows import SeriesWindows

    return [
        (
            "Forecaster",
            ForecasterSettings,
            "`forecast.forecaster.Forecaster(...)`; also the options of `forecast train` and `forecast backtest`.",
            True,
        ),
        (
            "Tracking",
            Tracking,
            "`forecast.settings.Tracking(...)`, the value of a `tracking` setting; on the command line each has "
            "its own option beside `--tracking/--no-tracking`.",
            True,
        ),
        ("SeriesWindows", SeriesWindows, "`pipelines.windows.SeriesWindows(...)`, the windowing pipeline.", False),
        ("Naive", Naive, "`forecast.baselines.Naive(...)`.", False),
        ("SeasonalNaive", SeasonalNaive, "`forecast.baselines.SeasonalNaive(...)`.", False),
        ("Drift", Drift, "`forecast.baselines.Drift(...)`.", False),
        ("ExponentialSmoothing", ExponentialSmoothing, "`forecast.baselines.ExponentialSmoothing(...)`.", False),
    ]


def settings_table(cls: type, on_cli: bool) -> str:
    """One row per declared setting of `cls`: name, (command-line option,) valid values, default, help."""
    from pipelines.settings import settings_of

    rows = []
    for setting in settings_of(cls):
        option = [code(setting.option_name) if setting.cli else "(Python only)"] if on_cli else []
        values = [cell(setting.kind.describe()), code(setting.kind.show(setting.default)), cell(setting.help)]
        rows.append([code(setting.name), *option, *values])
    header = ["setting", *(["option"] if on_cli else []), "values", "default", "help"]
    return table(header, rows)


def settings_reference() -> str:
    """The settings reference page: a table per estimator, generated from the declarations."""
    parts = [
        "# Settings reference",
        "",
        "Every constructor argument of the estimators below is keyword-only and declared once "
        "(`pipelines.settings.Setting`: name, kind, default, help). This page, the validation of every value and "
        "the options of `forecast train --help` are generated from those declarations. "
        "The *option* column is the command-line spelling (`forecast train`, `forecast backtest`); "
        "a true/false setting is written `--name/--no-name` there, and `none` stands for `None`.",
        "",
        "The defaults were chosen on validation splits of data nobody tuned them for: see "
        "[how the defaults were chosen](../benchmarks/validation.md).",
        "",
    ]
    for title, cls, where, on_cli in settings_classes():
        parts += [f"## {title} {{#{anchor(title)}}}", "", where, "", settings_table(cls, on_cli), ""]
    return "\n".join(parts)


# ------------------------------------------------------------------------------------------------- command line


def cli_reference() -> str:
    """The command-line reference page: every command of `forecast`, walked from the typer app."""
    import typer

    from forecast.cli import app

    root = typer.main.get_command(app)
    context = root.context_class(root, info_name="forecast")
    parts = [
        "# Command-line reference",
        "",
        "Generated from the `forecast` command itself (the typer app in `forecast/cli.py`): the same usage, "
        "arguments and options as `--help` prints. Every command also takes `--help`. "
        "The options of `train` and `backtest` that configure the Forecaster come from the "
        "[settings declarations](settings.md).",
        "",
    ]
    parts += _command_sections(root, context, level=2)
    return "\n".join(parts)


def _command_sections(command: Any, context: Any, level: int) -> list[str]:
    """A section for `command` and, for a group, one for each subcommand (typer's click is its own copy, so
    commands and parameters are told apart by what they have, not by click's classes)."""
    path = context.command_path
    parts = [f"{'#' * level} `{path}` {{#{anchor(path)}}}", ""]
    help_text = paragraphs(command.help)
    if help_text:
        parts += [help_text, ""]
    usage = " ".join([path, *command.collect_usage_pieces(context)])
    parts += ["```text", usage, "```", ""]
    arguments, options = [], []
    for parameter in command.get_params(context):
        record = parameter.get_help_record(context)
        if record is None or HELP_OPTION in getattr(parameter, "opts", ()):
            continue
        name, description = record
        kind = arguments if parameter.param_type_name == "argument" else options
        kind.append([code(name), cell(description)])
    if arguments:
        parts += [table(["argument", "description"], arguments), ""]
    if options:
        parts += [table(["option", "description"], options), ""]
    if hasattr(command, "list_commands"):
        names = command.list_commands(context)
        if names:
            parts += ["Commands: " + ", ".join(f"[`{name}`](#{anchor(f'{path} {name}')})" for name in names), ""]
        for name in names:
            sub = command.get_command(context, name)
            parts += _command_sections(sub, sub.context_class(sub, parent=context, info_name=name), level + 1)
    return parts


# ------------------------------------------------------------------------------------------------- job spec


def job_spec_reference() -> str:
    """The job spec reference page: every key of the YAML spec, walked from `JobSpec`'s fields."""
    from forecast.jobs.spec import JobSpec

    parts = [
        "# Job spec reference",
        "",
        "Generated from the validated model of a job spec (`forecast.jobs.spec.JobSpec`, pydantic): every key, "
        "its type, default, constraints and meaning. Unknown keys are errors. Any string may reference an "
        "environment variable as `${NAME}`, substituted at each run. See [scheduled jobs](../user-guide/jobs.md) "
        "for how a job runs.",
        "",
    ]
    parts += _model_sections(JobSpec, "(top level)", level=2, seen=set())
    return "\n".join(parts)


def _is_generic_doc(doc: str) -> bool:
    """pydantic's and BaseModel's own docstrings say nothing about a spec section."""
    return doc.startswith(("Usage docs:", "A base class for creating Pydantic models"))


def _model_sections(model: type, path: str, level: int, seen: set[type]) -> list[str]:
    """A section for `model` (at `path` in the YAML), then one for each nested model of its fields."""
    seen = seen | {model}
    title = path if path == "(top level)" else f"`{path}`"
    parts = [f"{'#' * min(level, 6)} {title} {{#{anchor(path if path != '(top level)' else 'top-level')}}}", ""]
    doc = paragraphs(model.__doc__)
    if doc and not _is_generic_doc(doc):
        parts += [doc, ""]
    rows, nested = [], []
    for name, field in _fields(model):
        key = name if path == "(top level)" else f"{path}.{name}"
        inner = [each for each in _models_in(field.annotation) if each not in seen]
        nested += [(key, each) for each in inner]
        rows.append(
            [
                code(field.alias or name),
                _type_name(field.annotation, key),
                _default_cell(field),
                _constraints(field),
                cell(field.description or ""),
            ]
        )
    if rows:
        parts += [table(["key", "type", "default", "constraints", "meaning"], rows), ""]
    for key, inner in nested:
        parts += _model_sections(inner, key, level + 1, seen)
    return parts


def _fields(model: type) -> list[tuple[str, Any]]:
    fields = getattr(model, "model_fields", None)
    return list(fields.items()) if isinstance(fields, dict) else []


def _is_model(annotation: Any) -> bool:
    return inspect.isclass(annotation) and isinstance(getattr(annotation, "model_fields", None), dict)


def _arguments(annotation: Any) -> tuple[Any, ...]:
    return typing.get_args(annotation)


def _models_in(annotation: Any) -> list[type]:
    """The pydantic models an annotation holds (`X`, `X | None`, `list[X]`, `dict[str, X]`, ...)."""
    if _is_model(annotation):
        return [annotation]
    found: list[type] = []
    for argument in _arguments(annotation):
        found += [model for model in _models_in(argument) if model not in found]
    return found


def _type_name(annotation: Any, key: str) -> str:
    """An annotation in YAML words: a nested section links to its own section."""
    if annotation is type(None) or annotation is None:
        return "null"
    if _is_model(annotation):
        return f"[section](#{anchor(key)})"
    origin = typing.get_origin(annotation)
    arguments = _arguments(annotation)
    if origin is typing.Literal:
        return " \\| ".join(code(repr(value).replace("'", '"')) for value in arguments)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(argument, key) for argument in arguments)
    if origin is typing.Annotated:
        return _type_name(arguments[0], key)
    if origin in (list, tuple, set, frozenset) or (origin is not None and _named(origin) == "Sequence"):
        items = [argument for argument in arguments if argument is not Ellipsis]
        return "list of " + (_type_name(items[0], key) if items else "values")
    if origin is dict or (origin is not None and _named(origin) == "Mapping"):
        return "mapping of " + (" to ".join(_type_name(argument, key) for argument in arguments) or "values")
    return {"str": "text", "int": "integer", "float": "number", "bool": "true/false"}.get(
        _named(annotation), code(_named(annotation))
    )


def _named(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def _default_cell(field: Any) -> str:
    if field.is_required():
        return "**required**"
    if field.default_factory is not None:
        try:
            value = field.default_factory()
        except TypeError:  # a factory that takes the validated data: its value is not known in advance
            return "computed"
    else:
        value = field.default
    if _is_model(type(value)):
        return "see section"
    if value is None:
        return code("null")
    if isinstance(value, bool):
        return code("true" if value else "false")
    if isinstance(value, (dict, list, tuple)) and not value:
        return code("{}" if isinstance(value, dict) else "[]")
    return code(value)


CONSTRAINT_WORDS = {
    "ge": ">=",
    "gt": ">",
    "le": "<=",
    "lt": "<",
    "multiple_of": "multiple of",
    "min_length": "length >=",
    "max_length": "length <=",
    "pattern": "matches",
}


def _constraints(field: Any) -> str:
    """Bounds and patterns of a field, from its pydantic metadata (`Ge(ge=1)`, `pattern=...`)."""
    found = []
    for item in field.metadata:
        for attribute, words in CONSTRAINT_WORDS.items():
            value = getattr(item, attribute, None)
            if value is not None:
                found.append(f"{cell(words)} {code(value)}")
    return ", ".join(found)
