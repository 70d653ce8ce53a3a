"""Training with the whole dataset in accelerator memory, Keras on JAX: `train_on_device`.

For a GPU, where a CPU loader cannot keep up: the images and masks go to the device once, and
each epoch is one compiled call that runs all its steps (`jax.lax.scan`); a step gathers its
batch by index and augments it there (`keras_deconvnet.data.device_augmentation`). The run folder
is the one `train` writes (config.json, history.csv, best.keras, last.keras, metrics.json),
written as the run goes, so a run cut short keeps what it trained and `--resume` goes on.
Validation and checkpoints come `CHECKPOINTS` times a run and at its end, where every epoch
would cost more than the epochs themselves. Needs JAX, not TensorFlow.
"""

import csv
import dataclasses
import functools
import json
import sys
import time
from pathlib import Path

import keras
import numpy as np

from keras_deconvnet.constants import IGNORE_LABEL
from keras_deconvnet.data.device_augmentation import augment_batch, draw_shapes
from keras_deconvnet.data.numpy_pipeline import resize_pair
from keras_deconvnet.datasets.arrays import load_arrays
from keras_deconvnet.errors import UsageError
from keras_deconvnet.evaluation.metrics import scores_from_confusion
from keras_deconvnet.files import write_json
from keras_deconvnet.losses import build_loss
from keras_deconvnet.models import build_model
from keras_deconvnet.training.class_weights import parse_class_weights
from keras_deconvnet.training.config import TrainConfig, validate
from keras_deconvnet.training.optim import build_optimizer, learning_rate
from keras_deconvnet.training.run_folder import RunFolder

CHECKPOINTS = 50  # validations and checkpoints a run, besides its last epoch


def device_arrays(dataset: str, split: str, data_dir, options: dict):
    """A split as arrays for the device: images (N, H, W, 3) uint8 padded to the largest, masks
    (N, H, W) uint8 with 255 = ignore (padding too), sizes (N, 2) int32, and the dataset info."""
    arrays, info = load_arrays(dataset, split, data_dir, **options)
    height = max(image.shape[0] for image in arrays.images)
    width = max(image.shape[1] for image in arrays.images)
    images = np.zeros((len(arrays.images), height, width, 3), np.uint8)
    masks = np.full((len(arrays.images), height, width), IGNORE_LABEL, np.uint8)
    for index, (image, mask) in enumerate(zip(arrays.images, arrays.masks)):
        images[index, : image.shape[0], : image.shape[1]] = image
        masks[index, : mask.shape[0], : mask.shape[1]] = np.where(mask == info.ignore_label, IGNORE_LABEL, mask)
    sizes = np.array([image.shape[:2] for image in arrays.images], np.int32)
    return images, masks, sizes, info, arrays


def _validation_arrays(arrays, info, input_size):
    """Validation images and masks resized to the input size, as the fit path validates."""
    pairs = [resize_pair(image, mask, input_size) for image, mask in zip(arrays.images, arrays.masks)]
    images = np.stack([image for image, _ in pairs]).astype(np.float32)
    masks = np.stack([np.where(mask == info.ignore_label, IGNORE_LABEL, mask) for _, mask in pairs]).astype(np.int32)
    return images, masks


def _averages(optimizer) -> list[int]:
    """Where the moving averages of the weights are among the optimizer's variables."""
    return [index for index, variable in enumerate(optimizer.variables) if variable.path.endswith("_average")]


def _swap_averages(trainable: list, optimizer_values: list, where: list[int]) -> tuple[list, list]:
    """The averages into the weights' place and the weights into theirs (the checkpoints' layout)."""
    if not where:
        return trainable, optimizer_values
    optimizer_values = list(optimizer_values)
    swapped = [optimizer_values[index] for index in where]
    for index, weight in zip(where, trainable):
        optimizer_values[index] = weight
    return swapped, optimizer_values


def _check_supported(config: TrainConfig) -> None:
    """Refuses the settings the device path does not apply, rather than ignore them."""
    unsupported = {
        "--mixed-precision": config.mixed_precision,
        f"--strategy {config.strategy}": config.strategy != "default",
        f"--patience {config.patience} (early stopping; pass --patience 0 for a fixed schedule)": config.patience,
    }
    refused = [flag for flag, given in unsupported.items() if given]
    if refused:
        raise UsageError(f"--data-loader device does not apply {', '.join(refused)}; leave them out")
    if config.wandb != "disabled":
        print("--data-loader device logs no W&B run; its history.csv holds every validated epoch", file=sys.stderr)


def train_on_device(config: TrainConfig) -> dict:
    """`keras_deconvnet.training.train` with the data on the accelerator; returns the metrics.

    Raises:
        UsageError: not Keras on JAX, a setting out of range, or a dataset the NumPy path cannot read.
    """
    if keras.backend.backend() != "jax":
        raise UsageError("--data-loader device runs on Keras' JAX backend: set KERAS_BACKEND=jax (and install jax)")
    import jax
    import jax.numpy as jnp

    from keras_deconvnet.training.loop import check_run_dir, load_initial_weights, source_commit
    from keras_deconvnet.training.resume import restore_state, resume_point

    validate(config)
    _check_supported(config)
    run_dir = check_run_dir(config)
    folder = RunFolder(run_dir)
    options = dict(config.dataset_options)
    images, masks, sizes, info, train_arrays = device_arrays(config.dataset, config.train_split, config.data_dir, options)
    val_arrays, _ = load_arrays(config.dataset, config.val_split, config.data_dir, **options)
    val_images, val_masks = _validation_arrays(val_arrays, info, tuple(config.input_size))
    steps = len(images) // config.batch_size
    if steps == 0:
        raise UsageError(f"{len(images)} training images cannot fill a batch of {config.batch_size}; use a smaller batch")
    class_weights = parse_class_weights(config.class_weights, info.num_classes, lambda: list(masks))

    keras.utils.set_random_seed(config.seed)
    model = build_model(config.model, num_classes=info.num_classes, input_shape=(*config.input_size, 3),
                        backbone_weights=config.backbone_weights)
    resumed = resume_point(run_dir) if config.resume else None
    if config.init_weights and not resumed:
        load_initial_weights(model, config.init_weights)
    loss = build_loss(config.loss, class_weights)
    model.compile(optimizer=build_optimizer(config, steps), loss=loss)
    optimizer = model.optimizer
    optimizer.build(model.trainable_variables)
    averages = _averages(optimizer)
    first_epoch = 0
    state = ([v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables],
             [v.value for v in optimizer.variables])
    if resumed:
        restore_state(model, resumed.checkpoint)
        resumed.checkpoint = None  # copied: free it
        # Checkpoints come every few epochs: the optimizer's step count says which epoch this one is.
        first_epoch = int(keras.ops.convert_to_numpy(optimizer.iterations)) // steps
        trainable, optimizer_values = _swap_averages([v.value for v in model.trainable_variables],
                                                     [v.value for v in optimizer.variables], averages)
        state = (trainable, [v.value for v in model.non_trainable_variables], optimizer_values)

    run_dir.mkdir(parents=True, exist_ok=True)
    run_config = {**dataclasses.asdict(config), "num_classes": info.num_classes, "class_names": list(info.class_names),
                  "class_weights_used": class_weights, "parameters": model.count_params(), "steps_per_epoch": steps,
                  "device": str(jax.devices()[0]), "commit": source_commit()}
    write_json(folder.config, run_config)

    data = (jnp.asarray(images), jnp.asarray(masks), jnp.asarray(sizes))
    draw_shape, class_shape = draw_shapes(config.batch_size, info.num_classes)
    settings = {"input_size": tuple(config.input_size), "scale_range": tuple(config.scale_range),
                "photometric": config.photometric, "mix": config.mix, "mix_probability": config.mix_probability}

    def train_step(carry, step, all_images, all_masks, all_sizes):
        trainable, non_trainable, optimizer_values = carry
        indices, key = step
        draw_key, class_key = jax.random.split(key)
        batch_images, batch_masks = augment_batch(
            all_images[indices], all_masks[indices], all_sizes[indices],
            jax.random.uniform(draw_key, draw_shape), jax.random.uniform(class_key, class_shape), **settings,
        )

        def compute_loss(weights):
            logits, updated = model.stateless_call(weights, non_trainable, batch_images, training=True)
            return loss(batch_masks, logits), updated

        (value, non_trainable), grads = jax.value_and_grad(compute_loss, has_aux=True)(trainable)
        trainable, optimizer_values = optimizer.stateless_apply(optimizer_values, grads, trainable)
        return (trainable, non_trainable, optimizer_values), value

    @functools.partial(jax.jit, donate_argnums=0)
    def run_epoch(state, data, key):
        order_key, step_key = jax.random.split(key)
        order = jax.random.permutation(order_key, len(images))[: steps * config.batch_size]
        steps_input = (order.reshape(steps, config.batch_size), jax.random.split(step_key, steps))
        state, losses = jax.lax.scan(lambda carry, step: train_step(carry, step, *data), state, steps_input)
        return state, jnp.mean(losses)

    @jax.jit
    def confusion(trainable, non_trainable, batch_images, batch_masks):
        logits, _ = model.stateless_call(trainable, non_trainable, batch_images, training=False)
        classes = info.num_classes
        valid = batch_masks != IGNORE_LABEL
        pairs = jnp.where(valid, batch_masks * classes + jnp.argmax(logits, axis=-1), classes * classes)
        return jnp.bincount(pairs.reshape(-1), length=classes * classes + 1)[:-1].reshape(classes, classes)

    val_batches = [(jnp.asarray(val_images[i : i + 8]), jnp.asarray(val_masks[i : i + 8]))
                   for i in range(0, len(val_images), 8)]

    def evaluate(trainable, non_trainable) -> dict:
        matrix = sum(np.asarray(confusion(trainable, non_trainable, batch_images, batch_masks))
                     for batch_images, batch_masks in val_batches)
        scores = scores_from_confusion(matrix)
        return {"val_mean_iou": scores["mean_iou"], "val_pixel_accuracy": scores["pixel_accuracy"],
                **{f"val_iou_{name}": iou for name, iou in zip(info.class_names, scores["per_class_iou"])}}

    def save(path: Path, trainable, non_trainable, optimizer_values) -> None:
        trainable, optimizer_values = _swap_averages(trainable, optimizer_values, averages)
        for variable, value in zip(model.trainable_variables, trainable):
            variable.assign(value)
        for variable, value in zip(model.non_trainable_variables, non_trainable):
            variable.assign(value)
        for variable, value in zip(optimizer.variables, optimizer_values):
            variable.assign(value)
        partial = path.with_name(f".{path.stem}.partial.keras")
        model.save(partial)
        partial.replace(path)

    every = max(config.epochs // CHECKPOINTS, 1)
    best_file = folder.best_epoch
    best = json.loads(best_file.read_text()) if resumed and best_file.is_file() else {}
    history_file = folder.history
    rows = []
    if resumed and history_file.is_file():
        with open(history_file, newline="") as handle:
            rows = [row for row in csv.DictReader(handle) if int(row["epoch"]) < first_epoch]  # none past the checkpoint
    earlier = float(rows[-1]["elapsed_s"]) if rows else 0.0  # a resumed run's wall time goes on from there
    schedule = learning_rate(config, steps)
    start = time.perf_counter()
    for epoch in range(first_epoch, config.epochs):
        epoch_start = time.perf_counter()
        rate = schedule(epoch * steps) if callable(schedule) else schedule
        state, epoch_loss = run_epoch(state, data, jax.random.fold_in(jax.random.PRNGKey(config.seed), epoch))
        row = {"epoch": epoch, "loss": float(epoch_loss), "learning_rate": float(rate)}
        if (epoch + 1) % every == 0 or epoch + 1 == config.epochs:
            trainable, non_trainable, optimizer_values = state
            weights = [optimizer_values[i] for i in averages] if averages else trainable
            row.update(evaluate(weights, non_trainable))
            row["epoch_seconds"] = time.perf_counter() - epoch_start
            row["elapsed_s"] = earlier + time.perf_counter() - start
            rows.append(row)
            _write_history(history_file, rows)
            if row["val_mean_iou"] > best.get("val_mean_iou", -1.0):
                best = {**row, "epoch": epoch + 1}
                save(folder.best_model, *state)
                write_json(best_file, best)
            save(folder.last_model, *state)
            write_json(folder.last_epoch, {"epoch": epoch + 1, "iterations": (epoch + 1) * steps})
            print(f"epoch {epoch + 1}/{config.epochs} - loss {row['loss']:.4f} - val_mean_iou "
                  f"{row['val_mean_iou']:.4f} - {time.perf_counter() - start:.0f} s", flush=True)
    wall_time = time.perf_counter() - start
    last = rows[-1] if rows else {}
    metrics = {
        "model": config.model, "dataset": config.dataset, "parameters": model.count_params(),
        "epochs_run": config.epochs, "best_epoch": best.get("epoch"), "best_val_mean_iou": best.get("val_mean_iou"),
        "best_val_pixel_accuracy": best.get("val_pixel_accuracy"),
        "best_val_per_class_iou": {name: best.get(f"val_iou_{name}") for name in info.class_names},
        "last_val_mean_iou": float(last["val_mean_iou"]) if last else None, "wall_time_s": round(earlier + wall_time, 1),
        "images_per_s": round((config.epochs - first_epoch) * steps * config.batch_size / max(wall_time, 1e-9), 2),
    }
    write_json(folder.metrics, metrics)
    return metrics


def _write_history(path: Path, rows: list[dict]) -> None:
    """history.csv with a row for each validated epoch, written whole each time."""
    fields = list(dict.fromkeys(key for row in rows for key in row))
    partial = path.with_name(f".{path.name}.partial")
    with open(partial, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    partial.replace(path)
