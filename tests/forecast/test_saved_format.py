"""Models saved by every earlier format load and forecast as they did; the format is versioned and migrated in steps.

The fixtures under `fixtures/saved_models/v<N>` were written by the commits that introduced each format (a tiny
Forecaster with quantiles and a SeasonalNaive, two monthly series), together with the forecasts those commits
predicted from them (`*_predict.csv`).

Versions 5 and 6 kept no ETS models: `predict` refits their ETS half with the ETS of the running version.
`forecaster_ets_then.csv` holds that half as the ETS of then forecast it (`ExponentialSmoothing` on the saved
`history.parquet`, written by 09fbd36, the last commit under whose ETS these fixtures forecast as saved).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecast import saved_format
from forecast.base import SavedModelError
from forecast.baselines import ExponentialSmoothing
from forecast.loading import load_forecaster

FIXTURES = Path(__file__).parent / "fixtures" / "saved_models"
VERSIONS = sorted(int(path.name[1:]) for path in FIXTURES.iterdir())
REFITTING_ETS = {5, 6}
"""Versions whose Forecaster combined the network and ETS in equal parts and refits ETS at predict time."""


def documents_of(directory: Path) -> dict[str, dict]:
    names = [saved_format.PARAMS, saved_format.STATE] + (
        [saved_format.PIPELINE] if (directory / saved_format.PIPELINE).exists() else []
    )
    return {name: json.loads((directory / name).read_text()) for name in names}


def test_there_is_a_fixture_for_every_earlier_version_and_a_migration_for_every_step():
    assert list(range(1, saved_format.FORMAT_VERSION)) == VERSIONS
    assert sorted(saved_format.MIGRATIONS) == VERSIONS


@pytest.mark.parametrize("version", VERSIONS)
def test_the_version_of_an_unversioned_directory_is_told_by_its_fields(version):
    assert saved_format.detect_version(documents_of(FIXTURES / f"v{version}" / "forecaster")) == version


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", ["forecaster", "seasonal_naive"])
def test_a_model_saved_by_an_earlier_version_forecasts_what_it_forecast_then(version, name):
    directory = FIXTURES / f"v{version}"
    if not (directory / name).exists():
        pytest.skip(f"version {version} could not save a {name}")
    model = load_forecaster(directory / name)
    expected = pd.read_csv(directory / f"{name}_predict.csv")
    found = model.predict()
    columns = [column for column in expected.columns if column.startswith("y_hat")]
    assert list(found[["unique_id"]].astype(str)["unique_id"]) == list(expected["unique_id"].astype(str))
    if name == "forecaster" and version in REFITTING_ETS:
        # The network's half and the intervals are as then; the ETS half (weight 1/2) is the running version's.
        then = pd.read_csv(directory / "forecaster_ets_then.csv")
        history = pd.read_parquet(directory / name / "history.parquet")
        now = ExponentialSmoothing(horizon=model.horizon).fit(history).predict()
        change = 0.5 * (now["y_hat"].to_numpy() - then["y_hat"].to_numpy())
        expected[columns] = expected[columns].to_numpy() + change[:, None]
    np.testing.assert_allclose(found[columns].to_numpy(), expected[columns].to_numpy(), rtol=1e-5, atol=1e-4)


def test_a_version_5_model_fitted_with_the_ets_combination_keeps_it():
    # Version 5 saved combine_with only as a parameter; reading it as "no combination" changed its forecasts.
    model = load_forecaster(FIXTURES / "v5" / "forecaster")
    assert model.combine_with_ == "ets"


def test_each_step_changes_only_what_its_version_changed():
    documents = documents_of(FIXTURES / "v2" / "forecaster")
    third = saved_format.MIGRATIONS[2](json.loads(json.dumps(documents)))
    state = third[saved_format.STATE]
    assert state["epochs_planned"] == documents[saved_format.STATE]["epochs_trained"]
    assert state["intervals"] is None and {value for _, value in state["series_scale"]} == {1.0}
    pipeline = third[saved_format.PIPELINE]
    assert (pipeline["min_past"], pipeline["deseasonalize"], pipeline["season_length"]) == (None, False, None)
    assert pipeline["fitted"]["seasonal_adjustment"] == {"season_length": 1, "indices": [], "anchors": []}
    untouched = dict(documents[saved_format.PARAMS])
    assert {key: third[saved_format.PARAMS][key] for key in untouched} == untouched


def test_the_tracking_settings_of_version_6_become_one_tracking_setting():
    documents = documents_of(FIXTURES / "v6" / "forecaster")
    documents[saved_format.PARAMS].update(
        tracking=True, experiment="m3", run_name="r", register_as="m3-lstm", tracking_errors="raise"
    )
    migrated = saved_format.migrate(documents)
    params = migrated[saved_format.PARAMS]
    assert params["tracking"] == {"experiment": "m3", "run_name": "r", "register_as": "m3-lstm", "errors": "raise"}
    assert not {"experiment", "run_name", "register_as", "tracking_errors"} & set(params)
    assert migrated[saved_format.STATE]["format_version"] == saved_format.FORMAT_VERSION
    assert migrated[saved_format.STATE]["module"] == "forecast.forecaster"


def test_a_model_saved_now_carries_the_format_version_and_its_module(tmp_path):
    model = load_forecaster(FIXTURES / "v6" / "seasonal_naive")
    path = model.save(tmp_path / "model")
    state = json.loads((path / "fitted.json").read_text())
    assert (state["format_version"], state["estimator"], state["module"]) == (
        saved_format.FORMAT_VERSION,
        "SeasonalNaive",
        "forecast.baselines",
    )
    pd.testing.assert_frame_equal(load_forecaster(path).predict(), model.predict())


def test_a_newer_format_is_refused_in_one_line(tmp_path):
    target = shutil.copytree(FIXTURES / "v6" / "seasonal_naive", tmp_path / "model")
    state = json.loads((target / "fitted.json").read_text())
    (target / "fitted.json").write_text(json.dumps({**state, "format_version": 99}))
    with pytest.raises(SavedModelError, match="format_version 99 .* a model saved by a newer version"):
        load_forecaster(target)
    (target / "fitted.json").write_text(json.dumps({**state, "format_version": "7"}))
    with pytest.raises(SavedModelError, match="format_version must be an integer; found '7'"):
        load_forecaster(target)


def test_a_module_outside_the_package_is_never_imported(tmp_path):
    target = shutil.copytree(FIXTURES / "v6" / "seasonal_naive", tmp_path / "model")
    state = json.loads((target / "fitted.json").read_text())
    state.update(format_version=saved_format.FORMAT_VERSION, module="os", estimator="system")
    (target / "fitted.json").write_text(json.dumps(state))
    with pytest.raises(SavedModelError, match="os.system, which is not a known forecaster"):
        load_forecaster(target)


def test_a_version_9_forecaster_keeps_ets_alone_as_its_statistical_half():
    # Version 9 had no Theta model: the weight on it is 0 and the kept ETS models carry none beside them.
    model = load_forecaster(FIXTURES / "v9" / "forecaster")
    assert (model.theta_weight_, model.ets_.theta) == (0.0, None)
    assert model.theta_rule_ == "ETS alone: saved before the Theta method"


def test_a_version_8_forecaster_judges_the_sane_band_on_the_history_given_to_predict():
    # Version 8 kept no series' largest value in the fit: the band spans the history given to predict alone.
    model = load_forecaster(FIXTURES / "v8" / "forecaster")
    assert model.series_high_ is None and model.series_low_ is not None


def test_a_version_7_forecaster_reads_only_the_history_given_to_predict_for_nonnegative():
    # Version 7 kept no series' smallest value in the fit: nonnegative="auto" reads the history given to predict.
    model = load_forecaster(FIXTURES / "v7" / "forecaster")
    assert model.series_low_ is None
    np.testing.assert_array_equal(
        model._covered_by_nonnegative(np.array(["a", "b"]), np.array([-1.0, 2.0])), [False, True]
    )
