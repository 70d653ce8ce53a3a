"""Draw a training run's curves (loss, mean IoU, learning rate, seconds per epoch) into RUN/curves.png.

Every training run writes curves.png when it ends; this redraws it for any run folder, such as
one still running or interrupted.

Example:
  python scripts/plot_curves.py runs/latest runs/camvid_crops
"""

import argparse

from keras_deconvnet.commands.cli import add_verbose_argument
from keras_deconvnet.training.curves import plot_curves


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="training run folders (each with a history.csv), or their history.csv files")
    add_verbose_argument(parser)
    return parser


def main(args: argparse.Namespace) -> None:
    for run_dir in args.run_dirs:
        print(plot_curves(run_dir))

