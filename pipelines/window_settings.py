"""The settings of series windowing, declared once for `SeriesWindows` and every estimator built on it.

`SeriesWindows` and the `Forecaster` both take these keyword arguments (the Forecaster passes its own
values to the pipeline it fits), so each default and help text below is the only one (`pipelines.settings`).
The defaults are the ones measured best for forecasting (docs/benchmarks/validation.md): per-window mean scaling,
left padding of short histories, multiplicative deseasonalisation of seasonal series. The choices of the
settings are declared here too; the modules that implement them import them (this module imports neither pandas
nor NumPy, so a command line checks its options before loading them).
"""

from __future__ import annotations

from collections.abc import Sequence

from pipelines.settings import (
    Calendar,
    Choice,
    Flag,
    Frequency,
    Integer,
    Names,
    Setting,
    check_settings,
    declared,
    settings_dataclass,
    settings_of,
)

CALENDAR_FIELDS = ("minute", "hour", "dayofweek", "dayofmonth", "dayofyear", "weekofyear", "month", "quarter")
"""Calendar features `pipelines.calendar` computes from `ds`."""
SCALERS = (None, "standard", "minmax", "robust", "mean", "last", "window_mean")
"""Target scalings of `pipelines.scaling`."""
COVARIATE_SCALERS = (None, "standard", "robust")
"""Covariate scalings of `pipelines.scaling.CovariateScaling`."""
FILL_POLICIES = (None, "ffill", "interpolate", "zero", "drop_series")
"""Missing-value and gap policies of `pipelines.validation`."""
SHORT_SERIES_POLICIES = ("error", "drop")
"""Policies of `pipelines.validation` for series too short for a window."""

MAX_STEPS = 100_000
"""The longest lookback and horizon accepted: every window holds that many steps of every feature, so a longer one
(a typo's extra zeros) would only exhaust memory."""
LOOKBACK = Setting("lookback", Integer(maximum=MAX_STEPS), 24, "past steps read before each forecast origin")
HORIZON = Setting("horizon", Integer(maximum=MAX_STEPS), 12, "steps forecast after each origin")
FREQ = Setting(
    "freq",
    Frequency(),
    None,
    "pandas offset alias (MS, D, ...) or integer step of ds; none infers it from the series, which must agree",
)
PAST_COVARIATES = Setting(
    "past_covariates", Names(), (), "numeric columns observed only up to the forecast origin (their future is unknown)"
)
FUTURE_COVARIATES = Setting(
    "future_covariates",
    Names(),
    (),
    "numeric columns known for the horizon too (given for the future in predict's future_df)",
)
STATIC_COVARIATES = Setting(
    "static_covariates", Names(), (), "columns constant within each series (non-numeric ones are integer-coded)"
)
CALENDAR = Setting(
    "calendar",
    Calendar(CALENDAR_FIELDS),
    None,
    "calendar features from ds: 'auto' (chosen from the frequency), fields such as month,dayofweek, or none",
)
SCALER = Setting(
    "scaler",
    Choice(SCALERS),
    "window_mean",
    "target scaling: window_mean (per window, the mean absolute value of its observed past, as DeepAR), last, "
    "or per series standard, minmax, robust, mean; none keeps the values",
)
COVARIATE_SCALER = Setting(
    "covariate_scaler",
    Choice(COVARIATE_SCALERS),
    "standard",
    "scaling of numeric covariates over the training rows: standard, robust or none (0/1 flags are kept)",
)
MIN_PAST = Setting(
    "min_past",
    Integer(allow_none=True),
    1,
    "fewest observed past rows of a window (at most lookback); shorter histories are left-padded up to lookback "
    "with an 'observed' flag, so series shorter than lookback + horizon train and forecast too (none: no padding)",
)
SEASON_LENGTH = Setting(
    "season_length",
    Integer(allow_none=True),
    None,
    "seasonal period; none takes it from the calendar (12 for monthly data, ...) or infers it from integer-ds series",
)
DESEASONALIZE = Setting(
    "deseasonalize",
    Flag(),
    True,
    "divide every series that passes a seasonality test by its multiplicative seasonal indices (fitted on "
    "training rows) and multiply the forecasts back",
)
FILL = Setting(
    "fill",
    Choice(FILL_POLICIES),
    None,
    "missing values and gaps: ffill, interpolate, zero or drop_series; none makes them an error",
)
SHORT_SERIES = Setting(
    "short_series",
    Choice(SHORT_SERIES_POLICIES),
    "error",
    "series too short for one training window (in predict: shorter than min_past): error, or drop with a warning",
)
STRIDE = Setting("stride", Integer(), 1, "steps between the starts of consecutive windows of a series")
DTYPE = Setting("dtype", Choice(("float32", "float64", "float16")), "float32", "dtype of the window arrays")


@settings_dataclass
class WindowSettings:
    """The windowing settings shared by `SeriesWindows` and the estimators that fit one."""

    lookback: int = declared(LOOKBACK)
    horizon: int = declared(HORIZON)
    freq: str | int | None = declared(FREQ)
    past_covariates: Sequence[str] = declared(PAST_COVARIATES)
    future_covariates: Sequence[str] = declared(FUTURE_COVARIATES)
    static_covariates: Sequence[str] = declared(STATIC_COVARIATES)
    calendar: Sequence[str] | str | None = declared(CALENDAR)
    scaler: str | None = declared(SCALER)
    covariate_scaler: str | None = declared(COVARIATE_SCALER)
    min_past: int | None = declared(MIN_PAST)
    season_length: int | None = declared(SEASON_LENGTH)
    deseasonalize: bool = declared(DESEASONALIZE)
    fill: str | None = declared(FILL)
    short_series: str = declared(SHORT_SERIES)

    def check_window_settings(self) -> None:
        """Every windowing setting against its declaration, then what relates several of them."""
        check_settings(self)
        if self.min_past is not None and self.min_past > self.lookback:
            raise ValueError(
                f"min_past must be at most lookback={self.lookback} (the past a window reads); got {self.min_past}."
            )

    def window_settings(self) -> dict:
        """These settings' current values, by name (what an estimator passes to the `SeriesWindows` it fits)."""
        return {setting.name: getattr(self, setting.name) for setting in settings_of(WindowSettings)}
