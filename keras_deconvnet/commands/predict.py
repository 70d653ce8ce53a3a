"""Segment images with a model (.keras, SavedModel or .tflite).

Writes, per image and at the image's own resolution: NAME_classes.png (class indices),
NAME_color.png (the mask in the dataset's palette) and NAME_overlay.png.

Example:
  python scripts/predict.py --model runs/latest/best.keras photos/ --out predictions/
"""

import argparse
from pathlib import Path

from keras_deconvnet.cli import (
    add_tta_arguments,
    add_verbose_argument,
    parse_fraction,
    progress_verbose,
    size_flag,
    tta_from_args,
)
from keras_deconvnet.errors import UsageError
from keras_deconvnet.folders import check_output_dir

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", help="an image file or a folder of images")
    parser.add_argument("--model", required=True, help="a .keras file, a SavedModel folder or a .tflite file")
    parser.add_argument("--out", required=True, help="output folder (created if needed)")
    add_tta_arguments(parser)
    parser.add_argument("--input-size", type=size_flag, help="run a .keras model at this HEIGHTxWIDTH (multiples of 32) instead of the size it was saved with, e.g. a model trained on 256x352 crops at 352x480 (default: its own)")
    parser.add_argument("--alpha", type=parse_fraction, default=0.5, help="opacity of the mask in the overlay, 0 to 1 (default: 0.5)")
    add_verbose_argument(parser)
    return parser


def image_paths(inputs: Path) -> list[Path]:
    """The image itself, or the images in a folder, sorted."""
    if inputs.is_file():
        return [inputs]
    if inputs.is_dir():
        paths = sorted(p for p in inputs.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if paths:
            return paths
        raise UsageError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {inputs}")
    raise UsageError(f"no such image or folder: {inputs}")


def main(args: argparse.Namespace) -> None:
    import numpy as np
    from keras.utils import Progbar
    from PIL import Image, ImageOps

    from keras_deconvnet.datasets.palette import colorize
    from keras_deconvnet.evaluation import segment
    from keras_deconvnet.export import load_predictor

    paths = image_paths(Path(args.inputs))
    out_dir = check_output_dir(args.out, "--out")
    predictor = load_predictor(args.model, input_size=args.input_size)
    tta = tta_from_args(args, predictor.metadata)
    palette = predictor.palette
    bar = Progbar(len(paths), unit_name="image", verbose=progress_verbose())
    for path in paths:
        try:
            # Phone photos store their rotation in EXIF; the pixels are as the sensor read them.
            image = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
        except OSError as error:
            raise UsageError(f"cannot read {path} as an image: {error}") from None
        classes = segment(predictor, image, tta)
        out_dir.mkdir(parents=True, exist_ok=True)  # only once an image is readable: no empty folder
        color = colorize(classes, palette)
        overlay = (1 - args.alpha) * image + args.alpha * color
        Image.fromarray(classes.astype(np.uint8)).save(out_dir / f"{path.stem}_classes.png")
        Image.fromarray(color).save(out_dir / f"{path.stem}_color.png")
        Image.fromarray(overlay.round().astype(np.uint8)).save(out_dir / f"{path.stem}_overlay.png")
        bar.add(1)
    print(f"{len(paths)} image{'s' if len(paths) != 1 else ''} segmented into {out_dir}")

