"""Export a model and check every file: `keras-deconvnet export`, whose code is keras_deconvnet/commands/export.py."""

from keras_deconvnet.commands.cli import run
from keras_deconvnet.commands.export import get_args_parser, main

if __name__ == "__main__":
    run(main, get_args_parser())
