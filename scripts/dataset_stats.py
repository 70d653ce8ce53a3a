"""Print what a dataset split holds: `keras-deconvnet dataset-stats`, whose code is keras_deconvnet/commands/dataset_stats.py."""

from keras_deconvnet.commands.cli import run
from keras_deconvnet.commands.dataset_stats import get_args_parser, main

if __name__ == "__main__":
    run(main, get_args_parser())
