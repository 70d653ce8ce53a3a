"""Design measurements for the lean DeconvNet and the peer heads (issue 7), in one process.

Scratch script (the benchmark proper comes later). Converts each model to TFLite (float32
and int8, batch 1, built-in ops only), times it with LiteRT on one thread, interleaving the
models round by round so that load from other jobs falls on all of them alike, times
variants of the lean decoder (one change each) in float32, and writes the tables and the
issue-7 targets of the lean model as Markdown.

The VGG16 DeconvNet is timed with Keras only: converting its 252M parameters to TFLite
took more than the 24 GB of memory of the machine this was written on (the converter was
killed by the kernel).

    TF_CPP_MIN_LOG_LEVEL=2 python benchmarks/lean_design.py --output benchmarks/lean_design.md
"""

import argparse
import datetime
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from keras_deconvnet import build_model
from keras_deconvnet.models import lean
from keras_deconvnet.models.backbone import build_mobilenet_v3
from keras_deconvnet.models.heads import build_aspp_small, build_lraspp_large, build_lraspp_small

_CANDIDATES: dict[str, Callable[..., keras.Model]] = {
    "paper": lambda **kwargs: build_model("paper", **kwargs),
    "lean": lean.build_lean_deconvnet,
    "lraspp_small": build_lraspp_small,
    "lraspp_large": build_lraspp_large,
    "aspp_small": build_aspp_small,
}
_FINAL = lean._DECODER_STAGES
# Variants of the lean decoder, each one change from the final design: name -> stages.
_ABLATIONS = {
    "stride 4: transposed conv": {**_FINAL, "decoder_stage2": ("conv2", 32, (1,), "deconv")},
    "stride 4: 2 blocks": {**_FINAL, "decoder_stage2": ("conv2", 32, (1, 1), "bilinear")},
    "stride 4: 24 channels": {**_FINAL, "decoder_stage2": ("conv2", 24, (1,), "bilinear")},
    "no dilation": {name: (skip, width, (1,) * len(rates), up) for name, (skip, width, rates, up) in _FINAL.items()},
    "all bilinear": {name: (skip, width, rates, "bilinear") for name, (skip, width, rates, _) in _FINAL.items()},
    "+ stride-2 stage (conv1 skip, 16 ch)": {**_FINAL, "decoder_stage1": ("conv1", 16, (1,), "deconv")},
}
_CALIBRATION_IMAGES = 20
_TFLITE_KINDS = ("float32", "int8")


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input-size", default="224x224", help="HEIGHTxWIDTH, multiples of 32")
    parser.add_argument("--num-classes", type=int, default=21)
    parser.add_argument("--runs", type=int, default=50, help="TFLite runs per model and round")
    parser.add_argument("--warmup", type=int, default=10, help="TFLite warm-up runs per model")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keras-runs", type=int, default=10, help="Keras runs per model and round")
    parser.add_argument("--output", type=Path, default=Path("benchmarks/lean_design.md"))
    return parser


def to_tflite(model: keras.Model, int8: bool = False) -> bytes:
    """Converts `model` at batch 1 with built-in ops only (a Flex op would fail here)."""
    shape = (1, *model.input.shape[1:])
    forward = tf.function(
        lambda images: model(images, training=False), input_signature=[tf.TensorSpec(shape, tf.float32)]
    )
    frozen = convert_variables_to_constants_v2(forward.get_concrete_function())
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if int8:
        rng = np.random.default_rng(0)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: (
            [rng.uniform(0, 255, shape).astype("float32")] for _ in range(_CALIBRATION_IMAGES)
        )
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return converter.convert()


class TfliteRunner:
    """A one-thread LiteRT interpreter (XNNPACK as it applies by default) fed one image."""

    def __init__(self, content: bytes, image: np.ndarray):
        self.interpreter = Interpreter(model_content=content, num_threads=1)
        self.interpreter.allocate_tensors()
        self.interpreter.set_tensor(self.interpreter.get_input_details()[0]["index"], image)
        details = self.interpreter._get_ops_details()
        self.ops = sorted({op["op_name"] for op in details} - {"DELEGATE"})
        self.partitions = sum(op["op_name"] == "DELEGATE" for op in details)

    def logits(self) -> np.ndarray:
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.interpreter.get_output_details()[0]["index"])


def round_median_ms(call: Callable[[], object], runs: int) -> float:
    """Median time of `runs` calls of `call()`, in milliseconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(1000 * (time.perf_counter() - start))
    return float(np.median(times))


def time_interleaved(calls: dict[str, dict], args: argparse.Namespace) -> dict[str, dict]:
    """The best round's median for every model and timer.

    Rounds go through all models in turn, so a burst of load from other jobs spoils one
    round of every model rather than all rounds of one; the least disturbed round is kept.
    """
    for model_calls in calls.values():
        for kind, call in model_calls.items():
            for _ in range(args.warmup if kind in _TFLITE_KINDS else 1):
                call()
    rounds = {name: {kind: [] for kind in model_calls} for name, model_calls in calls.items()}
    for _ in range(args.rounds):
        for name, model_calls in calls.items():
            for kind, call in model_calls.items():
                runs = args.runs if kind in _TFLITE_KINDS else args.keras_runs
                rounds[name][kind].append(round_median_ms(call, runs))
    return {name: {kind: min(values) for kind, values in kinds.items()} for name, kinds in rounds.items()}


def candidate(model: keras.Model, image: np.ndarray) -> tuple[dict, dict]:
    """A model of the main table: its facts, and its timers (TFLite, Keras, TF graph)."""
    runners = {kind: TfliteRunner(to_tflite(model, int8=kind == "int8"), image) for kind in _TFLITE_KINDS}
    graph = tf.function(lambda images: model(images, training=False))
    tensor = tf.constant(image)
    agreement = np.mean(runners["float32"].logits().argmax(-1) == model.predict_on_batch(image).argmax(-1))
    row = {
        "params": model.count_params(),
        "ops": runners["float32"].ops,
        "int8_ops": runners["int8"].ops,
        "partitions": (runners["float32"].partitions, runners["int8"].partitions),
        "argmax_agreement": float(agreement) if model.output.shape[1:3] == image.shape[1:3] else None,
    }
    calls = {
        **{kind: runner.interpreter.invoke for kind, runner in runners.items()},
        "keras_ms": lambda: model.predict_on_batch(image),
        "graph_ms": lambda: graph(tensor).numpy(),
    }
    return row, calls


def ablation(stages: dict, args: argparse.Namespace, input_shape: tuple, image: np.ndarray) -> tuple[dict, dict]:
    """A variant of the lean model with other decoder stages, timed in float32 only."""
    final, lean._DECODER_STAGES = lean._DECODER_STAGES, stages
    try:
        model = lean.build_lean_deconvnet(num_classes=args.num_classes, input_shape=input_shape)
    finally:
        lean._DECODER_STAGES = final
    return {"params": model.count_params()}, {"float32": TfliteRunner(to_tflite(model), image).interpreter.invoke}


def measure(args: argparse.Namespace, input_shape: tuple[int, int, int]) -> tuple[dict, dict]:
    """Every number of the report: the main table's rows and the ablations' rows."""
    image = np.random.default_rng(1).uniform(0, 255, (1, *input_shape)).astype("float32")
    rows, ablations, calls = {}, {}, {}
    models = {"encoder": build_mobilenet_v3(input_shape)}
    for name, builder in _CANDIDATES.items():
        models[name] = builder(num_classes=args.num_classes, input_shape=input_shape)
    for name, model in models.items():
        rows[name], calls[name] = candidate(model, image)
    for name, stages in _ABLATIONS.items():
        ablations[name], calls[name] = ablation(stages, args, input_shape, image)
    for name, timings in time_interleaved(calls, args).items():
        (rows if name in rows else ablations)[name].update(timings)

    vgg = build_model("deconvnet_vgg16", num_classes=args.num_classes, input_shape=input_shape)
    graph = tf.function(lambda images: vgg(images, training=False))
    vgg_calls = {"keras_ms": lambda: vgg.predict_on_batch(image), "graph_ms": lambda: graph(image).numpy()}
    rows["deconvnet_vgg16"] = {"params": vgg.count_params()}
    for kind, call in vgg_calls.items():
        call()
        rows["deconvnet_vgg16"][kind] = round_median_ms(call, args.keras_runs)
    return rows, ablations


def main_table(rows: dict[str, dict]) -> list[str]:
    encoder = rows["encoder"]
    lines = [
        "| model | parameters | TFLite f32 ms | x encoder | TFLite int8 ms | int8 / f32 "
        "| XNNPACK partitions f32 / int8 | Keras ms | TF graph ms | f32 argmax = Keras |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for name, row in rows.items():
        if "float32" not in row:
            lines.append(
                f"| {name} | {row['params']:,} | not converted | | | | "
                f"| {row['keras_ms']:.0f} | {row['graph_ms']:.0f} | |"
            )
            continue
        agreement = "" if row["argmax_agreement"] is None else f"{100 * row['argmax_agreement']:.2f}%"
        lines.append(
            f"| {name} | {row['params']:,} | {row['float32']:.2f} | {row['float32'] / encoder['float32']:.2f} "
            f"| {row['int8']:.2f} | {row['int8'] / row['float32']:.2f} "
            f"| {row['partitions'][0]} / {row['partitions'][1]} | {row['keras_ms']:.1f} "
            f"| {row['graph_ms']:.1f} | {agreement} |"
        )
    return lines


def ablation_table(ablations: dict[str, dict], rows: dict[str, dict]) -> list[str]:
    encoder, final = rows["encoder"]["float32"], rows["lean"]["float32"]
    lines = [
        "| lean variant (one change) | parameters | TFLite f32 ms | x encoder | ms vs lean |",
        "|---|---:|---:|---:|---:|",
        f"| lean as built | {rows['lean']['params']:,} | {final:.2f} | {final / encoder:.2f} | 0 |",
    ]
    for name, row in ablations.items():
        lines.append(
            f"| {name} | {row['params']:,} | {row['float32']:.2f} | {row['float32'] / encoder:.2f} "
            f"| {row['float32'] - final:+.2f} |"
        )
    return lines


def target_table(rows: dict[str, dict]) -> list[str]:
    encoder, lean_row, vgg = rows["encoder"], rows["lean"], rows["deconvnet_vgg16"]
    flex = [op for op in lean_row["ops"] + lean_row["int8_ops"] if op.startswith("Flex") or op == "CUSTOM"]
    targets = [
        ("parameters <= 3M", lean_row["params"] <= 3_000_000, f"{lean_row['params']:,}"),
        (
            "TFLite f32 latency <= 2.0x the encoder's",
            lean_row["float32"] <= 2.0 * encoder["float32"],
            f"{lean_row['float32']:.2f} / {encoder['float32']:.2f} ms = "
            f"{lean_row['float32'] / encoder['float32']:.2f}x",
        ),
        (
            "int8 faster than float32",
            lean_row["int8"] < lean_row["float32"],
            f"int8 {lean_row['int8']:.2f} ms vs f32 {lean_row['float32']:.2f} ms",
        ),
        (
            ">= 50x faster than the VGG16 DeconvNet (Keras predict_on_batch)",
            vgg["keras_ms"] >= 50 * lean_row["keras_ms"],
            f"{vgg['keras_ms']:.0f} / {lean_row['keras_ms']:.1f} ms = {vgg['keras_ms'] / lean_row['keras_ms']:.0f}x",
        ),
        (
            ">= 50x faster than the VGG16 DeconvNet (TF graph)",
            vgg["graph_ms"] >= 50 * lean_row["graph_ms"],
            f"{vgg['graph_ms']:.0f} / {lean_row['graph_ms']:.1f} ms = "
            f"{vgg['graph_ms'] / lean_row['graph_ms']:.0f}x; VGG TF graph / lean TFLite f32 = "
            f"{vgg['graph_ms'] / lean_row['float32']:.0f}x",
        ),
        ("no Flex / Select TF ops (f32 and int8)", not flex, "f32 ops: " + ", ".join(lean_row["ops"])),
    ]
    return ["| target | met | measured |", "|---|---|---|"] + [
        f"| {target} | {'yes' if met else 'NO'} | {measured} |" for target, met, measured in targets
    ]


def report(rows: dict, ablations: dict, args: argparse.Namespace, input_shape: tuple) -> str:
    """The Markdown file: conditions, the tables, the lean model's targets, notes."""
    encoder = rows["encoder"]
    lines = [
        "# Lean DeconvNet and peer heads: design measurements (issue 7)",
        "",
        f"- command: `TF_CPP_MIN_LOG_LEVEL=2 python benchmarks/lean_design.py --input-size "
        f"{args.input_size} --num-classes {args.num_classes} --runs {args.runs} --rounds {args.rounds}`",
        f"- date: {datetime.datetime.now().isoformat(timespec='minutes')}",
        f"- CPU: {_cpu_name()} ({os.cpu_count()} cores, shared with other jobs); TensorFlow "
        f"{tf.__version__}, Keras {keras.__version__}, LiteRT interpreter (ai-edge-litert)",
        f"- input {input_shape[0]}x{input_shape[1]}, batch 1, {args.num_classes} classes; TFLite "
        "converted from a frozen batch-1 concrete function, built-in ops only; int8: full "
        f"integer post-training quantisation, {_CALIBRATION_IMAGES} random 0..255 images, float "
        "input and output",
        f"- latency: LiteRT, 1 thread (XNNPACK as applied by default), {args.warmup} warm-up "
        f"runs, then {args.rounds} rounds interleaved across models, each the median of "
        f"{args.runs} runs; the tables give the best round (the CPU is shared: the least "
        "disturbed round). Keras: `predict_on_batch`; TF graph: the model called in one "
        f"`tf.function`; {args.keras_runs} runs a round, TensorFlow backend, 1 intra-op and "
        "1 inter-op thread; the VGG16 DeconvNet: one round of its own after the others",
        "",
        *main_table(rows),
        "",
        "## Targets of the lean model",
        "",
        *target_table(rows),
        "",
        "## Variants of the lean decoder (float32, same rounds)",
        "",
        *ablation_table(ablations, rows),
        "",
        "## Notes",
        "",
        f"- int8 is slower than float32 for every MobileNetV3 model here, the bare encoder "
        f"included ({encoder['int8']:.2f} vs {encoder['float32']:.2f} ms): LiteRT's XNNPACK "
        "delegate takes no int8 HARD_SWISH, so the encoder's 18 hard-swish activations split "
        f"its int8 graph into {encoder['partitions'][1]} delegate partitions and run on the "
        "reference kernels, while float32 runs as one partition. The lean decoder adds no "
        "operator XNNPACK refuses (ReLU, TRANSPOSE_CONV, RESIZE_BILINEAR, MUL, LOGISTIC all "
        "delegate in int8). A copy of the encoder with ReLU in place of hard-swish, tried while "
        "designing, ran int8 as one partition, at about the float32 time.",
        "- The VGG16 DeconvNet was not converted to TFLite (see the script's docstring); its "
        "Keras and TF-graph times are compared with the lean model's, run the same way.",
        "",
    ]
    return "\n".join(lines)


def _cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main(args: argparse.Namespace) -> None:
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    height, width = (int(side) for side in args.input_size.split("x"))
    input_shape = (height, width, 3)
    rows, ablations = measure(args, input_shape)
    text = report(rows, ablations, args, input_shape)
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main(get_args_parser().parse_args())
