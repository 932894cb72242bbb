"""Realized accuracy: the forecasts of earlier runs scored against the actuals that have arrived since.

Each earlier run (``as_of``) forecast every series from its *origin*, the series' last observation
before its first forecast step. Once actuals for some of those steps exist, the run is scored with
:func:`forecast.metrics.evaluate`, per series and per horizon step ``h`` (1 = the first forecast
step), on the steps that have actuals:

- MASE, scaled by the in-sample seasonal naive MAE of the series' actuals up to its origin
  (Hyndman & Koehler 2006); sMAPE in percent (Makridakis & Hibon 2000);
- bias, the mean forecast error ``mean(ŷ - y)`` (positive: the forecasts were too high);
- coverage of each central interval the quantile columns form (``coverage_80`` from ``y_hat_q10``
  and ``y_hat_q90``): the share of actuals inside it.

A per-step score is the mean over the series of that step's scores, and a run's overall score the
mean over its series of the per-series scores (the M3 convention). Series without an actual before
their first forecast step cannot be scaled and are left out, as are steps without actuals.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from forecast.metrics import OVERALL, QUANTILE_PREFIX, evaluate
from forecast.run_columns import AS_OF_COLUMN
from pipelines.columns import ID, TARGET, TIME

STEP = "step"
ORIGIN = "origin"
BIAS = "bias"
_FORECAST = "y_hat"
_NOT_SCORES = (AS_OF_COLUMN, ID, ORIGIN, "steps", BIAS)


@dataclass(frozen=True, kw_only=True)
class RealizedAccuracy:
    """The scores of earlier runs, three ways.

    per_series: ``as_of, unique_id, origin, steps, smape, mase, bias[, coverage_XX...]``, one row per
        run and series (``steps``: how many of its forecast steps had actuals).
    per_step: ``as_of, step, series, smape, mase, bias[, coverage_XX...]``, one row per run and step
        (``series``: how many series had an actual at that step).
    overall: ``as_of, series, smape, mase, bias[, coverage_XX...]``, one row per run.
    """

    per_series: pd.DataFrame
    per_step: pd.DataFrame
    overall: pd.DataFrame


def realized_accuracy(forecasts: pd.DataFrame, actuals: pd.DataFrame, *, season_length: int = 1) -> RealizedAccuracy:
    """Score earlier forecasts against actuals.

    Args:
        forecasts: ``as_of, unique_id, ds, y_hat[, y_hat_qXX...]``, the rows of one or more runs (a
            sink's :meth:`~forecast.jobs.engine.Engine.read_forecasts`).
        actuals: ``unique_id, ds, y``: the history up to now (a job's data).
        season_length: the MASE period ``m``.

    Returns:
        :class:`RealizedAccuracy`; its frames have no rows when no forecast step has an actual yet.
    """
    missing = [c for c in (AS_OF_COLUMN, ID, TIME, _FORECAST) if c not in forecasts.columns]
    missing += [f"actuals.{c}" for c in (ID, TIME, TARGET) if c not in actuals.columns]
    if missing:
        raise ValueError(
            f"realized accuracy needs forecasts with as_of, unique_id, ds, y_hat and actuals with unique_id, ds, y; "
            f"missing {missing}"
        )
    history = actuals.loc[actuals[TARGET].notna(), [ID, TIME, TARGET]]
    quantiles = [c for c in forecasts.columns if str(c).startswith(QUANTILE_PREFIX)]
    metrics = ["smape", "mase", *(["coverage"] if quantiles else [])]
    scored = _with_actuals(forecasts[[AS_OF_COLUMN, ID, TIME, _FORECAST, *quantiles]], history)
    per_series, per_step, overall = [], [], []
    for as_of, run in scored.groupby(AS_OF_COLUMN, sort=True):
        series_scores = _scores(run, history, season_length, metrics)
        per_series.append(series_scores.iloc[:-1].assign(**{AS_OF_COLUMN: as_of}))
        overall.append(series_scores.iloc[-1:].assign(**{AS_OF_COLUMN: as_of, "series": len(series_scores) - 1}))
        for step, rows in run.groupby(STEP, sort=True):
            step_scores = _scores(rows, history, season_length, metrics)
            per_step.append(step_scores.iloc[-1:].assign(**{AS_OF_COLUMN: as_of, STEP: step, "series": len(rows)}))
    scored_columns = per_series[0].columns if per_series else ["smape", "mase"]
    scores = [*(c for c in scored_columns if c not in _NOT_SCORES), BIAS]
    return RealizedAccuracy(
        per_series=_table(per_series, [AS_OF_COLUMN, ID, ORIGIN, "steps", *scores]),
        per_step=_table(per_step, [AS_OF_COLUMN, STEP, "series", *scores]),
        overall=_table(overall, [AS_OF_COLUMN, "series", *scores]),
    )


def _with_actuals(forecasts: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """Forecast rows that have an actual, with their ``step`` and their series' ``origin`` in that run."""
    forecasts = forecasts.astype({TIME: history[TIME].dtype})  # e.g. microseconds from Spark, nanoseconds here
    forecasts = forecasts.sort_values([AS_OF_COLUMN, ID, TIME], kind="stable").reset_index(drop=True)
    forecasts[STEP] = forecasts.groupby([AS_OF_COLUMN, ID], sort=False).cumcount() + 1
    firsts = forecasts.loc[forecasts[STEP] == 1, [AS_OF_COLUMN, ID, TIME]]
    origins = pd.merge_asof(
        firsts.sort_values(TIME, kind="stable"),
        history[[ID, TIME]].rename(columns={TIME: ORIGIN}).sort_values(ORIGIN, kind="stable"),
        left_on=TIME,
        right_on=ORIGIN,
        by=ID,
        allow_exact_matches=False,
    ).dropna(subset=[ORIGIN])
    origins[ORIGIN] = origins[ORIGIN].astype(history[TIME].dtype)  # integer ds held as floats while some were NaN
    scored = forecasts.merge(origins[[AS_OF_COLUMN, ID, ORIGIN]], on=[AS_OF_COLUMN, ID], how="inner")
    return scored.merge(history, on=[ID, TIME], how="inner")


def _scores(rows: pd.DataFrame, history: pd.DataFrame, season_length: int, metrics: list[str]) -> pd.DataFrame:
    """:func:`evaluate`'s per-series rows and overall row for ``rows``, with ``steps`` and ``bias`` added."""
    table = evaluate(
        rows.drop(columns=[AS_OF_COLUMN, STEP]).rename(columns={ORIGIN: "cutoff"}),
        train_df=history,
        season_length=season_length,
        metrics=metrics,
    )
    keys = [rows[ID], rows[ORIGIN]]
    error = rows[_FORECAST] - rows[TARGET]
    per_series = pd.DataFrame({"steps": error.groupby(keys).size(), BIAS: error.groupby(keys).mean()}).reset_index()
    per_series = per_series.rename(columns={ORIGIN: "cutoff"})
    table = table.merge(per_series, on=[ID, "cutoff"], how="left")
    overall = table[ID] == OVERALL
    table.loc[overall, BIAS] = table.loc[~overall, BIAS].mean()
    return table.rename(columns={"cutoff": ORIGIN})


def _table(pieces: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    if not pieces:
        return pd.DataFrame(columns=columns)
    return pd.concat(pieces, ignore_index=True).reindex(columns=columns)
