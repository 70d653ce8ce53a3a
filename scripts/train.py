"""Train a segmentation model: `keras-deconvnet train`, whose code is keras_deconvnet/commands/train.py."""

from keras_deconvnet.commands.cli import run
from keras_deconvnet.commands.train import get_args_parser, main

if __name__ == "__main__":
    run(main, get_args_parser())
