"""Benchmark every model and the bare encoder: `keras-deconvnet benchmark`, whose code is keras_deconvnet/commands/benchmark.py."""

from keras_deconvnet.commands.benchmark import get_args_parser, main
from keras_deconvnet.commands.cli import run

if __name__ == "__main__":
    run(main, get_args_parser())
