"""The TensorFlow / Keras edge of the pipelines: `Windows` as `tf.data.Dataset` or `keras.utils.PyDataset`.

This is the only module of `pipelines` that imports TensorFlow or Keras; `Windows` imports
it lazily, when a dataset is asked for. Batches are gathered from the window start offsets one
batch at a time, so no dataset holds every window in memory.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from pipelines.checks import check_integer


def _batch_order(n_windows: int, shuffle: bool, rng: np.random.Generator) -> np.ndarray:
    return rng.permutation(n_windows) if shuffle else np.arange(n_windows)


def _element_signature(windows):
    inputs, target = windows.batch(np.arange(min(1, len(windows))))
    input_spec = {
        name: tf.TensorSpec(shape=(None, *array.shape[1:]), dtype=tf.as_dtype(array.dtype))
        for name, array in inputs.items()
    }
    if target is None:
        return input_spec
    return input_spec, tf.TensorSpec(shape=(None, *target.shape[1:]), dtype=tf.as_dtype(target.dtype))


def windows_to_tf_dataset(
    windows, batch_size: int = 32, shuffle: bool = False, seed: int | None = None, prefetch: bool = True
):
    """`tf.data.Dataset` of `(inputs_dict, target)` batches (just `inputs_dict` when there is no target).

    With `shuffle=True` every pass over the dataset (epoch) uses the next permutation drawn from
    `numpy.random.default_rng(seed)`: two datasets built with the same seed yield the same batches.
    """
    check_integer("batch_size", batch_size)
    n_windows = len(windows)
    rng = np.random.default_rng(seed)

    def batches():
        order = _batch_order(n_windows, shuffle, rng)
        for first in range(0, n_windows, batch_size):
            inputs, target = windows.batch(order[first : first + batch_size])
            yield inputs if target is None else (inputs, target)

    dataset = tf.data.Dataset.from_generator(batches, output_signature=_element_signature(windows))
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(math.ceil(n_windows / batch_size)))
    return dataset.prefetch(tf.data.AUTOTUNE) if prefetch else dataset


class WindowsPyDataset(keras.utils.PyDataset):
    """`keras.utils.PyDataset` over `Windows`: batch `i` of the current order; reshuffled after each epoch.

    Args:
        windows: the `Windows` to serve.
        batch_size: windows per batch (the last batch may be smaller).
        shuffle: draw a new order from `numpy.random.default_rng(seed)` at the start and after every epoch.
        seed: seed of that generator.
        **kwargs: `workers`, `use_multiprocessing`, `max_queue_size` of `PyDataset`.
    """

    def __init__(self, windows, batch_size: int = 32, shuffle: bool = False, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        check_integer("batch_size", batch_size)
        self.windows = windows
        self.batch_size = batch_size
        self.shuffle = shuffle
        self._rng = np.random.default_rng(seed)
        self._order = _batch_order(len(windows), shuffle, self._rng)

    def __len__(self) -> int:
        return math.ceil(len(self.windows) / self.batch_size)

    def __getitem__(self, index: int):
        if not 0 <= index < len(self):
            raise IndexError(f"Batch index {index} out of range for {len(self)} batches.")
        inputs, target = self.windows.batch(self._order[index * self.batch_size : (index + 1) * self.batch_size])
        return inputs if target is None else (inputs, target)

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self._order = _batch_order(len(self.windows), True, self._rng)
