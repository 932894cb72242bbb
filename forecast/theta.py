"""The optimised Theta model beside ETS for series without a season, and how much of it the statistical half takes.

The Theta method of Assimakopoulos & Nikolopoulos ("The theta model: a decomposition approach to forecasting",
IJF 16(4), 2000), the best method of the M3 competition, is simple exponential smoothing with a drift from the
series' linear trend. Fiorucci, Pellegrini, Louzada, Petropoulos & Koehler ("Models for optimising the theta
method and their relationship to state space models", IJF 32(4), 2016) write it as a state space model and fit
its theta coefficient instead of fixing it at 2. Their static optimised Theta model (OTM), for `y_1 .. y_n`
with `A_n + B_n t` the least-squares line through them, is

```
mu_t = l_{t-1} + (1 - 1/theta) ((1 - alpha)^{t-1} A_n + ((1 - (1 - alpha)^t) / alpha) B_n)     (one step ahead)
l_t  = alpha y_t + (1 - alpha) l_{t-1}
y_hat_{n+h} = l_n + (1 - 1/theta) ((1 - alpha)^n A_n + (h - 1 + (1 - (1 - alpha)^{n+1}) / alpha) B_n)
```

(`theta = 2` with `l_0` and `alpha` of simple exponential smoothing is the standard Theta method, Hyndman &
Billah, IJF 19(2), 2003). The parameters `l_0`, `alpha` in [0.01, 0.99] and `theta >= 1` minimise the
in-sample mean squared error `sum_t (y_t - mu_t)^2 / n`. For a fixed `alpha`, `mu_t` is linear in `l_0` and in
`w = 1 - 1/theta` (in [0, 1]), so those two are a least-squares solution (clipped to the range of `w`), and
only `alpha` is searched: on a grid of `ALPHA_GRID` points, then by golden section between the neighbours of
the best (Fiorucci et al. search all three by Nelder-Mead; this profile reaches the least error the grid's
basin holds). Every series is divided by its mean absolute value first (`forecast.exponential_smoothing`). The
fitted model is kept (`ThetaModels`) with the sums that give the line, so a forecast from a later origin
continues the level over the values observed since and recomputes `A_n`, `B_n` over all of them, without a
new fit.

The statistical half of the Forecaster is then

```
y_stat = (1 - v) y_ets + v y_theta,        v in THETA_WEIGHTS = {0, 1/2, 1}
```

for series without a season (`season_length == 1`; with a season `v = 0`, ETS alone), with `v` chosen for
the whole data set on the held-out windows of `fit` (the mean scaled absolute error over every window and step,
`choose_theta_weight`) where there are at least `forecast.combination.MIN_EVIDENCE_WINDOWS` of them (the
minimum on which the network is judged). On fewer, `v = PRIOR_WEIGHT = 1/2` unless one of the two errs on them
by more than `THETA_MARGIN` times the other (the mean scaled absolute error over the windows), which then
forecasts alone (`prior_theta_weight`); without any window, 1/2. A series whose trend persists (its steps
correlate from one to the next: `forecast.exponential_smoothing.persistent_trends`) gets no Theta model, so its
`y_theta` is `y_ets` (ETS alone): a line through its whole history points the wrong way after the trend turned.

Why the optimised model, only without a season, chosen on the validation splits (the last horizon of each
training part, never a test part; docs/benchmarks/validation.md): averaged with our ETS, statsforecast's
Theta models lost 1-3% on M1 and M3 quarterly and monthly. Without a season, the standard Theta method's
weight chosen on the held-out windows flipped between the validation and the test parts; the optimised
model's did not (1/2 on M3 yearly, 1 on M1 yearly, 0 on M3 other, on both). Why 1/2 on fewer windows: the
average beat ETS alone on both splits of M3 yearly, M1 yearly and Tourism yearly, and in panels of 1 to 22
Tourism yearly series it was 2-8% better at every size on both splits (not on M3 other, whose test part the
Forecaster gives a season). Why the margin: on the M1/M3 yearly and M3 other series each fitted alone (one to
three windows each), it gained 0.4-1.3% over 1/2 on both splits of all three sets (1.25-1.5 equally, 2 less,
and the least error without a margin lost on two of the six); it keeps Theta's drift, half the slope of a
straight line, off a series that grows exponentially, where the windows show it far behind.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from forecast.combination import MIN_EVIDENCE_WINDOWS
from forecast.compiled import compiled
from pipelines.seasonality import indices_ahead, remove_tested_seasons

THETA_WEIGHTS = (0.0, 0.5, 1.0)
"""The weights `v` on Theta that are tried (0: ETS alone)."""

PRIOR_WEIGHT = 0.5
"""`v` for series without a season where too few held-out windows choose it (`prior_theta_weight`)."""

THETA_MARGIN = 1.5
"""On fewer windows than choose `v`, the ratio of the two models' held-out errors beyond which the better one
forecasts alone (`prior_theta_weight`)."""

ALPHA_RANGE = (0.01, 0.99)
"""The smoothing parameter's range (Fiorucci et al. 2016)."""

ALPHA_GRID = 50
"""Grid points of `alpha` before the golden-section refinement."""

GOLDEN_STEPS = 30
"""Golden-section steps between the best grid point's neighbours (their gap shrinks by 0.618 each)."""

MIN_LENGTH = 3
"""The fewest values a series needs for the model (`l_0`, `alpha`, `theta` and a line through them)."""


@compiled
def _line(n, sum_y, sum_ty):
    """`A_n, B_n`: the least-squares line `A + B t` through `y_1 .. y_n` from `sum_t y_t` and `sum_t t y_t`."""
    mean_t = (n + 1) / 2.0
    mean_y = sum_y / n
    slope = (sum_ty - n * mean_t * mean_y) / (n * (n * n - 1) / 12.0)
    return mean_y - slope * mean_t, slope


@compiled
def _drift_term(alpha, decay, steps_before, intercept, slope):
    """`(1 - alpha)^t A + (s + (1 - (1 - alpha)^{t+1}) / alpha) B` with `decay = (1 - alpha)^t`, `s = steps_before`."""
    return decay * intercept + (steps_before + (1.0 - decay * (1.0 - alpha)) / alpha) * slope


@compiled
def _profile(y, alpha, intercept, slope, fitted):
    """The least in-sample squared error at this `alpha` over `l_0` and `w = 1 - 1/theta` in [0, 1] (least
    squares: `mu_t` is linear in both); writes `fitted = [l_0, w, l_n]`."""
    sdd = sdg = sgg = sdr = sgr = 0.0
    decay = 1.0
    level = 0.0  # the level from l_0 = 0; l_0 adds (1 - alpha)^{t-1} l_0
    for value in y:
        g = _drift_term(alpha, decay, 0.0, intercept, slope)
        r = value - level
        sdd += decay * decay
        sdg += decay * g
        sgg += g * g
        sdr += decay * r
        sgr += g * r
        level = alpha * value + (1.0 - alpha) * level
        decay *= 1.0 - alpha
    determinant = sdd * sgg - sdg * sdg
    weight = 0.0
    if determinant > 1e-12 * sdd * sgg:
        weight = min(max((sdd * sgr - sdg * sdr) / determinant, 0.0), 1.0)
    level0 = (sdr - weight * sdg) / sdd
    squared = 0.0
    level = level0
    decay = 1.0
    for value in y:
        error = value - level - weight * _drift_term(alpha, decay, 0.0, intercept, slope)
        squared += error * error
        level = alpha * value + (1.0 - alpha) * level
        decay *= 1.0 - alpha
    fitted[0], fitted[1], fitted[2] = level0, weight, level
    return squared


@compiled
def _fit_one(y, parameters):
    """Fit one series (module docstring); writes `parameters = [l_n, alpha, w, sum_t y_t, sum_t t y_t]`."""
    n = len(y)
    sum_y = 0.0
    sum_ty = 0.0
    for t in range(n):
        sum_y += y[t]
        sum_ty += (t + 1) * y[t]
    intercept, slope = _line(n, sum_y, sum_ty)
    fitted = np.empty(3)
    low, high = ALPHA_RANGE
    gap = (high - low) / (ALPHA_GRID - 1)
    best_alpha, best_error = low, np.inf
    for k in range(ALPHA_GRID):
        error = _profile(y, low + k * gap, intercept, slope, fitted)
        if error < best_error:
            best_alpha, best_error = low + k * gap, error
    left, right = max(low, best_alpha - gap), min(high, best_alpha + gap)
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    inner_left, inner_right = right - ratio * (right - left), left + ratio * (right - left)
    error_left = _profile(y, inner_left, intercept, slope, fitted)
    error_right = _profile(y, inner_right, intercept, slope, fitted)
    for _ in range(GOLDEN_STEPS):
        if error_left <= error_right:
            right, inner_right, error_right = inner_right, inner_left, error_left
            inner_left = right - ratio * (right - left)
            error_left = _profile(y, inner_left, intercept, slope, fitted)
        else:
            left, inner_left, error_left = inner_left, inner_right, error_right
            inner_right = left + ratio * (right - left)
            error_right = _profile(y, inner_right, intercept, slope, fitted)
    for alpha, error in ((inner_left, error_left), (inner_right, error_right)):
        if error < best_error:
            best_alpha, best_error = alpha, error
    _profile(y, best_alpha, intercept, slope, fitted)
    parameters[0], parameters[1], parameters[2] = fitted[2], best_alpha, fitted[1]
    parameters[3], parameters[4] = sum_y, sum_ty


@compiled
def _fit_all(values, starts, parameters):
    for i in range(len(starts) - 1):
        if starts[i + 1] - starts[i] >= MIN_LENGTH:
            _fit_one(values[starts[i] : starts[i + 1]], parameters[i])


@compiled
def _continue_all(values, starts, rows, lengths, parameters, horizon, forecasts):
    """Continue series `rows[k]` over `values[starts[k]:starts[k+1]]` and forecast `horizon` steps into
    `forecasts[k]` (NaN where the series has no model)."""
    for k in range(len(rows)):
        row = parameters[rows[k]]
        level, alpha, weight, sum_y, sum_ty = row[0], row[1], row[2], row[3], row[4]
        if not np.isfinite(alpha):
            forecasts[k] = np.nan
            continue
        n = lengths[rows[k]]
        for value in values[starts[k] : starts[k + 1]]:
            n += 1
            sum_y += value
            sum_ty += n * value
            level = alpha * value + (1.0 - alpha) * level
        intercept, slope = _line(n, sum_y, sum_ty)
        decay = (1.0 - alpha) ** n
        for h in range(horizon):
            forecasts[k, h] = level + weight * _drift_term(alpha, decay, float(h), intercept, slope)


PARAMETERS = ("levels", "alphas", "weights", "sums_y", "sums_ty")


@dataclass(frozen=True, eq=False, kw_only=True)
class ThetaModels:
    """The optimised Theta model of every series (module docstring), kept so that later origins need no new fit.

    Series `i` was fitted on `lengths[i]` values; `parameters[i] = [l_n, alpha, w, sum_t y_t, sum_t t y_t]`
    with `w = 1 - 1/theta` (NaN for a series shorter than `MIN_LENGTH`, which has no model).
    """

    lengths: np.ndarray
    parameters: np.ndarray

    def __post_init__(self) -> None:
        if self.parameters.shape != (len(self.lengths), len(PARAMETERS)):
            raise ValueError(
                f"ThetaModels.parameters must have shape {(len(self.lengths), len(PARAMETERS))}; "
                f"found {self.parameters.shape}"
            )

    def __len__(self) -> int:
        return len(self.lengths)

    def forecast(self, series_index: np.ndarray, continuations: Sequence[np.ndarray], horizon: int) -> np.ndarray:
        """`[len(series_index), horizon]`: series `series_index[k]` continued over `continuations[k]` (values
        observed after its fitted history, in its fitted units) and forecast; NaN for a series without a model."""
        rows = np.asarray(series_index, dtype=np.int64)
        arrays = [np.asarray(values, dtype=np.float64).reshape(-1) for values in continuations]
        starts = np.concatenate([[0], np.cumsum([len(values) for values in arrays])]).astype(np.int64)
        values = np.concatenate(arrays) if arrays else np.zeros(0)
        forecasts = np.empty((len(rows), int(horizon)))
        _continue_all(values, starts, rows, self.lengths, self.parameters, int(horizon), forecasts)
        return forecasts

    def get_config(self) -> dict:
        """A JSON-serializable dict for `from_config` (None for NaN; floats written as Python writes them)."""
        return {
            "lengths": self.lengths.tolist(),
            **{
                name: [value if math.isfinite(value) else None for value in column.tolist()]
                for name, column in zip(PARAMETERS, self.parameters.T, strict=True)
            },
        }

    @classmethod
    def from_config(cls, config: dict) -> ThetaModels:
        """The models `get_config` described."""
        columns = [[np.nan if value is None else value for value in config[name]] for name in PARAMETERS]
        parameters = np.array(columns, dtype=np.float64).reshape(len(PARAMETERS), -1).T
        return cls(lengths=np.array(config["lengths"], dtype=np.int64), parameters=np.ascontiguousarray(parameters))


def fit_theta(series: Sequence[np.ndarray], fitted: np.ndarray | None = None) -> ThetaModels:
    """The optimised Theta model fitted to every series (in the units given: `fit_ets` passes them divided by
    their mean absolute value), or only to those where `fitted` is True (the others get no model: NaN)."""
    arrays = [np.asarray(y, dtype=np.float64).reshape(-1) for y in series]
    lengths = np.array([len(y) for y in arrays], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    parameters = np.full((len(arrays), len(PARAMETERS)), np.nan)
    _fit_all(np.concatenate(arrays) if arrays else np.zeros(0), starts, parameters)
    if fitted is not None:
        parameters[~np.asarray(fitted, dtype=bool)] = np.nan
    return ThetaModels(lengths=lengths, parameters=parameters)


def theta_point_forecasts(
    y: np.ndarray, origin_rows: np.ndarray, first_rows: np.ndarray, horizon: int, season_length: int
) -> np.ndarray:
    """`[origins, horizon]`: the optimised Theta model fitted anew to every history `y[first : origin + 1]`.

    With `season_length > 1`, a history that passes the seasonality test has its season removed first and put
    back on its forecasts: divided by its classical multiplicative indices, or where it is not positive throughout
    its additive ones subtracted (`pipelines.seasonality.remove_tested_seasons`, as statsforecast's Theta models
    and the M4 benchmarks do). A history shorter than `MIN_LENGTH` gets the naive forecast.
    """
    histories = [y[first : origin + 1] for first, origin in zip(first_rows.tolist(), origin_rows.tolist())]
    m = max(1, int(season_length))
    factors, offsets = np.ones((len(histories), horizon)), np.zeros((len(histories), horizon))
    if m > 1:
        histories, indices, additive = remove_tested_seasons(histories, m)
        lengths = [len(history) for history in histories]
        factors, offsets = indices_ahead(indices, lengths, horizon), indices_ahead(additive, lengths, horizon)
    forecasts = fit_theta(histories).forecast(np.arange(len(histories)), [np.zeros(0)] * len(histories), horizon)
    last = np.array([history[-1] for history in histories], dtype=np.float64)
    return np.where(np.isfinite(forecasts), forecasts, last[:, None]) * factors + offsets


def blend_theta(ets: np.ndarray, theta: np.ndarray | None, weight: float) -> np.ndarray:
    """`(1 - v) y_ets + v y_theta` (ETS unchanged for `v = 0` or without Theta forecasts)."""
    if theta is None or weight == 0.0:
        return ets
    return (1.0 - weight) * ets + weight * theta


def prior_theta_weight(
    seasonal: bool, windows: int, ets_error: float = math.nan, theta_error: float = math.nan
) -> tuple[float, str]:
    """`v` and why where the held-out windows are too few to choose it: 0 (ETS alone) for series with a season, else
    `PRIOR_WEIGHT` (ETS and Theta in equal parts), unless one model's mean scaled error over the `windows`
    validation windows (fewer than `MIN_EVIDENCE_WINDOWS`; NaN without any) is more than `THETA_MARGIN` times the
    other's: that other alone."""
    if seasonal:
        return 0.0, "ETS alone: the series have a season"
    few = f"{windows} validation windows, fewer than the {MIN_EVIDENCE_WINDOWS} to choose on"
    errors = f"Theta's scaled error {theta_error:.4f} against ETS's {ets_error:.4f}"
    if theta_error > THETA_MARGIN * ets_error:
        return 0.0, f"ETS alone: {few}, but {errors} there, beyond {THETA_MARGIN:g} times"
    if ets_error > THETA_MARGIN * theta_error:
        return 1.0, f"Theta alone: {few}, but {errors} there, below 1/{THETA_MARGIN:g}"
    return PRIOR_WEIGHT, f"ETS and Theta in equal parts: {few}"


def choose_theta_weight(
    ets: np.ndarray, theta: np.ndarray | None, actual: np.ndarray, scales: np.ndarray
) -> tuple[float, str]:
    """`v` and why: the weight of `THETA_WEIGHTS` with the least mean scaled absolute error over the held-out
    windows, `mean_{k,t} |y_kt - y_stat_kt(v)| / s_k` (the smallest weight among ties), or
    `prior_theta_weight` (of those errors at `v = 0` and `v = 1`) without Theta forecasts or with fewer than
    `MIN_EVIDENCE_WINDOWS` windows.

    Args:
        ets, theta, actual: `(n_windows, horizon)` forecasts and what happened, in the series' units
            (`theta` None where the data have a season).
        scales: `(n_windows,)` the MASE scale of each window's series (positive).
    """
    if theta is None:
        return prior_theta_weight(True, len(ets))
    losses = [np.mean(np.abs(actual - blend_theta(ets, theta, v)) / scales[:, None]) for v in THETA_WEIGHTS]
    if len(ets) < MIN_EVIDENCE_WINDOWS:
        return prior_theta_weight(False, len(ets), losses[0], losses[-1])
    weight = THETA_WEIGHTS[int(np.argmin(losses))]
    shown = ", ".join(f"{v:g}: {loss:.4f}" for v, loss in zip(THETA_WEIGHTS, losses, strict=True))
    return weight, f"least scaled error on the validation windows ({shown})"
