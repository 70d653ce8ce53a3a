"""The paper's training loop (section III.C) the Keras way: `model.fit` with callbacks.

Early stopping on validation mean IoU, the best and last models saved atomically (with the
optimizer state), resumable runs (`BackupAndRestore`), a CSV of every epoch, TensorBoard
and W&B. The paper's two experiments (Tables II and III) are the presets.
"""

import contextlib
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import keras
import numpy as np

from keras_deconvnet import tracking
from keras_deconvnet.config_checks import validate
from keras_deconvnet.curves import plot_curves
from keras_deconvnet.errors import UsageError
from keras_deconvnet.json_files import write_json
from keras_deconvnet.labels import IGNORE_LABEL
from keras_deconvnet.losses import build_loss
from keras_deconvnet.metrics import mean_iou_metric, scores_from_confusion
from keras_deconvnet.models import build_model, fits, load_model
from keras_deconvnet.training_data import has_tensorflow, prepare_data

# Tables II and III of the paper (plain cross-entropy, no photometric distortion), and the
# CamVid recipe chosen on the held-out sequence (README, "Results on CamVid"): lean model,
# 256x352 crops, a fixed cosine schedule with no early stop. Explicit flags override them.
PAPER = {"loss": "cross-entropy", "photometric": False}
PRESETS = {
    "paper-exp1": {**PAPER, "epochs": 115, "optimizer": "sgd", "schedule": "none"},
    "paper-exp2": {**PAPER, "epochs": 150, "optimizer": "adam", "schedule": "cosine"},
    "camvid": {
        "model": "lean",
        "dataset": "camvid",
        "input_size": (256, 352),
        "scale_range": (0.75, 1.75),
        "photometric": True,
        "loss": "ce+lovasz",
        "class_weights": "sqrt-median-frequency",
        "optimizer": "adamw",
        "weight_decay": 1e-4,
        "lr": 2e-3,
        "warmup_epochs": 2,
        "schedule": "cosine",
        "epochs": 90,
        "patience": 0,
    },
}


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run; saved as the run's config.json."""

    model: str = "paper"
    dataset: str = "voc2012_segmentation"
    data_dir: str | None = None
    dataset_options: dict = dataclasses.field(default_factory=dict)  # e.g. the demo set's size
    train_split: str = "train"
    val_split: str = "val"
    num_classes: int | None = None  # for --dataset folder
    ignore_label: int = IGNORE_LABEL  # for --dataset folder
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "cosine"
    warmup_epochs: int = 0
    epochs: int = 150
    batch_size: int = 8
    input_size: tuple[int, int] = (224, 224)
    scale_range: tuple[float, float] = (0.5, 2.0)
    photometric: bool = False
    loss: str = "cross-entropy"
    class_weights: str = "none"
    backbone_weights: str | None = None
    init_weights: str | None = None  # a .keras model to start from (fine-tuning)
    patience: int = 20  # 0: no early stopping, a fixed schedule
    output_dir: str = "runs/latest"
    resume: bool = False
    seed: int = 0
    mixed_precision: bool = False
    strategy: str = "default"
    data_loader: str = "auto"  # tf (tf.data), numpy (no TensorFlow needed), auto: tf if installed
    wandb: str = "online"
    wandb_project: str = "keras-deconvnet"
    wandb_images_every: int = 5
    preset: str | None = None


def resolve_config(preset: str | None, explicit: dict) -> TrainConfig:
    """Defaults, then the preset, then the flags the user gave explicitly."""
    if preset is not None and preset not in PRESETS:
        raise UsageError(f"unknown preset '{preset}'; choose one of: {', '.join(PRESETS)}")
    values = {**(PRESETS[preset] if preset else {}), **explicit, "preset": preset}
    return TrainConfig(**values)


def load_run_config(run_dir: str | Path, explicit: dict) -> TrainConfig:
    """The config a run was started with (its config.json), with `explicit` flags on top."""
    config_file = Path(run_dir) / "config.json"
    if not config_file.is_file():
        raise UsageError(f"nothing to resume in {run_dir}: it has no config.json")
    saved = json.loads(config_file.read_text())
    fields = {field.name for field in dataclasses.fields(TrainConfig)}
    values = {key: value for key, value in saved.items() if key in fields}
    return TrainConfig(**{**values, **explicit, "resume": True})


def learning_rate(config: TrainConfig, steps_per_epoch: int):
    """A constant rate, or a cosine decay over the whole run after an optional linear warm-up."""
    if config.schedule == "none":
        return config.lr
    if config.schedule != "cosine":
        raise UsageError(f"unknown schedule '{config.schedule}'; choose none or cosine")
    warmup_steps = config.warmup_epochs * steps_per_epoch
    total_steps = config.epochs * steps_per_epoch
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup_steps else config.lr,
        decay_steps=max(total_steps - warmup_steps, 1),
        warmup_target=config.lr if warmup_steps else None,
        warmup_steps=warmup_steps,
    )


def build_optimizer(config: TrainConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """SGD (with momentum), Adam or AdamW, on `learning_rate(config, steps_per_epoch)`."""
    rate = learning_rate(config, steps_per_epoch)
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(
            rate, momentum=config.momentum, weight_decay=config.weight_decay or None
        )
    if config.optimizer == "adam":
        return keras.optimizers.Adam(rate, weight_decay=config.weight_decay or None)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(rate, weight_decay=config.weight_decay or 0.004)
    raise UsageError(f"unknown optimizer '{config.optimizer}'; choose sgd, adam or adamw")


def median_frequency_weights(masks, num_classes: int) -> list[float]:
    """SegNet's class weights: median class frequency / class frequency.

    A class's frequency is its pixel count over the pixels of the images it appears in.

    Args:
        masks: an iterable of integer masks with 255 ignored.
        num_classes: C.
    """
    pixels = np.zeros(num_classes)
    image_pixels = np.zeros(num_classes)
    for mask in masks:
        counts = np.bincount(np.asarray(mask).reshape(-1), minlength=256)[:num_classes]
        pixels += counts
        image_pixels += (counts > 0) * counts.sum()
    frequency = np.divide(pixels, image_pixels, out=np.zeros(num_classes), where=image_pixels > 0)
    median = np.median(frequency[frequency > 0])
    weights = np.divide(median, frequency, out=np.zeros(num_classes), where=frequency > 0)
    return [round(float(w), 4) for w in weights]


def parse_class_weights(text: str, num_classes: int, training_masks) -> list[float] | None:
    """'none', 'median-frequency', 'sqrt-median-frequency' or C comma-separated numbers.

    Median-frequency weights (SegNet's) maximise the mean class accuracy; on CamVid they
    weigh a pole 24 times a building, and the false poles, signs and fences they buy cost
    more IoU than they gain. Their square roots keep rare classes heard at a fifth of the
    contrast.
    """
    if text == "none":
        return None
    if text in ("median-frequency", "sqrt-median-frequency"):
        weights = median_frequency_weights(training_masks(), num_classes)
        return weights if text == "median-frequency" else [round(w**0.5, 4) for w in weights]
    try:
        weights = [float(value) for value in text.split(",")]
    except ValueError:
        weights = []
    if len(weights) != num_classes:
        raise UsageError(
            f"--class-weights must be none, median-frequency, sqrt-median-frequency or "
            f"{num_classes} comma-separated numbers, got '{text}'"
        )
    return weights


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
    state too. The best epoch's logs go to `best_epoch.json`, so a resumed run knows what to beat.
    """

    def __init__(self, run_dir: Path, monitor: str = "val_mean_iou"):
        super().__init__()
        self.run_dir = run_dir
        self.monitor = monitor
        best_file = run_dir / "best_epoch.json"
        self.best = json.loads(best_file.read_text()) if best_file.is_file() else {}

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self._save(self.run_dir / "last.keras")
        value = logs.get(self.monitor)
        if value is not None and value > self.best.get(self.monitor, -np.inf):
            self.best = {"epoch": epoch + 1, **logs}
            self._save(self.run_dir / "best.keras")
            write_json(self.run_dir / "best_epoch.json", self.best)

    def _save(self, path: Path) -> None:
        partial = path.with_name(f".{path.stem}.partial.keras")
        self.model.save(partial)
        os.replace(partial, path)


def _distribution_scope(name: str):
    if name == "default":
        return contextlib.nullcontext()
    if keras.backend.backend() != "tensorflow":
        raise UsageError(f"--strategy {name} needs the TensorFlow backend; use --strategy default")
    import tensorflow as tf

    strategies = {
        "mirrored": tf.distribute.MirroredStrategy,
        "multiworker": tf.distribute.MultiWorkerMirroredStrategy,
    }
    if name not in strategies:
        raise UsageError(f"unknown strategy '{name}'; choose default, mirrored or multiworker")
    return strategies[name]().scope()


def _has_gpu() -> bool:
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if keras.backend.backend() == "jax":
        import jax

        return jax.default_backend() == "gpu"
    return False


def _set_mixed_precision(enabled: bool) -> str:
    """float16 compute on GPUs, bfloat16 on CPUs (float16 is slow there); logits stay float32."""
    policy = "float32"
    if enabled:
        policy = "mixed_float16" if _has_gpu() else "mixed_bfloat16"
    keras.mixed_precision.set_global_policy(policy)
    return policy


def load_initial_weights(model: keras.Model, path: str | Path) -> None:
    """Starts `model` from the weights of a saved model of the same architecture and classes.

    The saved model's input size may differ: every weight of these fully convolutional
    models is independent of it, so a model trained on small crops can be fine-tuned at
    full resolution, or a released model trained further.
    """
    source = load_model(path, compile=False)
    if not fits(source, model):
        classes = model.output.shape[-1]
        raise UsageError(
            f"--init-weights {path} holds a '{source.name}' model whose weights do not fit "
            f"'{model.name}' with {classes} classes; pass a model of the same --model and dataset"
        )
    model.set_weights(source.get_weights())


def _check_run_dir(config: TrainConfig) -> Path:
    """The run folder: new, or an unfinished run when resuming. Created later, once the data loads."""
    run_dir = Path(config.output_dir)
    config_file = run_dir / "config.json"
    if config.resume:
        if not config_file.is_file():
            raise UsageError(f"nothing to resume in {run_dir}: it has no config.json")
        if (run_dir / "metrics.json").is_file() and not (run_dir / "backup").exists():
            raise UsageError(f"the run in {run_dir} has finished; start a new one with another --output-dir")
    elif config_file.is_file():
        raise UsageError(
            f"{run_dir} already holds a run; pass --resume to continue it or choose another --output-dir"
        )
    return run_dir


def train(config: TrainConfig) -> dict:
    """Trains a model as `config` says and returns the final metrics (also in metrics.json).

    The run directory (`config.output_dir`) receives config.json, best.keras, last.keras,
    history.csv, curves.png, metrics.json, model_summary.txt, tensorboard/ and wandb/.

    Raises:
        UsageError: a setting is out of range (`validate`), or the run folder is taken.
    """
    validate(config)
    run_dir = _check_run_dir(config)
    keras.utils.set_random_seed(config.seed)
    policy = _set_mixed_precision(config.mixed_precision)
    data = prepare_data(config)
    if data.val_images_in_train:
        print(
            f"warning: {data.val_images_in_train} images of --val-split {config.val_split} are also "
            f"in --train-split {config.train_split}, so val mIoU and best.keras measure images the "
            "model trains on; validate on a disjoint split (CamVid: heldout_train with heldout_val), "
            "or train a fixed schedule and take last.keras",
            file=sys.stderr,
        )
    info = data.info
    class_weights = parse_class_weights(config.class_weights, info.num_classes, data.training_masks)

    with _distribution_scope(config.strategy):
        model = build_model(
            config.model,
            num_classes=info.num_classes,
            input_shape=(*config.input_size, 3),
            backbone_weights=config.backbone_weights,
        )
        # A resumed run's weights come from its backup; reading the start file again is waste.
        if config.init_weights and not (config.resume and (run_dir / "backup").exists()):
            load_initial_weights(model, config.init_weights)
        iou = mean_iou_metric(info.num_classes)
        model.compile(
            optimizer=build_optimizer(config, data.steps_per_epoch),
            loss=build_loss(config.loss, class_weights),
            metrics=[iou],
        )

    run_dir.mkdir(parents=True, exist_ok=True)
    summary_file = run_dir / "model_summary.txt"
    with open(summary_file, "w") as handle:
        model.summary(print_fn=lambda line, **_: handle.write(line + "\n"))
    run_config = {
        **dataclasses.asdict(config),
        "num_classes": info.num_classes,
        "class_names": list(info.class_names),
        "class_weights_used": class_weights,
        "parameters": model.count_params(),
        "dtype_policy": policy,
        "steps_per_epoch": data.steps_per_epoch,
        "val_images_in_train": data.val_images_in_train,
    }
    write_json(run_dir / "config.json", run_config)

    wandb_id_file = run_dir / "wandb_run_id"
    resume_id = wandb_id_file.read_text().strip() if config.resume and wandb_id_file.is_file() else None
    run = tracking.start_run(config.wandb, config.wandb_project, run_dir, run_config, resume_id)
    checkpoints = BestAndLastCheckpoints(run_dir)
    early_stopping = keras.callbacks.EarlyStopping(
        monitor="val_mean_iou", mode="max", patience=config.patience, restore_best_weights=True
    )
    callbacks = [
        ValidationScores(iou, info.class_names),
        EpochStats(),
        checkpoints,
        keras.callbacks.BackupAndRestore(str(run_dir / "backup")),
        *([early_stopping] if config.patience else []),  # 0: a fixed schedule
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=config.resume),
        # Keras' TensorBoard callback writes through TensorFlow's summary ops.
        *([keras.callbacks.TensorBoard(str(run_dir / "tensorboard"))] if has_tensorflow() else []),
    ]
    if run is not None:
        wandb_id_file.write_text(run.id)
        images, masks = data.val_sample()
        callbacks += [
            tracking.metrics_logger(),
            tracking.SegmentationImageLogger(
                run, images, masks, info.class_names, config.wandb_images_every
            ),
        ]

    start = time.perf_counter()
    history = model.fit(data.train, validation_data=data.val, epochs=config.epochs, callbacks=callbacks)
    wall_time = time.perf_counter() - start
    epochs_this_session = len(history.epoch)

    best = checkpoints.best
    metrics = {
        "model": config.model,
        "dataset": config.dataset,
        "parameters": model.count_params(),
        "epochs_run": history.epoch[-1] + 1 if history.epoch else 0,
        "best_epoch": best.get("epoch"),
        "best_val_mean_iou": best.get("val_mean_iou"),
        "best_val_pixel_accuracy": best.get("val_pixel_accuracy"),
        "best_val_per_class_iou": {name: best.get(f"val_iou_{name}") for name in info.class_names},
        "wall_time_s": round(wall_time, 1),
        "images_per_s": round(
            epochs_this_session * data.steps_per_epoch * config.batch_size / wall_time, 2
        ),
    }
    write_json(run_dir / "metrics.json", metrics)
    plot_curves(run_dir)
    if run is not None:
        tracking.finish_run(run, run_dir / "best.keras", summary_file, metrics, f"{config.model}-{config.dataset}")
    return metrics


def summary_line(metrics: dict, run_dir: str) -> str:
    """The one line a training run ends with."""
    return (
        f"best epoch {metrics['best_epoch']}/{metrics['epochs_run']} | best val mIoU "
        f"{metrics['best_val_mean_iou']:.4f} | wall time {metrics['wall_time_s']:.0f} s | "
        f"{metrics['images_per_s']:.1f} images/s | run saved in {run_dir}"
    )
