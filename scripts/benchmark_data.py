"""Measure the training pipeline's images/second against what a training step of the paper's
model consumes, in one process, and write the result as JSON and Markdown.

By default the data are synthetic VOC-sized pairs (500x375 and 375x500 JPEG images of about
90 KiB, single-channel PNG masks with 255 borders) held encoded in memory and decoded in the
pipeline's first map, as TFDS decodes its records; --dataset reads a prepared TFDS split
instead. Either stream is endless, so the shuffle buffer stays full as with a large data set.
The target: the pipeline delivers at least 5x the images/second a training step consumes, so
that data never starve the model.
"""

import argparse
import datetime
import gc
import itertools
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_deconvnet import build_model
from keras_deconvnet.cli import parse_size, run
from keras_deconvnet.datasets import DATASET_NAMES, label_options, load_split
from keras_deconvnet.errors import UsageError
from keras_deconvnet.labels import IGNORE_LABEL
from keras_deconvnet.pipeline import training_pipeline

VOC_CLASSES = 21  # the synthetic data's classes, and the model's
TARGET_RATIO = 5.0
WARMUP_STEPS = 3
QUICK = {"num_images": 16, "pipeline_batches": 20, "train_steps": 3, "shuffle_buffer": 64}


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--input-size",
        default="224x224",
        help="crop and model input HEIGHTxWIDTH, multiples of 32 (default: 224x224)",
    )
    parser.add_argument("--batch-size", type=int, default=8, help="images per batch (default: 8)")
    parser.add_argument(
        "--num-images",
        type=int,
        default=64,
        help="distinct synthetic encoded image/mask pairs, cycled endlessly (default: 64)",
    )
    parser.add_argument(
        "--pipeline-batches",
        type=int,
        default=200,
        help="timed pipeline batches, after as many warm-up batches as fill the shuffle buffer "
        "(default: 200)",
    )
    parser.add_argument(
        "--train-steps",
        type=int,
        default=20,
        help=f"timed train_on_batch steps, after {WARMUP_STEPS} warm-up steps (default: 20)",
    )
    parser.add_argument(
        "--shuffle-buffer", type=int, default=512, help="pipeline shuffle buffer (default: 512)"
    )
    parser.add_argument(
        "--dataset",
        choices=DATASET_NAMES,
        help="read this TFDS data set (prepared once, cached) instead of synthetic data",
    )
    parser.add_argument(
        "--data-dir", help="the --dataset's source folder, as for scripts that train"
    )
    parser.add_argument("--split", default="train", help="the --dataset's split (default: train)")
    parser.add_argument(
        "--num-classes", type=int, help="classes of a --dataset folder (required for folder)"
    )
    parser.add_argument(
        "--ignore-label",
        type=int,
        default=255,
        help="ignore label of a --dataset folder (default: 255)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run of under a minute: "
        + ", ".join(f"--{name.replace('_', '-')} {value}" for name, value in QUICK.items()),
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path("benchmarks"),
        help="where data_throughput.json and data_throughput.md go (default: benchmarks)",
    )
    return parser


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
    """The paper's model, compiled with Adam and the ignore-255 loss."""
    model = build_model("paper", num_classes=num_classes, input_shape=(*size, 3))
    model.compile(
        optimizer=keras.optimizers.Adam(),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, ignore_class=IGNORE_LABEL
        ),
    )
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


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


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
        "consumes (Adam, `SparseCategoricalCrossentropy(from_logits=True, ignore_class=255)`),\n"
        "measured one after the other in one process. Other processes on the machine slow\n"
        "either measurement; the load average shows how busy it was.\n\n"
        f"```bash\n{result['command']}\n```\n\n"
        f"| measure | value |\n|---|---:|\n{table}\n"
    )


def main(args: argparse.Namespace) -> None:
    if args.quick:
        vars(args).update(QUICK)
    size = parse_size(args.input_size)
    for name in ("batch_size", "num_images", "pipeline_batches", "train_steps", "shuffle_buffer"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be a positive int")
    load_before = os.getloadavg()[0]
    if args.dataset:
        options = label_options(args.dataset, args.num_classes, args.ignore_label)
        split, info = load_split(args.dataset, args.split, args.data_dir, **options)
        dataset, num_classes, ignore_label = split.repeat(), info.num_classes, info.ignore_label
        data = f"TFDS {args.dataset} {args.split}"
    else:
        dataset, data = synthetic_dataset(args.num_images)
        num_classes, ignore_label = VOC_CLASSES, IGNORE_LABEL
    model = compiled_model(num_classes, size)  # before the timing, so a bad size fails early
    pipeline = training_pipeline(
        dataset,
        num_classes=num_classes,
        ignore_label=ignore_label,
        input_size=size,
        batch_size=args.batch_size,
        shuffle_buffer=args.shuffle_buffer,
        seed=0,
    )
    warmup = max(args.shuffle_buffer // args.batch_size, 5)
    pipeline_rate, batch = pipeline_images_per_second(pipeline, args.pipeline_batches, warmup)
    gc.collect()  # stop the pipeline's threads before timing the model
    training_rate = training_images_per_second(model, batch, args.train_steps)
    result = {
        "pipeline_images_per_second": pipeline_rate,
        "training_images_per_second": training_rate,
        "ratio": pipeline_rate / training_rate,
        "target_ratio": TARGET_RATIO,
        "input_size": list(size),
        "batch_size": args.batch_size,
        "data": data,
        "shuffle_buffer": args.shuffle_buffer,
        "pipeline_batches": args.pipeline_batches,
        "train_steps": args.train_steps,
        "date": datetime.date.today().isoformat(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "load_average": [load_before, os.getloadavg()[0]],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "command": shlex.join(["python", "scripts/benchmark_data.py", *sys.argv[1:]]),
    }
    markdown = format_markdown(result)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "data_throughput.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.output_dir / "data_throughput.md").write_text(markdown)
    print(markdown)


if __name__ == "__main__":
    run(main, get_args_parser())
