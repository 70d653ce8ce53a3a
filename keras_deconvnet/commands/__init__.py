"""The package's commands: `keras-deconvnet COMMAND [FLAGS]` (also `python -m keras_deconvnet`).

Each command is a module here with `get_args_parser()` and `main(args)`, the same that
scripts/NAME.py of a checkout runs; `dispatch.main` picks one by name and runs it with
`keras_deconvnet.commands.cli.run` (one-line errors, exit 2; Ctrl-C exit 130; quiet TensorFlow logs).
Building a parser imports neither Keras nor TensorFlow, so `--help` answers at once.
"""

from keras_deconvnet.lazy import lazy_attributes

_HOMES = {
    "COMMANDS": "dispatch",
    "command_module": "dispatch",
    "get_args_parser": "dispatch",
    "main": "dispatch",
    "summary": "dispatch",
}

__all__ = sorted(_HOMES)

__getattr__, __dir__ = lazy_attributes(__name__, _HOMES, globals())
