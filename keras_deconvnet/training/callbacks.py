"""The training run's own Keras callbacks: validation scores, epoch stats and checkpoints.

Keras' callbacks log and stop; these add what the curves and reports need to the epoch logs
(pixel accuracy, per-class IoU, learning rate, epoch time) and save the best and last models
so that a run that dies while saving keeps its last good checkpoint.
"""

import json
import os
import time
from pathlib import Path

import keras
import numpy as np

from keras_deconvnet.evaluation.metrics import scores_from_confusion
from keras_deconvnet.files import write_json
from keras_deconvnet.training.run_folder import RunFolder


class ValidationScores(keras.callbacks.Callback):
    """Adds validation pixel accuracy and per-class IoU to the epoch logs.

    They come from the confusion matrix the mean IoU metric accumulated over the whole
    validation set, so they cost nothing more. Put it before the loggers.
    """

    def __init__(self, metric: keras.metrics.MeanIoU, class_names):
        super().__init__()
        self.metric = metric
        self.class_names = class_names

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or "val_mean_iou" not in logs:
            return
        scores = scores_from_confusion(keras.ops.convert_to_numpy(self.metric.total_cm))
        logs["val_pixel_accuracy"] = scores["pixel_accuracy"]
        for name, iou in zip(self.class_names, scores["per_class_iou"]):
            logs[f"val_iou_{name}"] = iou


class EpochStats(keras.callbacks.Callback):
    """Adds the learning rate at the epoch's start and the epoch's wall time to the epoch
    logs, for the curves. Put it before the loggers.
    """

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()
        self.learning_rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = self.learning_rate
            logs["epoch_seconds"] = time.perf_counter() - self.start


class BestAndLastCheckpoints(keras.callbacks.Callback):
    """Saves `last.keras` every epoch and `best.keras` when validation mean IoU improves.

    Each file is written to a temporary name first and then renamed, so a run that dies
    while saving keeps its last good checkpoint. The `.keras` files hold the optimizer
    state too: they are what `--resume` goes on from (`training.resume`), with
    `last_epoch.json` saying how many epochs `last.keras` holds. The best epoch's logs go to
    `best_epoch.json`, so a resumed run knows what to beat. Put it after every other callback
    that writes (the CSV log included): `last.keras` commits the epoch.
    """

    def __init__(self, run_dir: Path, monitor: str = "val_mean_iou"):
        super().__init__()
        self.folder = RunFolder(run_dir)
        self.monitor = monitor
        best_file = self.folder.best_epoch
        self.best = json.loads(best_file.read_text()) if best_file.is_file() else {}

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is not None and value > self.best.get(self.monitor, -np.inf):
            self.best = {"epoch": epoch + 1, **logs}
            self._save(self.folder.best_model)
            write_json(self.folder.best_epoch, self.best)
        # last.keras is the epoch's commit point, written after everything else of the epoch.
        self._save(self.folder.last_model)
        iterations = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        write_json(self.folder.last_epoch, {"epoch": epoch + 1, "iterations": iterations})

    def _save(self, path: Path) -> None:
        partial = path.with_name(f".{path.stem}.partial.keras")
        self.model.save(partial)
        os.replace(partial, path)


class AveragedWeights(keras.callbacks.SwapEMAWeights):
    """Puts the optimizer's moving average of the weights (`use_ema`) into the model to validate
    and at each epoch's end, so the checkpoints saved after it hold the averages in the model
    (what evaluate and export read) and the weights being trained in the optimizer; the next
    epoch swaps them back. Put it before the checkpoints.

    Args:
        averages_in_model: the model starts with the averages in it, as a resumed run's
            checkpoint holds them; the first epoch then swaps them back before training.
    """

    def __init__(self, averages_in_model: bool = False):
        super().__init__(swap_on_epoch=True)
        self._ema_weights_in_model = averages_in_model  # SwapEMAWeights' own record of where they are


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """Early stopping on validation mean IoU that a resumed run continues.

    Keras' `EarlyStopping` starts afresh at every `fit`; this one then replays the monitored
    values of the epochs the interrupted run finished (`previous`, from history.csv), so its
    best value and its count of epochs without improvement are those the run had. The best
    weights are `best.keras`, so none are kept in memory.
    """

    def __init__(self, patience: int, previous: list[float | None] | None = None, monitor: str = "val_mean_iou"):
        super().__init__(monitor=monitor, mode="max", patience=patience)
        self.previous = list(previous or [])

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        for epoch, value in enumerate(self.previous):
            if value is None:
                continue
            self.wait += 1
            if self.best is None or value > self.best:
                self.best, self.best_epoch, self.wait = value, epoch, 0
