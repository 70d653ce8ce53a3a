"""Print each model's stages (output shape, parameters) and total, like Table I of the paper."""

import argparse
import sys

from keras_deconvnet.commands.cli import add_verbose_argument, size_flag
from keras_deconvnet.models.registry import MODEL_NAMES


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--model",
        default="all",
        choices=[*MODEL_NAMES, "all"],
        help="model to summarise, or 'all' for every model (default: all)",
    )
    parser.add_argument(
        "--num-classes", type=int, default=21, help="classes per pixel (default: 21, Pascal VOC)"
    )
    parser.add_argument(
        "--input-size",
        type=size_flag,
        default="224x224",
        help="input HEIGHTxWIDTH, multiples of 32 (default: 224x224, as in the paper)",
    )
    add_verbose_argument(parser)
    return parser


def main(args: argparse.Namespace) -> None:
    from keras_deconvnet.benchmark.config import VGG_MIN_SIZE
    from keras_deconvnet.models import MODEL_NAMES, build_model
    from keras_deconvnet.models.summary import format_stage_table

    height, width = args.input_size
    names = list(MODEL_NAMES) if args.model == "all" else [args.model]
    for name in names:
        if args.model == "all" and name == "deconvnet_vgg16" and min(height, width) < VGG_MIN_SIZE:
            print(f"skipped {name}: it needs an input of at least {VGG_MIN_SIZE}x{VGG_MIN_SIZE}", file=sys.stderr)
            continue
        model = build_model(name, num_classes=args.num_classes, input_shape=(height, width, 3))
        print(format_stage_table(model), end="\n\n")

