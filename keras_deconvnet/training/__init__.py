"""The paper's training loop (section III.C) the Keras way: `model.fit` with callbacks.

Early stopping on validation mean IoU, the best and last models saved atomically (with the
optimizer state), runs that resume where they stopped (`resume`), a CSV of every epoch,
TensorBoard and W&B. The paper's two experiments (Tables II and III) are the presets.

One job a module: `config` (settings, presets, ranges), `data` (the batches, tf.data or
NumPy), `class_weights`, `optim` (optimizer and schedule), `devices` (distribution and
mixed precision), `callbacks`, `interrupts` (Ctrl-C between steps), `resume` and `loop`
(`train`). The names below are the public API, imported on first use: `config` and `data`
need no Keras, so the commands' `--help` reads the presets and defaults from them directly.
"""

from keras_deconvnet.lazy import lazy_attributes

_HOMES = {
    "BestAndLastCheckpoints": "callbacks",
    "EpochStats": "callbacks",
    "ValidationScores": "callbacks",
    "median_frequency_weights": "class_weights",
    "parse_class_weights": "class_weights",
    "PRESETS": "config",
    "TrainConfig": "config",
    "load_run_config": "config",
    "resolve_config": "config",
    "validate": "config",
    "DATA_LOADERS": "data",
    "load_initial_weights": "loop",
    "summary_line": "loop",
    "train": "loop",
    "build_optimizer": "optim",
    "compile_for_training": "optim",
    "learning_rate": "optim",
}

__all__ = [
    "DATA_LOADERS",
    "PRESETS",
    "BestAndLastCheckpoints",
    "EpochStats",
    "TrainConfig",
    "ValidationScores",
    "build_optimizer",
    "compile_for_training",
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


__getattr__, __dir__ = lazy_attributes(__name__, _HOMES, globals())
