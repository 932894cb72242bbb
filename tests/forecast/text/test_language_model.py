import math
import pickle

import keras
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from forecast.settings import Tracking
from forecast.text.language_model import LanguageModel, _NextTokenStep, _sample
from layers.registry import available

PATTERN = "abcdefg "
TRAIN = pd.Series([PATTERN * 30, PATTERN * 10])
# 40 characters + 1 separator = 41 tokens = 40 targets = two windows of 20, no tail
VALIDATION = pd.Series([PATTERN * 5])


def small_model(**overrides) -> LanguageModel:
    params = dict(
        units=16,
        embedding_dim=8,
        seq_len=20,
        epochs=20,
        batch_size=4,
        learning_rate=1e-2,
        verbose=0,
        tracking=False,
    )
    return LanguageModel(**{**params, **overrides})


@pytest.fixture(scope="module")
def fitted(module_mlflow_tracking_uri) -> LanguageModel:
    return small_model(tracking=Tracking(experiment="lm-test")).fit(TRAIN, VALIDATION)


def test_fit_learns_attributes_and_beats_the_unigram_baseline(fitted):
    assert fitted.vocabulary_ == ["<unk>", "\n", " ", "a", "b", "c", "d", "e", "f", "g"]
    assert fitted.model_.output_shape == (None, None, len(fitted.vocabulary_))
    assert len(fitted.history_["loss"]) == len(fitted.history_["val_loss"]) == 20
    assert fitted.history_["loss"][-1] < fitted.history_["loss"][0]
    assert math.isfinite(fitted.validation_perplexity_)
    assert fitted.validation_perplexity_ < fitted.unigram_perplexity_ / 2


def test_perplexity_is_exp_of_the_keras_validation_loss(fitted):
    # Keras computed val_loss on the same two windows in its last epoch
    assert fitted.perplexity(VALIDATION) == pytest.approx(math.exp(fitted.history_["val_loss"][-1]), rel=1e-5)
    assert fitted.validation_perplexity_ == fitted.perplexity(VALIDATION)


def test_perplexity_scores_the_tail_beyond_whole_windows(fitted):
    texts = pd.Series(["abcdefg abcdefg abcdefg abc", "gfedcba"])  # 36 tokens: one window + 15 tail targets
    ids = fitted.text_windows_.encode_corpus(texts)
    reference_nll = 0.0
    for start in range(0, len(ids) - 1, fitted.seq_len):
        chunk = ids[start : start + fitted.seq_len + 1]
        probabilities = keras.ops.convert_to_numpy(fitted.model_(chunk[None, :-1]))[0]
        reference_nll -= np.log(probabilities[np.arange(len(chunk) - 1), chunk[1:]]).sum()
    expected = math.exp(reference_nll / (len(ids) - 1))
    assert fitted.perplexity(texts) == pytest.approx(expected, rel=1e-5)


def test_unigram_perplexity_hand_computed(fitted):
    # train "abc..." tokens: 40 each of a-g and " ", 2 separators, 0 <unk>: N = 322, V = 10
    # scored tokens of "ab\n": b and the separator
    p_b, p_separator = (40 + 1) / (322 + 10), (2 + 1) / (322 + 10)
    expected = math.exp(-(math.log(p_b) + math.log(p_separator)) / 2)
    assert fitted.unigram_perplexity(TRAIN, pd.Series(["ab"])) == pytest.approx(expected)


def test_greedy_generation_continues_the_memorised_pattern(fitted):
    assert fitted.generate("abc", 13, temperature=0) == "defg abcdefg "
    assert fitted.generate("", 4, temperature=0) == "abcd"


def test_next_token_probabilities(fitted):
    probabilities = fitted.next_token_probabilities("abcd")
    assert list(probabilities.index) == fitted.vocabulary_
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert probabilities.idxmax() == "e"


def test_sampled_generation_length_and_seed_determinism(fitted):
    first = fitted.generate("ab", 30, temperature=2.0, seed=7)
    assert len(first) == 30
    assert set(first) <= set(fitted.vocabulary_[1:])
    assert fitted.generate("ab", 30, temperature=2.0, seed=7) == first
    assert fitted.generate("ab", 30, temperature=2.0, seed=8) != first
    assert fitted.generate("ab", 0) == ""


def test_a_fitted_language_model_pickles_after_generating_and_generates_identically(fitted):
    expected = fitted.generate("ab", 20, temperature=2.0, seed=3)  # builds the compiled step, which is not pickled
    assert pickle.loads(pickle.dumps(fitted)).generate("ab", 20, temperature=2.0, seed=3) == expected


def test_sample_follows_the_tempered_distribution():
    probabilities = np.array([0.1, 0.2, 0.3, 0.4])
    rng = np.random.default_rng(0)
    draws = np.array([_sample(probabilities, 0.5, rng) for _ in range(20_000)])
    tempered = probabilities[1:] ** 2 / (probabilities[1:] ** 2).sum()  # id 0 (OOV) is never drawn
    frequencies = np.bincount(draws, minlength=4) / len(draws)
    assert frequencies[0] == 0
    np.testing.assert_allclose(frequencies[1:], tempered, atol=0.015)
    assert _sample(probabilities, 0, rng) == 3
    assert _sample(np.array([0.9, 0.05, 0.05]), 0, rng) == 1


@pytest.mark.parametrize(
    "cell", [cell if cell == "lstm" else pytest.param(cell, marks=pytest.mark.slow) for cell in available()]
)
def test_every_cell_trains_and_generates_step_by_step(cell):
    model = small_model(cell=cell, units=4, embedding_dim=3, seq_len=6, epochs=1, batch_size=4)
    model.fit(pd.Series(["abcab cab " * 3]))
    assert math.isfinite(model.history_["loss"][0])
    # the cell-by-cell step model reproduces the full-sequence model
    step = _NextTokenStep(model.model_)
    states = step.initial_states()
    for token_id in model._context_ids("cab a"):
        step_probabilities, states = step.predict_on_batch([np.array([token_id], dtype="int32"), states])
    full_probabilities = model.next_token_probabilities("cab a")
    np.testing.assert_allclose(step_probabilities[0], full_probabilities, rtol=1e-4, atol=1e-6)
    assert len(model.generate("ab", 5, seed=0)) == 5


@pytest.mark.slow
def test_two_layer_word_level_model():
    model = small_model(level="word", seq_len=5, epochs=1, num_layers=2)
    model.fit(pd.Series(["the cat sat on the mat ."] * 4))
    generated = model.generate("the cat", 6, seed=0)
    assert len(generated.split(" ")) == 6
    assert set(generated.split(" ")) <= set(model.vocabulary_)


def test_fit_logs_to_mlflow(fitted, module_mlflow_tracking_uri):
    client = MlflowClient(tracking_uri=module_mlflow_tracking_uri)
    run = client.get_run(fitted.run_id_)
    assert run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == "lm-test"
    assert run.data.params["cell"] == "lstm"
    assert run.data.params["vocabulary_size"] == "10"
    assert [m.step for m in client.get_metric_history(fitted.run_id_, "loss")] == list(range(20))
    assert run.data.metrics["val_loss"] == pytest.approx(fitted.history_["val_loss"][-1])
    assert run.data.metrics["validation_perplexity"] == pytest.approx(fitted.validation_perplexity_)
    assert run.data.metrics["unigram_perplexity"] == pytest.approx(fitted.unigram_perplexity_)


def test_errors():
    with pytest.raises(NotFittedError):
        small_model().generate("ab", 3)
    message = "train_texts give no window of seq_len=20: a window needs 21 tokens, found 4"
    with pytest.raises(ValueError, match=message):
        small_model().fit(pd.Series(["abc"]))
    with pytest.raises(ValueError, match="num_layers must be a positive integer up to 64; got 0"):
        small_model(num_layers=0).fit(TRAIN)
    with pytest.raises(ValueError, match="cell must be one of .*; got 'transformer'"):
        small_model(cell="transformer").fit(TRAIN)
    with pytest.raises(TypeError, match="positional"):
        LanguageModel("lstm")


def test_generate_argument_errors(fitted):
    with pytest.raises(ValueError, match="n must be a non-negative integer; got -1"):
        fitted.generate("ab", -1)
    with pytest.raises(ValueError, match="temperature must be a non-negative number; got -0.5"):
        fitted.generate("ab", 3, temperature=-0.5)
    with pytest.raises(ValueError, match="temperature must be a finite non-negative number; got inf"):
        fitted.generate("ab", 3, temperature=float("inf"))


def test_clone_keeps_parameters(fitted):
    cloned = clone(fitted)
    assert cloned.get_params() == fitted.get_params()
    assert not hasattr(cloned, "model_")
