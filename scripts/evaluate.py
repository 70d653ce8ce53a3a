"""Evaluate a model on a dataset split: `keras-deconvnet evaluate`, whose code is keras_deconvnet/commands/evaluate.py."""

from keras_deconvnet.commands.cli import run
from keras_deconvnet.commands.evaluate import get_args_parser, main

if __name__ == "__main__":
    run(main, get_args_parser())
