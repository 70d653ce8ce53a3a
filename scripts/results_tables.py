"""Regenerate the documentation's results tables: `keras-deconvnet results-tables`, whose code is keras_deconvnet/commands/results_tables.py."""

from keras_deconvnet.commands.cli import run
from keras_deconvnet.commands.results_tables import get_args_parser, main

if __name__ == "__main__":
    run(main, get_args_parser())
