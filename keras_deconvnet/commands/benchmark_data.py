"""Measure the training pipeline's images/second against what a training step consumes.

Writes the result as JSON and Markdown; the measurement is `keras_deconvnet.benchmark.data_throughput`.
"""

import argparse
import json
import shlex
import sys
from pathlib import Path

from keras_deconvnet.commands.cli import add_dataset_arguments, add_verbose_argument, int_flag, size_flag
from keras_deconvnet.errors import UsageError
from keras_deconvnet.files import check_output_dir

# The flags --quick changes: their defaults, and the smoke run's (a flag given keeps its value).
DEFAULTS = {"num_images": 64, "pipeline_batches": 200, "train_steps": 20, "shuffle_buffer": 512}
QUICK = {"num_images": 16, "pipeline_batches": 20, "train_steps": 3, "shuffle_buffer": 64}
HELP = {
    "num_images": "distinct synthetic encoded image/mask pairs, cycled endlessly",
    "pipeline_batches": "timed pipeline batches, after as many warm-up batches as fill the shuffle buffer",
    "train_steps": "timed train_on_batch steps, after 3 warm-up steps",
    "shuffle_buffer": "pipeline shuffle buffer",
}
OUTPUT_DIRS = {False: Path("benchmarks"), True: Path("runs/benchmark_data_quick")}


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
    parser.add_argument("--batch-size", type=int_flag(1), default=8, help="images per batch (default: 8)")
    for name, text in HELP.items():
        parser.add_argument(
            f"--{name.replace('_', '-')}", type=int_flag(1),
            help=f"{text} (default: {DEFAULTS[name]}; with --quick: {QUICK[name]})",
        )
    add_dataset_arguments(
        parser, split="train", required=False,
        purpose="to read (prepared once, cached) instead of synthetic data",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run of under a minute: the defaults after 'with --quick' above",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        help=f"where data_throughput.json and data_throughput.md go (default: {OUTPUT_DIRS[False]}; with "
        f"--quick: {OUTPUT_DIRS[True]}, so a smoke run never overwrites the committed results)",
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
    from keras_deconvnet.constants import IGNORE_LABEL

    for name in DEFAULTS:
        if getattr(args, name) is None:
            setattr(args, name, (QUICK if args.quick else DEFAULTS)[name])
    output_dir = check_output_dir(args.output_dir or OUTPUT_DIRS[args.quick], "--output-dir")
    if args.data_dir and not args.dataset:
        raise UsageError("--data-dir is read with --dataset: add --dataset camvid, folder or voc2012_segmentation")
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
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "data_throughput.json").write_text(json.dumps(result, indent=2) + "\n")
    (output_dir / "data_throughput.md").write_text(markdown)
    print(markdown)
    print(f"written: {output_dir / 'data_throughput.json'}, {output_dir / 'data_throughput.md'}")


