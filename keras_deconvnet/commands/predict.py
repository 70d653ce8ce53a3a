"""Segment images with a model (.keras, SavedModel or .tflite).

Writes, per image and at the image's own resolution: NAME_classes.png (class indices),
NAME_color.png (the mask in the dataset's palette) and NAME_overlay.png.

Example:
  python scripts/predict.py --model runs/latest/best.keras photos/ --out predictions/
"""

import argparse
from pathlib import Path

from keras_deconvnet.commands.cli import (
    add_tta_arguments,
    add_verbose_argument,
    parse_fraction,
    progress_verbose,
    size_flag,
    tta_from_args,
)
from keras_deconvnet.errors import UsageError
from keras_deconvnet.files import check_output_dir

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", help="an image file or a folder of images")
    parser.add_argument("--model", required=True, help="a .keras file, a SavedModel folder, a .tflite file or an .onnx file (with the onnx extra)")
    parser.add_argument("--out", required=True, help="output folder (created if needed)")
    add_tta_arguments(parser)
    parser.add_argument("--input-size", type=size_flag, help="run a .keras model at this HEIGHTxWIDTH (multiples of 32) instead of the size it was saved with, e.g. a model trained on 256x352 crops at 352x480 (default: its own)")
    parser.add_argument("--alpha", type=parse_fraction, default=0.5, help="opacity of the mask in the overlay, 0 to 1 (default: 0.5)")
    add_verbose_argument(parser)
    return parser


def image_paths(inputs: Path) -> tuple[list[Path], list[Path]]:
    """The image itself, or the images in a folder, sorted; and the folder's other files, skipped.

    Raises:
        UsageError: no images, or two of them whose outputs would share a name (a.jpg, a.png).
    """
    from keras_deconvnet.datasets.folder_layout import files_by_stem

    if inputs.is_file():
        return [inputs], []
    if not inputs.is_dir():
        raise UsageError(f"no such image or folder: {inputs}")
    paths = list(files_by_stem(inputs, IMAGE_SUFFIXES).values())
    if not paths:
        raise UsageError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {inputs}")
    images = set(paths)
    return paths, [path for path in sorted(inputs.iterdir()) if path.is_file() and path not in images]


def checked_out_dir(out: str, inputs: Path) -> Path:
    """`--out`, refused if it is the input folder: a later run would segment the outputs too."""
    out_dir = check_output_dir(out, "--out")
    if inputs.is_dir() and out_dir.resolve() == inputs.resolve():
        raise UsageError(f"--out {out} is the input folder; write the predictions to another folder")
    return out_dir


def main(args: argparse.Namespace) -> None:
    import numpy as np
    from keras.utils import Progbar

    from keras_deconvnet.datasets.palette import colorize
    from keras_deconvnet.evaluation.scoring import segment
    from keras_deconvnet.export import load_predictor
    from keras_deconvnet.files import check_readable, read_rgb, write_png
    from keras_deconvnet.process import DeferredInterrupt

    paths, skipped = image_paths(Path(args.inputs))
    out_dir = checked_out_dir(args.out, Path(args.inputs))
    for path in paths:  # a bad file is named before the model loads and before any output
        check_readable(path)
    predictor = load_predictor(args.model, input_size=args.input_size)
    tta = tta_from_args(args, predictor.metadata)
    palette = predictor.palette
    bar = Progbar(len(paths), unit_name="image", verbose=progress_verbose())
    with DeferredInterrupt("image") as interrupt:
        for done, path in enumerate(paths):
            if interrupt.requested:
                raise KeyboardInterrupt(f"{done} of {len(paths)} images segmented into {out_dir}")
            image = read_rgb(path, exif_orientation=True)
            classes = segment(predictor, image, tta)
            out_dir.mkdir(parents=True, exist_ok=True)
            color = colorize(classes, palette)
            overlay = ((1 - args.alpha) * image + args.alpha * color).round().astype(np.uint8)
            for kind, pixels in (("classes", classes.astype(np.uint8)), ("color", color), ("overlay", overlay)):
                write_png(pixels, out_dir / f"{path.stem}_{kind}.png")
            bar.add(1)
    others = f" ({len(skipped)} other file{'s' if len(skipped) != 1 else ''} skipped, not {'/'.join(IMAGE_SUFFIXES)})"
    print(f"{len(paths)} image{'s' if len(paths) != 1 else ''} segmented into {out_dir}{others if skipped else ''}")
