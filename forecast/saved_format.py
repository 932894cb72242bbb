"""The saved-model format: its version, and one migration function per step from each earlier version.

A saved forecaster is a directory (`BaseForecaster.save`) whose JSON documents are `params.json` (the
constructor arguments), `fitted.json` (what was learned, with `format_version`, the estimator's class and
module) and, for the `Forecaster`, `pipeline.json` (its fitted `SeriesWindows`). `load` reads the
documents, brings them to `FORMAT_VERSION` with `migrate` (one function per step, oldest first) and
only then builds the estimator, so the estimator code knows one format.

Versions (directories saved before version 7 carry no number; `detect_version` tells them by their fields):

1. the first: the pipeline names its columns (`id_col`, `time_col`, `target_col`), no covariate scaling,
   `fitted.json` without the estimator's class;
2. the estimator's class in `fitted.json`, covariate scaling;
3. the training plan, the MASE scales, conformal intervals, deseasonalisation and left padding (`min_past`);
4. the refit on every window (`refit_epochs`);
5. the ETS combination as a parameter (`combine_with`);
6. the combination the model was fitted with (`combine_with` in `fitted.json`);
7. `format_version` and the estimator's module in `fitted.json`; the tracking settings composed into one
   `tracking` parameter; the Forecaster's combination chosen per series (`combination`), its kept ETS models
   (`ets`, `ets_ends`), whether it has a network at all (`network`, `network_skipped`), and the
   `nonnegative` setting;
8. each series' smallest value in the fit (`series_low`), which `nonnegative="auto"` reads beside the history
   given to `predict`;
9. each series' largest value in the fit (`series_high`), with which the sane band of the network's forecasts
   spans the history `fit` saw, not only the rows given to `predict`;
10. the optimised Theta model in the statistical half: the weight on it and why (`theta_weight`, `theta_rule`),
    and every series' Theta model beside its kept ETS models (`theta` in `ets`).

Each step changes only what its version changed, and fills a field the earlier version lacked with the value
that reproduces how that version forecast (a model saved before deseasonalisation existed loads with
`deseasonalize=False`, whatever today's default).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

FORMAT_VERSION = 10
PARAMS = "params.json"
STATE = "fitted.json"
PIPELINE = "pipeline.json"

Documents = dict[str, dict]
"""A saved model's JSON documents by file name."""

_FORECASTER_MODULES = {
    # Where the classes of versions 1-6 lived; version 7 writes the module itself.
    "Forecaster": "forecast.forecaster",
    "Naive": "forecast.baselines",
    "SeasonalNaive": "forecast.baselines",
    "Drift": "forecast.baselines",
    "ExponentialSmoothing": "forecast.baselines",
}
_LEGACY_COLUMNS = {"id_col": "unique_id", "time_col": "ds", "target_col": "y"}
_TRACKING_PARAMS = ("experiment", "run_name", "register_as", "tracking_errors")


class FormatError(ValueError):
    """The documents do not describe a saved model of any known version (the message says why)."""


def detect_version(documents: Documents) -> int:
    """The format version of a saved model's documents (`format_version`, or told by the fields before 7)."""
    state, params = documents[STATE], documents[PARAMS]
    if "format_version" in state:
        version = state["format_version"]
        if not isinstance(version, int) or isinstance(version, bool):
            raise FormatError(f"format_version must be an integer; found {version!r} (the file was edited or damaged)")
        if not 1 <= version <= FORMAT_VERSION:
            raise FormatError(
                f"format_version {version!r} is not one this version of lstm-forecast reads (1 to {FORMAT_VERSION}); "
                "a model saved by a newer version needs that version to load"
            )
        return version
    if "estimator" not in state:
        return 1
    if state["estimator"] != "Forecaster":
        return 6  # the baselines' documents did not change from version 2 to 6
    if "series_scale" not in state:
        return 2
    if "refit_epochs" not in state:
        return 3
    if "combine_with" not in params:
        return 4
    if "combine_with" not in state:
        return 5
    return 6


def migrate(documents: Documents) -> Documents:
    """The documents brought to `FORMAT_VERSION`, one step at a time (the input is left unchanged)."""
    migrated = copy.deepcopy(documents)
    version = detect_version(migrated)
    while version < FORMAT_VERSION:
        migrated = MIGRATIONS[version](migrated)
        version += 1
    migrated[STATE]["format_version"] = FORMAT_VERSION
    return migrated


def _is_forecaster(documents: Documents) -> bool:
    return documents[STATE].get("estimator", "Forecaster") == "Forecaster"


def _v1_to_v2(documents: Documents) -> Documents:
    """The estimator's class in `fitted.json`; the pipeline's standard column names, covariate scaling off."""
    state, params = documents[STATE], documents[PARAMS]
    state["estimator"] = "Forecaster"
    pipeline = documents[PIPELINE]
    for key, expected in _LEGACY_COLUMNS.items():
        found = pipeline.pop(key, expected)
        if found != expected:
            raise FormatError(f"the saved pipeline names its {key} {found!r}; only {expected!r} is supported")
    pipeline["covariate_scaler"] = None  # covariates entered the network unscaled
    params["covariate_scaler"] = None
    params.setdefault("fill", pipeline.get("fill"))
    params.setdefault("short_series", pipeline.get("short_series", "error"))
    fitted = pipeline.get("fitted")
    if fitted is not None:
        time_varying = [*pipeline.get("past_covariates", []), *pipeline.get("future_covariates", [])]
        vocabularies = fitted.get("static_vocabularies", {})
        numeric_static = [c for c in pipeline.get("static_covariates", []) if vocabularies.get(c) is None]
        fitted["covariate_scaling"] = _identity_scaling(time_varying)
        fitted["static_scaling"] = _identity_scaling(numeric_static)
    return documents


def _identity_scaling(columns: list[str]) -> dict:
    return {"method": None, "columns": list(columns), "offset": [0.0] * len(columns), "scale": [1.0] * len(columns)}


def _v2_to_v3(documents: Documents) -> Documents:
    """The training plan, MASE scales and intervals; no deseasonalisation, no left padding, no calibration."""
    if not _is_forecaster(documents):
        return documents
    state, params, pipeline = documents[STATE], documents[PARAMS], documents[PIPELINE]
    state["epochs_planned"] = state["epochs_trained"]
    state["batch_size"] = params.get("batch_size", 64)
    state["series_scale"] = [[series_id, 1.0] for series_id in state["series_ids"]]
    state["intervals"] = None
    for key, value in (("min_past", None), ("season_length", None), ("deseasonalize", False)):
        pipeline.setdefault(key, value)
        params.setdefault(key, value)
    params.setdefault("calibration", None)
    params.setdefault("ensemble_size", 1)
    params.setdefault("ensemble_lookbacks", None)
    fitted = pipeline.get("fitted")
    if fitted is not None:
        fitted.setdefault("season_length", 1)
        fitted.setdefault("seasonal_adjustment", {"season_length": 1, "indices": [], "anchors": []})
    return documents


def _v3_to_v4(documents: Documents) -> Documents:
    """The refit on every window did not exist: no refit."""
    if _is_forecaster(documents):
        documents[STATE]["refit_epochs"] = None
        documents[PARAMS].setdefault("refit_on_all_windows", False)
    return documents


def _v4_to_v5(documents: Documents) -> Documents:
    """The ETS combination did not exist: the network alone."""
    if _is_forecaster(documents):
        documents[PARAMS]["combine_with"] = None
    return documents


def _v5_to_v6(documents: Documents) -> Documents:
    """The combination the model was fitted (and calibrated) with is its `combine_with` parameter."""
    if _is_forecaster(documents):
        documents[STATE]["combine_with"] = documents[PARAMS].get("combine_with")
    return documents


def _v6_to_v7(documents: Documents) -> Documents:
    """The estimator's module in `fitted.json`; the tracking settings composed into `tracking`."""
    state, params = documents[STATE], documents[PARAMS]
    name = state["estimator"]
    if name not in _FORECASTER_MODULES:
        raise FormatError(
            f"a {name} saved before format 7 names no module; known classes: {sorted(_FORECASTER_MODULES)}"
        )
    state["module"] = _FORECASTER_MODULES[name]
    if name in ("SeasonalNaive", "ExponentialSmoothing"):
        state["season_length"] = params["season_length"]  # a required setting until version 7
    if name == "Forecaster":
        # The combination of versions 5 and 6 was one weight for every series: 1/2 with ETS, 1 without; no kept
        # ETS models (predict refits them, as those versions did) and no clipping of negative forecasts.
        weight = 0.5 if state["combine_with"] == "ets" else 1.0
        ids = [str(series) for series in state["series_ids"]]
        state["combination"] = {
            "weights": [[series, weight] for series in ids],
            "default_weight": weight,
            "rule": "equal weights" if weight == 0.5 else "network alone",
            "table": {"unique_id": ids, "weight": [weight] * len(ids)},
        }
        state.update(network=True, network_skipped=None, ets=None, ets_ends=None, validation_mase=None)
        params["nonnegative"] = False
    if "tracking" in params:
        flat = {key: params.pop(key) for key in _TRACKING_PARAMS if key in params}
        if params["tracking"]:
            params["tracking"] = {
                "experiment": flat.get("experiment", "forecast"),
                "run_name": flat.get("run_name"),
                "register_as": flat.get("register_as"),
                "errors": flat.get("tracking_errors", "warn"),
            }
    return documents


def _v7_to_v8(documents: Documents) -> Documents:
    """Each series' smallest value in the fit: unknown before version 8 (`None`), so `nonnegative="auto"` reads
    the history given to `predict` alone, as version 7 did."""
    if _is_forecaster(documents):
        documents[STATE]["series_low"] = None
    return documents


def _v8_to_v9(documents: Documents) -> Documents:
    """Each series' largest value in the fit: unknown before version 9 (`None`), so the sane band spans the history
    given to `predict` alone, as version 8 did."""
    if _is_forecaster(documents):
        documents[STATE]["series_high"] = None
    return documents


def _v9_to_v10(documents: Documents) -> Documents:
    """The Theta model in the statistical half: not there before version 10, so ETS alone (`theta_weight` 0) and
    no Theta models beside the kept ETS models, as version 9 forecast."""
    if _is_forecaster(documents):
        state = documents[STATE]
        state["theta_weight"], state["theta_rule"] = 0.0, "ETS alone: saved before the Theta method"
        if state.get("ets") is not None:
            state["ets"]["theta"] = None
    return documents


MIGRATIONS: dict[int, Callable[[Documents], Documents]] = {
    1: _v1_to_v2,
    2: _v2_to_v3,
    3: _v3_to_v4,
    4: _v4_to_v5,
    5: _v5_to_v6,
    6: _v6_to_v7,
    7: _v7_to_v8,
    8: _v8_to_v9,
    9: _v9_to_v10,
}
"""`MIGRATIONS[v]` brings documents of version `v` to version `v + 1`."""
