"""Saving is atomic and loading names what is wrong with a saved directory."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pandas as pd
import pytest

from forecast.base import SavedModelError
from forecast.forecaster import Forecaster
from forecast.loading import load_forecaster
from forecast.saving import check_replaceable
from forecast.writable import unwritable_reason

SETTINGS = dict(lookback=6, horizon=3, units=4, epochs=1, batch_size=16, combine_with="ets", verbose=0, tracking=False)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(2)
    return pd.DataFrame(
        {
            "unique_id": np.repeat(["a", "b"], 30),
            "ds": np.tile(pd.date_range("2021-01-01", periods=30, freq="D"), 2),
            "y": rng.normal(10, 1, 60),
        }
    )


@pytest.fixture(scope="module")
def saved(frame, tmp_path_factory):
    model = Forecaster(**SETTINGS).fit(frame)
    return model, model.save(tmp_path_factory.mktemp("saved") / "model")


def copy_of(saved_path, tmp_path):
    import shutil

    target = tmp_path / "copy"
    shutil.copytree(saved_path, target)
    return target


def test_the_per_series_tables_are_indexed_by_python_objects_before_and_after_load(saved, frame):
    # predict reads these indexes as arrays on every call: an Arrow-backed text index (pandas 3's `str`, the
    # dtype of `frame`'s ids) would be converted anew each time, at a cost that grows with the fitted series.
    model, path = saved
    assert pd.api.types.is_string_dtype(frame["unique_id"].dtype)
    for fitted in (model, load_forecaster(path)):
        for table in (fitted.series_scale_, fitted.series_low_, fitted.series_high_):
            assert table.index.dtype == object and list(table.index) == ["a", "b"]
            assert table.dtype == np.float64


def test_a_failed_save_leaves_the_previous_model_as_it_was(saved, frame, tmp_path, monkeypatch):
    model, path = saved
    target = copy_of(path, tmp_path)
    before = {name.name: name.read_bytes() for name in target.iterdir()}
    other = Forecaster(**{**SETTINGS, "lookback": 5}).fit(frame)

    def broken(directory):
        (directory / "model.keras").write_bytes(b"half a model")
        raise OSError("disk full")

    monkeypatch.setattr(other, "_save_model", broken)
    with pytest.raises(OSError, match="disk full"):
        other.save(target)
    assert {name.name: name.read_bytes() for name in target.iterdir()} == before
    assert [entry.name for entry in target.parent.iterdir()] == ["copy"]  # no temporary directory left
    pd.testing.assert_frame_equal(load_forecaster(target).predict(), model.predict())


def test_saving_over_a_model_replaces_it_whole_with_normal_permissions(saved, frame, tmp_path):
    _, path = saved
    target = copy_of(path, tmp_path)
    other = Forecaster(**{**SETTINGS, "lookback": 5}).fit(frame)
    other.save(target)
    assert load_forecaster(target).lookback == 5
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o777 & ~mask


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: (d / "fitted.json").write_text("{not json"), r"fitted.json is corrupt: not valid JSON"),
        (lambda d: (d / "params.json").unlink(), r"params.json is missing"),
        (
            lambda d: (d / "fitted.json").write_text(
                json.dumps({k: v for k, v in json.loads((d / "fitted.json").read_text()).items() if k != "freq"})
            ),
            r"fitted.json or params.json does not describe a Forecaster \(KeyError: 'freq'\)",
        ),
        (
            lambda d: (d / "model.keras").write_bytes((d / "model.keras").read_bytes()[:200]),
            r"model.keras is corrupt or truncated: not a whole .keras archive",
        ),
        (
            lambda d: (d / "pipeline.json").write_text("[]"),
            r"pipeline.json is corrupt: expected a JSON object, found list",
        ),
        (lambda d: (d / "pipeline.json").write_text("{}"), r"pipeline.json is corrupt: it holds no fitted state"),
        (lambda d: (d / "params.json").write_text("[]"), r"params.json is corrupt: expected a JSON object, found list"),
        (
            lambda d: (d / "params.json").write_text(
                json.dumps({**json.loads((d / "params.json").read_text()), "lookback": 9})
            ),
            r"describe lookback=9.*but model.keras takes \(6, 2\) past inputs",
        ),
        (lambda d: (d / "history.parquet").write_bytes(b"PAR1"), r"history.parquet cannot be read"),
        (
            lambda d: (d / "params.json").write_text(
                json.dumps({**json.loads((d / "params.json").read_text()), "lookback": "x"})
            ),
            r"params.json does not describe a Forecaster \(ValueError: lookback must be a positive integer up to 100,000; got 'x'",
        ),
    ],
)
def test_a_damaged_saved_model_is_named_in_one_error(saved, tmp_path, damage, message):
    _, path = saved
    target = copy_of(path, tmp_path)
    damage(target)
    with pytest.raises(SavedModelError, match=message):
        load_forecaster(target)


def test_a_missing_directory_is_named(tmp_path):
    with pytest.raises(SavedModelError, match=r"nowhere is not a saved forecaster: no such directory"):
        load_forecaster(tmp_path / "nowhere")


# ----------------------------------------------------------------------------------- a save killed at every step

KILLED_SAVE = r"""
import os, sys
import numpy as np, pandas as pd
import forecast.saving as saving
from forecast.baselines import SeasonalNaive

target, step, exchange_works = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
frame = pd.DataFrame({"unique_id": "a", "ds": np.arange(30), "y": np.arange(30.0)})
model = SeasonalNaive(horizon=5, season_length=3).fit(frame)  # the old model at target has horizon 2

def killed(original, after=False):
    def wrapper(*args, **kwargs):
        if not after:
            os._exit(137)
        result = original(*args, **kwargs)
        os._exit(137)
    return wrapper

if not exchange_works:
    saving.exchange = lambda first, second: False
if step == "writing":
    model._save_model = lambda directory: os._exit(137)
elif step == "before_swap":
    saving._flush = killed(saving._flush, after=True)
elif step == "after_swap":
    saving.exchange = killed(saving.exchange, after=True)
elif step == "first_rename":  # the fallback: the old directory renamed aside, the new one not yet in
    renames = []
    original = saving.os.rename
    def rename(source, destination):
        original(source, destination)
        renames.append(destination)
        if len(renames) == 1:
            os._exit(137)
    saving.os.rename = rename
elif step == "after_rename":
    saving._fsync_directory = killed(saving._fsync_directory)
model.save(target)
"""


@pytest.mark.parametrize(
    "step, exchange_works",
    [
        ("writing", True),
        ("before_swap", True),
        ("after_swap", True),
        ("after_rename", True),
        ("first_rename", False),
        ("after_rename", False),
    ],
)
def test_a_save_killed_at_any_step_leaves_a_whole_model_and_the_next_save_cleans_up(tmp_path, step, exchange_works):
    import subprocess
    import sys

    from forecast.baselines import SeasonalNaive

    frame = pd.DataFrame({"unique_id": "a", "ds": np.arange(30), "y": np.arange(30.0)})
    target = tmp_path / "model"
    SeasonalNaive(horizon=2, season_length=3).fit(frame).save(target)
    child = subprocess.run(
        [sys.executable, "-c", KILLED_SAVE, str(target), step, "1" if exchange_works else "0"], capture_output=True
    )
    assert child.returncode == 137, child.stderr.decode()
    leftovers = [path.name for path in tmp_path.iterdir() if path.name != "model" and not path.name.endswith(".lock")]
    if step == "first_rename":
        # Without an exchange the path is empty between the two renames; the old model waits beside it.
        assert not target.exists() and len(leftovers) == 2
    else:
        assert load_forecaster(target).horizon in (2, 5)  # the whole old model or the whole new one
    SeasonalNaive(horizon=4, season_length=3).fit(frame).save(target)
    assert load_forecaster(target).horizon == 4
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model"]  # the dead save's directories are gone


def test_a_killed_fallback_save_leaves_the_old_model_for_the_next_save_to_restore(tmp_path):
    import subprocess
    import sys

    from forecast.baselines import SeasonalNaive
    from forecast.saving import replace_directory

    frame = pd.DataFrame({"unique_id": "a", "ds": np.arange(30), "y": np.arange(30.0)})
    target = tmp_path / "model"
    SeasonalNaive(horizon=2, season_length=3).fit(frame).save(target)
    subprocess.run([sys.executable, "-c", KILLED_SAVE, str(target), "first_rename", "0"], capture_output=True)
    assert not target.exists()
    # The next save of that path first puts the old model back, then swaps its own in.
    with pytest.raises(RuntimeError, match="failed save"), replace_directory(target, "fitted.json"):
        raise RuntimeError("failed save")
    assert load_forecaster(target).horizon == 2


def test_save_never_replaces_a_directory_that_holds_no_saved_model(tmp_path):
    from forecast.baselines import Naive
    from forecast.saving import SavedModelError

    model = Naive(horizon=1).fit(pd.DataFrame({"unique_id": "a", "ds": np.arange(5), "y": np.arange(5.0)}))
    (tmp_path / "data.csv").write_text("unique_id,ds,y\n")
    with pytest.raises(SavedModelError, match=r"holds 1 entries \(e.g. 'data.csv'\) but no saved model"):
        model.save(tmp_path)
    assert (tmp_path / "data.csv").exists()
    model.save(tmp_path / "empty")  # new, then replaced: a directory that holds a model
    model.save(tmp_path / "empty")
    (tmp_path / "vacant").mkdir()
    model.save(tmp_path / "vacant")
    assert (tmp_path / "vacant" / "fitted.json").exists()


def test_unwritable_reason_walks_up_to_the_nearest_existing_directory(tmp_path):
    assert unwritable_reason(tmp_path / "a" / "b" / "model") is None
    assert unwritable_reason(tmp_path) is None
    (tmp_path / "data.csv").write_text("x")
    assert unwritable_reason(tmp_path / "data.csv" / "out.csv") == f"{tmp_path / 'data.csv'} is a file, not a directory"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into any directory")
def test_unwritable_reason_names_a_read_only_directory(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert unwritable_reason(locked / "new" / "model") == f"{locked} is not writable"
        with pytest.raises(SavedModelError, match="is not writable"):
            check_replaceable(locked / "model", "fitted.json")
    finally:
        locked.chmod(0o700)


def test_a_load_during_which_a_save_replaces_the_model_reads_one_model_whole(saved, frame, tmp_path, monkeypatch):
    import forecast.base

    _, path = saved
    target = copy_of(path, tmp_path)
    renamed = frame.assign(unique_id=frame["unique_id"].map({"a": "c", "b": "d"}), y=frame["y"] * 100.0)
    other = Forecaster(**SETTINGS).fit(renamed)  # the same shape: a mix would load without an error
    real_read = pd.read_parquet
    reads = []

    def read_while_saving(source, *args, **kwargs):  # the history is read after params.json and fitted.json
        if not reads:
            other.save(target)  # another process's save swaps the new model in between two reads
        reads.append(source)
        return real_read(source, *args, **kwargs)

    monkeypatch.setattr(forecast.base.pd, "read_parquet", read_while_saving)
    loaded = load_forecaster(target)
    assert len(reads) == 2  # the first read saw two models and was read again
    assert list(loaded.series_ids_) == ["c", "d"] and set(loaded.train_df_["unique_id"]) == {"c", "d"}
    pd.testing.assert_frame_equal(loaded.predict(), other.predict())
