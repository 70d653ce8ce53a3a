"""`python -m keras_deconvnet COMMAND ...`: the same as the `keras-deconvnet` command."""

from keras_deconvnet.commands import main

if __name__ == "__main__":
    main(prog="python -m keras_deconvnet")
