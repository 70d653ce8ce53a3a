"""What every command shares: size parsing, TTA and --verbose flags, quiet logs, and turning user
mistakes and Ctrl-C into one line."""

import argparse
import sys
from collections.abc import Callable

from keras_deconvnet.constants import MAX_TTA_SCALE, TTA_FLIPS
from keras_deconvnet.errors import UsageError
from keras_deconvnet.process import quiet_logs


def parse_size(text: str) -> tuple[int, int]:
    """'352x480' -> (352, 480); a single number means a square. Every model's input is a
    multiple of 32, its encoder's stride."""
    try:
        parts = [int(part) for part in text.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or any(part <= 0 or part % 32 for part in parts):
        raise UsageError(f"a size must be HEIGHTxWIDTH in multiples of 32, such as 352x480 or 96, got '{text}'")
    return parts[0], parts[1]


def size_flag(text: str) -> tuple[int, int]:
    """`parse_size` as an argparse type, so the usage error gives its message."""
    try:
        return parse_size(text)
    except UsageError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def int_flag(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type for an integer from `minimum` (to `maximum`), so the usage error names the flag."""
    expected = f"an integer of at least {minimum}" if maximum is None else f"an integer from {minimum} to {maximum}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"expected {expected}, got '{text}'")
        return value

    return parse


def int_list_flag(minimum: int) -> Callable[[str], tuple[int, ...]]:
    """An argparse type for comma-separated integers, each at least `minimum` ('1,2' -> (1, 2))."""
    parse_one = int_flag(minimum)

    def parse(text: str) -> tuple[int, ...]:
        try:
            return tuple(parse_one(part) for part in text.split(","))
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated integers of at least {minimum}, such as 1,2, got '{text}'"
            ) from None

    return parse


def add_tta_arguments(parser: argparse.ArgumentParser, *, for_release: bool = False) -> None:
    """`--tta` and `--tta-scales`: for segmenting images, or to store in a release's metadata."""
    if for_release:
        default = "stored with --release in the metadata as the model's evaluation setting, which evaluate.py and predict.py then use; default: none"
    else:
        default = "default: the model's metadata, else none"
    parser.add_argument("--tta", choices=TTA_FLIPS, help=f"test-time augmentation: 'flip' averages the logits of each view with its mirror's; 'none' turns off the TTA a release's metadata asks for ({default})")
    parser.add_argument("--tta-scales", type=parse_scales, help=f"views at these multiples of the model's input size (each above 0 and at most {MAX_TTA_SCALE:g} times the size), logits averaged at the image's resolution, e.g. 0.75,1.0,1.25 ({default.replace('none', '1.0')})")


def parse_scales(text: str) -> tuple[float, ...]:
    """'0.75,1,1.25' -> (0.75, 1.0, 1.25), each positive and at most `MAX_TTA_SCALE`."""
    try:
        scales = tuple(float(part) for part in text.split(","))
    except ValueError:
        scales = ()
    if not scales or not all(0 < scale <= MAX_TTA_SCALE for scale in scales):
        raise argparse.ArgumentTypeError(
            f"expected positive multiples of the model's input size, at most {MAX_TTA_SCALE:g}, "
            f"such as 0.75,1.0,1.25, got '{text}'"
        )
    return scales


def parse_fraction(text: str) -> float:
    """'0.5' -> 0.5, a number from 0 to 1 (an opacity, a share)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, such as 0.5, got '{text}'")
    return value


def parse_scale_range(text: str) -> tuple[float, float]:
    """'0.5,2' -> (0.5, 2.0), random scaling's MIN,MAX; `training.config.validate` checks their range."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"expected two numbers MIN,MAX such as 0.5,2.0, got '{text}'")
    return values


def tta_from_args(args: argparse.Namespace, metadata: dict):
    """The `TestTimeAugmentation` the flags ask for, each flag not given taken from the
    metadata's "tta" (a release's evaluation setting); None for the plain prediction.

    Raises:
        UsageError: the scales are not positive, or the metadata's "tta" is malformed.
    """
    from keras_deconvnet.evaluation.tta import TestTimeAugmentation

    if args.tta == "none" and args.tta_scales is None:
        return None
    stored = metadata.get("tta") or {}
    try:
        flip = bool(stored.get("flip", False)) if args.tta is None else args.tta == "flip"
        scales = args.tta_scales or tuple(float(s) for s in stored.get("scales", (1.0,)))
    except (AttributeError, TypeError, ValueError):
        raise UsageError(f"the model's metadata has a malformed tta entry: {stored}") from None
    tta = TestTimeAugmentation(flip=flip, scales=scales)
    return None if tta == TestTimeAugmentation() else tta


def add_dataset_arguments(
    parser: argparse.ArgumentParser,
    *,
    split: str | None,
    purpose: str,
    required: bool = True,
    num_classes_default: str = "",
    ignore_label_default: int | None = 255,
) -> None:
    """--dataset, --data-dir, --split, --num-classes and --ignore-label, as every command that
    reads a dataset takes them. `split` None leaves --split out (train has two); a None
    default leaves the value to the caller (train's saved config and presets). Export's
    dataset is the run's, so it names its own flags."""
    from keras_deconvnet.datasets import DATASET_NAMES

    parser.add_argument("--dataset", required=required, choices=DATASET_NAMES, help=f"dataset {purpose}")
    parser.add_argument(
        "--data-dir",
        help="the dataset's source folder: VOC/SBD archives or folders, the CamVid SegNet folder, "
        "your own folder (none for demo)",
    )
    if split is not None:
        parser.add_argument(
            "--split", default=split, help=f"split (default: {split}; CamVid also heldout_train, heldout_val)"
        )
    parser.add_argument(
        "--num-classes", type=int, help=f"number of classes, for --dataset folder{num_classes_default}"
    )
    parser.add_argument(
        "--ignore-label", type=int, default=ignore_label_default,
        help="label to ignore in your masks, for --dataset folder (default: 255)",
    )


def add_verbose_argument(parser: argparse.ArgumentParser) -> None:
    """`--verbose`: keep TensorFlow's, absl's and TFDS's logs, which `run` hides otherwise."""
    parser.add_argument(
        "--verbose", action="store_true",
        help="show TensorFlow's, absl's and TFDS's log messages (CUDA probing, oneDNN notices, dataset "
        "preparation), hidden by default; a TF_CPP_MIN_LOG_LEVEL you set is always kept",
    )


def progress_verbose() -> int:
    """Keras' Progbar verbosity: 1 (a live bar) on a terminal, 2 (one line when done) in a log."""
    return 1 if sys.stdout.isatty() else 2


def run(
    main: Callable[[argparse.Namespace], None], parser: argparse.ArgumentParser, argv: list[str] | None = None
) -> None:
    """Parses `argv` (default: the command line), quiets TensorFlow's logs unless --verbose, and
    calls `main`; a `UsageError` becomes `error: ...`, exit 2, and Ctrl-C `interrupted: ...`
    (with what `main` put in its KeyboardInterrupt), exit 130 as a shell's.
    """
    args = parser.parse_args(argv)
    quiet_logs(getattr(args, "verbose", False))
    try:
        main(args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt as interrupt:
        # An exception is true even when its text is empty: test the text.
        print(f"interrupted: {str(interrupt) or 'stopped by Ctrl-C'}", file=sys.stderr)
        sys.exit(130)
