"""Training throughput: images/second of `train_on_batch` and the peak memory it takes."""

import time

import keras
import numpy as np

from keras_deconvnet.benchmark.memory import PeakRSS, release_free_memory, rss_bytes
from keras_deconvnet.errors import UsageError
from keras_deconvnet.losses import SegmentationCrossEntropy
from keras_deconvnet.training.optim import compile_for_training


def training_batch(model: keras.Model, batch_size: int, num_classes: int, seed: int = 0):
    """Random RGB 0..255 images at the model's input and integer labels at its output grid
    (labels below `num_classes` and below the model's output channels)."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 255, (batch_size, *model.input_shape[1:])).astype("float32")
    labels = rng.integers(0, min(num_classes, model.output_shape[-1]), (batch_size, *model.output_shape[1:3]))
    return images, labels.astype("int32")


def training_throughput(
    model: keras.Model,
    batch_size: int = 8,
    steps: int = 10,
    warmup_steps: int = 2,
    num_classes: int = 21,
    seed: int = 0,
) -> dict:
    """Images/second of `train_on_batch` and the peak memory of training.

    The model is compiled with Adam and `SegmentationCrossEntropy()` (a model whose output is
    not logits, such as the bare encoder, is trained as if it were: labels at its output
    grid). Peak memory is the largest resident size of the process (sampled every 5 ms by
    a thread, see `PeakRSS`) during the warm-up and timed steps, minus the resident size
    just before them, after `release_free_memory()`: weights already built are not in it;
    optimizer state, gradients, activations and the traced training graph are.

    Args:
        model: a built model; it is compiled (and trained) here.
        batch_size: images per step.
        steps: timed steps.
        warmup_steps: untimed steps first (the first one traces the graph).
        num_classes: the labels' range.
        seed: for the random batch.

    Returns:
        {"images_per_second", "peak_memory_bytes" (None without /proc), "batch_size",
        "steps", "warmup_steps", "loss" (the last step's, to show it stayed finite)}.
    """
    if steps < 1 or warmup_steps < 0 or batch_size < 1:
        raise UsageError("training needs at least one timed step and a batch of at least 1")
    images, labels = training_batch(model, batch_size, num_classes, seed)
    compile_for_training(model, keras.optimizers.Adam(), SegmentationCrossEntropy())
    release_free_memory()
    before = rss_bytes()
    with PeakRSS() as peak:
        for _ in range(warmup_steps):
            model.train_on_batch(images, labels)
        start = time.perf_counter()
        for _ in range(steps):
            loss = model.train_on_batch(images, labels)
        elapsed = time.perf_counter() - start
    return {
        "images_per_second": steps * batch_size / elapsed,
        "peak_memory_bytes": None if before is None or peak.bytes is None else peak.bytes - before,
        "batch_size": batch_size,
        "steps": steps,
        "warmup_steps": warmup_steps,
        "loss": float(np.asarray(loss).reshape(-1)[0]),
    }
