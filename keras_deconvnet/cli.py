"""What every script shares: size parsing and turning user mistakes into one line."""

import argparse
import sys
from collections.abc import Callable

from keras_deconvnet.errors import UsageError


def parse_size(text: str) -> tuple[int, int]:
    """'352x480' -> (352, 480); a single number means a square."""
    try:
        parts = [int(part) for part in text.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2:
        raise UsageError(f"a size must be HEIGHTxWIDTH such as 224x224, got '{text}'")
    return parts[0], parts[1]


def run(main: Callable[[argparse.Namespace], None], parser: argparse.ArgumentParser) -> None:
    """Parses the arguments and calls `main`; a `UsageError` becomes `error: ...`, exit 2."""
    args = parser.parse_args()
    try:
        main(args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
