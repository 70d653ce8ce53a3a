"""Data throughput: the training pipeline's images/second against what a training step of
the paper's model consumes, measured one after the other in one process.

By default the data are synthetic VOC-sized pairs (500x375 and 375x500 JPEG images of about
90 KiB, single-channel PNG masks with 255 borders) held encoded in memory and decoded in the
pipeline's first map, as TFDS decodes its records; a prepared TFDS split can be read instead.
Either stream is endless, so the shuffle buffer stays full as with a large data set. The
target: the pipeline delivers at least 5x the images/second a training step consumes, so
that data never starve the model.
"""

import datetime
import gc
import itertools
import os
import time

import keras
import numpy as np
import tensorflow as tf

from keras_deconvnet.benchmark.run import machine_info
from keras_deconvnet.constants import IGNORE_LABEL
from keras_deconvnet.data.pipeline import training_pipeline
from keras_deconvnet.losses import build_loss
from keras_deconvnet.models import build_model
from keras_deconvnet.training.optim import compile_for_training

VOC_CLASSES = 21  # the synthetic data's classes, and the model's
TARGET_RATIO = 5.0
WARMUP_STEPS = 3


def synthetic_pair(rng: np.random.Generator, height: int, width: int) -> tuple[bytes, bytes]:
    """A JPEG of smooth colour regions with sensor-like noise, and a PNG mask of label blocks
    (half of them background) with 255 borders, as in VOC's SegmentationClass."""
    coarse = rng.uniform(0, 255, size=(1, height // 25, width // 25, 3)).astype("float32")
    image = tf.image.resize(coarse, (height, width), method="bicubic")[0].numpy()
    image = np.clip(image + rng.normal(0, 16, size=image.shape), 0, 255).astype("uint8")
    weights = np.full(VOC_CLASSES, 0.5 / (VOC_CLASSES - 1))
    weights[0] = 0.5
    blocks = rng.choice(VOC_CLASSES, size=(1, height // 50, width // 50, 1), p=weights)
    mask = tf.image.resize(blocks, (height, width), method="nearest")[0].numpy().astype("uint8")
    border = np.zeros(mask.shape, bool)
    border[1:] |= mask[1:] != mask[:-1]
    border[:, 1:] |= mask[:, 1:] != mask[:, :-1]
    mask[border] = IGNORE_LABEL
    return tf.io.encode_jpeg(image, quality=90).numpy(), tf.io.encode_png(mask).numpy()


def synthetic_dataset(num_images: int) -> tuple[tf.data.Dataset, str]:
    """Endless feature dicts decoded from in-memory JPEG/PNG bytes, and a description."""
    rng = np.random.default_rng(0)
    shapes = itertools.islice(itertools.cycle([(375, 500), (500, 375)]), num_images)
    jpegs, pngs = zip(*(synthetic_pair(rng, *shape) for shape in shapes))

    def decode(record):
        return {
            "image": tf.io.decode_jpeg(record["image"], channels=3),
            "segmentation_mask": tf.io.decode_png(record["segmentation_mask"], channels=1),
            "file_name": record["file_name"],
        }

    records = {
        "image": list(jpegs),
        "segmentation_mask": list(pngs),
        "file_name": [f"synthetic_{index:05d}" for index in range(num_images)],
    }
    dataset = tf.data.Dataset.from_tensor_slices(records).repeat()
    dataset = dataset.map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    mean_kib = np.mean([len(jpeg) for jpeg in jpegs]) / 1024
    description = f"{num_images} synthetic 500x375 / 375x500, JPEG {mean_kib:.0f} KiB on average"
    return dataset, description


def pipeline_images_per_second(
    pipeline: tf.data.Dataset, batches: int, warmup: int
) -> tuple[float, tuple[tf.Tensor, tf.Tensor]]:
    """Images/second out of `pipeline` after `warmup` batches, and its first batch."""
    iterator = iter(pipeline)
    first = next(iterator)
    for _ in range(warmup):
        next(iterator)
    start = time.perf_counter()
    images = sum(int(next(iterator)[0].shape[0]) for _ in range(batches))
    return images / (time.perf_counter() - start), first


def compiled_model(num_classes: int, size: tuple[int, int]) -> keras.Model:
    """The paper's model, compiled with Adam and the loss training uses (`--loss cross-entropy`)."""
    model = build_model("paper", num_classes=num_classes, input_shape=(*size, 3))
    compile_for_training(model, keras.optimizers.Adam(), build_loss("cross-entropy"))
    return model


def training_images_per_second(
    model: keras.Model, batch: tuple[tf.Tensor, tf.Tensor], steps: int
) -> float:
    """Images/second of `model.train_on_batch` on `batch`, after warm-up steps."""
    images, masks = batch
    for _ in range(WARMUP_STEPS):
        model.train_on_batch(images, masks)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(images, masks)
    return steps * images.shape[0] / (time.perf_counter() - start)


def measure_data_throughput(
    dataset: tf.data.Dataset,
    data: str,
    *,
    num_classes: int,
    ignore_label: int,
    size: tuple[int, int],
    batch_size: int,
    shuffle_buffer: int,
    pipeline_batches: int,
    train_steps: int,
    command: str,
) -> dict:
    """Times the pipeline on `dataset` (described by `data`), then training steps on its first
    batch; returns the result that `format_markdown` and the JSON file take."""
    load_before = os.getloadavg()[0]
    model = compiled_model(num_classes, size)  # before the timing, so a bad size fails early
    pipeline = training_pipeline(
        dataset,
        num_classes=num_classes,
        ignore_label=ignore_label,
        input_size=size,
        batch_size=batch_size,
        shuffle_buffer=shuffle_buffer,
        seed=0,
    )
    warmup = max(shuffle_buffer // batch_size, 5)
    pipeline_rate, batch = pipeline_images_per_second(pipeline, pipeline_batches, warmup)
    gc.collect()  # stop the pipeline's threads before timing the model
    training_rate = training_images_per_second(model, batch, train_steps)
    machine = machine_info()
    return {
        "pipeline_images_per_second": pipeline_rate,
        "training_images_per_second": training_rate,
        "ratio": pipeline_rate / training_rate,
        "target_ratio": TARGET_RATIO,
        "input_size": list(size),
        "batch_size": batch_size,
        "data": data,
        "shuffle_buffer": shuffle_buffer,
        "pipeline_batches": pipeline_batches,
        "train_steps": train_steps,
        "date": datetime.date.today().isoformat(),
        "cpu": machine["cpu"],
        "cores": machine["cores"],
        "load_average": [load_before, os.getloadavg()[0]],
        "tensorflow": machine["tensorflow"],
        "keras": machine["keras"],
        "command": command,
    }


def format_markdown(result: dict) -> str:
    height, width = result["input_size"]
    pipeline_rate = result["pipeline_images_per_second"]
    rows = [
        ("training pipeline, images/s", f"{pipeline_rate:,.1f}"),
        ("training step, images/s", f"{result['training_images_per_second']:,.1f}"),
        (f"ratio (target >= {result['target_ratio']:g}x)", f"**{result['ratio']:.1f}x**"),
        ("input size, batch", f"{height}x{width}, {result['batch_size']}"),
        ("data", result["data"]),
        ("timed", f"{result['pipeline_batches']} batches, {result['train_steps']} steps"),
        ("date", result["date"]),
        ("CPU", f"{result['cpu']}, {result['cores']} cores"),
        ("load average (1 min), before / after", "{:.2f} / {:.2f}".format(*result["load_average"])),
        ("TensorFlow, Keras", f"{result['tensorflow']}, {result['keras']}"),
    ]
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    return (
        "## Data throughput\n\n"
        "Images/second out of `training_pipeline` (decode, random scale 0.5-2, pad, random\n"
        "crop, flip, batch), and images/second a `train_on_batch` step of the paper's model\n"
        "consumes (Adam, `SegmentationCrossEntropy()`, the default `--loss`),\n"
        "measured one after the other in one process. Other processes on the machine slow\n"
        "either measurement; the load average shows how busy it was.\n\n"
        f"```bash\n{result['command']}\n```\n\n"
        f"| measure | value |\n|---|---:|\n{table}\n"
    )
