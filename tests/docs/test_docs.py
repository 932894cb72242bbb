"""The documentation: the strict site build, the generated references against the code, and the README's shape."""

from __future__ import annotations

import html
import importlib.util
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
README_MAX_LINES = 250
TWO_COMMANDS_WITHIN = 40


def docs_module(name: str):
    """A module of `docs/` (not a package: loaded from its file, as MkDocs loads the hook)."""
    spec = importlib.util.spec_from_file_location(f"docs_{name}", DOCS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pages():
    return docs_module("reference_pages")


def section(page: str, heading: str) -> str:
    """The text of the section whose heading line starts with `heading`, up to the next heading of any level."""
    lines = page.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("#")), len(lines))
    return "\n".join(lines[start:end])


def table_rows(text: str) -> dict[str, str]:
    """Rows of the Markdown tables in `text` by the code span of their first cell, as plain text."""
    rows = {}
    for line in text.splitlines():
        match = re.match(r"\| `([^`]+)` \|(.*)\|$", line)
        if match:
            rows[match[1]] = html.unescape(re.sub(r"\\(.)", r"\1", match[2]))
    return rows


# ------------------------------------------------------------------------------------------------ the build


@pytest.mark.docs
def test_site_builds_strictly(tmp_path):
    """`mkdocs build --strict`: a broken link or anchor, a missing page or an unresolved API reference fails.

    `make docs` runs the same build; it is here too so that a plain `pytest` (`make test-fast`) catches a
    docstring or a rename that breaks the site.
    """
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1", "TF_CPP_MIN_LOG_LEVEL": "3"},
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert (tmp_path / "site" / "reference" / "settings" / "index.html").is_file()
    assert (tmp_path / "site" / "reference" / "job-spec" / "index.html").is_file()


# ------------------------------------------------------------------------------------------------ settings


def settings_classes():
    from forecast.baselines import Drift, ExponentialSmoothing, Naive, SeasonalNaive
    from forecast.settings import ForecasterSettings, Tracking
    from pipelines.windows import SeriesWindows

    return {
        "Forecaster": ForecasterSettings,
        "Tracking": Tracking,
        "SeriesWindows": SeriesWindows,
        "Naive": Naive,
        "SeasonalNaive": SeasonalNaive,
        "Drift": Drift,
        "ExponentialSmoothing": ExponentialSmoothing,
    }


@pytest.mark.parametrize("title", list(settings_classes()))
def test_settings_reference_lists_every_constructor_argument_with_its_help_and_default(pages, title):
    from pipelines.settings import settings_of

    cls = settings_classes()[title]
    rows = table_rows(section(pages.settings_reference(), f"## {title} "))
    # The constructor's own signature is the reference: every keyword argument has a row.
    parameters = {name: p for name, p in inspect.signature(cls).parameters.items() if p.kind is p.KEYWORD_ONLY}
    assert set(rows) == set(parameters)
    for setting in settings_of(cls):
        row = rows[setting.name]
        assert " ".join(setting.help.split()) in row
        assert f"`{setting.kind.show(parameters[setting.name].default)}`" in row
        assert setting.kind.describe() in row


def test_settings_reference_shows_the_command_line_spelling_only_where_there_is_one(pages):
    page = pages.settings_reference()
    rows = table_rows(section(page, "## Tracking "))
    assert "`--tracking-errors`" in rows["errors"]
    assert "`--register-as`" in rows["register_as"]
    assert "`--lookback`" in table_rows(section(page, "## Forecaster "))["lookback"]
    assert "--lookback" not in section(page, "## SeriesWindows ")  # a pipeline, not a command-line estimator


# ------------------------------------------------------------------------------------------------ command line


def help_options(*command: str) -> set[str]:
    """Every long option `forecast <command> --help` prints (the running command, not the generator)."""
    from typer.testing import CliRunner

    from forecast.cli import app

    result = CliRunner().invoke(app, [*command, "--help"], prog_name="forecast", terminal_width=200)
    assert result.exit_code == 0, result.output
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", result.output)) - {"--help"}


@pytest.mark.parametrize("command", [("train",), ("predict",), ("backtest",), ("job", "run")])
def test_cli_reference_lists_every_option_of_a_command(pages, command):
    path = " ".join(("forecast", *command))
    text = section(pages.cli_reference(), f"{'#' * (len(command) + 2)} `{path}`")
    options = help_options(*command)
    assert "--lookback" in options or command[0] not in ("train", "backtest")
    listed = " ".join(re.findall(r"^\| `([^`]+)` \|", text, flags=re.M))  # the first cell of every row
    missing = [option for option in sorted(options) if not re.search(rf"(?<![\w-]){option}(?![\w-])", listed)]
    assert not missing


def test_cli_reference_gives_the_help_of_each_forecaster_option(pages):
    from forecast.settings import ForecasterSettings
    from pipelines.settings import settings_of

    text = section(pages.cli_reference(), "### `forecast train`")
    rows = dict(re.findall(r"\| `([^`]+)` \| (.*) \|", text))
    for setting in settings_of(ForecasterSettings):
        option = next(name for name in rows if re.search(rf"(?<![\w-]){setting.option_name}(?![\w-])", name))
        assert " ".join(setting.help[1:].split()) in html.unescape(rows[option].replace("\\", ""))


def test_cli_reference_covers_every_command(pages):
    text = pages.cli_reference()
    for command in ("train", "predict", "backtest", "demo", "experiment", "job", "job run", "job schedule"):
        assert f"`forecast {command}`" in text


# ------------------------------------------------------------------------------------------------ job spec


def spec_keys(mapping: dict, prefix: str = "") -> list[tuple[str, str]]:
    """(section path, key) of every key of a YAML mapping; the top level is `"top-level"`."""
    keys = []
    for key, value in mapping.items():
        keys.append((prefix or "top-level", key))
        if isinstance(value, dict) and key not in ("conf",):
            keys += spec_keys(value, f"{prefix}.{key}" if prefix else key)
    return keys


def spec_section(page: str, path: str) -> str:
    """The section of the job spec reference for the YAML path `path` (its heading ends with its anchor)."""
    anchor = "{#" + path.replace(".", "-") + "}"
    return section(page, next(line for line in page.splitlines() if line.endswith(anchor)))


def test_job_spec_reference_documents_every_key_of_the_example_job(pages):
    example = yaml.safe_load((ROOT / "examples" / "m3_monthly" / "job.yaml").read_text())
    page = pages.job_spec_reference()
    for path, key in spec_keys(example):
        assert key in table_rows(spec_section(page, path)), f"{path}: {key}"


def test_job_spec_reference_marks_required_keys_and_bounds(pages):
    rows = table_rows(section(pages.job_spec_reference(), "## (top level)"))
    assert "**required**" in rows["horizon"]
    assert ">= `1`" in rows["horizon"]
    assert "`local`" in rows["engine"]


# ------------------------------------------------------------------------------------------------ API pages


def test_every_docstring_uses_one_markup_markdown():
    """Code spans in single backticks and fenced blocks: no RST double backticks, roles or literal blocks."""
    rst = re.compile(r"``|:(?:func|class|mod|meth|attr|data|exc|obj):`|::\n")
    found = [
        f"{path.relative_to(ROOT)}:{text[: match.start()].count(chr(10)) + 1}"
        for package in ("layers", "pipelines", "forecast", "benchmarks")
        for path in sorted((ROOT / package).rglob("*.py"))
        for text in [path.read_text()]
        for match in rst.finditer(text.replace("```", ""))
    ]
    assert found == []


# ------------------------------------------------------------------------------------------------ README


def test_readme_is_a_short_guide_that_starts_with_the_two_commands():
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES
    headings = [i for i, line in enumerate(lines) if line.startswith("## ")]
    assert lines[headings[0]] == "## The two commands"
    assert headings[0] < TWO_COMMANDS_WITHIN
    commands = "\n".join(lines[headings[0] : headings[1]])
    assert commands.index("make demo") < commands.index("make test")


def test_readme_links_point_at_files_of_the_repository():
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README.read_text())
    local = [link for link in links if "://" not in link]
    assert local
    assert [link for link in local if not (ROOT / link).exists()] == []
