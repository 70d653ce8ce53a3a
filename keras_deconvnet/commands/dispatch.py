"""`keras-deconvnet COMMAND [FLAGS]`: the list of commands, and the one picked by name and run."""

import argparse
import importlib
import sys

from keras_deconvnet import __version__
from keras_deconvnet.commands.cli import run

# Command name -> its module in this package (scripts/<module>.py in a checkout).
COMMANDS = {
    "train": "train",
    "evaluate": "evaluate",
    "predict": "predict",
    "export": "export",
    "int8-sensitivity": "int8_sensitivity",
    "benchmark": "benchmark",
    "benchmark-data": "benchmark_data",
    "summarize": "summarize",
    "dataset-stats": "dataset_stats",
    "pack-camvid": "pack_camvid",
    "results-tables": "results_tables",
    "serve-client": "serve_client",
    "plot-curves": "plot_curves",
}


def command_module(name: str):
    """The module of command `name`: its `get_args_parser` and `main`."""
    return importlib.import_module(f"keras_deconvnet.commands.{COMMANDS[name]}")


def summary(name: str) -> str:
    """The first line of the command's docstring, for the list of commands."""
    return command_module(name).__doc__.strip().splitlines()[0]


def get_args_parser(prog: str = "keras-deconvnet") -> argparse.ArgumentParser:
    width = max(map(len, COMMANDS)) + 2
    listing = "\n".join(f"  {name:<{width}}{summary(name)}" for name in COMMANDS)
    parser = argparse.ArgumentParser(
        prog=prog,
        description=f"Efficient DeconvNet semantic segmentation in Keras 3.\n\ncommands:\n{listing}",
        epilog=f"'{prog} COMMAND --help' shows a command's flags. In a checkout, scripts/COMMAND.py "
        "(with _ for -) runs the same command.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("command", metavar="COMMAND", choices=COMMANDS, help="one of the commands above")
    parser.add_argument("flags", metavar="...", nargs=argparse.REMAINDER, help="the command's flags")
    return parser


def main(argv: list[str] | None = None, prog: str = "keras-deconvnet") -> None:
    """Runs `prog COMMAND FLAGS...`, `argv` being COMMAND and its flags (default: the command line).

    The command sees sys.argv as ["PROG COMMAND", *FLAGS], as if it were its own program: its
    usage lines, and anything that records the command line, name it so.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0].replace("_", "-") in COMMANDS:
        argv[0] = argv[0].replace("_", "-")  # the scripts' spelling (dataset_stats) names it too
    if not argv or argv[0] not in COMMANDS:
        get_args_parser(prog).parse_args(argv)  # --help, --version, or a usage error: each exits
        raise SystemExit(2)
    name, flags = argv[0], argv[1:]
    module = command_module(name)
    saved, sys.argv = sys.argv, [f"{prog} {name}", *flags]
    try:
        run(module.main, module.get_args_parser(), flags)
    finally:
        sys.argv = saved
