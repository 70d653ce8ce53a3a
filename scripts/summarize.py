"""Print each model's stages and parameters: `keras-deconvnet summarize`, whose code is keras_deconvnet/commands/summarize.py."""

from keras_deconvnet.commands.cli import run
from keras_deconvnet.commands.summarize import get_args_parser, main

if __name__ == "__main__":
    run(main, get_args_parser())
