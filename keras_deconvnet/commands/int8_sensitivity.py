"""Measure which stages an int8 file should keep float32: each candidate's per-class IoU and latency.

Converts the model to int8 once per candidate (by default: TensorFlow's converter with nothing
float, then with each top-level stage alone in float32; add the ai-edge-quantizer with
--quantizers), scores each file on --split against the Keras model, class by class, and times
it in turns with the float32 file (single images, --num-threads threads). Pick the candidate on
a split the model did not train on (CamVid's heldout_val for a model trained on heldout_train),
then export with its --int8-float-layers and --int8-quantizer. With the ai-edge-quantizer it
also prints the lowest signal-to-noise ratio of each stage's tensors in its full int8 file.

Example:
  keras-deconvnet int8-sensitivity --model runs/heldout/last.keras --calibration-dataset camvid \\
      --data-dir DIR --calibration-split heldout_train --split heldout_val --candidates "none;conv1;conv1,conv2"
"""

import argparse
import os

import numpy as np

from keras_deconvnet.commands.cli import add_verbose_argument, int_flag, size_flag
from keras_deconvnet.errors import UsageError
from keras_deconvnet.export.options import INT8_QUANTIZERS
from keras_deconvnet.export.sources import data_source, dataset_images
from keras_deconvnet.files import write_json


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="the .keras model to quantise")
    parser.add_argument(
        "--calibration-dataset",
        help="dataset of the calibration and scored splits (default: the one in the run's config.json beside "
        "the model)",
    )
    parser.add_argument("--data-dir", help="the dataset's source folder (default: the run's)")
    parser.add_argument(
        "--ignore-label", type=int, help="ignore label, for a folder dataset (default: the run's, else 255)"
    )
    parser.add_argument(
        "--split", default="val", help="split to score each file on, one the model did not train on (default: val)"
    )
    parser.add_argument(
        "--images", type=int_flag(1), default=1000, help="images of --split to score (default: 1000, all of CamVid's)"
    )
    parser.add_argument("--calibration-split", default="train", help="split for int8 calibration (default: train)")
    parser.add_argument(
        "--calibration-images", type=int_flag(1), default=200, help="int8 calibration images (default: 200)"
    )
    parser.add_argument(
        "--calibration-augment", action="store_true",
        help="calibrate on each image and an augmented copy, as export --calibration-augment (default: off)",
    )
    parser.add_argument(
        "--candidates", metavar="LISTS",
        help="the float32 layers of each candidate, candidates separated by ';' and layers by ',', 'none' for a "
        "full-int8 file, e.g. 'none;conv1;conv1,conv2' (default: none, then each top-level stage alone)",
    )
    parser.add_argument(
        "--quantizers", default="converter",
        help=f"comma-separated, of {', '.join(INT8_QUANTIZERS)}: each candidate is made with each; the "
        "ai-edge-quantizer needs pip install \"keras-deconvnet[quantizer]\" (default: converter)",
    )
    parser.add_argument(
        "--input-size", type=size_flag,
        help="quantise at this HEIGHTxWIDTH (multiples of 32), as export --input-size (default: the model's)",
    )
    parser.add_argument(
        "--latency-runs", type=int_flag(1), default=20, help="timed single-image runs of each file (default: 20)"
    )
    parser.add_argument(
        "--num-threads", type=int_flag(1), default=1, help="LiteRT threads for the latencies (default: 1)"
    )
    parser.add_argument("--out", help="also write the figures to this JSON file (default: print only)")
    add_verbose_argument(parser)
    return parser


def parse_candidates(text: str | None, quantizers: list[str], model) -> list:
    """The candidates of --candidates (each made by each quantiser), or the default ones."""
    from keras_deconvnet.export import checked_float_layers
    from keras_deconvnet.export.sensitivity import Candidate, default_candidates

    if text is None:
        return default_candidates(model, quantizers)
    candidates = []
    for item in text.split(";"):
        layers = tuple(name.strip() for name in item.split(",") if name.strip() and name.strip() != "none")
        if not item.strip():
            raise UsageError(f"--candidates has an empty candidate in '{text}': write 'none' for a full-int8 file")
        checked_float_layers(model, layers)
        candidates += [Candidate(quantizer, layers) for quantizer in quantizers]
    return candidates


def main(args: argparse.Namespace) -> None:
    from keras_deconvnet.commands.export import calibration_set, parse_list
    from keras_deconvnet.export.sensitivity import format_sensitivity_table, measure_candidates, rows_as_json
    from keras_deconvnet.models import load_model, resize_model

    quantizers = parse_list(args.quantizers, INT8_QUANTIZERS, "--quantizers")
    if args.out and os.path.isdir(args.out):
        raise UsageError(f"--out {args.out} is a folder; name a .json file")
    model = load_model(args.model, compile=False)
    if args.input_size:
        model = resize_model(model, args.input_size)
    candidates = parse_candidates(args.candidates, quantizers, model)
    source = data_source(
        args.model, args.calibration_dataset, args.data_dir, args.ignore_label, needs_calibration=True
    )
    images, masks, info = dataset_images(source, args.split, args.images, model)
    calibration, described = calibration_set(
        source, args.calibration_split, args.calibration_images, model, args.calibration_augment
    )
    print(f"scoring {len(candidates)} int8 files on {len(images)} images of {info.name}/{args.split}; "
          f"int8 calibration: {described}; latency: {args.num_threads} thread(s), median of {args.latency_runs}")
    reference_iou, rows = measure_candidates(
        model, candidates, calibration, images, masks, latency_runs=args.latency_runs,
        num_threads=args.num_threads, progress=lambda line: print(line, flush=True),
    )
    print(format_sensitivity_table(reference_iou, rows, info.class_names))
    report = {
        "model": args.model, "split": f"{info.name}/{args.split}", "images": len(images), "calibration": described,
        "threads": args.num_threads, **rows_as_json(reference_iou, rows, info.class_names),
    }
    if args.out:
        write_json(args.out, report)
        print(f"figures written to {args.out}")
    if "ai-edge-quantizer" in quantizers:
        report["stage_snr_db"] = print_stage_snr(model, calibration, images)
        if args.out:
            write_json(args.out, report)


def print_stage_snr(model, calibration: np.ndarray, images: np.ndarray) -> dict[str, float]:
    """The lowest SNR of each stage's tensors in the ai-edge-quantizer's full int8 file."""
    from keras_deconvnet.export import convert_tflite, stage_snr
    from keras_deconvnet.export.sensitivity import stage_names

    float32 = convert_tflite(model, ["float32"])["float32"]
    int8 = convert_tflite(model, ["int8"], calibration, int8_quantizer="ai-edge-quantizer")["int8"]
    snr = stage_snr(float32, int8, images[:8], stage_names(model))
    print("\n| stage | lowest tensor SNR (dB), ai-edge-quantizer int8 vs float32 |\n|---|---:|")
    for stage, value in snr.items():
        print(f"| {stage} | {value:.1f} |")
    return {stage: round(value, 2) for stage, value in snr.items()}
