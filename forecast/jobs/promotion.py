"""Champion and challenger: a retrained model takes the alias only when it beats the current one on a backtest.

The *champion* is the model the job forecasts with; the *challenger* is a fresh model with the
champion's settings. Both are scored on the same origins of the job's data: the last `windows`
origins of every series, `horizon` steps apart, so that the last window ends with the data
(`forecast.backtesting.series_cutoffs`), with the same metric and the same MASE period:

- the champion forecasts every origin with its own weights (origins inside the data it was fitted
  on make its score in-sample, which favours it; the decision records how many there are);
- the challenger is fitted on each series' history up to its first origin (the backtest of an
  unfitted estimator, `refit=False`), so it is scored out of sample on every window.

The challenger takes the alias when `challenger < champion * (1 - margin)`; a score that is not a
number never wins. Whatever the outcome, the model fitted on all the data is registered as a new
version (tagged with the decision), and the decision is an MLflow run with both scores and the
reason. People override it with `forecast model promote NAME VERSION` (`move_alias`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from forecast.jobs.backtests import backtest, origins_inside_training, overall_score
from pipelines.columns import ID

if TYPE_CHECKING:
    from forecast.base import BaseForecaster
    from forecast.jobs.spec import PromoteSpec

DECISION_TAG = "promotion.decision"
REASON_TAG = "promotion.reason"
JOB_TAG = "promotion.job"
"""The tag of a decision run naming its job (the job's own runs carry `job`)."""


@dataclass(frozen=True, kw_only=True)
class Comparison:
    """Champion and challenger scored on the same backtest origins."""

    metric: str
    champion: float
    challenger: float
    origins: int
    first_origin: object
    last_origin: object
    champion_in_sample: int

    def decide(self, margin: float) -> Decision:
        """Whether the challenger beats the champion by `margin`, and why in one line."""
        threshold = self.champion * (1.0 - margin)
        accepted = math.isfinite(self.challenger) and math.isfinite(threshold) and self.challenger < threshold
        relation = "<" if accepted else "is not below"
        reason = (
            f"challenger {self.metric} {self.challenger:.6g} {relation} champion {self.metric} "
            f"{self.champion:.6g} x (1 - {margin:g}) = {threshold:.6g} on {self.origins} backtest origins"
        )
        if self.challenger == self.champion:  # e.g. no data since the champion's fit, and the same seed
            reason += " (the two forecast alike there: the challenger learnt nothing the champion had not)"
        return Decision(comparison=self, margin=margin, threshold=threshold, accepted=accepted, reason=reason)


@dataclass(frozen=True, kw_only=True)
class Decision:
    """The outcome of a comparison: `accepted` when the challenger takes the alias."""

    comparison: Comparison
    margin: float
    threshold: float
    accepted: bool
    reason: str

    @property
    def outcome(self) -> str:
        """`"accepted"` or `"refused"`."""
        return "accepted" if self.accepted else "refused"


def compare(
    champion: BaseForecaster,
    challenger: BaseForecaster,
    data: pd.DataFrame,
    promote: PromoteSpec,
    *,
    season_length: int,
) -> Comparison:
    """Score the fitted `champion` and the unfitted `challenger` on the same origins of `data` (module docstring)."""
    settings = {"windows": promote.windows, "step": None, "metric": promote.metric, "season_length": season_length}
    champion_result = backtest(champion, data, **settings)
    challenger_result = backtest(challenger, data, **settings)
    origins = champion_result.forecasts["cutoff"]
    return Comparison(
        metric=promote.metric,
        champion=overall_score(champion_result, promote.metric),
        challenger=overall_score(challenger_result, promote.metric),
        origins=len(champion_result.forecasts[[ID, "cutoff"]].drop_duplicates()),
        first_origin=origins.min(),
        last_origin=origins.max(),
        champion_in_sample=origins_inside_training(champion, champion_result),
    )


def record(
    decision: Decision,
    *,
    job: str,
    as_of: pd.Timestamp,
    experiment: str,
    name: str,
    alias: str,
    champion_version: str | None,
    challenger_version: str,
) -> str | None:
    """Record `decision` as an MLflow run (nested in the job's run) and on the challenger's version; move the alias.

    Returns the decision run's id.
    """
    from mlflow import MlflowClient

    from forecast.tracking import tracking_run

    comparison = decision.comparison
    if decision.accepted:
        effect = f"alias {alias} moved to version {challenger_version}"
    else:
        effect = f"alias {alias} stays on version {champion_version or '(none)'}"
    reason = f"{decision.reason}: {effect}"
    tags = {JOB_TAG: job, "as_of": as_of.isoformat(), DECISION_TAG: decision.outcome, REASON_TAG: reason}
    run_name = f"{job} promotion {name} v{challenger_version} ({decision.outcome})"
    with tracking_run(True, experiment, run_name, "raise", tags) as tracker:
        tracker.log_params(
            {
                "model": name,
                "alias": alias,
                "champion_version": champion_version or "",
                "challenger_version": challenger_version,
                "metric": comparison.metric,
                "margin": decision.margin,
                "backtest.origins": comparison.origins,
                "backtest.first_origin": str(comparison.first_origin),
                "backtest.last_origin": str(comparison.last_origin),
            }
        )
        scores = {
            f"champion_{comparison.metric}": comparison.champion,
            f"challenger_{comparison.metric}": comparison.challenger,
            "threshold": decision.threshold,
            "champion_in_sample_origins": comparison.champion_in_sample,
        }
        tracker.log_metrics({key: value for key, value in scores.items() if math.isfinite(value)})
        client = MlflowClient(tracking_uri=tracker.tracking_uri)
        client.set_model_version_tag(name, challenger_version, DECISION_TAG, decision.outcome)
        client.set_model_version_tag(name, challenger_version, REASON_TAG, reason)
        if decision.accepted:
            move_alias(client, name, alias, challenger_version)
        return tracker.run_id


def move_alias(client, name: str, alias: str, version: str) -> str | None:
    """Point `name@alias` at `version` (`client`: an `mlflow.MlflowClient`); returns the version it left."""
    previous = alias_version(client, name, alias)
    client.set_registered_model_alias(name, alias, version)
    return previous


def alias_version(client, name: str, alias: str) -> str | None:
    """The version `name@alias` points at (`client`: an `mlflow.MlflowClient`), or None for a new alias."""
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None
