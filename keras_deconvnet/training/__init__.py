"""The paper's training loop (section III.C) the Keras way: `model.fit` with callbacks.

Early stopping on validation mean IoU, the best and last models saved atomically (with the
optimizer state), resumable runs (`BackupAndRestore`), a CSV of every epoch, TensorBoard
and W&B. The paper's two experiments (Tables II and III) are the presets.

One job a module: `config` (settings, presets, ranges), `data` (the batches, tf.data or
NumPy), `class_weights`, `optim` (optimizer and schedule), `devices` (distribution and
mixed precision), `callbacks` and `loop` (`train`). The names below are the public API.
"""

from keras_deconvnet.training.callbacks import BestAndLastCheckpoints, EpochStats, ValidationScores
from keras_deconvnet.training.class_weights import median_frequency_weights, parse_class_weights
from keras_deconvnet.training.config import PRESETS, TrainConfig, load_run_config, resolve_config, validate
from keras_deconvnet.training.data import DATA_LOADERS
from keras_deconvnet.training.loop import load_initial_weights, summary_line, train
from keras_deconvnet.training.optim import build_optimizer, learning_rate

__all__ = [
    "DATA_LOADERS",
    "PRESETS",
    "BestAndLastCheckpoints",
    "EpochStats",
    "TrainConfig",
    "ValidationScores",
    "build_optimizer",
    "learning_rate",
    "load_initial_weights",
    "load_run_config",
    "median_frequency_weights",
    "parse_class_weights",
    "resolve_config",
    "summary_line",
    "train",
    "validate",
]
