"""Character-level language model on the King James Bible against the unigram baseline.

Trains `forecast.text.LanguageModel` on the first `train_chars`
characters of the KJV verses (Genesis onwards) and scores the last
`validation_chars` characters (the end of the New Testament, books the
model never saw), printing the validation perplexity of the network and of
the add-one smoothed unigram model fitted on the same training text.

Run: `python -m benchmarks.language_model` (a few minutes on a CPU).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from forecast.settings import Tracking
from forecast.text.corpus import king_james_verses
from forecast.text.language_model import LanguageModel


def kjv_verses() -> pd.Series:
    """The 31,102 KJV verses in canonical order, indexed by citation."""
    return king_james_verses().set_index("citation")["text"]


def split_by_characters(verses: pd.Series, train_chars: int, validation_chars: int) -> tuple[pd.Series, pd.Series]:
    """The leading verses holding about `train_chars` characters and the
    trailing verses holding about `validation_chars`."""
    lengths = verses.str.len().to_numpy()
    n_train = int(np.searchsorted(np.cumsum(lengths), train_chars)) + 1
    n_validation = int(np.searchsorted(np.cumsum(lengths[::-1]), validation_chars)) + 1
    if n_train + n_validation > len(verses):
        raise ValueError(
            f"train_chars + validation_chars = {train_chars + validation_chars} exceed the "
            f"{lengths.sum()} characters of the corpus"
        )
    return verses.iloc[:n_train], verses.iloc[-n_validation:]


def kjv_demo(
    train_chars: int = 500_000,
    validation_chars: int = 50_000,
    cell: str = "lstm",
    units: int = 128,
    epochs: int = 3,
    batch_size: int = 64,
    seq_len: int = 100,
    tracking: bool = False,
) -> LanguageModel:
    """Fit a character-level model on the KJV and print its validation perplexity
    next to the unigram baseline's, and a sample; returns the fitted model."""
    train, validation = split_by_characters(kjv_verses(), train_chars, validation_chars)
    print(
        f"train: {len(train)} verses ({train.index[0]} .. {train.index[-1]}), {train.str.len().sum()} chars; "
        f"validation: {len(validation)} verses ({validation.index[0]} .. {validation.index[-1]}), "
        f"{validation.str.len().sum()} chars"
    )
    started = time.perf_counter()
    model = LanguageModel(
        cell=cell,
        units=units,
        seq_len=seq_len,
        epochs=epochs,
        batch_size=batch_size,
        verbose=2,
        tracking=tracking and Tracking(experiment="kjv-language-model"),
    ).fit(train, validation)
    seconds = time.perf_counter() - started
    print(f"vocabulary: {len(model.vocabulary_)} tokens; fit + scoring: {seconds:.0f} s")
    print(f"validation perplexity: {cell} {model.validation_perplexity_:.2f}, unigram {model.unigram_perplexity_:.2f}")
    sample = model.generate("And the LORD said unto Moses, ", 200, temperature=0.5, seed=0)
    print("sample (temperature 0.5):", repr(sample))
    return model


if __name__ == "__main__":
    kjv_demo()
