"""Benchmark every model and the bare MobileNetV3-Small encoder, in one process and one run.

For each model at each size: parameters, multiply-adds, .keras and TFLite (float32, int8)
file sizes, batch-1 latency (Keras, LiteRT with 1 and 2 threads; median and p90 of runs
interleaved across models), training images/second and peak training memory, each also as
a ratio to the encoder and to the VGG16 DeconvNet; int8 against float32 (LiteRT latency,
int8/f32 ratio, and the XNNPACK partitions of each int8 file with the ops left outside them);
then the targets of the lean model.
Writes OUT.json and OUT.md and prints the Markdown. The logic is in keras_deconvnet.benchmark.

    python scripts/benchmark.py                      # every model at 224x224 and 352x480
    python scripts/benchmark.py --quick              # encoder, lean, VGG16 at 224x224, few runs
    python scripts/benchmark.py --quick --models encoder,lean --sizes 64x64

With --files it times given model files instead, side by side, each as a ratio to the first:
a release's int8 file against the float32 TFLite of its .keras model, say.

    python scripts/benchmark.py --files saved_models/camvid/best.keras,saved_models/camvid/best_int8.tflite
"""

import argparse
import dataclasses
import json
import logging
import os
import shlex
import sys
from pathlib import Path

from keras_deconvnet.commands.cli import add_verbose_argument, int_flag, int_list_flag, parse_size
from keras_deconvnet.benchmark.config import MODEL_NAMES, QUICK, VGG, BenchmarkConfig
from keras_deconvnet.errors import UsageError
from keras_deconvnet.files import check_output_dir

DEFAULTS = BenchmarkConfig()
# The flags --quick changes (besides --models and the sizes), with their help.
RUN_FLAGS = {
    "rounds": "latency rounds; each times every model in turn",
    "tflite_runs": "timed LiteRT runs per model, type, thread count and round",
    "keras_runs": "timed Keras runs per model and round",
    "vgg_runs": "timed Keras runs of the VGG16 DeconvNet per round",
    "tflite_warmup": "untimed LiteRT runs before the first round",
    "keras_warmup": "untimed Keras runs before the first round (the VGG16 DeconvNet: 1)",
    "calibration_images": "random 0..255 images calibrating int8",
    "train_steps": "timed train_on_batch steps per model",
    "train_warmup": "untimed train_on_batch steps before them",
    "vgg_train_steps": "timed train_on_batch steps of the VGG16 DeconvNet, after 1 untimed (0: skip)",
}


# The run flags that may be 0 (the rest must be at least 1), as benchmark.run_benchmark checks them.
ZERO_ALLOWED = ("tflite_warmup", "keras_warmup", "train_steps", "train_warmup", "vgg_train_steps")
# The run flags --files uses too; every other flag shapes the model benchmark alone.
FILES_RUN_FLAGS = ("rounds", "tflite_runs", "tflite_warmup")
MODEL_ONLY_FLAGS = (
    "models", "sizes", "input_size", "quick", "skip_vgg", "targets",
    *(name for name in RUN_FLAGS if name not in FILES_RUN_FLAGS),
)


def size_name(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def _sizes_text(sizes) -> str:
    return ",".join(size_name(size) for size in sizes)


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--models",
        help=f"comma-separated models, from {', '.join(MODEL_NAMES)} (default: all; with --quick: "
        f"{','.join(QUICK['models'])}); the ratio columns need encoder and {VGG}",
    )
    parser.add_argument(
        "--files",
        help="comma-separated .tflite files, and .keras models timed as float32 TFLite, to time "
        "instead of the models (LiteRT invoke, --threads, --rounds, --tflite-runs, --tflite-warmup), "
        "each also as a ratio to the first, with its XNNPACK partitions; --models, --sizes and "
        "--quick and --targets do not apply (default OUT: runs/benchmark_files)",
    )
    parser.add_argument("--skip-vgg", action="store_true", help=f"leave out {VGG} (252M parameters, slow)")
    parser.add_argument(
        "--sizes",
        help="comma-separated input sizes HEIGHTxWIDTH, multiples of 32; the lean targets are "
        f"judged at the first (default: {_sizes_text(DEFAULTS.sizes[:1])} and --input-size; "
        f"with --quick: {_sizes_text(QUICK['sizes'])})",
    )
    parser.add_argument(
        "--input-size",
        help=f"the size measured besides {size_name(DEFAULTS.sizes[0])} when --sizes is not given "
        f"(default: {size_name(DEFAULTS.sizes[1])}, CamVid's; none with --quick)",
    )
    parser.add_argument(
        "--num-classes", type=int_flag(2, 255), default=DEFAULTS.num_classes,
        help=f"classes per pixel (default: {DEFAULTS.num_classes}, Pascal VOC)",
    )
    parser.add_argument(
        "--threads", type=int_list_flag(1), default=DEFAULTS.threads,
        help=f"comma-separated LiteRT thread counts (default: {','.join(map(str, DEFAULTS.threads))})",
    )
    parser.add_argument(
        "--batch-size", type=int_flag(1), default=DEFAULTS.batch_size,
        help=f"training batch size (default: {DEFAULTS.batch_size})",
    )
    for name, text in RUN_FLAGS.items():
        parser.add_argument(
            f"--{name.replace('_', '-')}", type=int_flag(0 if name in ZERO_ALLOWED else 1),
            help=f"{text} (default: {getattr(DEFAULTS, name)}; with --quick: {QUICK[name]})",
        )
    parser.add_argument(
        "--quick", action="store_true",
        help="a smoke run of about a minute or two: the defaults after 'with --quick' above; "
        "flags given explicitly still apply",
    )
    parser.add_argument(
        "--seed", type=int_flag(0, 2**32 - 1), default=DEFAULTS.seed,  # NumPy's seed range
        help=f"seed of weights, images and labels, 0 to 2**32-1 (default: {DEFAULTS.seed})",
    )
    parser.add_argument(
        "--targets", type=Path, metavar="FILE",
        help="a TOML file of targets to judge at the first size, e.g. benchmarks/targets.toml (the "
        "project's for lean): each names a model, a figure and a bound, or a ratio to another "
        "model's figure (keras_deconvnet/benchmark/targets.py says how) (default: none)",
    )
    parser.add_argument(
        "--out", type=Path,
        help="OUT.json and OUT.md are written (default: benchmarks/results; with --quick: "
        "runs/benchmark_quick, so a smoke run never overwrites the committed results)",
    )
    add_verbose_argument(parser)
    return parser


def output_stem(args: argparse.Namespace) -> Path:
    """Where OUT.json and OUT.md go: --out without a .json/.md suffix, or the default for the run."""
    default = "runs/benchmark_files" if args.files else "runs/benchmark_quick" if args.quick else "benchmarks/results"
    out = args.out or Path(default)
    return out.with_suffix("") if out.suffix in (".json", ".md") else out


def config_from_args(args: argparse.Namespace):
    """The benchmark's `BenchmarkConfig` from the flags; --quick's defaults where a flag is not given."""
    from keras_deconvnet import benchmark

    defaults = benchmark.BenchmarkConfig()
    base = dataclasses.replace(defaults, **benchmark.QUICK) if args.quick else defaults
    models = [name.strip() for name in args.models.split(",") if name.strip()] if args.models else list(base.models)
    if args.skip_vgg:
        models = [name for name in models if name != VGG]
    if args.sizes:
        sizes = tuple(parse_size(size) for size in args.sizes.split(","))
    elif args.input_size:
        sizes = (defaults.sizes[0], parse_size(args.input_size))
    else:
        sizes = base.sizes
    given = {name: getattr(args, name) for name in RUN_FLAGS if getattr(args, name) is not None}
    return dataclasses.replace(
        base,
        models=tuple(models),
        sizes=sizes,
        num_classes=args.num_classes,
        threads=args.threads,
        batch_size=args.batch_size,
        seed=args.seed,
        **given,
    )


def _files_report(args: argparse.Namespace, command: str) -> tuple[dict, str]:
    """Times --files; returns the JSON-ready result and its Markdown."""
    from keras_deconvnet.benchmark import benchmark_files, format_files_table, machine_info

    ignored = ["--" + name.replace("_", "-") for name in MODEL_ONLY_FLAGS if getattr(args, name)]
    if ignored:
        raise UsageError(f"--files times the given files; leave out {', '.join(ignored)}")
    load_before = os.getloadavg()
    result = benchmark_files(
        [path.strip() for path in args.files.split(",") if path.strip()],
        threads=args.threads,
        rounds=args.rounds or DEFAULTS.rounds,
        runs=args.tflite_runs or DEFAULTS.tflite_runs,
        warmup=DEFAULTS.tflite_warmup if args.tflite_warmup is None else args.tflite_warmup,
        seed=args.seed,
    )
    load = {"before": list(load_before), "after": list(os.getloadavg())}
    result = {"command": command, "machine": {**machine_info(), "load_average": load}, **result}
    report = (
        f"# Model files, timed side by side\n\n`{command}`\n\n{format_files_table(result)}\n\n"
        f"LiteRT invoke only, batch 1, median of runs interleaved across files; load average "
        f"{load['before'][0]:.1f} before, {load['after'][0]:.1f} after; {result['machine']['cpu']}.\n"
    )
    return result, report


def main(args: argparse.Namespace, argv: list[str] | None = None) -> None:
    """Runs the benchmark; `argv` (default `sys.argv[1:]`) is recorded as the command."""
    from keras_deconvnet.benchmark import format_report, read_targets, run_benchmark

    # Every model traces its own inference and training functions, which TensorFlow's
    # retracing detector reports as "excessive retracing"; nothing is retraced in a timed run.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # tf.get_logger()
    out = output_stem(args)
    written = [out.with_name(out.name + suffix) for suffix in (".json", ".md")]
    for path in written:  # checked before the minutes of timing, not after
        if path.is_dir():
            raise UsageError(f"--out {args.out}: {path} is a folder; pass a file stem such as runs/bench/results")
    check_output_dir(out.parent, "--out")  # a file where a folder of the stem should be
    targets = read_targets(args.targets) if args.targets and not args.files else []
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot write to {out.parent}: {error}") from None
    argv = sys.argv[1:] if argv is None else argv
    command = shlex.join(["TF_CPP_MIN_LOG_LEVEL=2", "python", "scripts/benchmark.py", *argv])
    if args.files:
        result, report = _files_report(args, command)
    else:
        result = run_benchmark(config_from_args(args), command, targets)
        report = format_report(result)
    written[0].write_text(json.dumps(result, indent=2) + "\n")
    written[1].write_text(report)
    print(report)
    print(f"written: {written[0]}, {written[1]}")

