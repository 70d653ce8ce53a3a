"""The training loop itself (the paper's section III.C): `model.fit` on the prepared data.

It checks the run folder, builds and compiles the model (optionally from saved weights),
wires the callbacks and loggers, and writes the run's config.json, metrics.json and curves.
"""

import dataclasses
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import keras

from keras_deconvnet.errors import UsageError
from keras_deconvnet.evaluation.metrics import mean_iou_metric
from keras_deconvnet.files import check_output_dir, write_json
from keras_deconvnet.losses import build_loss
from keras_deconvnet.models import build_model, fits, load_model
from keras_deconvnet.training import tracking
from keras_deconvnet.training.callbacks import (
    AveragedWeights,
    BestAndLastCheckpoints,
    EpochStats,
    ResumableEarlyStopping,
    ValidationScores,
)
from keras_deconvnet.training.class_weights import parse_class_weights
from keras_deconvnet.training.config import TrainConfig, validate
from keras_deconvnet.training.curves import plot_curves
from keras_deconvnet.training.data import has_tensorflow, prepare_data
from keras_deconvnet.training.devices import (
    all_workers_ok,
    check_batch_fits_memory,
    is_chief,
    make_strategy,
    set_mixed_precision,
    strategy_scope,
)
from keras_deconvnet.training.distillation import DistillationLoss
from keras_deconvnet.training.interrupts import StopBetweenSteps
from keras_deconvnet.training.optim import build_optimizer, compile_for_training
from keras_deconvnet.training.resume import (
    earlier_seconds,
    monitored_history,
    restore_state,
    resume_point,
)
from keras_deconvnet.training.run_folder import RunFolder


def load_initial_weights(model: keras.Model, path: str | Path) -> None:
    """Starts `model` from the weights of a saved model of the same architecture and classes.

    The saved model's input size may differ: every weight of these fully convolutional
    models is independent of it, so a model trained on small crops can be fine-tuned at
    full resolution, or a released model trained further.
    """
    try:
        source = load_model(path, compile=False)
    except UsageError as error:
        raise UsageError(f"--init-weights: {error}") from None
    if not fits(source, model):
        raise UsageError(
            f"--init-weights {path} holds a '{source.name}' model of {source.output.shape[-1]} classes whose "
            f"weights do not fit '{model.name}' with {model.output.shape[-1]} classes; pass a model of the same "
            "--model and dataset"
        )
    model.set_weights(source.get_weights())


def source_commit() -> str | None:
    """The git commit of the package's checkout, recorded with each run; None outside one."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return (result.stdout.strip() or None) if result.returncode == 0 else None


def check_run_dir(config: TrainConfig) -> Path:
    """The run folder: new, or an unfinished run when resuming. Created later, once the data loads."""
    run_dir = check_output_dir(config.output_dir, "--output-dir")
    folder = RunFolder(run_dir)
    if config.resume:
        if not folder.config.is_file():
            raise UsageError(f"nothing to resume in {run_dir}: it has no config.json")
        if folder.has_finished():
            raise UsageError(
                f"the run in {run_dir} has finished; to train it further, start a new run from its "
                f"weights: --init-weights {shlex.quote(str(folder.last_model))} --output-dir NEW_FOLDER"
            )
    elif folder.config.is_file():
        raise UsageError(
            f"{run_dir} already holds a run; pass --resume to continue it or choose another --output-dir"
        )
    return run_dir


def train(config: TrainConfig) -> dict:
    """Trains a model as `config` says and returns the final metrics (also in metrics.json).

    The run directory (`config.output_dir`) receives config.json, best.keras, last.keras,
    history.csv, curves.png, metrics.json, model_summary.txt, tensorboard/ and wandb/. In a
    multi-worker run only the chief writes it; the other workers write the same files to a
    temporary folder they remove (Keras' multi-worker pattern: saving is the same on every
    worker), and read the run folder when resuming, so it must be on storage they all see.

    Raises:
        UsageError: a setting is out of range (`validate`), or the run folder is taken (on
            every worker of a multi-worker run, not only the chief, which checks it).
    """
    if config.data_loader == "device":
        from keras_deconvnet.training.device_loop import train_on_device

        return train_on_device(config)
    validate(config)
    strategy = make_strategy(config.strategy)  # before any other TensorFlow op
    check_batch_fits_memory(config.input_size, config.batch_size)
    chief = is_chief(strategy)
    refusal = None
    try:
        run_dir = check_run_dir(config) if chief else None
    except Exception as error:  # the other workers must hear of any failure, then it is raised
        refusal = error
    if not all_workers_ok(strategy, refusal is None):
        raise refusal or UsageError(f"the chief worker refused --output-dir {config.output_dir}; its log says why")
    if chief:
        return _train(config, strategy, run_dir, chief=True)
    work_dir = Path(tempfile.mkdtemp(prefix="keras-deconvnet-worker-"))
    try:
        return _train(config, strategy, work_dir, chief=False)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def _train(config: TrainConfig, strategy, out_dir: Path, chief: bool) -> dict:
    """The run itself, writing to `out_dir` (the run folder, or a non-chief worker's own)."""
    run_dir = Path(config.output_dir)
    keras.utils.set_random_seed(config.seed)
    policy = set_mixed_precision(config.mixed_precision)
    resumed = resume_point(run_dir) if config.resume else None
    first_epoch = resumed.epochs_done if resumed else 0
    data = prepare_data(config, first_epoch, out_dir)
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

    # Preparing the data may draw from the global generators (a first TFDS build does): seed
    # again so the initial weights depend on the seed alone, not on whether the data were cached.
    keras.utils.set_random_seed(config.seed)
    with strategy_scope(strategy):
        model = build_model(
            config.model,
            num_classes=info.num_classes,
            input_shape=(*config.input_size, 3),
            backbone_weights=config.backbone_weights,
        )
        # A resumed run's weights come from its checkpoint; the start file is not read again.
        if config.init_weights and not resumed:
            load_initial_weights(model, config.init_weights)
        iou = mean_iou_metric(info.num_classes)
        loss = build_loss(config.loss, class_weights)
        if config.teacher is not None:
            loss = DistillationLoss(loss, config.distill_temperature, config.distill_weight)
        compile_for_training(model, build_optimizer(config, data.steps_per_epoch), loss, [iou])
        if resumed:
            restore_state(model, resumed.checkpoint)
            resumed.checkpoint = None  # its weights and optimizer slots are copied: free them
            print(f"resuming {run_dir} after epoch {first_epoch} of {config.epochs}")
        elif config.resume:
            print(f"{run_dir} has no checkpoint yet: starting it from epoch 1")

    out_dir.mkdir(parents=True, exist_ok=True)
    chief_best = RunFolder(run_dir).best_epoch
    if resumed and not chief and chief_best.is_file():
        shutil.copy(chief_best, out_dir)  # the same saves as the chief's
    out = RunFolder(out_dir)
    summary_file = out.model_summary
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
        "commit": source_commit(),
    }
    write_json(out.config, run_config)

    wandb_id_file = out.wandb_run_id
    resume_id = wandb_id_file.read_text().strip() if config.resume and wandb_id_file.is_file() else None
    wandb_mode = config.wandb if chief else "disabled"
    run = tracking.start_run(wandb_mode, config.wandb_project, out_dir, run_config, resume_id)
    checkpoints = BestAndLastCheckpoints(out_dir)
    earlier = earlier_seconds(run_dir, first_epoch) if config.resume else 0.0  # before the history is trimmed
    previous = monitored_history(run_dir, first_epoch, "val_mean_iou", keep_rows=chief) if config.resume else []
    callbacks = [
        *([AveragedWeights(averages_in_model=resumed is not None)] if config.ema_decay else []),
        ValidationScores(iou, info.class_names),
        EpochStats(),
        # 0: a fixed schedule
        *([ResumableEarlyStopping(config.patience, previous)] if config.patience else []),
        keras.callbacks.CSVLogger(str(out.history), append=config.resume),
        # Keras' TensorBoard callback writes through TensorFlow's summary ops.
        *([keras.callbacks.TensorBoard(str(out.tensorboard))] if has_tensorflow() else []),
        checkpoints,  # last: its last.keras commits the epoch
    ]
    if run is not None:
        wandb_id_file.write_text(run.id)
        callbacks.append(tracking.metrics_logger())
        if config.wandb_images_every:
            images, masks = data.val_sample()
            callbacks.append(
                tracking.SegmentationImageLogger(run, images, masks, info.class_names, config.wandb_images_every)
            )

    stop = StopBetweenSteps()
    start = time.perf_counter()
    # The data arrive shuffled; a log file (not a terminal) gets one line per epoch, not a live bar.
    with stop:
        history = model.fit(
            data.train,
            validation_data=data.val,
            epochs=config.epochs,
            initial_epoch=first_epoch,
            steps_per_epoch=data.steps_per_epoch,
            callbacks=[*callbacks, stop],  # last: an epoch's checkpoints come before a stop
            shuffle=False,
            verbose="auto" if sys.stdout.isatty() else 2,
        )
    wall_time = time.perf_counter() - start
    epochs_this_session = len(history.epoch)

    best = checkpoints.best
    metrics = {
        "model": config.model,
        "dataset": config.dataset,
        "parameters": model.count_params(),
        "epochs_run": history.epoch[-1] + 1 if history.epoch else first_epoch,
        "best_epoch": best.get("epoch"),
        "best_val_mean_iou": best.get("val_mean_iou"),
        "best_val_pixel_accuracy": best.get("val_pixel_accuracy"),
        "best_val_per_class_iou": {name: best.get(f"val_iou_{name}") for name in info.class_names},
        # A run resumed after its last checkpoint trains no epoch: its history has the score.
        "last_val_mean_iou": history.history["val_mean_iou"][-1] if history.epoch else (previous or [None])[-1],
        "wall_time_s": round(earlier + wall_time, 1),  # a resumed run's earlier epochs included
        "images_per_s": round(
            epochs_this_session * data.steps_per_epoch * config.batch_size / wall_time, 2
        ),
    }
    write_json(out.metrics, metrics)
    plot_curves(out_dir)
    if run is not None:
        tracking.finish_run(run, out.best_model, summary_file, metrics, f"{config.model}-{config.dataset}")
    return metrics


def summary_line(metrics: dict, run_dir: str) -> str:
    """The one line a training run ends with; a recipe run's names its stages and its last epoch's score."""
    if "stages" in metrics:
        last = metrics["last_val_mean_iou"]
        return (
            f"{len(metrics['stages'])} stages, {metrics['epochs_run']} epochs | last epoch's val mIoU "
            f"{'n/a' if last is None else f'{last:.4f}'} | wall time {metrics['wall_time_s']:.0f} s | "
            f"run saved in {run_dir}"
        )
    return (
        f"best epoch {metrics['best_epoch']}/{metrics['epochs_run']} | best val mIoU "
        f"{metrics['best_val_mean_iou']:.4f} | wall time {metrics['wall_time_s']:.0f} s | "
        f"{metrics['images_per_s']:.1f} images/s | run saved in {run_dir}"
    )
