"""Print what a dataset split holds: images, image sizes, and pixels per class (with ignore)."""

import argparse

from keras_deconvnet.cli import add_verbose_argument


def get_args_parser() -> argparse.ArgumentParser:
    from keras_deconvnet.datasets import DATASET_NAMES

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True, choices=DATASET_NAMES, help="dataset name")
    parser.add_argument(
        "--data-dir",
        help="source folder: VOC/SBD archives or folders, the CamVid SegNet folder, your "
        "folder (none for demo)",
    )
    parser.add_argument("--split", default="train", help="split to count (default: train)")
    parser.add_argument("--num-classes", type=int, help="number of classes, for --dataset folder")
    parser.add_argument(
        "--ignore-label",
        type=int,
        default=255,
        help="ignore label, for --dataset folder (default: 255)",
    )
    add_verbose_argument(parser)
    return parser


def main(args: argparse.Namespace) -> None:
    from keras_deconvnet.datasets import label_options, load_split
    from keras_deconvnet.datasets.stats import format_split_stats, split_stats

    options = label_options(args.dataset, args.num_classes, args.ignore_label)
    dataset, info = load_split(args.dataset, args.split, args.data_dir, **options)
    print(format_split_stats(split_stats(dataset), info, args.split))

