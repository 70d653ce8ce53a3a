"""Print what a dataset split holds: images, image sizes, and pixels per class (with ignore)."""

import argparse

from keras_deconvnet.commands.cli import add_dataset_arguments, add_verbose_argument


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    add_dataset_arguments(parser, split="train", purpose="to count")
    add_verbose_argument(parser)
    return parser


def main(args: argparse.Namespace) -> None:
    from keras_deconvnet.datasets import label_options, load_split
    from keras_deconvnet.datasets.stats import format_split_stats, split_stats

    options = label_options(args.dataset, args.num_classes, args.ignore_label)
    dataset, info = load_split(args.dataset, args.split, args.data_dir, **options)
    print(format_split_stats(split_stats(dataset), info, args.split))

