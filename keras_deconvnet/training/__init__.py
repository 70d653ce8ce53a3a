"""The paper's training loop (section III.C) the Keras way: `model.fit` with callbacks.

Early stopping on validation mean IoU, the best and last models saved atomically (with the
optimizer state), runs that resume where they stopped (`resume`), a CSV of every epoch,
TensorBoard and W&B. The paper's two experiments (Tables II and III) are the presets.

One job a module: `config` (settings, presets, ranges), `data` (the batches, tf.data or
NumPy), `class_weights`, `optim` (optimizer and schedule), `devices` (distribution and
mixed precision), `callbacks`, `interrupts` (Ctrl-C between steps), `resume`, `loop`
(`train`), `recipe_files` (recipes as TOML, read without Keras) and `recipes` (`run_recipe`).
The names below are the public API, imported on first use: `config` and `data` need no Keras,
so the commands' `--help` reads the presets and defaults from them directly.
"""

from keras_deconvnet.lazy import lazy_attributes

_HOMES = {
    "BestAndLastCheckpoints": "callbacks",
    "EpochStats": "callbacks",
    "ValidationScores": "callbacks",
    "enet_weights": "class_weights",
    "median_frequency_weights": "class_weights",
    "parse_class_weights": "class_weights",
    "PRESETS": "config",
    "TrainConfig": "config",
    "load_run_config": "config",
    "resolve_config": "config",
    "validate": "config",
    "DATA_LOADERS": "data",
    "Recipe": "recipe_files",
    "read_recipe": "recipe_files",
    "is_recipe_run": "recipes",
    "prepare_recipe_run": "recipes",
    "run_recipe": "recipes",
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
    "Recipe",
    "BestAndLastCheckpoints",
    "EpochStats",
    "TrainConfig",
    "ValidationScores",
    "build_optimizer",
    "compile_for_training",
    "learning_rate",
    "load_initial_weights",
    "load_run_config",
    "enet_weights",
    "median_frequency_weights",
    "parse_class_weights",
    "prepare_recipe_run",
    "read_recipe",
    "is_recipe_run",
    "resolve_config",
    "run_recipe",
    "summary_line",
    "train",
    "validate",
]


__getattr__, __dir__ = lazy_attributes(__name__, _HOMES, globals())
