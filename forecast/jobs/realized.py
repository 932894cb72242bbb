"""Realized accuracy: the forecasts of earlier runs scored against the actuals that have arrived since.

Each earlier run (its `as_of`) forecast every series from its *origin*, the series' last
observation before its first forecast step. A forecast step `h` (1 = the first step) of a series is

- *scored* when the actual of its timestamp has arrived and the series has an origin;
- *missing* when it is due (its timestamp is at most the latest timestamp of any series in the
  actuals: other series have reported that period) but its own actual has not arrived. A missing
  step is counted as missing, never scored as if it were right: it is left out of every mean and
  counted in the `missing` columns;
- not yet due otherwise, and ignored.

The scores are those of `forecast.metrics`, one definition each (its per-step terms, averaged):

- MASE: `|y - ŷ| / s` with `s` the `forecast.metrics.mase_scales` scale of the series'
  actuals up to its origin (Hyndman & Koehler 2006); sMAPE `200 |y - ŷ| / (|y| + |ŷ|)` in percent
  (Makridakis & Hibon 2000);
- bias, the mean forecast error `mean(ŷ - y)` (positive: the forecasts were too high);
- coverage of each central interval the quantile columns form (`coverage_80` from `y_hat_q10`
  and `y_hat_q90`): the share of actuals inside it.

A series' score in a run is the mean of its scored steps; a run's score at step `h` the mean over
the series scored at `h`; a run's overall score the mean over its series of their scores (the M3
convention). A series whose every due step is missing appears with `steps = 0` and no scores.

Which runs have news: every earlier run is scored, and `new_steps` of the overall table counts the
steps of a run whose actual arrived, or which became due, after the latest earlier run was made.
That run's origins tell what had arrived then (a series' origin in it is its last observation at
the time), so the count comes from the stored forecasts and the actuals alone, with no memory of
earlier scoring: a job logs and stores the scores of the runs with `new_steps > 0`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecast.metrics import (
    OVERALL,
    column_quantile,
    inside_interval,
    mase_scales,
    quantile_columns,
    scaled_absolute_errors,
    smape_terms,
)
from forecast.run_columns import AS_OF_COLUMN, MODEL_VERSION_COLUMN
from pipelines.columns import ID, TARGET, TIME
from pipelines.settings import level_percent
from pipelines.validation import parse_time_column

STEP = "step"
ORIGIN = "origin"
BIAS = "bias"
SERIES = "series"
STEPS = "steps"
MISSING = "missing"
NEW_STEPS = "new_steps"
FORECAST_AS_OF = "forecast_as_of"
"""The column of the accuracy table naming the run whose forecasts a row scores."""
_FORECAST = "y_hat"
_COUNTS = (STEPS, MISSING)


@dataclass(frozen=True, kw_only=True)
class RealizedAccuracy:
    """The scores of earlier runs, three ways; every frame is sorted by `as_of`.

    per_series: `as_of, model_version, unique_id, origin, steps, missing, mase, smape, bias[, coverage_XX...]`,
        one row per run and series (`steps`: its scored steps, `missing`: its due steps without an actual).
    per_step: `as_of, model_version, step, series, steps, missing, mase, ...`, one row per run and step
        (`series` = `steps`: the series scored at that step).
    overall: `as_of, model_version, series, steps, missing, new_steps, mase, ...`, one row per run.
    """

    per_series: pd.DataFrame
    per_step: pd.DataFrame
    overall: pd.DataFrame

    @property
    def scores(self) -> list[str]:
        """The score columns: `mase, smape, bias` and one `coverage_XX` per interval."""
        return [c for c in self.overall.columns if c in ("mase", "smape", BIAS) or c.startswith("coverage_")]

    def table(self, runs: Sequence[pd.Timestamp]) -> pd.DataFrame:
        """The scores of `runs` as one table, the shape of the `accuracy:` sink and the MLflow artifact.

        Columns `forecast_as_of, model_version, unique_id, step, origin, series, steps, missing` and the
        scores. A row of one series has its `unique_id`; a row over the series has `unique_id`
        `"overall"`. A row of one step has its `step`; a row over the steps has no `step`.
        """
        pieces = [
            self.per_series.assign(**{STEP: pd.NA, SERIES: pd.NA}),
            self.per_step.assign(**{ID: OVERALL}),
            self.overall.drop(columns=NEW_STEPS).assign(**{ID: OVERALL, STEP: pd.NA}),
        ]
        columns = [AS_OF_COLUMN, MODEL_VERSION_COLUMN, ID, STEP, ORIGIN, SERIES, *_COUNTS, *self.scores]
        chosen = [piece[piece[AS_OF_COLUMN].isin(list(runs))] for piece in pieces]
        table = pd.concat([piece for piece in chosen if len(piece)] or [chosen[0]], ignore_index=True)
        table = table.reindex(columns=columns).astype({STEP: "Int64", SERIES: "Int64"})
        order = {OVERALL: 1}
        table = table.sort_values(
            [AS_OF_COLUMN, ID, STEP], key=lambda c: c.map(order).fillna(0) if c.name == ID else c, kind="stable"
        )
        return table.rename(columns={AS_OF_COLUMN: FORECAST_AS_OF}).reset_index(drop=True)


def realized_accuracy(
    forecasts: pd.DataFrame,
    actuals: pd.DataFrame,
    *,
    season_length: int = 1,
    before: pd.Timestamp | None = None,
) -> RealizedAccuracy:
    """Score earlier forecasts against actuals.

    Args:
        forecasts: `as_of, unique_id, ds, y_hat[, y_hat_qXX...][, model_version]`, the rows of one or
            more runs (a sink's `forecast.jobs.engine.Engine.read_forecasts`).
        actuals: `unique_id, ds, y`: the history up to now (a job's data).
        season_length: the MASE period `m`.
        before: score only the runs with an `as_of` before it (the run that scores them; None: all).

    Returns:
        `RealizedAccuracy`; its frames have no rows when no forecast step is due yet.
    """
    missing = [c for c in (AS_OF_COLUMN, ID, TIME, _FORECAST) if c not in forecasts.columns]
    missing += [f"actuals.{c}" for c in (ID, TIME, TARGET) if c not in actuals.columns]
    if missing:
        raise ValueError(
            f"realized accuracy needs forecasts with as_of, unique_id, ds, y_hat and actuals with unique_id, ds, y; "
            f"missing {missing}"
        )
    history = actuals.loc[actuals[TARGET].notna(), [ID, TIME, TARGET]].reset_index(drop=True)
    if len(history):  # timestamps as the Forecaster reads them: SQLite gives text, Spark microseconds
        history[TIME] = parse_time_column(history)
    intervals = _intervals(list(forecasts.columns))
    cells = _cells(forecasts, history, before, intervals)
    scores = ["mase", "smape", BIAS, *intervals]
    if cells.empty:
        return RealizedAccuracy(
            per_series=pd.DataFrame(columns=[AS_OF_COLUMN, MODEL_VERSION_COLUMN, ID, ORIGIN, *_COUNTS, *scores]),
            per_step=pd.DataFrame(columns=[AS_OF_COLUMN, MODEL_VERSION_COLUMN, STEP, SERIES, *_COUNTS, *scores]),
            overall=pd.DataFrame(columns=[AS_OF_COLUMN, MODEL_VERSION_COLUMN, SERIES, *_COUNTS, NEW_STEPS, *scores]),
        )
    cells = _with_terms(cells, history, season_length, intervals)
    run = [AS_OF_COLUMN, MODEL_VERSION_COLUMN]
    per_series = _means(cells, [*run, ID, ORIGIN], scores)
    per_step = _means(cells, [*run, STEP], scores)
    per_step[SERIES] = per_step[STEPS]
    scored_series = per_series[per_series[STEPS] > 0]
    overall = scored_series.groupby(run, sort=True)[scores].mean()
    overall[SERIES] = scored_series.groupby(run, sort=True).size()
    totals = per_series.groupby(run, sort=True)[[*_COUNTS]].sum()
    totals[NEW_STEPS] = cells.groupby(run, sort=True)[NEW_STEPS].sum()
    overall = totals.join(overall).reset_index()
    overall[SERIES] = overall[SERIES].fillna(0).astype(int)
    return RealizedAccuracy(
        per_series=per_series[[*run, ID, ORIGIN, *_COUNTS, *scores]],
        per_step=per_step[[*run, STEP, SERIES, *_COUNTS, *scores]],
        overall=overall[[*run, SERIES, *_COUNTS, NEW_STEPS, *scores]],
    )


def version_text(versions: pd.Series) -> pd.Series:
    """Model versions as text (`"3"`), however a file gave them back (`3`, `3.0`); none as `""`."""

    def text(version) -> str:
        if pd.isna(version):
            return ""
        if isinstance(version, (float, np.floating)) and float(version).is_integer():
            return str(int(version))
        return str(version)

    return versions.map(text).astype(object)


def _intervals(columns: list[str]) -> dict[str, tuple[str, str]]:
    """`coverage_XX -> (lower, upper)` for every central interval the quantile columns form."""
    levels = quantile_columns(columns)
    pairs = {}
    for level, lower in levels.items():
        upper = levels.get(round(1.0 - level, 12))
        if level < 0.5 and upper is not None:
            pairs[f"coverage_{level_percent(1.0 - 2.0 * column_quantile(lower))}"] = (lower, upper)
    return pairs


def _cells(
    forecasts: pd.DataFrame, history: pd.DataFrame, before: pd.Timestamp | None, intervals: dict
) -> pd.DataFrame:
    """The due forecast steps of the runs before `before`: their step, origin, actual and whether they are news."""
    quantiles = sorted({column for pair in intervals.values() for column in pair})
    cells = forecasts[[AS_OF_COLUMN, ID, TIME, _FORECAST, *quantiles]].copy()
    cells[MODEL_VERSION_COLUMN] = (
        version_text(forecasts[MODEL_VERSION_COLUMN]) if MODEL_VERSION_COLUMN in forecasts.columns else ""
    )
    if before is not None:
        cells = cells[cells[AS_OF_COLUMN] < before]
    if cells.empty or history.empty:
        return cells.iloc[:0]
    cells[TIME] = parse_time_column(cells)
    cells = cells.sort_values([AS_OF_COLUMN, ID, TIME], kind="stable").reset_index(drop=True)
    cells[STEP] = cells.groupby([AS_OF_COLUMN, ID], sort=False).cumcount() + 1
    firsts = cells.loc[cells[STEP] == 1, [AS_OF_COLUMN, ID, TIME]]
    origins = pd.merge_asof(
        firsts.sort_values(TIME, kind="stable"),
        history[[ID, TIME]].rename(columns={TIME: ORIGIN}).sort_values(ORIGIN, kind="stable"),
        left_on=TIME,
        right_on=ORIGIN,
        by=ID,
        allow_exact_matches=False,
    )[[AS_OF_COLUMN, ID, ORIGIN]]
    cells = cells.merge(origins, on=[AS_OF_COLUMN, ID], how="left")
    if pd.api.types.is_integer_dtype(history[TIME]):
        cells[ORIGIN] = cells[ORIGIN].astype("Int64")  # integer timestamps, none for a series without history
    cells = cells.merge(history, on=[ID, TIME], how="left")
    cells = cells[cells[TIME] <= history[TIME].max()].reset_index(drop=True)  # due: some series reported it
    arrived = cells[TARGET].notna()
    cells = cells[(arrived & cells[ORIGIN].notna()) | ~arrived].reset_index(drop=True)  # no origin: no scale
    return cells.assign(**{NEW_STEPS: _news(cells, origins)}) if len(cells) else cells


def _news(cells: pd.DataFrame, origins: pd.DataFrame) -> pd.Series:
    """Whether each due step changed since the latest run: its actual arrived, or it became due, after that run."""
    latest = origins[origins[AS_OF_COLUMN] == origins[AS_OF_COLUMN].max()].set_index(ID)[ORIGIN]
    known_until = cells[ID].map(latest)  # each series' last observation when the latest run was made
    arrived_since = cells[TARGET].notna() & (known_until.isna() | (cells[TIME] > known_until))
    due_since = cells[TIME] > latest.max() if latest.notna().any() else pd.Series(True, index=cells.index)
    return (arrived_since | due_since).astype(int)


def _with_terms(
    cells: pd.DataFrame, history: pd.DataFrame, season_length: int, intervals: dict[str, tuple[str, str]]
) -> pd.DataFrame:
    """Each due step with its score terms (NaN where its actual is missing) and its `steps`/`missing` counts."""
    arrived = cells[TARGET].notna().to_numpy()
    scored = cells[arrived]
    origins = pd.DataFrame({ID: scored[ID], "cutoff": scored[ORIGIN].astype(history[TIME].dtype)})
    scales = mase_scales(history, season_length, cutoffs=origins)
    scale = scales.reindex(pd.MultiIndex.from_frame(origins)).to_numpy(dtype=float)
    y, y_hat = scored[TARGET].to_numpy(float), scored[_FORECAST].to_numpy(float)
    terms = {"mase": scaled_absolute_errors(y, y_hat, scale), "smape": smape_terms(y, y_hat), BIAS: y_hat - y}
    for name, (lower, upper) in intervals.items():
        low, high = scored[lower].to_numpy(float), scored[upper].to_numpy(float)
        inside = inside_interval(y, low, high).astype(float)
        inside[np.isnan(low) | np.isnan(high)] = np.nan  # a run that forecast no such interval is not scored on it
        terms[name] = inside
    cells = cells.assign(**{STEPS: arrived.astype(int), MISSING: (~arrived).astype(int)})
    for name, values in terms.items():
        column = np.full(len(cells), np.nan)
        column[arrived] = values
        cells[name] = column
    return cells


def _means(cells: pd.DataFrame, keys: list[str], scores: list[str]) -> pd.DataFrame:
    """Per group of `keys`: the mean of every score over its scored steps, and its step counts."""
    groups = cells.groupby(keys, sort=True, dropna=False)
    table = groups[scores].mean()  # NaN terms (missing actuals) are left out, never counted as perfect
    table[list(_COUNTS)] = groups[list(_COUNTS)].sum()
    return table.reset_index()
