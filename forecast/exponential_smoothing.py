"""Exponential smoothing state space models (ETS) for many series, combined with Akaike weights.

The innovations state space models of Hyndman, Koehler, Snyder & Grose ("A state space framework
for automatic forecasting using exponential smoothing methods", IJF 18(3), 2002) and Hyndman,
Koehler, Ord & Snyder (*Forecasting with Exponential Smoothing: The State Space Approach*,
Springer 2008, tables 2.2-2.3). A model ETS(E, T, S) has an error E in {A, M}, a trend T in
{N, A, Ad} and a season S in {N, A, M}. With level `l`, trend `b`, seasonal states `s` of
period `m` and `phi = 1` unless the trend is damped, one step of the filter is

```
q_t   = l_{t-1} + phi b_{t-1}                  (l_{t-1} without a trend)
mu_t  = q_t,  q_t + s_{t-m},  q_t s_{t-m}      (season N, A, M): the one-step forecast
e_t   = y_t - mu_t  (error A)     e_t = (y_t - mu_t) / mu_t  (error M)
p_t   = y_t,  y_t - s_{t-m},  y_t / s_{t-m}    (the seasonally adjusted observation)
l_t   = q_t + alpha (p_t - q_t)
b_t   = phi b_{t-1} + beta* (l_t - l_{t-1} - phi b_{t-1}),        beta = alpha beta*
s_t   = s_{t-m} + gamma (y_t - q_t - s_{t-m})   (A)      s_{t-m} + gamma (y_t / q_t - s_{t-m})   (M)
```

(the error-correction form of the book's table 2.3: the point recursions do not depend on the
error type, the likelihood does). The parameters minimise, per series and model, twice the
negative log-likelihood up to constants,

```
L = n log(sum_t e_t^2) + 2 sum_t log|mu_t| [error M only],
```

over the smoothing parameters in the usual region `0 < alpha < 1`, `0 < gamma < 1 - alpha`,
`0.8 < phi < 0.98`, and a slowly smoothed trend, `0 < beta < alpha / 10` (`BETA_STAR_MAX`), up to `beta < alpha`
for a series without a season whose trend persists (`persistent_trends`; all reached through logistic maps, so
the search is unconstrained) and the initial states `l_0, b_0, s_0 .. s_{m-2}`
(`s_{m-1}` makes them sum to 0 or m), by Nelder-Mead (Nelder & Mead 1965) from the heuristic start of
Hyndman et al. (2008, section 2.6.1). Each model gets `AICc = L + 2k + 2k(k+1)/(n-k-1)` (`k` = its
parameters + 1 for the variance), as in R's `ets`, and forecasts `h` steps ahead

```
y_hat_{n+h} = l_n + phi_h b_n  (+ s  or  x s),   phi_h = phi + ... + phi^h  (h without damping)
```

with `s` the seasonal state of the same phase. Rather than keep the model of least AICc, the
forecasts of all models are averaged with Akaike weights `w_k ~ exp(-(AICc_k - AICc_min) / 2)`
(Kolassa, "Combining exponential smoothing forecasts using Akaike weights", IJF 27(2), 2011): on
the validation splits of M1 and M3 (README.md, "Benchmarks") it scored 1-4% better than selection,
which overfits a trend on short series. The filter and the optimizer are compiled with Numba; `fit_ets`
fits chunks of series in threads.

The fitted models (`EtsModels`: parameters, final states and likelihood sums) are kept, so that a
forecast from a later origin continues the filter over the values observed since, without a new fit
(`EtsModels.forecast`); `ets_rolling_forecasts` fits once per series and continues to every
later origin, `ets_point_forecasts` fits at every origin. For series without a season the same fit also fits
the optimised Theta model (`forecast.theta`; `EtsForecasts`), which the Forecaster may average in.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from forecast.compiled import compiled
from forecast.sanity import within_sane_band
from forecast.theta import ThetaModels, blend_theta, fit_theta
from pipelines.seasonality import indices_ahead, remove_tested_seasons, seasonal_indices

ERRORS = ("A", "M")
TRENDS = ("N", "A", "Ad")
SEASONS = ("N", "A", "M")
MAX_SEASON_LENGTH = 24
"""Longest period modelled by seasonal states (as R's `ets`); see `fit_ets` for longer ones."""
DAYS_PER_YEAR = 365
"""The yearly period removed before the fit of daily data (a weekly period of 7), where the series show it."""
REMOVED_SEASON_WINDOW = 10
"""The seasons whose classical indices adjust each season of a removed period, and whose last ones put it back on
the forecasts (`pipelines.seasonality.local_seasonal_indices`): the profile of half-hourly demand moves with the
time of year, and weeks drift through the years. Chosen on the last horizon of the training part of the 17 public
series with such a period (docs/benchmarks/validation.md): the geometric mean of ETS's MASE there fell to 0.84 of
the whole history's indices with 10 seasons, 0.93 with 20, 0.92 with 5 and 0.92 with 3."""
PHI_RANGE = (0.8, 0.98)
"""The damping parameter's range (Hyndman et al. 2008, section 5.2)."""
SMOOTHING_FLOOR = 1e-4
"""Smoothing parameters stay at least this far inside their bounds."""
BETA_STAR_MAX = 0.1
"""Upper bound of `beta* = beta / alpha`, where the usual region (Hyndman et al. 2008, section 5.2) allows 1.

The likeliest trend smoothing of a short series often follows its last few steps: M3 N0032, a yearly series
that grew by 200-300 a year and then by 480 and 630, got `beta* = 0.98` and a slope of 770 a year. On the
validation splits of M1, M3 and Tourism (the last h values of each train part, ten sets) the Akaike-weighted
forecasts' mean MASE, against the usual bound of 1, was 0.972 with an upper bound of 0.25, 0.967 with 0.15,
0.965 with 0.1 and 0.966 with 0.05 (geometric mean over the sets); 0.1 is the middle of that flat floor.
Bounding `gamma` as well did not help (0.966-0.972)."""
PERSISTENT_TREND_CORRELATION = 0.8
"""The lag-1 autocorrelation of a series' first differences above which its trend persists (`persistent_trends`):
a series without a season beyond it gets the usual bound `beta* < 1` (`PERSISTENT_BETA_STAR_MAX`) instead of
`BETA_STAR_MAX`, and no Theta model (whose drift is a line through the whole history).

Where the steps themselves change smoothly (population, life expectancy, a demand that turned), a trend that
averages the last ten or so steps lags the turn, and a straight line through the whole history points the wrong
way. On the series whose first differences correlated above 0.8, the usual bound's MASE was 0.55 of the slow
bound's on the validation split of M3 yearly (9 series; 0.68 on its test part, 14 series) and 0.52 on 429 yearly
series of the Penn World Table and gapminder (forecast from 6 years before their end); between 0.7 and 0.8 it was
0.61 and 1.05 on M3 yearly's two splits; below, the usual bound lost (M3 yearly, Tourism yearly) or did not help.
With the usual bound, ETS alone then beat its average with Theta there by 35% (M3 yearly, both splits) and 50%
(Penn World Table and gapminder). No series of M1 yearly, Tourism yearly or M3 other goes beyond 0.8
(docs/benchmarks/validation.md)."""
PERSISTENT_BETA_STAR_MAX = 1.0
"""Upper bound of `beta*` for a trend that persists (`PERSISTENT_TREND_CORRELATION`): the usual region's."""
MAX_ITERATIONS = 1000
"""Nelder-Mead iterations per model and series (most simplices converge much sooner)."""
TOLERANCE = 1e-7
"""A simplex has converged when its objective values differ by less than this (relative)."""
PENALTY = 1e12
"""The objective of parameters whose one-step forecasts leave the positive half-line (errors M, seasons M)."""
STATE_STEP = 0.1
"""Side of the initial simplex along the initial level and trend (units of the series' mean absolute value)."""
SEASON_STEP = 0.05
"""Side of the initial simplex along the initial seasonal states."""
SMOOTHING_STEP = 0.5
"""Side of the initial simplex along the smoothing parameters (logit units)."""
CHUNKS_PER_THREAD = 4
"""Chunks of series per fitting thread (series differ in length: smaller chunks balance the threads)."""


@dataclass(frozen=True)
class EtsForm:
    """One model of the family: `error` in {"A", "M"}, `trend` in {"N", "A", "Ad"}, `season` in {"N", "A", "M"}."""

    error: str
    trend: str
    season: str

    @property
    def name(self) -> str:
        return f"ETS({self.error},{self.trend},{self.season})"

    def codes(self) -> tuple[int, int, int]:
        return ERRORS.index(self.error), TRENDS.index(self.trend), SEASONS.index(self.season)

    @classmethod
    def parse(cls, name: str) -> EtsForm:
        """The form of `name`, e.g. `"ETS(M,Ad,A)"`."""
        found = re.fullmatch(r"ETS\((A|M),(N|A|Ad),(N|A|M)\)", name)
        if found is None:
            raise ValueError(f"expected a model name like 'ETS(M,Ad,A)'; found {name!r}")
        return cls(*found.groups())


def candidate_forms(seasonal: bool) -> list[EtsForm]:
    """The models tried: additive and multiplicative errors, no/additive/damped trend, and with `seasonal`
    additive and multiplicative seasons, without the additive-error multiplicative-season models whose
    forecast variance can be infinite (Hyndman et al. 2008, section 15.1; R's `ets(restrict=TRUE)`)."""
    seasons = SEASONS if seasonal else ("N",)
    return [
        EtsForm(error, trend, season)
        for error in ERRORS
        for trend in TRENDS
        for season in seasons
        if not (error == "A" and season == "M")
    ]


@compiled
def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-min(max(x, -30.0), 30.0)))


@compiled
def _phi(z: float) -> float:
    """The damping parameter from its search coordinate: `PHI_RANGE` through a logistic map."""
    return PHI_RANGE[0] + (PHI_RANGE[1] - PHI_RANGE[0]) * _logistic(z)


@compiled
def _smoothing_count(trend: int, season: int) -> int:
    """alpha, plus beta for a trend, gamma for a season, phi for a damped trend."""
    return 1 + (trend > 0) + (season > 0) + (trend == 2)


@compiled
def _parameter_count(trend: int, season: int, m: int) -> int:
    """`k` of the AICc: the smoothing parameters, `l_0`, `b_0` with a trend, `s_0 .. s_{m-2}` with a
    season, and the variance."""
    return _smoothing_count(trend, season) + 1 + (trend > 0) + ((m - 1) if season > 0 else 0) + 1


@compiled
def _smoothing(z, trend, season, beta_max):
    """`alpha, beta*, gamma, phi` from the search vector (0, 0, 1 where the model has none; `beta*` below
    `beta_max`), and the column of `l_0` in it."""
    width = 1.0 - 2.0 * SMOOTHING_FLOOR
    alpha = SMOOTHING_FLOOR + width * _logistic(z[0])
    column = 1
    beta_star = 0.0
    gamma = 0.0
    phi = 1.0
    if trend > 0:
        beta_star = SMOOTHING_FLOOR + (beta_max - 2.0 * SMOOTHING_FLOOR) * _logistic(z[column])
        column += 1
    if season > 0:
        gamma = (1.0 - alpha) * (SMOOTHING_FLOOR + width * _logistic(z[column]))
        column += 1
    if trend == 2:
        phi = _phi(z[column])
        column += 1
    return alpha, beta_star, gamma, phi, column


@compiled
def _run(y, offset, error, trend, season, m, alpha, beta_star, gamma, phi, states, squared, log_scale):
    """The point recursions over `y` from `states = [l, b, s_0 .. s_{m-1}]` (seasonal states by phase; the
    value `y[t]` has phase `(offset + t) mod m`), which it leaves at the states after `y`.

    Returns `(completed, squared + sum_t e_t^2, log_scale + sum_t log mu_t)` (the last for error M only);
    not completed, with the states part-way, where a one-step forecast leaves the positive half-line that
    error M or season M needs.
    """
    level = states[0]
    slope = states[1]
    s = states[2:]
    for t in range(len(y)):
        phase = (offset + t) % m
        damped = phi * slope
        q = level + damped
        old = s[phase]
        value = y[t]
        if season == 1:
            mu = q + old
            adjusted = value - old
            target = value - q
        elif season == 2:
            if q <= 0.0 or old <= 0.0:
                return False, squared, log_scale
            mu = q * old
            adjusted = value / old
            target = value / q
        else:
            mu = q
            adjusted = value
            target = 0.0
        if error == 1:
            if mu <= 0.0:
                return False, squared, log_scale
            e = (value - mu) / mu
            log_scale += math.log(mu)
        else:
            e = value - mu
        squared += e * e
        new_level = q + alpha * (adjusted - q)
        if trend > 0:
            slope = damped + beta_star * (new_level - level - damped)
        if season > 0:
            s[phase] = old + gamma * (target - old)
        level = new_level
    states[0] = level
    states[1] = slope
    return True, squared, log_scale


@compiled
def _initial_states(z, trend, season, m, states, beta_max):
    """Writes `l_0, b_0, s_0 .. s_{m-1}` of the search vector `z` into `states` and returns `alpha, beta*,
    gamma, phi` (`beta*` below `beta_max`).

    `z = [logit alpha, (logit beta*), (logit gamma/(1-alpha)), (logit of phi in PHI_RANGE), l_0, (b_0),
    (s_0 .. s_{m-2})]`; the last initial seasonal state makes them sum to 0 (A) or m (M).
    """
    alpha, beta_star, gamma, phi, column = _smoothing(z, trend, season, beta_max)
    states[0] = z[column]
    column += 1
    states[1] = 0.0
    if trend > 0:
        states[1] = z[column]
        column += 1
    s = states[2:]
    if season > 0:
        total = 0.0
        for j in range(m - 1):
            s[j] = z[column + j]
            total += s[j]
        s[m - 1] = (0.0 if season == 1 else float(m)) - total
    else:
        s[:] = 1.0
    return alpha, beta_star, gamma, phi


@compiled
def _objective(n, squared, log_scale):
    """`L = n log(sum_t e_t^2) + 2 sum_t log mu_t` (PENALTY where not finite)."""
    objective = n * math.log(max(squared, 1e-300)) + 2.0 * log_scale
    return objective if math.isfinite(objective) else PENALTY


@compiled
def _aicc(objective, k, n):
    return objective + 2.0 * k + 2.0 * k * (k + 1) / (n - k - 1)


@compiled
def _filter(y, error, trend, season, m, z, states, beta_max):
    """Run the model over `y` from the search vector `z` (see `_initial_states`); returns `L` and
    leaves the final states in `states = [l, b, s_0 .. s_{m-1}]` (seasonal states by phase)."""
    alpha, beta_star, gamma, phi = _initial_states(z, trend, season, m, states, beta_max)
    completed, squared, log_scale = _run(y, 0, error, trend, season, m, alpha, beta_star, gamma, phi, states, 0.0, 0.0)
    if not completed:
        return PENALTY
    return _objective(len(y), squared, log_scale)


@compiled
def _forecast(states, season, m, phi, n, horizon, forecasts):
    """`forecasts[h - 1] = l_n + phi_h b_n (+ s or x s)` for `h = 1 .. horizon` from the states after `n`
    values, `s` the seasonal state of phase `(n + h - 1) mod m`."""
    damping = 0.0
    power = 1.0
    for h in range(horizon):
        power *= phi
        damping += power
        base = states[0] + damping * states[1]
        s = states[2 + (n + h) % m]
        forecasts[h] = base + s if season == 1 else (base * s if season == 2 else base)


@compiled
def _nelder_mead(y, error, trend, season, m, start, steps, states, beta_max):
    """Minimise `_filter` over `z` from `start` (Nelder & Mead 1965: reflection 1, expansion 2,
    contraction and shrink 1/2); returns the best point and its objective."""
    d = len(start)
    simplex = np.empty((d + 1, d))
    values = np.empty(d + 1)
    for i in range(d + 1):
        simplex[i] = start
        if i > 0:
            simplex[i, i - 1] += steps[i - 1]
        values[i] = _filter(y, error, trend, season, m, simplex[i], states, beta_max)
    centroid = np.empty(d)
    for _ in range(MAX_ITERATIONS):
        order = np.argsort(values)
        simplex = simplex[order]
        values = values[order]
        if values[d] - values[0] <= TOLERANCE * (1.0 + abs(values[0])):
            break
        centroid[:] = 0.0
        for i in range(d):
            centroid += simplex[i]
        centroid /= d
        worst = simplex[d]
        reflected = 2.0 * centroid - worst
        reflected_value = _filter(y, error, trend, season, m, reflected, states, beta_max)
        if reflected_value < values[0]:
            expanded = 3.0 * centroid - 2.0 * worst
            expanded_value = _filter(y, error, trend, season, m, expanded, states, beta_max)
            if expanded_value < reflected_value:
                simplex[d], values[d] = expanded, expanded_value
            else:
                simplex[d], values[d] = reflected, reflected_value
        elif reflected_value < values[d - 1]:
            simplex[d], values[d] = reflected, reflected_value
        else:
            if reflected_value < values[d]:
                contracted = 1.5 * centroid - 0.5 * worst
            else:
                contracted = 0.5 * (centroid + worst)
            contracted_value = _filter(y, error, trend, season, m, contracted, states, beta_max)
            if contracted_value < min(reflected_value, values[d]):
                simplex[d], values[d] = contracted, contracted_value
            else:
                for i in range(1, d + 1):
                    simplex[i] = simplex[0] + 0.5 * (simplex[i] - simplex[0])
                    values[i] = _filter(y, error, trend, season, m, simplex[i], states, beta_max)
    best = np.argmin(values)
    return simplex[best].copy(), values[best]


@compiled
def _start(y, trend, season, m, seasons):
    """Search start: alpha 0.2, beta* 0.1, gamma 0.05 of its range, phi 0.95; the initial level and trend of a
    line fitted to the first `max(10, 2m)` seasonally adjusted values (Hyndman et al. 2008, section 2.6.1),
    the initial seasonal states `seasons` of a classical decomposition of the first seasons."""
    z = np.empty(_parameter_count(trend, season, m) - 1)
    z[0] = math.log(0.2 / 0.8)
    column = 1
    if trend > 0:
        z[column] = math.log(0.1 / 0.9)
        column += 1
    if season > 0:
        z[column] = math.log(0.05 / 0.95)
        column += 1
    if trend == 2:
        share = (0.95 - PHI_RANGE[0]) / (PHI_RANGE[1] - PHI_RANGE[0])
        z[column] = math.log(share / (1.0 - share))
        column += 1
    head = min(len(y), max(10, 2 * m))
    adjusted = np.empty(head)
    for t in range(head):
        if season == 1:
            adjusted[t] = y[t] - seasons[t % m]
        elif season == 2:
            adjusted[t] = y[t] / seasons[t % m]
        else:
            adjusted[t] = y[t]
    mean_t = (head + 1) / 2.0
    mean_y = adjusted.mean()
    if trend > 0 and head > 1:
        covariance = 0.0
        variance = 0.0
        for t in range(head):
            covariance += (t + 1 - mean_t) * (adjusted[t] - mean_y)
            variance += (t + 1 - mean_t) ** 2
        slope = covariance / variance
        z[column] = mean_y - slope * mean_t
        z[column + 1] = slope
        column += 2
    else:
        z[column] = mean_y
        column += 1
        if trend > 0:
            z[column] = 0.0
            column += 1
    if season > 0:
        z[column:] = seasons[: m - 1]
    return z


@compiled
def _fit_form(y, error, trend, season, m, seasons, horizon, forecasts, smoothing, states, sums, beta_max):
    """Fit one model to one series and return its AICc: inf, writing nothing, for a series too short for the
    model's parameters (`n <= k + 1`) or where no parameters keep `L` finite; otherwise it writes the
    `horizon` point forecasts, `smoothing = [alpha, beta*, gamma, phi]`, the `states` after `y` and
    `sums = [sum_t e_t^2, sum_t log mu_t]` (whose `L` the AICc holds); `beta*` stays below `beta_max`."""
    start = _start(y, trend, season, m, seasons)
    n = len(y)
    parameters = _parameter_count(trend, season, m)
    if n - parameters - 1 <= 0:
        return np.inf
    count = _smoothing_count(trend, season)
    steps = np.full(len(start), STATE_STEP)
    steps[:count] = SMOOTHING_STEP
    if season > 0:
        steps[len(start) - (m - 1) :] = SEASON_STEP
    final = np.empty(2 + m)
    best, value = _nelder_mead(y, error, trend, season, m, start, steps, final, beta_max)
    if value >= PENALTY:
        return np.inf
    alpha, beta_star, gamma, phi = _initial_states(best, trend, season, m, final, beta_max)
    _, squared, log_scale = _run(y, 0, error, trend, season, m, alpha, beta_star, gamma, phi, final, 0.0, 0.0)
    smoothing[0], smoothing[1], smoothing[2], smoothing[3] = alpha, beta_star, gamma, phi
    states[:] = final
    sums[0], sums[1] = squared, log_scale
    _forecast(final, season, m, phi, n, horizon, forecasts)
    return _aicc(value, parameters, n)


@compiled
def _fit_all(
    values, starts, codes, m, beta_max, additive, multiplicative, horizon, aicc, forecasts, smoothing, states, sums
):
    """Every model (rows of `codes`) on every series `values[starts[i]:starts[i+1]]` (`beta*` below `beta_max[i]`).

    No Numba parallel loop: Numba's default threading layer aborts when two threads of the caller (a
    serving process, a job scheduler) enter a parallel function at once. `fit_ets` runs chunks of
    series in Python threads instead (the GIL is released)."""
    for i in range(len(starts) - 1):
        y = values[starts[i] : starts[i + 1]]
        for f in range(len(codes)):
            error, trend, season = codes[f, 0], codes[f, 1], codes[f, 2]
            if (error == 1 or season == 2) and y.min() <= 0.0:
                continue
            if (season == 1 and not np.isfinite(additive[i, 0])) or (
                season == 2 and not np.isfinite(multiplicative[i, 0])
            ):
                continue
            seasons = additive[i] if season == 1 else multiplicative[i]
            aicc[i, f] = _fit_form(
                y,
                error,
                trend,
                season,
                m,
                seasons,
                horizon,
                forecasts[i, f],
                smoothing[i, f],
                states[i, f],
                sums[i, f],
                beta_max[i],
            )


@compiled
def _continue_all(values, starts, rows, lengths, codes, m, smoothing, states, sums, horizon, forecasts, aicc):
    """Continue every fitted model of series `rows[k]` (`aicc[k, f]` finite) over the values
    `values[starts[k]:starts[k+1]]`: its `horizon` forecasts after them into `forecasts[k, f]` and its
    AICc over all the values into `aicc[k, f]`; inf where a one-step forecast leaves the positive half-line
    on the new values (error M, season M) or the forecasts are not finite (its likelihood is undefined)."""
    work = np.empty(2 + m)
    for k in range(len(rows)):
        i = rows[k]
        y = values[starts[k] : starts[k + 1]]
        n = lengths[i] + len(y)
        for f in range(len(codes)):
            if not np.isfinite(aicc[k, f]):
                continue
            aicc[k, f] = np.inf
            work[:] = states[i, f]
            p = smoothing[i, f]  # alpha, beta*, gamma, phi
            error, trend, season = codes[f, 0], codes[f, 1], codes[f, 2]
            completed, squared, log_scale = _run(
                y, lengths[i], error, trend, season, m, p[0], p[1], p[2], p[3], work, sums[i, f, 0], sums[i, f, 1]
            )
            if not completed:
                continue
            _forecast(work, season, m, p[3], n, horizon, forecasts[k, f])
            objective = _objective(n, squared, log_scale)
            if objective < PENALTY and np.all(np.isfinite(forecasts[k, f])):
                aicc[k, f] = _aicc(objective, _parameter_count(trend, season, m), n)


def akaike_weights(aicc: np.ndarray) -> np.ndarray:
    """`w_k = exp(-(AICc_k - AICc_min) / 2)`, normalised per row (zero for models not fitted)."""
    finite = np.isfinite(aicc)
    lowest = np.where(finite.any(axis=1), np.where(finite, aicc, np.inf).min(axis=1), 0.0)
    # Models not fitted stand at the lowest AICc inside the exponential (its value is discarded): a placeholder of
    # 0 overflowed `exp` for series whose AICc exceeds about 1,420, and numpy warned the user.
    differences = np.where(finite, aicc, lowest[:, None]) - lowest[:, None]
    weights = np.where(finite, np.exp(-0.5 * differences), 0.0)
    totals = weights.sum(axis=1, keepdims=True)
    return np.divide(weights, totals, out=np.zeros_like(weights), where=totals > 0)


def combine(aicc: np.ndarray, forecasts: np.ndarray) -> np.ndarray:
    """Forecasts `[series, step]` averaged over the models with Akaike weights (Kolassa, "Combining exponential
    smoothing forecasts using Akaike weights", IJF 27(2), 2011) from `aicc[series, model]` and
    `forecasts[series, model, step]`; for a series with no model (all inf), its model 0's forecasts (the
    naive forecast there). The sum runs over the models in order, so a row does not depend on the others."""
    weights = akaike_weights(aicc)
    combined = np.zeros((forecasts.shape[0], forecasts.shape[2]))
    for model in range(forecasts.shape[1]):
        share = weights[:, model, None]
        combined = combined + share * np.where(share > 0, forecasts[:, model], 0.0)
    unfitted = weights.sum(axis=1) == 0
    combined[unfitted] = forecasts[unfitted, 0]
    return combined


class EtsForecasts(NamedTuple):
    """The statistical forecasts `[origins, horizon]` of ETS and, for series without a season, of the Theta
    method (`forecast.theta`; None with a season)."""

    ets: np.ndarray
    theta: np.ndarray | None

    def blended(self, theta_weight: float) -> np.ndarray:
        """`(1 - v) y_ets + v y_theta` with `v = theta_weight` (`forecast.theta.blend_theta`)."""
        return blend_theta(self.ets, self.theta, theta_weight)


@dataclass(frozen=True, eq=False, kw_only=True)
class EtsModels:
    """The candidate models fitted to every series, kept so that forecasts from later origins need only the filter.

    A series `i` was fitted on `lengths[i]` values `y_1 .. y_n`; before the fit its classical season was
    removed, each season by the indices of the `REMOVED_SEASON_WINDOW` seasons around it
    (`pipelines.seasonality.local_seasonal_indices`); `season_indices[i]` and `season_offsets[i]` are those of its
    last seasons, which adjust the values after `y_n`, `(y_t - season_offsets[i, p]) / season_indices[i, p]` with
    `p = t mod P`, `P` the `removed_period` of `season_length` (`t = 0, 1, ..` from the first fitted value; periods
    longer than `MAX_SEASON_LENGTH`, and the year of daily data: multiplicative indices for a positive series,
    additive offsets for another, ones and zeros for a series that failed the seasonality test; both None for other
    periods, and for daily data of which no series spans three years), and the values were divided by
    `scales[i]`. Model `f` (`forms[f]`) has `aicc[i, f]` (inf
    where it was not fitted; NaN then in the arrays below), `smoothing[i, f] = [alpha, beta*, gamma, phi]` (0, 0, 1 where
    it has none), the states after `y_n`, `states[i, f] = [l_n, b_n, s_0 .. s_{m-1}]` with the seasonal
    state of phase `t mod m` at `2 + t mod m` (`b_n = 0` without a trend, `s = 1` without a season),
    and `sums[i, f] = [sum_t e_t^2, sum_t log mu_t]` over `y_1 .. y_n` (0 for error A), the parts of its
    `L`. `last[i]`: `y_n` divided as above, the naive forecast of a series no model fits.

    `theta` holds the optimised Theta model of every series fitted to the same scaled values (`forecast.theta`),
    for series without a season (None for a season: Theta is not used there).

    `forecast` continues every model over values `y_{n+1} .. y_{n+c}` observed after `y_n` with
    the point recursions of the module docstring, the parameters unchanged, and weighs it by its AICc over
    all `n + c` values at those parameters,

    ```
    AICc_{n+c} = L_{n+c} + 2k + 2k(k+1)/(n+c-k-1),   L_{n+c} = (n+c) log(sum_{t<=n+c} e_t^2) + 2 sum_{t<=n+c} log|mu_t|
    ```

    (the sums carried on from the fit, so they are those of one pass over the whole history; with no new
    values, the fit's AICc). A model that forecasts the new values badly loses weight: ETS alone on the M3
    monthly test set, fitted 18 values before the origin and continued, scores sMAPE 14.5 against 16.7
    with the fit's weights (13.9 fitted at the origin; 14.2 and 14.6 fitted 6 values before).
    """

    season_length: int
    forms: tuple[EtsForm, ...]
    lengths: np.ndarray
    scales: np.ndarray
    last: np.ndarray
    season_indices: np.ndarray | None
    season_offsets: np.ndarray | None
    aicc: np.ndarray
    smoothing: np.ndarray
    states: np.ndarray
    sums: np.ndarray
    theta: ThetaModels | None = None

    def __post_init__(self) -> None:
        series, models = self.aicc.shape
        expected = {
            "lengths": (series,),
            "scales": (series,),
            "last": (series,),
            **{name: (series, models, len(neutral)) for name, neutral in _neutral(self.season_length).items()},
        }
        if self.season_length > MAX_SEASON_LENGTH or self.season_indices is not None:
            expected["season_indices"] = expected["season_offsets"] = (series, removed_period(self.season_length))
        for name, shape in expected.items():
            found = getattr(self, name)
            if found is None or found.shape != shape:
                raise ValueError(f"EtsModels.{name} must have shape {shape}; found {getattr(found, 'shape', None)}")
        if self.theta is not None and len(self.theta) != series:
            raise ValueError(f"EtsModels.theta must hold {series} series; found {len(self.theta)}")
        if len(self.forms) != models:
            raise ValueError(f"EtsModels needs one form per aicc column ({models}); found {len(self.forms)}")

    def __len__(self) -> int:
        return len(self.lengths)

    def forecast(self, series_index: np.ndarray, continuations: Sequence[np.ndarray], horizon: int) -> np.ndarray:
        """`[len(series_index), horizon]`: row `k` continues series `series_index[k]` over the values
        `continuations[k]` observed after its fitted history (empty: the fit's own forecasts) and forecasts
        `horizon` steps, the models combined with Akaike weights from their AICc over the whole history
        (`combine`)."""
        forecasts, aicc = self.model_forecasts(series_index, continuations, horizon)
        return combine(aicc, forecasts)

    def statistical_forecasts(
        self, series_index: np.ndarray, continuations: Sequence[np.ndarray], horizon: int
    ) -> EtsForecasts:
        """`forecast`'s ETS forecasts and, without a season, the optimised Theta model's, continued over the same
        values (`forecast.theta`; ETS's for a series too short for it)."""
        ets = self.forecast(series_index, continuations, horizon)
        return EtsForecasts(
            ets, self.theta_forecasts(np.asarray(series_index, dtype=np.int64), continuations, horizon, ets)
        )

    def theta_forecasts(
        self, rows: np.ndarray, continuations: Sequence[np.ndarray], horizon: int, ets: np.ndarray
    ) -> np.ndarray | None:
        """Theta forecasts of series `rows` after the `continuations`, `ets` where a series has no Theta model (too
        short); None without Theta models."""
        if self.theta is None:
            return None
        scales = self.scales[rows]
        scaled = [
            np.asarray(values, dtype=np.float64).reshape(-1) / scale for values, scale in zip(continuations, scales)
        ]
        theta = self.theta.forecast(rows, scaled, horizon) * scales[:, None]
        return np.where(np.isfinite(theta), theta, ets)

    def model_forecasts(
        self, series_index: np.ndarray, continuations: Sequence[np.ndarray], horizon: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every model's forecasts `[len(series_index), model, horizon]` after the continuations (as
        `forecast`) and its AICc over the fitted and the new values `[len(series_index), model]`: inf
        for a model not fitted, or whose one-step forecasts leave the positive half-line it needs on the new
        values (its forecasts are then the naive ones)."""
        rows = np.asarray(series_index)
        if rows.ndim != 1 or not (np.issubdtype(rows.dtype, np.integer) or rows.size == 0):
            raise ValueError(f"series_index must be a 1-d array of integers; found shape {rows.shape}, {rows.dtype}")
        outside = rows[(rows < 0) | (rows >= len(self))]
        if outside.size:
            raise ValueError(f"series_index must lie in [0, {len(self)}) (the series fitted); found {outside[0]}")
        if len(continuations) != len(rows):
            raise ValueError(
                f"continuations must hold one array per series_index ({len(rows)}); found {len(continuations)}"
            )
        rows = rows.astype(np.int64)
        arrays = [np.asarray(values, dtype=np.float64).reshape(-1) for values in continuations]
        sizes = np.array([len(values) for values in arrays], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        values = np.concatenate(arrays) if arrays else np.zeros(0)
        owner = np.repeat(np.arange(len(rows)), sizes)
        factors, offsets = np.ones((len(rows), horizon)), np.zeros((len(rows), horizon))
        if self.season_indices is not None:
            period = self.season_indices.shape[1]
            phases = (self.lengths[rows][owner] + np.arange(len(values)) - starts[owner]) % period
            values = (values - self.season_offsets[rows[owner], phases]) / self.season_indices[rows[owner], phases]
            ahead = ((self.lengths[rows] + sizes)[:, None] + np.arange(horizon)) % period
            factors = self.season_indices[rows[:, None], ahead]
            offsets = self.season_offsets[rows[:, None], ahead]
        values = values / self.scales[rows][owner]
        last = self.last[rows].copy()
        grown = sizes > 0
        last[grown] = values[starts[1:][grown] - 1]
        forecasts = np.repeat(last[:, None, None], len(self.forms), axis=1).repeat(horizon, axis=2)
        aicc = self.aicc[rows]  # a copy, which _continue_all updates
        m = _state_period(self.season_length)
        model_arrays = (self.smoothing, self.states, self.sums)
        _continue_all(
            values, starts, rows, self.lengths, _codes(self.forms), m, *model_arrays, int(horizon), forecasts, aicc
        )
        forecasts = np.where(np.isfinite(aicc)[..., None], forecasts, last[:, None, None])
        return forecasts * (self.scales[rows][:, None] * factors)[:, None, :] + offsets[:, None, :], aicc

    def get_config(self) -> dict:
        """A JSON-serializable dict for `from_config`: the parameters, states and sums only of the models
        fitted and only those their form has, flat in the order series, model, entry (floats written as Python
        writes them, so the round trip is exact)."""
        kept = _kept(self.forms, np.isfinite(self.aicc), self.season_length)
        indices = offsets = None
        if self.season_indices is not None:
            indices = [None if np.all(row == 1.0) else row.tolist() for row in self.season_indices]
            offsets = [None if np.all(row == 0.0) else row.tolist() for row in self.season_offsets]
        return {
            "season_length": int(self.season_length),
            "forms": [form.name for form in self.forms],
            "lengths": self.lengths.tolist(),
            "scales": self.scales.tolist(),
            "last": [value if math.isfinite(value) else None for value in self.last.tolist()],
            "season_indices": indices,
            "season_offsets": offsets,
            "aicc": [value if math.isfinite(value) else None for value in self.aicc.ravel().tolist()],
            **{name: getattr(self, name)[mask].tolist() for name, mask in kept.items()},
            "theta": None if self.theta is None else self.theta.get_config(),
        }

    @classmethod
    def from_config(cls, config: dict) -> EtsModels:
        """The models `get_config` described."""
        forms = tuple(EtsForm.parse(name) for name in config["forms"])
        season_length = int(config["season_length"])
        series = len(config["lengths"])
        aicc = np.array([np.inf if value is None else value for value in config["aicc"]], dtype=np.float64)
        if aicc.size != series * len(forms):
            raise ValueError(f"EtsModels config needs {series} x {len(forms)} aicc values; found {aicc.size}")
        aicc = aicc.reshape(series, len(forms))
        fitted = np.isfinite(aicc)
        arrays = {}
        for name, mask in _kept(forms, fitted, season_length).items():
            if len(config[name]) != mask.sum():
                raise ValueError(f"EtsModels config needs {mask.sum()} {name} values; found {len(config[name])}")
            arrays[name] = np.where(fitted[..., None], np.array(_neutral(season_length)[name]), np.nan)
            arrays[name][mask] = config[name]
        indices, theta = config["season_indices"], config["theta"]
        offsets = config.get("season_offsets")  # absent from models saved before additive seasons
        if indices is not None:
            period = removed_period(season_length)
            indices = np.array([[1.0] * period if row is None else row for row in indices], dtype=np.float64)
            rows = [None] * len(indices) if offsets is None else offsets
            offsets = np.array([[0.0] * period if row is None else row for row in rows], dtype=np.float64)
        return cls(
            season_length=season_length,
            forms=forms,
            lengths=np.array(config["lengths"], dtype=np.int64),
            scales=np.array(config["scales"], dtype=np.float64),
            last=np.array([np.nan if value is None else value for value in config["last"]], dtype=np.float64),
            season_indices=indices,
            season_offsets=offsets,
            aicc=aicc,
            **arrays,
            theta=None if theta is None else ThetaModels.from_config(theta),
        )


def removed_period(season_length: int) -> int | None:
    """The period whose classical season `fit_ets` removes before the fit, where a series shows it: a period longer
    than `MAX_SEASON_LENGTH` itself, or for a weekly period of daily data (7) the year, `DAYS_PER_YEAR` (weekly
    temperatures' smooth yearly cycle, which a model of the week alone forecasts flat); None otherwise."""
    m = max(1, int(season_length))
    if m > MAX_SEASON_LENGTH:
        return m
    return DAYS_PER_YEAR if m == 7 else None


def _state_period(season_length: int) -> int:
    """The number of seasonal states: the period up to `MAX_SEASON_LENGTH`, else 1 (none)."""
    m = max(1, int(season_length))
    return m if m <= MAX_SEASON_LENGTH else 1


def _codes(forms: Sequence[EtsForm]) -> np.ndarray:
    return np.array([form.codes() for form in forms], dtype=np.int64).reshape(-1, 3)


def _neutral(season_length: int) -> dict[str, list[float]]:
    """The entries of `EtsModels.smoothing`, `states` and `sums` that a fitted model's form lacks."""
    return {
        "smoothing": [0.0, 0.0, 0.0, 1.0],
        "states": [0.0, 0.0] + [1.0] * _state_period(season_length),
        "sums": [0.0, 0.0],
    }


def _kept(forms: Sequence[EtsForm], fitted: np.ndarray, season_length: int) -> dict[str, np.ndarray]:
    """Masks `[series, model, entry]` of what a fitted model has: alpha (beta*) (gamma) (phi); l (b)
    (s_0 .. s_{m-1}); sum e_t^2 (sum log mu_t for error M)."""
    m = _state_period(season_length)
    has = {
        "smoothing": [[True, f.trend != "N", f.season != "N", f.trend == "Ad"] for f in forms],
        "states": [[True, f.trend != "N"] + [f.season != "N"] * m for f in forms],
        "sums": [[True, f.error == "M"] for f in forms],
    }
    return {name: fitted[..., None] & np.array(rows, dtype=bool).reshape(len(forms), -1) for name, rows in has.items()}


@dataclass(frozen=True)
class EtsFit:
    """Every candidate model fitted to every series: the point forecasts `forecasts[series, model, step]`
    from the end of each history and the fitted `models` (`aicc[series, model]`, inf where not fitted)."""

    forecasts: np.ndarray
    models: EtsModels

    @property
    def forms(self) -> tuple[EtsForm, ...]:
        return self.models.forms

    @property
    def aicc(self) -> np.ndarray:
        return self.models.aicc

    def combined(self) -> np.ndarray:
        """Forecasts `[series, step]` averaged over the models with Akaike weights (`combine`); for a
        series no model fits (too short), the naive forecast (the last value, times the seasonal index beyond
        `MAX_SEASON_LENGTH`)."""
        return combine(self.aicc, self.forecasts)

    def statistical(self) -> EtsForecasts:
        """`combined` and, without a season, the optimised Theta model's forecasts (`forecast.theta`; the
        combined ones for a series too short for it)."""
        combined = self.combined()
        rows = np.arange(len(self.models))
        horizon = combined.shape[1]
        return EtsForecasts(combined, self.models.theta_forecasts(rows, [np.zeros(0)] * len(rows), horizon, combined))


def fit_ets(
    series: Sequence[np.ndarray], horizon: int, season_length: int, threads: int | None = None, with_theta: bool = True
) -> EtsFit:
    """Fit every candidate model to every series (AICc per model, point forecasts `horizon` steps ahead).

    Seasonal models are tried for `1 < season_length <= MAX_SEASON_LENGTH` on series with at least
    two full seasons; multiplicative ones only on series whose values are all positive. A longer period
    would need as many seasonal states: a series that passes the seasonality test on its values and shows the
    season beyond a random walk's (`pipelines.seasonality.shows_season_beyond_trend`) has its classical season
    removed instead (`pipelines.seasonality.remove_tested_seasons`: divided
    by multiplicative indices where its values are all positive, as the M4 competition's benchmarks do, else
    additive ones subtracted; each season by the indices of the `REMOVED_SEASON_WINDOW` seasons around it), the
    non-seasonal models are fitted to it, and the season of the last `REMOVED_SEASON_WINDOW` seasons is put back on
    their forecasts. Daily data (a period of 7) have their year (`DAYS_PER_YEAR`) removed so first where they show it,
    and keep the week in ETS's states (`removed_period`). Each series is divided by its mean absolute value first
    (the AICc differences do not change) and its forecasts multiplied back. A model whose forecasts leave the sane
    band of the series' history (`forecast.sanity.within_sane_band`: beyond `SANE_BAND` times its range from its
    minimum or maximum) is discarded as if it had not fitted: on a short series whose level jumped a hundredfold the
    likeliest model, ETS(M,N,M), forecast 25 times the new level.

    `threads` (None: the CPUs this process may use) fit chunks of series at once; every series' fit is
    its own, so the results do not depend on it. `with_theta` also fits the optimised Theta model to the same
    scaled values for `season_length <= 1` (`EtsModels.theta`; the ETS models do not depend on it).
    """
    m = max(1, int(season_length))
    arrays = [np.asarray(y, dtype=np.float64) for y in series]
    lengths = np.array([len(y) for y in arrays], dtype=np.int64)
    history_low = np.array([y.min() if len(y) else np.nan for y in arrays])
    history_high = np.array([y.max() if len(y) else np.nan for y in arrays])
    indices = offsets = None
    factors, offsets_ahead = np.ones((len(arrays), horizon)), np.zeros((len(arrays), horizon))
    period = removed_period(m)
    if period is not None and (m > MAX_SEASON_LENGTH or lengths.max(initial=0) >= 3 * period):
        arrays, indices, offsets = remove_tested_seasons(
            arrays, period, beyond_trend=True, window=REMOVED_SEASON_WINDOW
        )
        factors, offsets_ahead = indices_ahead(indices, lengths, horizon), indices_ahead(offsets, lengths, horizon)
    states_period = _state_period(m)
    forms = tuple(candidate_forms(states_period > 1))
    scales = np.array([np.abs(y).mean() if len(y) and np.abs(y).mean() > 0 else 1.0 for y in arrays])
    scaled = [y / scale for y, scale in zip(arrays, scales)]
    additive = np.full((len(scaled), states_period), np.nan)
    multiplicative = np.full((len(scaled), states_period), np.nan)
    for row, y in enumerate(scaled):
        if states_period > 1 and len(y) >= 2 * states_period:
            first = y[: 3 * states_period]
            additive[row] = seasonal_indices(first, states_period, multiplicative=False)
            if np.all(first > 0):
                multiplicative[row] = seasonal_indices(first, states_period)
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    values = np.concatenate(scaled) if scaled else np.zeros(0)
    aicc = np.full((len(scaled), len(forms)), np.inf)
    last = np.array([y[-1] if len(y) else np.nan for y in scaled])
    forecasts = np.repeat(last[:, None, None], len(forms), axis=1).repeat(horizon, axis=2)
    smoothing = np.full((len(scaled), len(forms), 4), np.nan)
    states = np.full((len(scaled), len(forms), 2 + states_period), np.nan)
    sums = np.full((len(scaled), len(forms), 2), np.nan)
    codes = _codes(forms)
    persistent = persistent_trends(scaled, m)
    beta_max = np.where(persistent, PERSISTENT_BETA_STAR_MAX, BETA_STAR_MAX)
    outputs = (aicc, forecasts, smoothing, states, sums)

    def fit_chunk(begin: int, end: int) -> None:
        inputs = (beta_max[begin:end], additive[begin:end], multiplicative[begin:end], int(horizon))
        _fit_all(values, starts[begin : end + 1], codes, states_period, *inputs, *(out[begin:end] for out in outputs))

    threads = _available_cpus() if threads is None else int(threads)
    bounds = np.linspace(0, len(scaled), min(len(scaled), CHUNKS_PER_THREAD * threads) + 1).astype(int)
    if threads > 1 and len(bounds) > 2:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(fit_chunk, bounds[:-1], bounds[1:]))
    else:
        fit_chunk(0, len(scaled))
    units = scales[:, None] * factors
    in_units = forecasts * units[:, None, :] + offsets_ahead[:, None, :]
    insane = np.isfinite(aicc) & ~within_sane_band(
        in_units.reshape(-1, horizon), np.repeat(history_low, len(forms)), np.repeat(history_high, len(forms))
    ).reshape(aicc.shape)
    aicc[insane] = np.inf  # discarded as if it had not fitted: its forecasts are the naive ones
    rows = np.nonzero(insane)[0]
    forecasts[insane] = last[rows, None]
    in_units[insane] = last[rows, None] * units[rows] + offsets_ahead[rows]
    for array in (smoothing, states, sums):
        array[insane] = np.nan
    models = EtsModels(
        season_length=m,
        forms=forms,
        lengths=lengths,
        scales=scales,
        last=last,
        season_indices=indices,
        season_offsets=offsets,
        aicc=aicc,
        smoothing=smoothing,
        states=states,
        sums=sums,
        theta=fit_theta(scaled, ~persistent) if with_theta and m == 1 else None,
    )
    return EtsFit(in_units, models)


def persistent_trends(series: Sequence[np.ndarray], season_length: int) -> np.ndarray:
    """Whether each series' trend persists: without a season (`season_length <= 1`), the lag-1 autocorrelation
    of its first differences `d_t`, `sum_t (d_t - d_bar)(d_{t-1} - d_bar) / sum_t (d_t - d_bar)^2`, exceeds
    `PERSISTENT_TREND_CORRELATION` (at least three differences, not all equal)."""
    persistent = np.zeros(len(series), dtype=bool)
    if max(1, int(season_length)) > 1:
        return persistent
    for row, y in enumerate(series):
        steps = np.diff(np.asarray(y, dtype=np.float64))
        if len(steps) < 3:
            continue
        steps = steps - steps.mean()
        spread = float(np.dot(steps, steps))
        persistent[row] = spread > 0.0 and float(np.dot(steps[1:], steps[:-1])) > PERSISTENT_TREND_CORRELATION * spread
    return persistent


def _available_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def ets_point_forecasts(
    y: np.ndarray,
    origin_rows: np.ndarray,
    first_rows: np.ndarray,
    horizon: int,
    season_length: int,
    with_theta: bool = True,
) -> EtsForecasts:
    """`[origins, horizon]` forecasts from every history `y[first : origin + 1]`, each fitted anew: the
    Akaike-weighted ETS forecasts and, without a season and `with_theta`, the optimised Theta model's
    (`EtsForecasts`)."""
    histories = [y[first : origin + 1] for first, origin in zip(first_rows.tolist(), origin_rows.tolist())]
    return fit_ets(histories, horizon, season_length, with_theta=with_theta).statistical()


def ets_continued_forecasts(
    models: EtsModels,
    model_rows: np.ndarray,
    end_rows: np.ndarray,
    y: np.ndarray,
    origin_rows: np.ndarray,
    first_rows: np.ndarray,
    horizon: int,
) -> EtsForecasts:
    """`[origins, horizon]`: from origin `k` (history `y[first_rows[k] : origin_rows[k] + 1]`), the models
    of series `model_rows[k]` continued over `y[end_rows[k] + 1 : origin_rows[k] + 1]`, where `end_rows[k]`
    holds the last value they were fitted on. An origin without models (`model_rows[k] < 0`) or outside
    `first_rows[k] <= end_rows[k] <= origin_rows[k]` is fitted anew (`ets_point_forecasts`, with Theta where
    the models have it). ETS's forecasts and, where the models have them, Theta's."""
    continued = (model_rows >= 0) & (first_rows <= end_rows) & (end_rows <= origin_rows)
    ets = np.empty((len(origin_rows), horizon))
    theta = None if models.theta is None else np.empty_like(ets)
    parts = []
    if continued.any():
        continuations = [y[end + 1 : origin + 1] for end, origin in zip(end_rows[continued], origin_rows[continued])]
        parts.append((continued, models.statistical_forecasts(model_rows[continued], continuations, horizon)))
    if not continued.all():
        refit = ~continued
        found = ets_point_forecasts(
            y, origin_rows[refit], first_rows[refit], horizon, models.season_length, models.theta is not None
        )
        parts.append((refit, found))
    for rows, found in parts:
        ets[rows] = found.ets
        if theta is not None:
            theta[rows] = found.theta
    return EtsForecasts(ets, theta)


class RollingEts(NamedTuple):
    """Forecasts from every origin (`EtsForecasts`: ETS's and Theta's), and the `models` they continue: row `j`
    fitted on `y[first : end_rows[j] + 1]`, the `j`-th series in the order of its first row in `y`."""

    forecasts: EtsForecasts
    models: EtsModels
    end_rows: np.ndarray


def ets_rolling_forecasts(
    y: np.ndarray, origin_rows: np.ndarray, first_rows: np.ndarray, horizon: int, season_length: int
) -> RollingEts:
    """ETS fitted once per series, on its history up to its earliest origin, and continued from there to every
    later origin (`EtsModels.forecast`): the forecasts from the earliest origins are those of
    `ets_point_forecasts`, the later ones keep the parameters of that fit."""
    firsts, model_rows = np.unique(first_rows, return_inverse=True)
    end_rows = np.full(len(firsts), np.iinfo(np.int64).max)
    np.minimum.at(end_rows, model_rows, origin_rows)
    fit = fit_ets([y[first : end + 1] for first, end in zip(firsts, end_rows)], horizon, season_length)
    forecasts = ets_continued_forecasts(
        fit.models, model_rows, end_rows[model_rows], y, origin_rows, first_rows, horizon
    )
    return RollingEts(forecasts, fit.models, end_rows)
