"""Measure the data pipeline against a training step: `keras-deconvnet benchmark-data`, whose code is keras_deconvnet/commands/benchmark_data.py."""

from keras_deconvnet.commands.benchmark_data import get_args_parser, main
from keras_deconvnet.commands.cli import run

if __name__ == "__main__":
    run(main, get_args_parser())
