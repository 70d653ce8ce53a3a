"""Measure which stages an int8 file keeps float32: `keras-deconvnet int8-sensitivity`, whose code is keras_deconvnet/commands/int8_sensitivity.py."""

from keras_deconvnet.commands.cli import run
from keras_deconvnet.commands.int8_sensitivity import get_args_parser, main

if __name__ == "__main__":
    run(main, get_args_parser())
