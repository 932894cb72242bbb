"""What the `forecast` commands share: reading data files, importing TensorFlow quietly, one-line errors.

Kept apart from `forecast.cli` so that the commands defined in other modules (`forecast.tuning_cli`,
`forecast.jobs.model_cli`) use the same reading rules and error wording without importing the command line.
Nothing here imports pandas or TensorFlow at module level.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import typer

from forecast.redaction import redact

DATA_HELP = (
    "a CSV or Parquet file in long format: one row per series and time step, with the columns unique_id (the "
    "series), ds (a date or an integer step) and y (the value), plus any covariate columns; other column names "
    "are mapped with --id-col, --time-col and --target-col"
)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with the process's stderr closed while its native libraries load.

    TensorFlow 2.21 logs its start-up lines (oneDNN, CUDA drivers) through absl before absl's logging
    is initialised, and such lines ignore `TF_CPP_MIN_LOG_LEVEL`; they go straight to file
    descriptor 2. Everything TensorFlow logs after the import obeys `TF_CPP_MIN_LOG_LEVEL`.
    """
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def one_line(error: BaseException) -> str:
    """The error's message on one line (its type when it has no message)."""
    text = " ".join(redact(str(error)).split())
    return text or type(error).__name__


def read_data(
    path: Path, id_col: str = "unique_id", time_col: str = "ds", target_col: str = "y", needs_target: bool = True
):
    """The long frame in `path`, its id, time and value columns renamed to unique_id, ds and y.

    A file without a time column (or, where `needs_target`, a value column) is refused naming the columns
    found and the option that maps them.

    Every way a file can fail to be a frame (missing, empty, not UTF-8, not Parquet, dates that do not parse)
    is a `ValueError` or `OSError` naming the file: one line and exit status 1.
    """
    from forecast.tables import check_table_path, read_frame

    check_table_path(path)
    if not path.exists():
        raise FileNotFoundError(f"file {path} does not exist")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory; expected a .csv or .parquet file")
    try:
        frame = read_frame(path, id_column=id_col, time_column=time_col)
    except UnicodeDecodeError:
        raise ValueError(f"cannot read {path}: {_first_non_utf8_byte(path)}") from None
    except (ValueError, OSError) as error:
        raise ValueError(f"cannot read {path}: {_reason(error)}") from None
    if frame.empty:
        raise ValueError(f"{path} has no rows: only its header {list(frame.columns)}")
    given = {"--id-col": id_col, "--time-col": time_col, **({"--target-col": target_col} if needs_target else {})}
    absent = [
        f"{column!r} ({option})"
        for option, column in given.items()
        if column not in frame.columns and column not in ("unique_id", "ds", "y")
    ]
    if absent:
        raise ValueError(f"{path}: no column {' and no column '.join(absent)}; found columns {list(frame.columns)}")
    mapping = {id_col: "unique_id", time_col: "ds", target_col: "y"}
    renamed = {source: target for source, target in mapping.items() if source != target and source in frame.columns}
    clashes = [target for source, target in renamed.items() if target in frame.columns]
    if clashes:
        raise ValueError(f"{path}: cannot rename to {clashes}: the file already has such column(s)")
    frame = frame.rename(columns=renamed)
    options = {"ds": "--time-col", "y": "--target-col"}
    missing = [column for column in ("ds", "y") if column not in frame.columns and (column == "ds" or needs_target)]
    if missing:
        wanted = " and ".join(
            f"a {column} column (or name yours with {options[column]} <column>)" for column in missing
        )
        raise ValueError(f"{path}: found columns {list(frame.columns)}; the file needs {wanted}")
    return frame


def in_file_columns(frame, id_col: str, time_col: str, target_col: str):
    """An output frame (pandas) with `unique_id`, `ds` and `y` named as the input file names them (`--id-col`,
    `--time-col`, `--target-col`: `read_data` renamed them on the way in)."""
    return frame.rename(columns={"unique_id": id_col, "ds": time_col, "y": target_col})


def _first_non_utf8_byte(path: Path) -> str:
    """Where a file stops being UTF-8 text: the byte, its offset in the file and its line (pandas reads in chunks,
    so the offset of its error counts from the chunk)."""
    raw = path.read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        return f"not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start}, line {line}); save it as UTF-8"
    return "not UTF-8 text"


def _reason(error: BaseException) -> str:
    text = " ".join(str(error).split())
    if type(error).__name__ == "EmptyDataError" or "No columns to parse" in text:
        return "the file is empty"
    if type(error).__name__ in ("ArrowInvalid", "ArrowException"):
        return f"not a readable Parquet file ({text})"
    return text or type(error).__name__


def check_outputs(outputs: dict[str, Path | None], inputs: Sequence[Path] = ()) -> None:
    """Before any work: each output file (by option name; None: not asked for) is a .csv or .parquet path that can be
    written, and none is one of `inputs` or another output (the later write would replace the earlier file)."""
    from forecast.tables import check_output_path

    taken = {Path(os.path.abspath(path)): "the input" for path in inputs}
    for option, path in outputs.items():
        if path is None:
            continue
        try:
            check_output_path(path)
        except ValueError as error:
            raise typer.BadParameter(f"{option}: {error}") from None
        resolved = Path(os.path.abspath(path))
        if resolved in taken:
            raise typer.BadParameter(f"{option} {path} is also {taken[resolved]}; give another file")
        taken[resolved] = option


def check_model_dir(path: Path) -> None:
    """Before training: `--model-dir` may receive a saved model (`forecast.saving.check_replaceable`)."""
    from forecast.saved_format import STATE
    from forecast.saving import SavedModelError, check_replaceable

    try:
        check_replaceable(path, STATE)
    except SavedModelError as error:
        raise typer.BadParameter(f"--model-dir: {error}") from None
