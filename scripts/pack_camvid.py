"""Copy a CamVid folder compactly for a GPU machine: `keras-deconvnet pack-camvid`, whose code is keras_deconvnet/commands/pack_camvid.py."""

from keras_deconvnet.commands.cli import run
from keras_deconvnet.commands.pack_camvid import get_args_parser, main

if __name__ == "__main__":
    run(main, get_args_parser())
