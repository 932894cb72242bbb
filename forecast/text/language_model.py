"""A recurrent language model over characters or words, scikit-learn style.

The network reads token ids and predicts, at every position, a distribution
over the next token:

```
e_t = E[x_t]                                   (embedding)
h_t^(l) = cell^(l)(h_t^(l-1), s_{t-1}^(l))      (stacked recurrent layers, h_t^(0) = e_t)
p(x_{t+1} | x_{<=t}) = softmax(W h_t^(L) + b)
```

and is trained on windows of `seq_len` tokens (`pipelines.text`) with
the sparse categorical cross-entropy `-log p(x_{t+1} | x_{<=t})`.  It is the
character-level set-up of Graves (2013), "Generating Sequences With Recurrent
Neural Networks", arXiv:1308.0850, and Karpathy's char-rnn, with any cell of
`layers.registry`.

Perplexity is `exp(mean_t -log p(x_{t+1} | x_{<=t}))`; the add-one smoothed
unigram model `p(v) = (count_train(v) + 1) / (N_train + V)` is the baseline
a model must beat.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from forecast.distribution import strategy_scope
from forecast.settings import (
    CELL,
    CLIPNORM,
    DISTRIBUTION,
    MAX_UNITS,
    NUM_LAYERS,
    Tracking,
    TrackingKind,
    tracking_settings,
)
from forecast.tracked import epoch_metrics_logger
from forecast.tracking import tracking_run
from layers.registry import get as get_recurrent_layer
from pipelines.checks import check_integer, check_number
from pipelines.settings import (
    Choice,
    Flag,
    Integer,
    Number,
    Setting,
    check_settings,
    declared,
    settings_dataclass,
    settings_to_json,
)
from pipelines.text import OOV_ID, SEPARATOR_ID, TextWindows

EXPERIMENT = "language-model"
"""The MLflow experiment of a tracked fit unless `tracking` names another."""


@settings_dataclass
class LanguageModel(BaseEstimator):
    """Next-token language model: Embedding -> recurrent layers -> softmax.

    Args:
        cell: recurrent layer name from `layers.registry` (`"lstm"`,
            `"gru"`, `"clockwork"`, ...).
        units: hidden units of every recurrent layer.
        num_layers: number of stacked recurrent layers.
        embedding_dim: size of the token embedding.
        seq_len: tokens per training window (truncated BPTT length) and the
            longest prompt context used.
        level: `"char"` or `"word"` tokens (see `pipelines.text.TextWindows`).
        max_vocab: largest vocabulary, reserved tokens included; None keeps all.
        lower: lower-case the text first.
        epochs, batch_size: training schedule.
        learning_rate, clipnorm: Adam step size and gradient-norm clipping.
        distribution: None, `"mirrored"` or a `tf.distribute.Strategy`: train
            data-parallel on several devices (`forecast.distribution`; `batch_size`
            is the global batch size).
        seed: seeds Keras, NumPy and Python random generators (through
            `keras.utils.set_random_seed`) before the network is built, and the
            window shuffling.
        verbose: Keras `fit` verbosity.
        tracking: log the run to MLflow: True (experiment `"language-model"`), False, or
            `forecast.settings.Tracking(...)`.

    The settings are keyword-only, each declared once below with its default (`pipelines.settings`).

    Attributes:
        text_windows_: the fitted `TextWindows` (vocabulary).
        vocabulary_: tokens, index = id (id 0 out-of-vocabulary, id 1 document separator).
        model_: the Keras model, `(batch, time)` ids -> `(batch, time, vocabulary)` probabilities.
        history_: per-epoch `loss` (and `val_loss`).
        validation_perplexity_, unigram_perplexity_: on `validation_texts`
            (None without them).
        run_id_: the MLflow run id (None when tracking is off).

    Example:
        >>> model = LanguageModel(units=16, seq_len=20, epochs=1, tracking=False, verbose=0)
        >>> model.fit(pd.Series(["abcabcabc" * 20])).generate("ab", 5, temperature=0)  # doctest: +SKIP
        'cabca'
    """

    cell: str = declared(CELL)
    units: int = declared(Setting("units", Integer(maximum=MAX_UNITS), 128, "hidden units of every recurrent layer"))
    num_layers: int = declared(NUM_LAYERS)
    embedding_dim: int = declared(Setting("embedding_dim", Integer(), 32, "size of the token embedding"))
    seq_len: int = declared(
        Setting(
            "seq_len",
            Integer(),
            100,
            "tokens per training window (truncated BPTT length) and the longest prompt context used",
        )
    )
    level: str = declared(Setting("level", Choice(("char", "word")), "char", "char or word tokens"))
    max_vocab: int | None = declared(
        Setting("max_vocab", Integer(allow_none=True), None, "largest vocabulary, reserved tokens included")
    )
    lower: bool = declared(Setting("lower", Flag(), False, "lower-case the text first"))
    epochs: int = declared(Setting("epochs", Integer(), 10, "passes over the training windows"))
    batch_size: int = declared(Setting("batch_size", Integer(), 64, "windows per gradient step"))
    learning_rate: float = declared(
        Setting("learning_rate", Number(low=0.0, low_inclusive=False), 2e-3, "Adam step size")
    )
    clipnorm: float | None = declared(CLIPNORM)
    distribution: Any = declared(DISTRIBUTION)
    seed: int = declared(
        Setting("seed", Integer(minimum=0), 0, "seeds Keras, NumPy and Python before the network is built")
    )
    verbose: int = declared(Setting("verbose", Choice((0, 1, 2)), 1, "Keras fit verbosity"))
    tracking: bool | Tracking = declared(
        Setting(
            "tracking",
            TrackingKind(),
            True,
            f"log the run to MLflow: true (experiment {EXPERIMENT!r}), false, or Tracking(experiment=..., ...)",
        )
    )

    # ------------------------------------------------------------------ fit
    def fit(self, train_texts: pd.Series, validation_texts: pd.Series | None = None) -> LanguageModel:
        """Fit the vocabulary and the network on `train_texts` (a Series of documents).

        With `validation_texts` the per-epoch `val_loss` is tracked and,
        after training, `validation_perplexity_` and the unigram baseline
        `unigram_perplexity_` are computed (and logged to MLflow).
        """
        check_settings(self)
        text_windows = TextWindows(
            seq_len=self.seq_len, level=self.level, max_vocab=self.max_vocab, lower=self.lower
        ).fit(train_texts)
        train_windows = _nonempty_windows(text_windows, train_texts, "train_texts")
        validation_windows = (
            None if validation_texts is None else _nonempty_windows(text_windows, validation_texts, "validation_texts")
        )
        self.text_windows_ = text_windows
        self.vocabulary_ = text_windows.vocabulary_

        keras.utils.set_random_seed(self.seed)
        with strategy_scope(self.distribution):
            self.model_ = self._build_model(len(self.vocabulary_))
            self.model_.compile(
                optimizer=keras.optimizers.Adam(learning_rate=self.learning_rate, clipnorm=self.clipnorm),
                loss=keras.losses.SparseCategoricalCrossentropy(),
            )
        tracking = tracking_settings(self.tracking, Tracking(experiment=EXPERIMENT))
        with tracking_run(
            tracking is not None,
            tracking.experiment if tracking else EXPERIMENT,
            run_name=(tracking.run_name if tracking else None) or f"{self.cell}-{self.level}",
            on_error=tracking.errors if tracking else "warn",
        ) as tracker:
            tracker.log_params(
                {
                    **settings_to_json(self),
                    "vocabulary_size": len(self.vocabulary_),
                    "train_windows": len(train_windows),
                }
            )
            history = self.model_.fit(
                train_windows.to_dataset(self.batch_size, shuffle=True, seed=self.seed),
                validation_data=(
                    None if validation_windows is None else validation_windows.to_dataset(self.batch_size)
                ),
                epochs=self.epochs,
                shuffle=False,  # the dataset reshuffles its windows every epoch
                verbose=self.verbose,
                callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=epoch_metrics_logger(tracker))],
            )
            self.history_ = history.history
            self.validation_perplexity_ = None
            self.unigram_perplexity_ = None
            if validation_texts is not None:
                self.validation_perplexity_ = self.perplexity(validation_texts)
                self.unigram_perplexity_ = self.unigram_perplexity(train_texts, validation_texts)
                tracker.log_metrics(
                    {
                        "validation_perplexity": self.validation_perplexity_,
                        "unigram_perplexity": self.unigram_perplexity_,
                    }
                )
            self.run_id_ = tracker.run_id
        return self

    def _build_model(self, vocabulary_size: int) -> keras.Model:
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        hidden = keras.layers.Embedding(vocabulary_size, self.embedding_dim, name="embedding")(token_ids)
        for _ in range(self.num_layers):
            hidden = get_recurrent_layer(self.cell, self.units, return_sequences=True)(hidden)
        probabilities = keras.layers.Dense(vocabulary_size, activation="softmax", name="next_token")(hidden)
        return keras.Model(token_ids, probabilities, name="language_model")

    # ------------------------------------------------------------ scoring
    def next_token_probabilities(self, prompt: str) -> pd.Series:
        """`p(next token | prompt)` over `vocabulary_` (a Series indexed by token).

        The prompt is read as the start of a document (after a separator),
        keeping its last `seq_len` tokens.
        """
        check_is_fitted(self, "model_")
        context = self._context_ids(prompt)
        probabilities = keras.ops.convert_to_numpy(self.model_(context[None, :], training=False))[0, -1]
        return pd.Series(probabilities, index=pd.Index(self.vocabulary_, name="token"), name="probability")

    def perplexity(self, texts: pd.Series) -> float:
        """`exp` of the mean negative log-likelihood of every token of `texts`
        after the first (documents joined by separators), read in consecutive
        chunks of `seq_len` tokens that each start from a zero state, as in
        training."""
        check_is_fitted(self, "model_")
        token_ids = self.text_windows_.encode_corpus(texts)
        if len(token_ids) < 2:
            raise ValueError(f"perplexity needs at least 2 tokens, found {len(token_ids)}")
        inputs, targets = token_ids[:-1], token_ids[1:]
        n_full = len(inputs) // self.seq_len * self.seq_len
        window_inputs = inputs[:n_full].reshape(-1, self.seq_len)
        window_targets = targets[:n_full].reshape(-1, self.seq_len)
        batches = [
            (window_inputs[start : start + self.batch_size], window_targets[start : start + self.batch_size])
            for start in range(0, len(window_inputs), self.batch_size)
        ]
        if n_full < len(inputs):
            batches.append((inputs[None, n_full:], targets[None, n_full:]))
        total_nll = sum(self._negative_log_likelihood(x, y) for x, y in batches)
        return float(np.exp(total_nll / len(targets)))

    def _negative_log_likelihood(self, inputs: np.ndarray, targets: np.ndarray) -> float:
        probabilities = keras.ops.convert_to_numpy(self.model_(inputs, training=False))
        target_probabilities = np.take_along_axis(probabilities, targets[..., None], axis=-1)
        return float(-np.log(np.maximum(target_probabilities, np.finfo(np.float32).tiny)).sum())

    def unigram_perplexity(self, train_texts: pd.Series, texts: pd.Series) -> float:
        """Perplexity of the add-one smoothed unigram model
        `p(v) = (count_train(v) + 1) / (N_train + V)` fitted on the tokens of
        `train_texts`, scored on the same tokens of `texts` as `perplexity`."""
        check_is_fitted(self, "text_windows_")
        vocabulary_size = len(self.vocabulary_)
        counts = np.bincount(self.text_windows_.encode_corpus(train_texts), minlength=vocabulary_size)
        log_probabilities = np.log((counts + 1) / (counts.sum() + vocabulary_size))
        targets = self.text_windows_.encode_corpus(texts)[1:]
        if len(targets) == 0:
            raise ValueError("unigram_perplexity needs at least 2 tokens in texts, found fewer")
        return float(np.exp(-log_probabilities[targets].mean()))

    # ---------------------------------------------------------- generation
    def generate(self, prompt: str, n: int, temperature: float = 1.0, seed: int | None = None) -> str:
        """`n` tokens that continue `prompt` (the prompt itself is not returned).

        Each token is drawn from `p_T(v) ∝ p(v | context)^(1/T)`;
        `temperature=0` takes the most likely token.  The out-of-vocabulary
        token is never emitted.  The recurrent state is carried from step to
        step (one cell step per token), starting from the state after the
        prompt's context (see `next_token_probabilities`).
        """
        check_is_fitted(self, "model_")
        check_integer("n", n, minimum=0)
        if check_number("temperature", temperature, low=0.0) == math.inf:
            raise ValueError("temperature must be a finite non-negative number; got inf")
        rng = np.random.default_rng(seed)
        step, compiled_step = self._next_token_step()
        states = step.initial_states()
        for token_id in self._context_ids(prompt):
            probabilities, states = compiled_step(np.array([token_id], dtype=np.int32), states)
        generated = []
        for _ in range(n):
            token_id = _sample(probabilities.numpy()[0], temperature, rng)
            generated.append(token_id)
            probabilities, states = compiled_step(np.array([token_id], dtype=np.int32), states)
        return self.text_windows_.decode(np.array(generated, dtype=np.int32))

    def __getstate__(self) -> dict:
        # The compiled step is a cache of `model_` (a tf.function cannot be pickled); it is rebuilt on use.
        state = super().__getstate__()
        state.pop("_step_cache", None)
        return state

    def _next_token_step(self) -> tuple[_NextTokenStep, Callable]:
        """The one-step model of `model_` and its XLA-compiled call, built once per trained model."""
        cached = getattr(self, "_step_cache", None)
        if cached is None or cached[0] is not self.model_:
            step = _NextTokenStep(self.model_)
            # The shapes never change from step to step, so XLA compiles once.
            compiled = tf.function(lambda token_id, states: step([token_id, states]), jit_compile=True)
            cached = self._step_cache = (self.model_, step, compiled)
        return cached[1], cached[2]

    def _context_ids(self, prompt: str) -> np.ndarray:
        """A separator (document start) followed by the prompt, last `seq_len` tokens."""
        token_ids = np.concatenate([[SEPARATOR_ID], self.text_windows_.encode(prompt)])
        return token_ids[-self.seq_len :].astype(np.int32)


def _nonempty_windows(text_windows: TextWindows, texts: pd.Series, name: str):
    windows = text_windows.transform(texts)
    if len(windows) == 0:
        raise ValueError(
            f"{name} give no window of seq_len={text_windows.seq_len}: a window needs "
            f"{text_windows.seq_len + 1} tokens, found {len(windows.token_ids)} "
            "(documents plus one separator each)"
        )
    return windows


class _NextTokenStep(keras.Model):
    """One time step of a trained `LanguageModel` network for one sequence,
    sharing its weights: `[token_id (1,), states] -> [probabilities (1, V), new_states]`.

    It calls each recurrent layer's cell directly, through the
    `keras.layers.RNN` cell contract `cell(x_t, states) -> (h_t, new_states)`;
    `states` is a flat list, the states of the bottom layer first.
    """

    def __init__(self, network: keras.Model) -> None:
        super().__init__(name="next_token_step")
        self.embedding = network.get_layer("embedding")
        self.cells = [layer.cell for layer in network.layers if isinstance(layer, keras.layers.RNN)]
        self.next_token = network.get_layer("next_token")
        self.state_sizes = [
            list(cell.state_size) if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
            for cell in self.cells
        ]

    def initial_states(self) -> list[np.ndarray]:
        """Zero states for one sequence."""
        return [np.zeros((1, size), dtype="float32") for sizes in self.state_sizes for size in sizes]

    def call(self, inputs):
        token_id, states = inputs
        hidden = self.embedding(token_id)
        new_states = []
        position = 0
        for cell, sizes in zip(self.cells, self.state_sizes):
            hidden, cell_states = cell(hidden, list(states[position : position + len(sizes)]), training=False)
            new_states.extend(cell_states if isinstance(cell_states, (list, tuple)) else [cell_states])
            position += len(sizes)
        return self.next_token(hidden), new_states


def _sample(probabilities: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    """Draw a token id from `probabilities ** (1 / temperature)` (argmax at 0), never OOV."""
    probabilities = probabilities.astype(np.float64)
    probabilities[OOV_ID] = 0.0
    if temperature == 0:
        return int(np.argmax(probabilities))
    with np.errstate(divide="ignore"):
        logits = np.log(probabilities) / temperature
    weights = np.exp(logits - logits.max())
    return int(rng.choice(len(weights), p=weights / weights.sum()))
