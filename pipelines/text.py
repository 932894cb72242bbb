"""Text documents -> token ids -> next-token windows for language models.

A language model reads a window of `seq_len` tokens and predicts, at every
position, the token that follows:

```
inputs[w]  = ids[s_w     : s_w + seq_len]
targets[w] = ids[s_w + 1 : s_w + seq_len + 1]      (s_w = w * stride)
```

so `targets[w, t]` is the token after `inputs[w, t]`.

Documents are concatenated before windowing, each one followed by a
separator token (a newline at character level, `<eos>` at word level), so a
document shorter than a window is never dropped: it shares windows with its
neighbours and the model learns where documents end.  The only tokens a
transform leaves out are the last few targets that do not fill a whole
window; `last_transform_stats_` counts them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from pipelines.checks import check_choice, check_integer
from pipelines.rows import sorted_positions

LEVELS = ("char", "word")
OOV_ID = 0
SEPARATOR_ID = 1
DEFAULT_SEPARATORS = {"char": "\n", "word": "<eos>"}

# A word is a run of letters, digits or underscores, with inner apostrophes
# kept ("LORD's", "don't"); every other non-space character is a token of
# its own; whitespace only separates tokens.
WORD_PATTERN = re.compile(r"\w+(?:'\w+)*|[^\w\s]")


@dataclass(frozen=True)
class TokenWindows:
    """Next-token windows over one encoded corpus, held as views.

    Attributes:
        token_ids: the encoded corpus, shape `(n_tokens,)`, int32.
        seq_len: tokens per window.
        stride: tokens between the starts of consecutive windows.
    """

    token_ids: np.ndarray
    seq_len: int
    stride: int

    @property
    def starts(self) -> np.ndarray:
        """Start offset of every window: `0, stride, 2*stride, ...` while
        `start + seq_len + 1 <= n_tokens`."""
        return np.arange(0, len(self.token_ids) - self.seq_len, self.stride)

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def inputs(self) -> np.ndarray:
        """Read-only view `(n_windows, seq_len)` of the input tokens."""
        return self._windows(self.token_ids[:-1])

    @property
    def targets(self) -> np.ndarray:
        """Read-only view `(n_windows, seq_len)`: `inputs` shifted by one token."""
        return self._windows(self.token_ids[1:])

    def _windows(self, ids: np.ndarray) -> np.ndarray:
        if len(ids) < self.seq_len:
            return np.empty((0, self.seq_len), dtype=self.token_ids.dtype)
        return sliding_window_view(ids, self.seq_len)[:: self.stride]

    def to_dataset(self, batch_size: int, shuffle: bool = False, seed: int | None = None):
        """A `tf.data.Dataset` of `(inputs, targets)` batches.

        Windows are gathered from the corpus per batch, so memory stays
        `O(n_tokens)` whatever the stride.  With `shuffle` the window
        order is reshuffled every epoch (seeded by `seed`).
        """
        import tensorflow as tf

        if len(self) == 0:
            raise ValueError(
                f"no windows to batch: a window needs seq_len + 1 = {self.seq_len + 1} "
                f"tokens, the corpus has {len(self.token_ids)}"
            )
        corpus = tf.constant(self.token_ids)
        offsets = tf.range(self.seq_len + 1, dtype=tf.int64)
        dataset = tf.data.Dataset.from_tensor_slices(self.starts.astype(np.int64))
        if shuffle:
            dataset = dataset.shuffle(len(self), seed=seed, reshuffle_each_iteration=True)

        def gather_windows(starts):
            chunk = tf.gather(corpus, starts[:, None] + offsets)
            return chunk[:, :-1], chunk[:, 1:]

        dataset = dataset.batch(batch_size).map(gather_windows, num_parallel_calls=tf.data.AUTOTUNE)
        return dataset.prefetch(tf.data.AUTOTUNE)


class TextWindows(BaseEstimator):
    """Fit a token vocabulary on documents and cut them into next-token windows.

    Vocabulary: id 0 is `oov_token` (any token not in the vocabulary), id 1
    is the document separator, then the tokens of the training documents from
    most to least frequent, ties broken by Unicode code point order (so the
    vocabulary does not depend on document order).  `max_vocab` caps the
    total size, reserved tokens included.  There is no padding token: every
    window is full because documents are concatenated.

    Tokens: at `level="char"` one token per Unicode code point; at
    `level="word"` the matches of `WORD_PATTERN` (words with inner
    apostrophes, and each punctuation character alone); whitespace is dropped,
    so `decode` joins words with single spaces.

    Args:
        seq_len: tokens per window.
        level: `"char"` or `"word"`.
        max_vocab: largest vocabulary size (reserved tokens included); None keeps
            every token of the training documents.
        lower: lower-case documents before tokenizing.
        oov_token: the token that stands for out-of-vocabulary tokens (id 0).
        stride: tokens between window starts; None means `seq_len`
            (non-overlapping windows).
        separator: the token after each document (id 1); None means a newline
            at character level and `"<eos>"` at word level.  At character
            level it must be one character.

    Attributes:
        vocabulary_: list of tokens; a token's index is its id.
        last_transform_stats_: counts from the latest `transform`:
            `n_documents`, `n_tokens` (separators included),
            `n_oov_tokens`, `n_windows`, `n_tail_targets_unused` (targets
            after the last window).

    Example:
        >>> windows = TextWindows(seq_len=3).fit_transform(pd.Series(["abcab"]))
        >>> windows.inputs.shape, windows.targets.shape
        ((1, 3), (1, 3))
    """

    def __init__(
        self,
        seq_len: int,
        level: str = "char",
        max_vocab: int | None = None,
        lower: bool = False,
        oov_token: str = "<unk>",
        stride: int | None = None,
        separator: str | None = None,
    ) -> None:
        self.seq_len = seq_len
        self.level = level
        self.max_vocab = max_vocab
        self.lower = lower
        self.oov_token = oov_token
        self.stride = stride
        self.separator = separator

    # ------------------------------------------------------------------ fit
    def fit(self, texts: pd.Series) -> TextWindows:
        """Learn `vocabulary_` from the training documents `texts`."""
        self._validate_params()
        documents = self._validated_documents(texts)
        tokens, counts = self._token_counts(documents)
        reserved = self._reserved_tokens()
        keep = ~np.isin(tokens, [self._token_key(t) for t in reserved if self._has_key(t)])
        tokens, counts = tokens[keep], counts[keep]
        ranked = tokens[np.argsort(-counts, kind="stable")]  # np.unique sorted ties by code point
        if self.max_vocab is not None:
            ranked = ranked[: self.max_vocab - len(reserved)]
        self.vocabulary_ = reserved + [self._token_text(key) for key in ranked]
        self._build_lookup()
        return self

    def transform(self, texts: pd.Series) -> TokenWindows:
        """Encode `texts` (each document followed by the separator) and window it."""
        ids = self.encode_corpus(texts)
        windows = TokenWindows(ids, seq_len=self.seq_len, stride=self._stride())
        n_windows = len(windows)
        covered = windows.starts[-1] + self.seq_len if n_windows else 0
        self.last_transform_stats_ = {
            "n_documents": len(texts),
            "n_tokens": len(ids),
            "n_oov_tokens": int(np.count_nonzero(ids == OOV_ID)),
            "n_windows": n_windows,
            "n_tail_targets_unused": int(max(len(ids) - 1 - covered, 0)),
        }
        return windows

    def fit_transform(self, texts: pd.Series) -> TokenWindows:
        """`fit(texts)` then `transform(texts)`."""
        return self.fit(texts).transform(texts)

    # -------------------------------------------------------- encode/decode
    def tokenize(self, text: str) -> list[str]:
        """Split one string into tokens (after lower-casing if `lower`)."""
        text = self._lowered(text)
        return list(text) if self.level == "char" else WORD_PATTERN.findall(text)

    def encode(self, text: str) -> np.ndarray:
        """Token ids (int32) of one string, without a separator."""
        check_is_fitted(self, "vocabulary_")
        if not isinstance(text, str):
            raise TypeError(f"encode expects a str, found {type(text).__name__}")
        return self._lookup(self._keys(self._lowered(text)))

    def encode_corpus(self, texts: pd.Series) -> np.ndarray:
        """Token ids (int32) of all documents, each followed by the separator."""
        check_is_fitted(self, "vocabulary_")
        documents = self._validated_documents(texts)
        if self.level == "char":
            keys = self._keys(self._separator().join(documents) + self._separator())
        else:
            keys = np.array(self._word_tokens(documents, with_separators=True), dtype=str)
        return self._lookup(keys)

    def decode(self, ids) -> str:
        """The text of token ids: characters concatenated, or words joined by
        single spaces; id 0 decodes to `oov_token` and id 1 to the separator
        (`"<eos>"` by default at word level)."""
        check_is_fitted(self, "vocabulary_")
        ids = np.asarray(ids)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self.vocabulary_)):
            bad = ids[(ids < 0) | (ids >= len(self.vocabulary_))][0]
            raise ValueError(f"token id {bad} outside the vocabulary: expected 0..{len(self.vocabulary_) - 1}")
        tokens = np.asarray(self.vocabulary_, dtype=object)[ids.astype(np.int64)]
        return ("" if self.level == "char" else " ").join(tokens.tolist())

    # --------------------------------------------------------------- config
    def get_config(self) -> dict[str, Any]:
        """JSON-serialisable constructor arguments plus the fitted vocabulary
        (None before `fit`)."""
        config = self.get_params()
        config["vocabulary"] = getattr(self, "vocabulary_", None)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TextWindows:
        """Rebuild a (fitted, when the config holds a vocabulary) `TextWindows`."""
        config = dict(config)
        vocabulary = config.pop("vocabulary", None)
        windows = cls(**config)
        windows._validate_params()
        if vocabulary is not None:
            windows.vocabulary_ = list(vocabulary)
            windows._build_lookup()
        return windows

    # ------------------------------------------------------------- helpers
    def _validate_params(self) -> None:
        check_choice("level", self.level, LEVELS)
        check_integer("seq_len", self.seq_len)
        check_integer("stride", self.stride, allow_none=True)
        n_reserved = len(self._reserved_tokens())
        if self.max_vocab is not None and self.max_vocab <= n_reserved:
            raise ValueError(
                f"max_vocab must exceed the {n_reserved} reserved tokens "
                f"{self._reserved_tokens()}, found {self.max_vocab}"
            )
        if self.level == "char" and len(self._separator()) != 1:
            raise ValueError(f"at char level the separator must be one character, found {self._separator()!r}")
        if self.oov_token == self._separator():
            raise ValueError(f"oov_token and separator must differ, both are {self.oov_token!r}")

    @staticmethod
    def _validated_documents(texts: pd.Series) -> list[str]:
        if not isinstance(texts, pd.Series):
            raise TypeError(f"expected a pandas Series of str documents, found {type(texts).__name__}")
        is_text = texts.map(lambda value: isinstance(value, str))
        if not is_text.all():
            label = is_text.index[~is_text.to_numpy()][0]
            raise TypeError(
                f"every document must be a str; the document at index {label!r} is "
                f"{type(texts[label]).__name__}: {texts[label]!r}"
            )
        return texts.tolist()

    def _lowered(self, text: str) -> str:
        return text.lower() if self.lower else text

    def _separator(self) -> str:
        return DEFAULT_SEPARATORS[self.level] if self.separator is None else self.separator

    def _stride(self) -> int:
        return self.seq_len if self.stride is None else self.stride

    def _reserved_tokens(self) -> list[str]:
        return [self.oov_token, self._separator()]

    def _has_key(self, token: str) -> bool:
        """Whether `token` has a lookup key: every word does; at character
        level only one-character tokens (a longer `oov_token` is never read
        from text)."""
        return self.level == "word" or len(token) == 1

    def _token_key(self, token: str):
        return ord(token) if self.level == "char" else token

    def _token_text(self, key) -> str:
        return chr(key) if self.level == "char" else str(key)

    def _keys(self, text: str) -> np.ndarray:
        """Lookup keys of one (already lower-cased) string: code points or words."""
        if self.level == "char":
            return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        return np.array(WORD_PATTERN.findall(text), dtype=str)

    def _word_tokens(self, documents: list[str], with_separators: bool) -> list[str]:
        tokens: list[str] = []
        for document in documents:
            tokens.extend(WORD_PATTERN.findall(self._lowered(document)))
            if with_separators:
                tokens.append(self._separator())
        return tokens

    def _token_counts(self, documents: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Distinct token keys (sorted) and their counts over the documents."""
        if self.level == "char":
            keys = self._keys(self._lowered("".join(documents)))
        else:
            keys = np.array(self._word_tokens(documents, with_separators=False), dtype=str)
        return np.unique(keys, return_counts=True)

    def _build_lookup(self) -> None:
        """Sorted token keys and their ids, for `np.searchsorted` encoding."""
        entries = [
            (self._token_key(token), token_id)
            for token_id, token in enumerate(self.vocabulary_)
            if self._has_key(token)
        ]
        keys = np.array([key for key, _ in entries], dtype=np.int64 if self.level == "char" else str)
        ids = np.array([token_id for _, token_id in entries], dtype=np.int32)
        order = np.argsort(keys, kind="stable")
        self._lookup_keys, self._lookup_ids = keys[order], ids[order]

    def _lookup(self, keys: np.ndarray) -> np.ndarray:
        """Ids of token keys; keys outside the vocabulary get id 0 (`oov_token`)."""
        if keys.size == 0 or self._lookup_keys.size == 0:
            return np.full(keys.shape, OOV_ID, dtype=np.int32)
        positions = sorted_positions(self._lookup_keys, keys)
        return np.where(positions >= 0, self._lookup_ids[np.maximum(positions, 0)], OOV_ID).astype(np.int32)
