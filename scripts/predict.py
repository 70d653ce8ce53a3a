"""Segment images with a model: `keras-deconvnet predict`, whose code is keras_deconvnet/commands/predict.py."""

from keras_deconvnet.commands.cli import run
from keras_deconvnet.commands.predict import get_args_parser, main

if __name__ == "__main__":
    run(main, get_args_parser())
