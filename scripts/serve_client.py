"""Segment images with a model served by TF Serving: `keras-deconvnet serve-client`, whose code is keras_deconvnet/commands/serve_client.py."""

from keras_deconvnet.commands.cli import run
from keras_deconvnet.commands.serve_client import get_args_parser, main

if __name__ == "__main__":
    run(main, get_args_parser())
