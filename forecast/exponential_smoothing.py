"""Exponential smoothing state space models (ETS) for many series, combined with Akaike weights.

The innovations state space models of Hyndman, Koehler, Snyder & Grose ("A state space framework
for automatic forecasting using exponential smoothing methods", IJF 18(3), 2002) and Hyndman,
Koehler, Ord & Snyder (*Forecasting with Exponential Smoothing: The State Space Approach*,
Springer 2008, tables 2.2-2.3). A model ETS(E, T, S) has an error E in {A, M}, a trend T in
{N, A, Ad} and a season S in {N, A, M}. With level ``l``, trend ``b``, seasonal states ``s`` of
period ``m`` and ``phi = 1`` unless the trend is damped, one step of the filter is

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

over the smoothing parameters in the usual region ``0 < alpha < 1``, ``0 < beta < alpha``,
``0 < gamma < 1 - alpha``, ``0.8 < phi < 0.98`` (reached through logistic maps, so the search is
unconstrained) and the initial states ``l_0, b_0, s_0 .. s_{m-2}`` (``s_{m-1}`` makes them sum to
0 or m), by Nelder-Mead (Nelder & Mead 1965) from the heuristic start of Hyndman et al. (2008,
section 2.6.1). Each model gets ``AICc = L + 2k + 2k(k+1)/(n-k-1)`` (``k`` = its parameters + 1
for the variance), as in R's ``ets``, and forecasts ``h`` steps ahead

```
y_hat_{n+h} = l_n + phi_h b_n  (+ s  or  x s),   phi_h = phi + ... + phi^h  (h without damping)
```

with ``s`` the seasonal state of the same phase. Rather than keep the model of least AICc, the
forecasts of all models are averaged with Akaike weights ``w_k ~ exp(-(AICc_k - AICc_min) / 2)``
(Kolassa, "Combining exponential smoothing forecasts using Akaike weights", IJF 27(2), 2011): on
the validation splits of M1 and M3 (README.md, "Benchmarks") it scored 1-4% better than selection,
which overfits a trend on short series. The filter and the optimizer are compiled with Numba.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from pipelines.seasonality import seasonal_indices, tested_seasonal_indices

ERRORS = ("A", "M")
TRENDS = ("N", "A", "Ad")
SEASONS = ("N", "A", "M")
MAX_SEASON_LENGTH = 24
"""Longest period modelled by seasonal states (as R's ``ets``); see :func:`fit_ets` for longer ones."""
PHI_RANGE = (0.8, 0.98)
"""The damping parameter's range (Hyndman et al. 2008, section 5.2)."""
SMOOTHING_FLOOR = 1e-4
"""Smoothing parameters stay at least this far inside their bounds."""
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


@dataclass(frozen=True)
class EtsForm:
    """One model of the family: ``error`` in {"A", "M"}, ``trend`` in {"N", "A", "Ad"}, ``season`` in {"N", "A", "M"}."""

    error: str
    trend: str
    season: str

    @property
    def name(self) -> str:
        return f"ETS({self.error},{self.trend},{self.season})"

    def codes(self) -> tuple[int, int, int]:
        return ERRORS.index(self.error), TRENDS.index(self.trend), SEASONS.index(self.season)


def candidate_forms(seasonal: bool) -> list[EtsForm]:
    """The models tried: additive and multiplicative errors, no/additive/damped trend, and with ``seasonal``
    additive and multiplicative seasons, without the additive-error multiplicative-season models whose
    forecast variance can be infinite (Hyndman et al. 2008, section 15.1; R's ``ets(restrict=TRUE)``)."""
    seasons = SEASONS if seasonal else ("N",)
    return [
        EtsForm(error, trend, season)
        for error in ERRORS
        for trend in TRENDS
        for season in seasons
        if not (error == "A" and season == "M")
    ]


def _compiled(function):
    """``numba.njit`` with the GIL released (every buffer is the call's own) and the machine code cached on
    disk where Numba finds a writable place (the package's ``__pycache__`` or the user's cache directory);
    where it finds none (a read-only installation), compiled anew in each process (about 7 s)."""
    try:
        return njit(cache=True, nogil=True)(function)
    except RuntimeError:
        return njit(nogil=True)(function)


@_compiled
def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-min(max(x, -30.0), 30.0)))


@_compiled
def _phi(z: float) -> float:
    """The damping parameter from its search coordinate: ``PHI_RANGE`` through a logistic map."""
    return PHI_RANGE[0] + (PHI_RANGE[1] - PHI_RANGE[0]) * _logistic(z)


@_compiled
def _smoothing_count(trend: int, season: int) -> int:
    """alpha, plus beta for a trend, gamma for a season, phi for a damped trend."""
    return 1 + (trend > 0) + (season > 0) + (trend == 2)


@_compiled
def _filter(y, error, trend, season, m, z, states):
    """Run the model over ``y`` from the search vector ``z``; returns ``L`` and leaves the final states in
    ``states = [l, b, s_0 .. s_{m-1}]`` (seasonal states by phase).

    ``z = [logit alpha, (logit beta*), (logit gamma/(1-alpha)), (logit of phi in PHI_RANGE), l_0, (b_0),
    (s_0 .. s_{m-2})]``; the last initial seasonal state makes them sum to 0 (A) or m (M).
    """
    width = 1.0 - 2.0 * SMOOTHING_FLOOR
    alpha = SMOOTHING_FLOOR + width * _logistic(z[0])
    column = 1
    beta_star = 0.0
    gamma = 0.0
    phi = 1.0
    if trend > 0:
        beta_star = SMOOTHING_FLOOR + width * _logistic(z[column])
        column += 1
    if season > 0:
        gamma = (1.0 - alpha) * (SMOOTHING_FLOOR + width * _logistic(z[column]))
        column += 1
    if trend == 2:
        phi = _phi(z[column])
        column += 1
    level = z[column]
    column += 1
    slope = 0.0
    if trend > 0:
        slope = z[column]
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
    squared = 0.0
    log_scale = 0.0
    for t in range(len(y)):
        phase = t % m
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
                return PENALTY
            mu = q * old
            adjusted = value / old
            target = value / q
        else:
            mu = q
            adjusted = value
            target = 0.0
        if error == 1:
            if mu <= 0.0:
                return PENALTY
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
    objective = len(y) * math.log(max(squared, 1e-300)) + 2.0 * log_scale
    return objective if math.isfinite(objective) else PENALTY


@_compiled
def _nelder_mead(y, error, trend, season, m, start, steps, states):
    """Minimise ``_filter`` over ``z`` from ``start`` (Nelder & Mead 1965: reflection 1, expansion 2,
    contraction and shrink 1/2); returns the best point and its objective."""
    d = len(start)
    simplex = np.empty((d + 1, d))
    values = np.empty(d + 1)
    for i in range(d + 1):
        simplex[i] = start
        if i > 0:
            simplex[i, i - 1] += steps[i - 1]
        values[i] = _filter(y, error, trend, season, m, simplex[i], states)
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
        reflected_value = _filter(y, error, trend, season, m, reflected, states)
        if reflected_value < values[0]:
            expanded = 3.0 * centroid - 2.0 * worst
            expanded_value = _filter(y, error, trend, season, m, expanded, states)
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
            contracted_value = _filter(y, error, trend, season, m, contracted, states)
            if contracted_value < min(reflected_value, values[d]):
                simplex[d], values[d] = contracted, contracted_value
            else:
                for i in range(1, d + 1):
                    simplex[i] = simplex[0] + 0.5 * (simplex[i] - simplex[0])
                    values[i] = _filter(y, error, trend, season, m, simplex[i], states)
    best = np.argmin(values)
    return simplex[best].copy(), values[best]


@_compiled
def _start(y, trend, season, m, seasons):
    """Search start: alpha 0.2, beta* 0.1, gamma 0.05 of its range, phi 0.95; the initial level and trend of a
    line fitted to the first ``max(10, 2m)`` seasonally adjusted values (Hyndman et al. 2008, section 2.6.1),
    the initial seasonal states ``seasons`` of a classical decomposition of the first seasons."""
    count = _smoothing_count(trend, season)
    size = count + 1 + (trend > 0) + ((m - 1) if season > 0 else 0)
    z = np.empty(size)
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


@_compiled
def _fit_form(y, error, trend, season, m, seasons, horizon, forecasts):
    """Fit one model to one series; writes its ``horizon`` point forecasts and returns its AICc (inf for a
    series too short for the model's parameters, ``n <= k + 1``)."""
    start = _start(y, trend, season, m, seasons)
    n = len(y)
    parameters = len(start) + 1
    if n - parameters - 1 <= 0:
        return np.inf
    count = _smoothing_count(trend, season)
    steps = np.full(len(start), STATE_STEP)
    steps[:count] = SMOOTHING_STEP
    if season > 0:
        steps[len(start) - (m - 1) :] = SEASON_STEP
    states = np.empty(2 + m)
    best, value = _nelder_mead(y, error, trend, season, m, start, steps, states)
    _filter(y, error, trend, season, m, best, states)
    if value >= PENALTY:
        return np.inf
    phi = 1.0
    if trend == 2:
        phi = _phi(best[count - 1])
    damping = 0.0
    power = 1.0
    for h in range(horizon):
        power *= phi
        damping += power
        base = states[0] + damping * states[1]
        s = states[2 + (n + h) % m]
        forecasts[h] = base + s if season == 1 else (base * s if season == 2 else base)
    return value + 2.0 * parameters + 2.0 * parameters * (parameters + 1) / (n - parameters - 1)


@_compiled
def _fit_all(values, starts, codes, m, additive, multiplicative, horizon, aicc, forecasts):
    """Every model (rows of ``codes``) on every series ``values[starts[i]:starts[i+1]]``.

    One thread: Numba's default threading layer aborts when two threads of the caller (a serving
    process, a job scheduler) enter a parallel function at once."""
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
            aicc[i, f] = _fit_form(y, error, trend, season, m, seasons, horizon, forecasts[i, f])


def akaike_weights(aicc: np.ndarray) -> np.ndarray:
    """``w_k = exp(-(AICc_k - AICc_min) / 2)``, normalised per row (zero for models not fitted)."""
    finite = np.isfinite(aicc)
    lowest = np.where(finite.any(axis=1), np.where(finite, aicc, np.inf).min(axis=1), 0.0)
    weights = np.where(finite, np.exp(-0.5 * (np.where(finite, aicc, 0.0) - lowest[:, None])), 0.0)
    totals = weights.sum(axis=1, keepdims=True)
    return np.divide(weights, totals, out=np.zeros_like(weights), where=totals > 0)


@dataclass
class EtsFit:
    """Every candidate model fitted to every series: ``aicc[series, model]`` (inf where not fitted) and the
    point forecasts ``forecasts[series, model, step]``."""

    forms: list[EtsForm]
    aicc: np.ndarray
    forecasts: np.ndarray

    def combined(self) -> np.ndarray:
        """Forecasts ``[series, step]`` averaged over the models with Akaike weights (Kolassa, "Combining
        exponential smoothing forecasts using Akaike weights", IJF 27(2), 2011); for a series no model fits
        (too short), the naive forecast (the last value, times the seasonal index beyond
        ``MAX_SEASON_LENGTH``)."""
        weights = akaike_weights(self.aicc)
        fitted = np.where(weights[..., None] > 0, self.forecasts, 0.0)
        combined = np.einsum("sf,sfh->sh", weights, fitted)
        unfitted = weights.sum(axis=1) == 0
        combined[unfitted] = self.forecasts[unfitted, 0]
        return combined


def fit_ets(series: list[np.ndarray], horizon: int, season_length: int) -> EtsFit:
    """Fit every candidate model to every series (AICc per model, point forecasts ``horizon`` steps ahead).

    Seasonal models are tried for ``1 < season_length <= MAX_SEASON_LENGTH`` on series with at least
    two full seasons; multiplicative ones only on series whose values are all positive. A longer period
    would need as many seasonal states: a positive series that passes the seasonality test
    (``pipelines.seasonality.tested_seasonal_indices``) is divided by its classical multiplicative indices instead,
    the non-seasonal models are fitted to it, and their forecasts are multiplied back (the M4
    competition's benchmarks). Each series is divided by its mean absolute value first (the AICc
    differences do not change) and its forecasts multiplied back.
    """
    m = max(1, int(season_length))
    arrays = [np.asarray(y, dtype=np.float64) for y in series]
    factors = np.ones((len(arrays), horizon))
    if m > MAX_SEASON_LENGTH:
        arrays, factors = _divide_long_seasons(arrays, m, horizon)
        m = 1
    forms = candidate_forms(m > 1)
    codes = np.array([form.codes() for form in forms], dtype=np.int64)
    scales = np.array([np.abs(y).mean() if len(y) and np.abs(y).mean() > 0 else 1.0 for y in arrays])
    scaled = [y / scale for y, scale in zip(arrays, scales)]
    additive = np.full((len(scaled), m), np.nan)
    multiplicative = np.full((len(scaled), m), np.nan)
    for row, y in enumerate(scaled):
        if m > 1 and len(y) >= 2 * m:
            first = y[: 3 * m]
            additive[row] = seasonal_indices(first, m, multiplicative=False)
            if np.all(first > 0):
                multiplicative[row] = seasonal_indices(first, m)
    starts = np.concatenate([[0], np.cumsum([len(y) for y in scaled])]).astype(np.int64)
    values = np.concatenate(scaled) if scaled else np.zeros(0)
    aicc = np.full((len(scaled), len(forms)), np.inf)
    last = np.array([y[-1] if len(y) else np.nan for y in scaled])
    forecasts = np.repeat(last[:, None, None], len(forms), axis=1).repeat(horizon, axis=2)
    _fit_all(values, starts, codes, m, additive, multiplicative, int(horizon), aicc, forecasts)
    return EtsFit(forms, aicc, forecasts * (scales[:, None] * factors)[:, None, :])


def _divide_long_seasons(arrays: list[np.ndarray], m: int, horizon: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Each seasonal positive series divided by its multiplicative indices, and the ``[series, horizon]``
    indices of the forecast steps (ones for the others)."""
    adjusted, factors = [], np.ones((len(arrays), horizon))
    for row, y in enumerate(arrays):
        indices = tested_seasonal_indices(y, m)
        if indices is not None:
            adjusted.append(y / indices[np.arange(len(y)) % m])
            factors[row] = indices[(len(y) + np.arange(horizon)) % m]
        else:
            adjusted.append(y)
    return adjusted, factors


def ets_point_forecasts(
    y: np.ndarray, origin_rows: np.ndarray, first_rows: np.ndarray, horizon: int, season_length: int
) -> np.ndarray:
    """``[origins, horizon]``: the Akaike-weighted ETS forecasts from every history ``y[first : origin + 1]``."""
    histories = [y[first : origin + 1] for first, origin in zip(first_rows.tolist(), origin_rows.tolist())]
    return fit_ets(histories, horizon, season_length).combined()
