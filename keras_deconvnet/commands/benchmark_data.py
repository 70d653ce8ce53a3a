"""Measure the training pipeline's images/second against what a training step consumes.

Writes the result as JSON and Markdown; the measurement is `keras_deconvnet.benchmark.data_throughput`.
"""

import argparse
import json
import shlex
import sys
from pathlib import Path

from keras_deconvnet.cli import add_dataset_arguments, add_verbose_argument, size_flag
from keras_deconvnet.errors import UsageError
from keras_deconvnet.folders import check_output_dir

QUICK = {"num_images": 16, "pipeline_batches": 20, "train_steps": 3, "shuffle_buffer": 64}


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--input-size",
        type=size_flag,
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
        help="timed train_on_batch steps, after 3 warm-up steps (default: 20)",
    )
    parser.add_argument(
        "--shuffle-buffer", type=int, default=512, help="pipeline shuffle buffer (default: 512)"
    )
    add_dataset_arguments(
        parser, split="train", required=False,
        purpose="to read (prepared once, cached) instead of synthetic data",
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
    add_verbose_argument(parser)
    return parser


def main(args: argparse.Namespace) -> None:
    from keras_deconvnet.benchmark.data_throughput import (
        VOC_CLASSES,
        format_markdown,
        measure_data_throughput,
        synthetic_dataset,
    )
    from keras_deconvnet.labels import IGNORE_LABEL

    if args.quick:
        vars(args).update(QUICK)
    check_output_dir(args.output_dir, "--output-dir")
    for name in ("batch_size", "num_images", "pipeline_batches", "train_steps", "shuffle_buffer"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be a positive int")
    if args.dataset:
        from keras_deconvnet.datasets import label_options, load_split

        options = label_options(args.dataset, args.num_classes, args.ignore_label)
        split, info = load_split(args.dataset, args.split, args.data_dir, **options)
        dataset, num_classes, ignore_label = split.repeat(), info.num_classes, info.ignore_label
        data = f"TFDS {args.dataset} {args.split}"
    else:
        dataset, data = synthetic_dataset(args.num_images)
        num_classes, ignore_label = VOC_CLASSES, IGNORE_LABEL
    result = measure_data_throughput(
        dataset, data, num_classes=num_classes, ignore_label=ignore_label, size=args.input_size,
        batch_size=args.batch_size, shuffle_buffer=args.shuffle_buffer, pipeline_batches=args.pipeline_batches,
        train_steps=args.train_steps, command=shlex.join(["python", "scripts/benchmark_data.py", *sys.argv[1:]]),
    )
    markdown = format_markdown(result)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "data_throughput.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.output_dir / "data_throughput.md").write_text(markdown)
    print(markdown)


