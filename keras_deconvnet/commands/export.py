"""Export a model as .keras, a TF Serving SavedModel and TFLite, then check every file.

Writes a new version of saved_models/NAME (never overwriting one): the SavedModel in
NAME/<version>/, NAME_v<version>.keras and NAME_v<version>_<type>.tflite beside it, each
with its metadata JSON. int8 is calibrated on --calibration-images images of the dataset's
train split; every file is then compared with the Keras model on --check-images images of
its val split, and the export fails (writing nothing) if float32 files agree on fewer than
99.9% of pixels, float16 on fewer than 99.5%, or an int8 file loses more than
--int8-max-class-drop points of IoU on a class. The dataset is the one in the run's config.json
beside the model (a run folder's best.keras or last.keras) unless --calibration-dataset says;
without either, int8 is refused and the check uses the demo set. See docs/export.md.

Example:
  python scripts/export.py --model runs/latest/best.keras --out saved_models/camvid \\
      --calibration-dataset camvid --data-dir ~/data/CamVid
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

import numpy as np

from keras_deconvnet.commands.cli import (
    add_tta_arguments,
    add_verbose_argument,
    int_flag,
    size_flag,
    tta_from_args,
)
from keras_deconvnet.errors import UsageError
from keras_deconvnet.export.options import (
    DEFAULT_FORMATS,
    FORMATS,
    INT8_OUTPUTS,
    INT8_QUANTIZERS,
    MAX_CLASS_DROP,
    TFLITE_TYPES,
)
from keras_deconvnet.export.sources import (
    DataSource,
    augmented_calibration,
    data_source,
    dataset_images,
    run_config,
)
from keras_deconvnet.files import check_output_dir
from keras_deconvnet.process import DeferredInterrupt


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="the .keras model to export")
    parser.add_argument("--out", required=True, help="model folder saved_models/NAME; each export adds a version")
    parser.add_argument(
        "--formats", default=",".join(DEFAULT_FORMATS),
        help=f"comma-separated, of {', '.join(FORMATS)}; onnx needs pip install \"keras-deconvnet[onnx]\" "
        f"(default: {','.join(DEFAULT_FORMATS)})",
    )
    parser.add_argument(
        "--tflite-types", default=",".join(TFLITE_TYPES), help=f"comma-separated (default: {','.join(TFLITE_TYPES)})"
    )
    parser.add_argument(
        "--int8-float-layers", default="", metavar="NAMES",
        help="comma-separated layers or stages (nested models, e.g. decoder_stage3) whose ops the int8 TFLite "
        "file keeps in float32: selective quantisation, for a stage that loses accuracy in int8; the file "
        "then gives float32 logits (default: none, all int8)",
    )
    parser.add_argument(
        "--int8-quantizer", choices=INT8_QUANTIZERS, default="converter",
        help="what quantises the int8 file: TensorFlow's TFLite converter, or Google's ai-edge-quantizer "
        "(pip install \"keras-deconvnet[quantizer]\"), which quantises the float32 file with its own "
        "calibration and gives int8 input and logits (default: converter)",
    )
    parser.add_argument(
        "--int8-output", choices=INT8_OUTPUTS, default="int8",
        help="what the int8 file gives: int8 logits (their argmax is the class map; dequantise with the "
        "output's scale and zero point), float32 logits, or the class map itself (int32, an ARG_MAX in "
        "the graph; no logits, so no TTA); the converter's files with --int8-float-layers give float32 "
        "logits for int8; each file's metadata gives its tensors (default: int8)",
    )
    parser.add_argument(
        "--calibration-augment", action="store_true",
        help="calibrate int8 on each calibration image and an augmented copy of it (training's scale "
        "jitter, crop, flip, brightness, contrast, saturation and hue), so the activation ranges cover "
        "scenes unlike the calibration split (default: the plain images only)",
    )
    parser.add_argument(
        "--calibration-dataset",
        help="dataset for int8 calibration (its --calibration-split) and the check (its --check-split) "
        "(default: the dataset in the run's config.json beside the model; without one, int8 needs this flag "
        "and the check uses demo)",
    )
    parser.add_argument("--data-dir", help="the dataset's source folder (default: the run's, for its dataset; not needed for demo)")
    parser.add_argument("--ignore-label", type=int, help="ignore label, for a folder dataset (default: the run's, else 255)")
    parser.add_argument("--calibration-split", default="train", help="split for int8 calibration (default: train)")
    parser.add_argument("--calibration-images", type=int_flag(1), default=200, help="int8 calibration images (default: 200)")
    parser.add_argument("--check-split", default="val", help="split for the check (default: val)")
    parser.add_argument("--check-images", type=int_flag(1), default=32, help="images the check compares (default: 32)")
    parser.add_argument(
        "--int8-max-class-drop", type=float, default=MAX_CLASS_DROP["tflite_int8"], metavar="POINTS",
        help="fail when a class of the check images loses more than this many points of IoU in the int8 "
        "file against the Keras model, naming the class; the check table lists every class's IoU "
        f"(default: {MAX_CLASS_DROP['tflite_int8']:g})",
    )
    parser.add_argument(
        "--latency-runs", type=int_flag(1), default=20, help="single-image runs whose median is the latency (default: 20)"
    )
    parser.add_argument(
        "--num-threads", type=int_flag(1), default=os.cpu_count(), help="TFLite CPU threads in the check (default: all cores)"
    )
    parser.add_argument(
        "--release", metavar="NAME",
        help="after the check, rename the .keras and .tflite files to NAME.keras and NAME_<type>.tflite "
        "(replacing an earlier release of that name) instead of keeping version numbers",
    )
    parser.add_argument(
        "--evaluation-mode", choices=("resize", "original"),
        help="the model's native evaluation setting, stored with --release in the metadata; scripts/evaluate.py "
        "uses it by default (default: none, so evaluate.py's resize)",
    )
    parser.add_argument(
        "--input-size", type=size_flag,
        help="export at this HEIGHTxWIDTH (multiples of 32) rather than the size the model was saved with, "
        "e.g. a model trained on 256x352 crops at 352x480 (default: its own)",
    )
    add_tta_arguments(parser, for_release=True)
    add_verbose_argument(parser)
    return parser


def parse_list(text: str, choices: tuple[str, ...], flag: str) -> list[str]:
    """'keras, tflite' -> ['keras', 'tflite'], each one of `choices`."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [item for item in items if item not in choices]
    if unknown or not items:
        raise UsageError(f"{flag} takes a comma-separated list of {', '.join(choices)}, got '{text}'")
    return items


def recorded_path(path: str) -> str:
    """`path` as the metadata records it: relative to the working directory when it lies
    under it (released files committed to a repository then name no machine's folders),
    else absolute (links are kept as written, not resolved)."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(os.getcwd()).as_posix()
    except ValueError:
        return str(absolute)


def calibration_set(
    source: DataSource, split: str, count: int, model, augment: bool
) -> tuple[np.ndarray, str]:
    """int8's calibration images (and an augmented copy of each with `augment`), and what they
    are in words, for the metadata and the console."""
    images, _, info = dataset_images(source, split, count, model)
    described = f"{len(images)} images of {info.name}/{split}"
    if augment:
        augmented = augmented_calibration(source, split, count, model)
        images = np.concatenate([images, augmented])
        described += f" and {len(augmented)} augmented copies"
    return images, described


def interrupted_export(out_dir: Path, before: set[str]) -> str:
    """What a stopped export left in `out_dir`: nothing, unless a second Ctrl-C cut its
    publishing (or its clean-up) short."""
    left = sorted(set(os.listdir(out_dir)) - before) if out_dir.is_dir() else []
    if not left:
        return f"nothing was written to {out_dir}"
    return f"stopped while {out_dir} was being written; delete what this export left there: {', '.join(left)}"


def print_class_table(rows, class_names) -> None:
    """Each class's IoU per file, after a blank line (two Markdown tables, not one), if the check had labels."""
    from keras_deconvnet.export import format_class_table

    table = format_class_table(rows, class_names)
    if table:
        print(f"\n{table}")


def main(args: argparse.Namespace) -> None:
    from keras_deconvnet.export import (
        ExportCheckError,
        checked_float_layers,
        export_model,
        format_check_table,
        release_artifacts,
    )
    from keras_deconvnet.export.tflite import check_int8_method
    from keras_deconvnet.models import load_model, resize_model

    formats = parse_list(args.formats, FORMATS, "--formats")
    tta = tta_from_args(args, {})
    if tta and not args.release:
        raise UsageError("--tta and --tta-scales are stored in a release's metadata: add --release NAME")
    if args.evaluation_mode and not args.release:
        raise UsageError("--evaluation-mode is stored in a release's metadata: add --release NAME")
    if not args.int8_max_class_drop >= 0:  # nan fails too
        raise UsageError(f"--int8-max-class-drop must be at least 0 points of IoU, got {args.int8_max_class_drop}")
    tflite_types = parse_list(args.tflite_types, TFLITE_TYPES, "--tflite-types")
    float_layers = [name.strip() for name in args.int8_float_layers.split(",") if name.strip()]
    int8_flags = [flag for flag, used in (
        ("--int8-float-layers", float_layers), ("--int8-quantizer", args.int8_quantizer != "converter"),
        ("--int8-output", args.int8_output != "int8"), ("--calibration-augment", args.calibration_augment),
    ) if used]
    if int8_flags and not ("tflite" in formats and "int8" in tflite_types):
        raise UsageError(f"{', '.join(int8_flags)} apply to the int8 TFLite file: --formats needs tflite and "
                         "--tflite-types int8")
    check_int8_method(args.int8_quantizer, args.int8_output)
    check_output_dir(args.out, "--out")
    model = load_model(args.model, compile=False)  # deployments need no optimizer state
    if args.input_size:
        model = resize_model(model, args.input_size)
    checked_float_layers(model, float_layers)  # a misspelt layer fails before the data loads
    needs_calibration = "tflite" in formats and "int8" in tflite_types
    source = data_source(args.model, args.calibration_dataset, args.data_dir, args.ignore_label, needs_calibration)
    check_images, check_masks, info = dataset_images(source, args.check_split, args.check_images, model)
    calibration, described = None, None
    if needs_calibration:
        calibration, described = calibration_set(
            source, args.calibration_split, args.calibration_images, model, args.calibration_augment
        )
        print(f"int8 calibration: {described}")
    threads = f", TFLite with {args.num_threads} threads" if "tflite" in formats else ""
    print(f"check: {len(check_images)} images of {info.name}/{args.check_split}; latency: median of "
          f"{args.latency_runs} single-image runs after warm-up{threads}")
    before = set(os.listdir(args.out)) if os.path.isdir(args.out) else set()
    with DeferredInterrupt("stage") as interrupt:

        def progress(stage: str) -> None:
            interrupt.raise_if_requested()  # between stages: the export cleans up as after any failure
            print(f"{stage}...", flush=True)

        try:
            result = export_model(
                model, args.out, check_images, check_masks=check_masks, formats=formats, tflite_types=tflite_types,
                calibration_images=calibration, class_names=info.class_names, palette=info.palette,
                source_model=recorded_path(args.model), latency_runs=args.latency_runs,
                num_threads=args.num_threads, int8_float_layers=float_layers, int8_quantizer=args.int8_quantizer,
                int8_output=args.int8_output, calibration_description=described,
                progress=progress,
                max_class_drop={"tflite_int8": args.int8_max_class_drop},
            )
        except ExportCheckError as error:
            print(format_check_table(error.rows))
            print_class_table(error.rows, info.class_names)
            raise
        except KeyboardInterrupt:
            raise KeyboardInterrupt(interrupted_export(Path(args.out), before)) from None
    if interrupt.requested:  # pressed while the checked files were moved into place
        print(f"Ctrl-C came as version {result.version} was published; the export finished", file=sys.stderr)
    artifacts = result.artifacts
    if args.release:
        run = run_config(args.model)
        # Where the model came from: the recipe (and stage) that trained it, and the code's commit.
        extra = {key: run[key] for key in ("recipe", "stage", "commit") if run.get(key)}
        if args.evaluation_mode:
            extra["evaluation_mode"] = args.evaluation_mode
        if tta:
            extra["tta"] = tta.as_metadata()
        artifacts = {**artifacts, **release_artifacts(artifacts, args.release, extra)}
    # The table names the files as they are now: a release has renamed its versioned ones.
    rows = [dataclasses.replace(row, file=Path(artifacts[row.kind]).name) if row.kind in artifacts else row
            for row in result.checks]
    print(format_check_table(rows))
    print_class_table(rows, info.class_names)
    print(f"version {result.version} of {args.out}:")
    for kind, path in artifacts.items():
        print(f"  {kind:<15} {path}")

