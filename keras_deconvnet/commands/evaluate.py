"""Evaluate a model (.keras, SavedModel or .tflite) on a dataset split.

Prints the per-class IoU table, pixel accuracy and, on the last line, the mean IoU; writes
the confusion matrix as CSV and PNG.

Example:
  python scripts/evaluate.py --model runs/latest/best.keras --dataset camvid --data-dir DIR --split val
"""

import argparse
import time
from pathlib import Path

from keras_deconvnet.commands.cli import (
    add_dataset_arguments,
    add_tta_arguments,
    add_verbose_argument,
    int_flag,
    progress_verbose,
    size_flag,
    tta_from_args,
)
from keras_deconvnet.constants import EVALUATION_MODES
from keras_deconvnet.files import check_output_dir, write_json


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a .keras file, a SavedModel folder, a .tflite file or an .onnx file (with the onnx extra)")
    add_dataset_arguments(parser, split="val", purpose="to evaluate on", num_classes_default=" (default: the model's)")
    parser.add_argument("--mode", choices=EVALUATION_MODES, help="'resize': score at the model's input size; 'original': predict at the input size, resize the logits back and score at each image's own resolution (default: the model's native setting, its metadata's evaluation_mode, else resize)")
    add_tta_arguments(parser)
    parser.add_argument("--input-size", type=size_flag, help="run a .keras model at this HEIGHTxWIDTH (multiples of 32) instead of the size it was saved with, e.g. a model trained on 256x352 crops at 352x480 (default: its own)")
    parser.add_argument("--batch-size", type=int_flag(1), default=8, help="images per call in resize mode (default: 8)")
    parser.add_argument("--out", help="folder for the confusion matrix CSV/PNG and scores.json (default: runs/eval/FOLDER_MODEL_DATASET_SPLIT_MODE, FOLDER being the one that holds the model, with _HxW for --input-size and _tta-... for TTA)")
    add_verbose_argument(parser)
    return parser


def tta_suffix(tta) -> str:
    """'' or e.g. '_tta-flip-0.75-1.0-1.25', so runs with different TTA keep their own folder."""
    if tta is None:
        return ""
    return "_tta" + ("-flip" if tta.flip else "") + "".join(f"-{scale}" for scale in tta.scales)


def default_out_dir(args: argparse.Namespace, mode: str, tta) -> Path:
    """runs/eval/FOLDER_MODEL_DATASET_SPLIT_MODE[_HxW][_tta-...]: named after the model's folder
    too, so the scores of two runs' `last.keras` keep a folder each."""
    model_path = Path(args.model).absolute()
    model_name = "_".join(part for part in (model_path.parent.name, model_path.stem) if part)
    size_suffix = "_{}x{}".format(*args.input_size) if args.input_size else ""
    return Path("runs", "eval", f"{model_name}_{args.dataset}_{args.split}_{mode}{size_suffix}{tta_suffix(tta)}")


def main(args: argparse.Namespace) -> None:
    from keras.utils import Progbar

    from keras_deconvnet.datasets import dataset_info, label_options, load_split
    from keras_deconvnet.evaluation.scoring import (
        check_classes,
        evaluate,
        format_scores,
        write_confusion_matrix,
    )
    from keras_deconvnet.export import load_predictor
    from keras_deconvnet.process import DeferredInterrupt

    out_dir = check_output_dir(args.out, "--out") if args.out else None  # before the model and data load
    predictor = load_predictor(args.model, input_size=args.input_size)
    mode = args.mode or predictor.metadata.get("evaluation_mode", "resize")
    options = label_options(args.dataset, args.num_classes or predictor.num_classes, args.ignore_label)
    check_classes(predictor, dataset_info(args.dataset, args.data_dir, **options))  # before preparing the data
    split, info = load_split(args.dataset, args.split, args.data_dir, **options)
    steps = int(split.cardinality())
    batch = args.batch_size if mode == "resize" else 1
    total = -(-steps // batch) if steps >= 0 else None

    def progress(batches):
        bar = Progbar(total, unit_name="batch", verbose=progress_verbose())
        for item in batches:
            yield item
            bar.add(1)
            interrupt.raise_if_requested()  # between batches, never inside TensorFlow

    tta = tta_from_args(args, predictor.metadata)
    out_dir = out_dir or check_output_dir(default_out_dir(args, mode, tta), "the default --out")
    start = time.perf_counter()
    with DeferredInterrupt("batch") as interrupt:
        try:
            scores = evaluate(predictor, split, info, mode=mode, batch_size=args.batch_size, progress=progress, tta=tta)
        except KeyboardInterrupt:
            raise KeyboardInterrupt(f"nothing was written to {out_dir}") from None
    scores["ms_per_image"] = round(1000 * (time.perf_counter() - start) / max(scores["images"], 1), 1)
    scores["tta"] = tta.as_metadata() if tta else None
    scores["input_size"] = list(predictor.input_size)
    csv_path, png_path = write_confusion_matrix(scores["confusion_matrix"], info.class_names, out_dir)
    write_json(out_dir / "scores.json", {**scores, "class_names": list(info.class_names)})
    views = f", TTA {tta.as_metadata()}" if tta else ""
    print(
        f"{scores['images']} images of {args.dataset}/{args.split}, mode {mode}{views}, "
        f"{scores['ms_per_image']} ms an image (data included); confusion matrix: {csv_path}, {png_path}"
    )
    print(format_scores(scores, info.class_names))

