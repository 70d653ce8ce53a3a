"""Draw a training run's curves: `keras-deconvnet plot-curves`, whose code is keras_deconvnet/commands/plot_curves.py."""

from keras_deconvnet.commands.cli import run
from keras_deconvnet.commands.plot_curves import get_args_parser, main

if __name__ == "__main__":
    run(main, get_args_parser())
