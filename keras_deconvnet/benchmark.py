"""Measure every model, and the bare encoder as the floor, in one process (issue 7).

For each model and input size: parameters, multiply-adds counted from the graph, `.keras`
and TFLite (float32, int8) file sizes, batch-1 inference latency (Keras and LiteRT with 1
and 2 threads, median and p90), training throughput and peak training memory, and every
figure as a ratio to the encoder's and to the VGG16 DeconvNet's, measured in the same run.
`run_benchmark(config)` does it all; `format_report(result)` writes the Markdown.

Example:
    >>> result = run_benchmark(BenchmarkConfig(models=("encoder", "lean"), sizes=((224, 224),)))
    >>> print(format_report(result))

`scripts/benchmark.py` is the command line. Nothing here is timed in a subprocess: the
figures of one run share the machine's conditions, which the report records.
"""

import contextlib
import ctypes
import ctypes.util
import dataclasses
import gc
import importlib.metadata
import math
import os
import platform
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from keras_deconvnet.errors import UsageError
from keras_deconvnet.export import convert_tflite, non_builtin_ops
from keras_deconvnet.losses import SegmentationCrossEntropy
from keras_deconvnet.models import MODEL_BUILDERS, build_model
from keras_deconvnet.models.backbone import build_mobilenet_v3

ENCODER = "encoder"
VGG = "deconvnet_vgg16"
MODEL_NAMES = (ENCODER, *MODEL_BUILDERS)
REFERENCES = (ENCODER, VGG)
TFLITE_TYPES = ("float32", "int8")
# Why the VGG16 DeconvNet has no TFLite file here.
NOT_CONVERTED = {
    VGG: "not converted: converting its 252M parameters ran a 24 GB machine out of memory "
    "(the converter was killed by the kernel)"
}
VGG_MIN_SIZE = 224  # its fc6 is a 7x7 conv over the stride-32 grid
_SAMPLE_SECONDS = 0.005


@dataclasses.dataclass(frozen=True)
class BenchmarkConfig:
    """What to measure and how often; `scripts/benchmark.py` fills it from its flags.

    Attributes:
        models: names from `MODEL_NAMES` ("encoder" is the bare MobileNetV3-Small encoder).
        sizes: (height, width) input sizes, multiples of 32; the first is the targets' size.
        num_classes: classes per pixel of the segmentation models.
        rounds: latency rounds; each round times every model in turn (interleaved).
        tflite_runs, keras_runs, vgg_runs: timed runs per round of a LiteRT interpreter,
            of a Keras model, and of the VGG16 DeconvNet in Keras.
        tflite_warmup, keras_warmup: untimed runs of each timer before the first round.
        threads: LiteRT CPU thread counts to time.
        calibration_images: random 0..255 images for int8 calibration.
        batch_size: training batch.
        train_steps, train_warmup: timed and untimed `train_on_batch` steps.
        vgg_train_steps: timed steps of the VGG16 DeconvNet (0: its training is skipped);
            it gets 1 warm-up step.
        seed: for weights, images and labels.
    """

    models: tuple[str, ...] = MODEL_NAMES
    sizes: tuple[tuple[int, int], ...] = ((224, 224), (352, 480))
    num_classes: int = 21
    rounds: int = 5
    tflite_runs: int = 20
    keras_runs: int = 5
    vgg_runs: int = 2
    tflite_warmup: int = 5
    keras_warmup: int = 2
    threads: tuple[int, ...] = (1, 2)
    calibration_images: int = 16
    batch_size: int = 8
    train_steps: int = 10
    train_warmup: int = 2
    vgg_train_steps: int = 2
    seed: int = 0


# A smoke run (`scripts/benchmark.py --quick`): the models the targets of `lean` need, at
# 224x224 only, few runs and steps, no VGG16 training; other fields keep their defaults.
QUICK = {
    "models": (ENCODER, "lean", VGG),
    "sizes": ((224, 224),),
    "rounds": 1,
    "tflite_runs": 5,
    "keras_runs": 2,
    "vgg_runs": 1,
    "tflite_warmup": 2,
    "keras_warmup": 1,
    "calibration_images": 4,
    "train_steps": 2,
    "train_warmup": 1,
    "vgg_train_steps": 0,
}


# ----------------------------------------------------------------------------- counting


def layer_calls(model: keras.Model, prefix: str = "") -> Iterator[tuple[str, keras.Operation, list, list]]:
    """Every call of a leaf layer in `model`'s graph, nested models expanded in place.

    Walks the graph's nodes (each call of a layer is one node), so a layer called twice is
    listed twice and a nested Functional or Sequential model is entered once per call, never
    also counted as a layer of its own. A nested model's layers are listed at the shapes it
    was built with (true of every model here: stages are built at the shapes they get).

    Yields:
        (path such as "decoder_stage3/decoder_stage3_block1_dw", layer, input shapes,
        output shapes), shapes with the batch dimension first.
    """
    functional = getattr(model, "_functional", None) or model  # a Sequential wraps a Functional
    nodes_by_depth = getattr(functional, "_nodes_by_depth", None)
    if nodes_by_depth is None:
        raise UsageError(
            f"cannot walk the graph of '{model.name}': only built Functional and Sequential "
            "models have one"
        )
    for depth in sorted(nodes_by_depth, reverse=True):  # inputs first
        for node in nodes_by_depth[depth]:
            operation = node.operation
            if node.is_input:
                continue
            if isinstance(operation, keras.Model):
                yield from layer_calls(operation, f"{prefix}{operation.name}/")
            else:
                inputs = [tuple(tensor.shape) for tensor in node.input_tensors]
                outputs = [tuple(tensor.shape) for tensor in node.outputs]
                yield f"{prefix}{operation.name}", operation, inputs, outputs


def _grid_and_channels(shape: tuple, data_format: str) -> tuple[int, int, int]:
    """(height, width, channels) of a 4-D batch shape."""
    if data_format == "channels_first":
        return shape[2], shape[3], shape[1]
    return shape[1], shape[2], shape[3]


def layer_multiply_adds(layer: keras.Operation, input_shape: tuple, output_shape: tuple) -> int:
    """Multiply-adds of one call of a layer, per image; 0 for layers that are not counted.

    - Conv2D: H_out * W_out * kh * kw * C_in * C_out / groups
    - DepthwiseConv2D: H_out * W_out * kh * kw * C_in * depth_multiplier
    - SeparableConv2D: its depthwise part, plus the pointwise H_out * W_out * C_in *
      depth_multiplier * C_out
    - Conv2DTranspose: H_in * W_in * kh * kw * C_in * C_out (every input pixel spreads a
      kh x kw x C_out kernel)
    - Dense: (positions) * C_in * units
    Biases are left out, like every other addition.
    """
    if isinstance(layer, keras.layers.Dense):
        return math.prod(input_shape[1:-1]) * input_shape[-1] * layer.units
    if not isinstance(
        layer,
        (
            keras.layers.Conv2D,
            keras.layers.DepthwiseConv2D,
            keras.layers.SeparableConv2D,
            keras.layers.Conv2DTranspose,
        ),
    ):
        return 0
    kernel_h, kernel_w = layer.kernel_size
    height_in, width_in, channels_in = _grid_and_channels(input_shape, layer.data_format)
    height, width, _ = _grid_and_channels(output_shape, layer.data_format)
    if isinstance(layer, keras.layers.Conv2DTranspose):
        return height_in * width_in * kernel_h * kernel_w * channels_in * layer.filters
    if isinstance(layer, keras.layers.Conv2D):
        return height * width * kernel_h * kernel_w * channels_in * layer.filters // layer.groups
    depthwise = height * width * kernel_h * kernel_w * channels_in * layer.depth_multiplier
    if isinstance(layer, keras.layers.SeparableConv2D):
        return depthwise + height * width * channels_in * layer.depth_multiplier * layer.filters
    return depthwise


def count_multiply_adds(model: keras.Model) -> int:
    """Multiply-adds of one image through `model`, counted layer by layer from its graph.

    Counts Conv2D, DepthwiseConv2D, SeparableConv2D, Conv2DTranspose and Dense (see
    `layer_multiply_adds`), inside nested stage models too (each call counted once).
    Left out, as is usual: biases, batch normalisation (folded into the convs at export),
    activations, pooling, resizing and upsampling, unpooling, adds, multiplies
    (squeeze-excite scaling, gates) and concatenations, which are cheap next to the convs.

    Example:
        >>> count_multiply_adds(build_model("lean", input_shape=(224, 224, 3)))
    """
    return sum(
        layer_multiply_adds(layer, inputs[0], outputs[0]) for _, layer, inputs, outputs in layer_calls(model)
    )


def activation_elements(model: keras.Model) -> int:
    """Elements per image of every leaf layer's outputs: what a training step keeps."""
    return sum(
        math.prod(dim for dim in shape[1:]) for _, _, _, outputs in layer_calls(model) for shape in outputs
    )


def training_memory_estimate(model: keras.Model, batch_size: int) -> int:
    """A rough upper guess, in bytes, of the memory a training step with Adam needs.

    16 bytes a parameter (weights, gradients and Adam's two moments) plus, for every leaf
    layer's output, 6 bytes an element (its float32 value kept for the backward pass, and
    half as much again for the gradients alive at a time). Used only to skip a model that
    clearly does not fit in the memory available, rather than have the kernel kill the run.
    """
    return 16 * model.count_params() + 6 * batch_size * activation_elements(model)


# ---------------------------------------------------------------------------- file sizes


def file_sizes(model: keras.Model, tflite_files: Mapping[str, bytes]) -> dict[str, int]:
    """Bytes of the model saved as `.keras` (in a temporary folder) and of each TFLite file.

    Args:
        model: the Keras model.
        tflite_files: {dtype: flatbuffer}, e.g. from `convert_tflite`.

    Returns:
        {"keras": bytes, "tflite_<dtype>": bytes, ...}.
    """
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        model.save(path)
        sizes = {"keras": path.stat().st_size}
    return sizes | {f"tflite_{dtype}": len(content) for dtype, content in tflite_files.items()}


def calibration_images(count: int, size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """`count` random RGB images, float32 0..255: enough to calibrate int8 for size and speed
    (not for accuracy)."""
    return np.random.default_rng(seed).uniform(0, 255, (count, *size, 3)).astype("float32")


# ------------------------------------------------------------------------------- latency


class Timer(NamedTuple):
    """One thing to time: `call()` runs one batch-1 inference."""

    call: Callable[[], object]
    runs: int  # timed runs per round
    warmup: int  # untimed runs before the first round


def keras_call(model: keras.Model, image: np.ndarray) -> Callable[[], np.ndarray]:
    """One batch-1 inference of `model` compiled with `tf.function`, as `predict_on_batch`
    runs it without its per-call data handling; TensorFlow's default threads."""
    graph = tf.function(lambda images: model(images, training=False))
    tensor = tf.constant(image)
    return lambda: graph(tensor).numpy()


def tflite_call(content: bytes, image: np.ndarray, num_threads: int) -> Callable[[], None]:
    """One invoke of a LiteRT interpreter (XNNPACK as it applies by default) on `image`."""
    interpreter = Interpreter(model_content=content, num_threads=num_threads)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image)
    return interpreter.invoke


def time_interleaved(
    timers: Mapping[str, Mapping[str, Timer]], rounds: int
) -> dict[str, dict[str, list[float]]]:
    """Milliseconds of every timed run, after each timer's warm-up runs.

    Each round runs every model's timers in turn, so a burst of load from other processes
    falls on one round of every model rather than on all runs of one.

    Args:
        timers: {model: {kind: Timer}}.
        rounds: how many times to go through all models.

    Returns:
        {model: {kind: [ms, ...]}}, `rounds * timer.runs` values each.
    """
    for model_timers in timers.values():
        for timer in model_timers.values():
            for _ in range(timer.warmup):
                timer.call()
    times = {name: {kind: [] for kind in model_timers} for name, model_timers in timers.items()}
    for _ in range(rounds):
        for name, model_timers in timers.items():
            for kind, timer in model_timers.items():
                for _ in range(timer.runs):
                    start = time.perf_counter()
                    timer.call()
                    times[name][kind].append(1000 * (time.perf_counter() - start))
    return times


def latency_stats(times_ms: Sequence[float]) -> dict:
    """Median and 90th percentile (numpy's linear interpolation) of run times.

    Example:
        >>> latency_stats([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
        {'median_ms': 5.5, 'p90_ms': 9.1, 'runs': 10}
    """
    if not len(times_ms):
        raise UsageError("latency_stats needs at least one run time")
    values = np.asarray(times_ms, dtype=np.float64)
    return {
        "median_ms": float(np.median(values)),
        "p90_ms": float(np.percentile(values, 90)),
        "runs": int(values.size),
    }


# ------------------------------------------------------------------------------ training


def rss_bytes() -> int | None:
    """The resident memory of this process (Linux `/proc/self/statm`), or None elsewhere."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def release_free_memory() -> None:
    """Collects garbage and hands the C heap's free pages back to the system (glibc's
    `malloc_trim`), so that the memory a later step allocates shows in its resident size."""
    gc.collect()
    with contextlib.suppress(Exception):
        ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim(0)


class PeakRSS:
    """A thread that samples `rss_bytes()` every 5 ms while the `with` block runs.

    Example:
        >>> with PeakRSS() as peak:
        ...     work()
        >>> peak.bytes  # the largest sample, or None without /proc
    """

    def __init__(self, interval: float = _SAMPLE_SECONDS) -> None:
        self.interval = interval
        self.bytes = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self._record()

    def _record(self) -> None:
        current = rss_bytes()
        if current is not None:
            self.bytes = max(self.bytes or 0, current)

    def __enter__(self) -> "PeakRSS":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()
        self._record()


def training_batch(model: keras.Model, batch_size: int, num_classes: int, seed: int = 0):
    """Random RGB 0..255 images at the model's input and integer labels at its output grid
    (labels below `num_classes` and below the model's output channels)."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 255, (batch_size, *model.input_shape[1:])).astype("float32")
    labels = rng.integers(0, min(num_classes, model.output_shape[-1]), (batch_size, *model.output_shape[1:3]))
    return images, labels.astype("int32")


def training_throughput(
    model: keras.Model,
    batch_size: int = 8,
    steps: int = 10,
    warmup_steps: int = 2,
    num_classes: int = 21,
    seed: int = 0,
) -> dict:
    """Images/second of `train_on_batch` and the peak memory of training.

    The model is compiled with Adam and `SegmentationCrossEntropy()` (a model whose output is
    not logits, such as the bare encoder, is trained as if it were: labels at its output
    grid). Peak memory is the largest resident size of the process (sampled every 5 ms by
    a thread, see `PeakRSS`) during the warm-up and timed steps, minus the resident size
    just before them, after `release_free_memory()`: weights already built are not in it;
    optimizer state, gradients, activations and the traced training graph are.

    Args:
        model: a built model; it is compiled (and trained) here.
        batch_size: images per step.
        steps: timed steps.
        warmup_steps: untimed steps first (the first one traces the graph).
        num_classes: the labels' range.
        seed: for the random batch.

    Returns:
        {"images_per_second", "peak_memory_bytes" (None without /proc), "batch_size",
        "steps", "warmup_steps", "loss" (the last step's, to show it stayed finite)}.
    """
    if steps < 1 or warmup_steps < 0 or batch_size < 1:
        raise UsageError("training needs at least one timed step and a batch of at least 1")
    images, labels = training_batch(model, batch_size, num_classes, seed)
    model.compile(optimizer=keras.optimizers.Adam(), loss=SegmentationCrossEntropy())
    release_free_memory()
    before = rss_bytes()
    with PeakRSS() as peak:
        for _ in range(warmup_steps):
            model.train_on_batch(images, labels)
        start = time.perf_counter()
        for _ in range(steps):
            loss = model.train_on_batch(images, labels)
        elapsed = time.perf_counter() - start
    return {
        "images_per_second": steps * batch_size / elapsed,
        "peak_memory_bytes": None if before is None or peak.bytes is None else peak.bytes - before,
        "batch_size": batch_size,
        "steps": steps,
        "warmup_steps": warmup_steps,
        "loss": float(np.asarray(loss).reshape(-1)[0]),
    }


def available_memory_bytes() -> int | None:
    """`MemAvailable` of /proc/meminfo, or None where there is none."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


# --------------------------------------------------------------------------- one run


def build_benchmark_model(name: str, size: tuple[int, int], num_classes: int) -> keras.Model:
    """A model of `MODEL_NAMES` at `size`, random weights; "encoder" is MobileNetV3-Small
    without top (`build_mobilenet_v3`)."""
    if name == ENCODER:
        return build_mobilenet_v3((*size, 3))
    return build_model(name, num_classes=num_classes, input_shape=(*size, 3))


def _log(message: str) -> None:
    print(f"[benchmark {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _prepare(name: str, size: tuple[int, int], config: BenchmarkConfig, image: np.ndarray):
    """Builds, counts, saves and converts one model; returns (entry, model, timers)."""
    model = build_benchmark_model(name, size, config.num_classes)
    entry = {
        "parameters": model.count_params(),
        "multiply_adds": count_multiply_adds(model),
        "notes": {},
    }
    tflite_files, ops = {}, {}
    if name in NOT_CONVERTED:
        entry["notes"]["tflite"] = NOT_CONVERTED[name]
    else:
        try:
            calibration = calibration_images(config.calibration_images, size, config.seed)
            tflite_files = convert_tflite(model, TFLITE_TYPES, calibration)
            ops = {dtype: non_builtin_ops(content) for dtype, content in tflite_files.items()}
        except UsageError as error:  # a failed conversion, or Flex / custom ops (named)
            entry["notes"]["tflite"] = f"conversion failed: {error}"
    entry["file_bytes"] = file_sizes(model, tflite_files)
    entry["tflite_non_builtin_ops"] = ops
    is_vgg = name == VGG
    timers = {"keras": Timer(keras_call(model, image), config.vgg_runs if is_vgg else config.keras_runs,
                             1 if is_vgg else config.keras_warmup)}
    for dtype, content in tflite_files.items():
        for threads in config.threads:
            timers[f"tflite_{dtype}_{threads}t"] = Timer(
                tflite_call(content, image, threads), config.tflite_runs, config.tflite_warmup
            )
    return entry, model, timers


def _train(name: str, model: keras.Model, config: BenchmarkConfig, entry: dict) -> None:
    steps, warmup = config.train_steps, config.train_warmup
    if name == VGG:
        steps, warmup = config.vgg_train_steps, 1
    if steps < 1:
        entry["training"] = None
        entry["notes"]["training"] = "skipped: 0 training steps asked for"
        return
    needed, available = training_memory_estimate(model, config.batch_size), available_memory_bytes()
    entry["training_memory_estimate_bytes"] = needed
    if available is not None and needed > available:
        entry["training"] = None
        entry["notes"]["training"] = (
            f"skipped: a training step needs about {needed / 1e9:.1f} GB, "
            f"{available / 1e9:.1f} GB available"
        )
        return
    entry["training"] = training_throughput(
        model, config.batch_size, steps, warmup, config.num_classes, config.seed
    )


def measure_size(size: tuple[int, int], config: BenchmarkConfig) -> dict[str, dict]:
    """Every model's figures at one input size: {model: entry}.

    Models are built, counted, saved and converted one after the other; their latencies are
    then timed interleaved (`time_interleaved`); then each model trains on its own, the
    VGG16 DeconvNet last, and is dropped.
    """
    image = calibration_images(1, size, config.seed + 1)
    entries, models, timers = {}, {}, {}
    names = sorted(config.models, key=lambda name: name == VGG)  # VGG last
    for name in names:
        if name == VGG and min(size) < VGG_MIN_SIZE:
            entries[name] = {"skipped": f"needs an input of at least {VGG_MIN_SIZE}x{VGG_MIN_SIZE}"}
            continue
        _log(f"{size[0]}x{size[1]} {name}: build, count, save, convert")
        entries[name], models[name], timers[name] = _prepare(name, size, config, image)
    _log(f"{size[0]}x{size[1]}: latency, {config.rounds} interleaved rounds")
    for name, kinds in time_interleaved(timers, config.rounds).items():
        entries[name]["latency"] = {kind: latency_stats(times) for kind, times in kinds.items()}
    timers.clear()
    for name in list(models):
        _log(f"{size[0]}x{size[1]} {name}: training")
        _train(name, models.pop(name), config, entries[name])
        release_free_memory()
    keras.backend.clear_session(free_memory=True)
    return {name: entries[name] for name in config.models}


# ------------------------------------------------------------------------------ figures


def headline_figures(entry: dict, threads: Sequence[int] = (1, 2)) -> dict[str, float | None]:
    """The figures of one entry that tables and ratios show (None: not measured).

    Keys: parameters, multiply_adds, keras_mb, tflite_float32_mb, tflite_int8_mb,
    keras_ms, tflite_<dtype>_<n>t_ms (medians), train_images_per_second, train_peak_mb.
    """
    if "skipped" in entry:
        entry = {}
    sizes = entry.get("file_bytes", {})
    latency = entry.get("latency", {})
    training = entry.get("training") or {}
    figures = {
        "parameters": entry.get("parameters"),
        "multiply_adds": entry.get("multiply_adds"),
        "keras_mb": _scaled(sizes.get("keras"), 1e-6),
        **{f"tflite_{dtype}_mb": _scaled(sizes.get(f"tflite_{dtype}"), 1e-6) for dtype in TFLITE_TYPES},
        "keras_ms": latency.get("keras", {}).get("median_ms"),
    }
    for dtype in TFLITE_TYPES:
        for count in threads:
            figures[f"tflite_{dtype}_{count}t_ms"] = latency.get(f"tflite_{dtype}_{count}t", {}).get("median_ms")
    figures["train_images_per_second"] = training.get("images_per_second")
    figures["train_peak_mb"] = _scaled(training.get("peak_memory_bytes"), 1e-6)
    return figures


def _scaled(value, factor):
    return None if value is None else value * factor


def add_ratios(entries: dict[str, dict], threads: Sequence[int] = (1, 2)) -> None:
    """Adds "vs_encoder" and "vs_deconvnet_vgg16" to every entry: each headline figure
    divided by the reference's at the same size (None where either is missing)."""
    figures = {name: headline_figures(entry, threads) for name, entry in entries.items()}
    for name, entry in entries.items():
        for reference in REFERENCES:
            base = figures.get(reference, {})
            entry[f"vs_{reference}"] = {
                key: (value / base[key] if value is not None and base.get(key) else None)
                for key, value in figures[name].items()
            }


def _target(target: str, values: Sequence, met: Callable[..., bool], measured: Callable[..., str]) -> dict:
    """A target row; "not measured" (met None) when any of `values` is None."""
    if any(value is None for value in values):
        return {"target": target, "measured": "not measured", "met": None}
    return {"target": target, "measured": measured(*values), "met": bool(met(*values))}


def _flex_target(result: dict) -> dict:
    """No Flex (TF Select) or custom op in any TFLite file of `lean`, at any size."""
    target = "no Flex (TF Select) or custom ops in its TFLite files"
    lean = {size: models["lean"] for size, models in result["results"].items() if "lean" in models}
    failures = [
        f"{size}: {entry['notes']['tflite']}" for size, entry in lean.items() if "tflite" in entry.get("notes", {})
    ]
    ops = {f"{size} {dtype}": found for size, entry in lean.items()
           for dtype, found in entry.get("tflite_non_builtin_ops", {}).items()}
    flex = sorted({op for found in ops.values() for op in found})
    if failures:  # convert_tflite refuses Flex and custom ops, naming them
        return {"target": target, "measured": "; ".join(failures), "met": False}
    if not ops:
        return {"target": target, "measured": "not measured", "met": None}
    measured = f"{', '.join(flex)} in {', '.join(ops)}" if flex else f"built-in ops only ({', '.join(ops)})"
    return {"target": target, "measured": measured, "met": not flex}


def lean_targets(result: dict) -> list[dict]:
    """The issue-7 targets of `lean`, judged at the run's first size.

    Returns:
        [{"target", "measured", "met"}]; met is None where a figure was not measured.
    """
    size = result["sizes"][0]
    entries = result["results"][size]
    lean, encoder, vgg = (headline_figures(entries.get(name, {})) for name in ("lean", ENCODER, VGG))
    return [
        _target("parameters <= 3M", [lean["parameters"]], lambda n: n <= 3_000_000, lambda n: f"{n:,}"),
        _target(
            f"TFLite float32 latency at {size}, 1 thread, <= 2.0x the encoder's",
            [lean["tflite_float32_1t_ms"], encoder["tflite_float32_1t_ms"]],
            lambda ours, floor: ours <= 2.0 * floor,
            lambda ours, floor: f"{ours:.2f} / {floor:.2f} ms = {ours / floor:.2f}x",
        ),
        _target(
            "TFLite int8 faster than float32 (1 thread)",
            [lean["tflite_int8_1t_ms"], lean["tflite_float32_1t_ms"]],
            lambda int8, f32: int8 < f32,
            lambda int8, f32: f"int8 {int8:.2f} vs float32 {f32:.2f} ms"
            + _two_threads(lean["tflite_int8_2t_ms"], lean["tflite_float32_2t_ms"]),
        ),
        _target(
            ">= 50x faster than the VGG16 DeconvNet (Keras latency; VGG16 has no TFLite here)",
            [lean["keras_ms"], vgg["keras_ms"]],
            lambda ours, theirs: theirs >= 50 * ours,
            lambda ours, theirs: f"{theirs:.0f} / {ours:.2f} ms = {theirs / ours:.0f}x",
        ),
        _flex_target(result),
    ]


def _two_threads(int8: float | None, f32: float | None) -> str:
    return "" if int8 is None or f32 is None else f"; 2 threads: {int8:.2f} vs {f32:.2f} ms"


# ------------------------------------------------------------------------------ tables


# (key of headline_figures, Markdown header, formatter); the latency columns between them
# come from `_columns`, shown as "median / p90".
_SIZE_COLUMNS = (
    ("parameters", "parameters", lambda v: f"{v:,}"),
    ("multiply_adds", "MMACs", lambda v: f"{v / 1e6:,.1f}"),
    ("keras_mb", ".keras MB", lambda v: f"{v:.1f}"),
    ("tflite_float32_mb", "f32 .tflite MB", lambda v: f"{v:.1f}"),
    ("tflite_int8_mb", "int8 .tflite MB", lambda v: f"{v:.1f}"),
)
_TRAINING_COLUMNS = (
    ("train_images_per_second", "train images/s", lambda v: f"{v:.1f}"),
    ("train_peak_mb", "train peak MB", lambda v: f"{v:,.0f}"),
)


def _columns(threads: Sequence[int]) -> list[tuple]:
    latency = [("keras_ms", "Keras ms", None)] + [
        (f"tflite_{dtype}_{count}t_ms", f"{'f32' if dtype == 'float32' else dtype} {count} "
         f"thread{'s' if count > 1 else ''} ms", None)
        for dtype in TFLITE_TYPES
        for count in threads
    ]
    return [*_SIZE_COLUMNS, *latency, *_TRAINING_COLUMNS]


def _table_header(columns: Sequence[tuple]) -> list[str]:
    return ["| model | " + " | ".join(header for _, header, _ in columns) + " |", "|---|" + "---:|" * len(columns)]


def format_results_table(entries: Mapping[str, dict], threads: Sequence[int] = (1, 2)) -> str:
    """One size's figures as Markdown: a row per model; latencies "median / p90" in ms,
    "-" where a figure was not measured."""
    columns = _columns(threads)
    lines = _table_header(columns)
    for name, entry in entries.items():
        figures = headline_figures(entry, threads)
        cells = []
        for key, _, formatter in columns:
            value = figures[key]
            if value is None:
                cells.append("-")
            elif formatter is None:  # a latency: median / p90
                stats = entry["latency"][key.removesuffix("_ms")]
                cells.append(f"{stats['median_ms']:.2f} / {stats['p90_ms']:.2f}")
            else:
                cells.append(formatter(value))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_ratio_table(entries: Mapping[str, dict], reference: str, threads: Sequence[int] = (1, 2)) -> str:
    """Every figure divided by `reference`'s at the same size (latencies: medians)."""
    columns = _columns(threads)
    lines = _table_header(columns)
    for name, entry in entries.items():
        ratios = entry.get(f"vs_{reference}", {})
        cells = ["-" if ratios.get(key) is None else f"{ratios[key]:.3g}" for key, _, _ in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_targets_table(targets: Sequence[dict]) -> str:
    """The targets as Markdown: target, measured, met (yes / NO / not measured)."""
    lines = ["| target | measured | met |", "|---|---|---|"]
    for target in targets:
        met = "not measured" if target["met"] is None else "yes" if target["met"] else "NO"
        lines.append(f"| {target['target']} | {target['measured']} | {met} |")
    return "\n".join(lines)


def _notes(entries: Mapping[str, dict]) -> list[str]:
    lines = []
    for name, entry in entries.items():
        if "skipped" in entry:
            lines.append(f"- {name}: not built: {entry['skipped']}")
        for what, note in entry.get("notes", {}).items():
            lines.append(f"- {name}, {what}: {note}")
    return lines


def format_report(result: dict) -> str:
    """The whole Markdown report: conditions, per size the figures and both ratio tables,
    then the targets of `lean`."""
    config, machine = result["config"], result["machine"]
    threads = config["threads"]
    load = machine["load_average"]
    lines = [
        "# Benchmark: every model against the encoder floor and the VGG16 DeconvNet",
        "",
        f"- command: `{result['command']}`",
        f"- date: {result['date']}; wall time {result['seconds']:.0f} s",
        f"- machine: {machine['cpu']}, {machine['cores']} cores; load average (1, 5, 15 min) "
        f"before {', '.join(f'{v:.2f}' for v in load['before'])}, after "
        f"{', '.join(f'{v:.2f}' for v in load['after'])} (other processes slow every figure)",
        f"- TensorFlow {machine['tensorflow']}, Keras {machine['keras']}, LiteRT (ai-edge-litert) "
        f"{machine['litert']}, Python {machine['python']}",
        f"- {config['num_classes']} classes, random weights. Multiply-adds (MMACs: millions per image) are "
        "counted from the graph: convolutions (regular, depthwise, separable, transposed) and "
        "dense layers; batch norm, activations, pooling, resizing, unpooling, adds and "
        "multiplies are left out.",
        "- TFLite: batch 1, built-in ops only, float32 and int8 (full-integer post-training "
        f"quantisation calibrated on {config['calibration_images']} random 0..255 images, float "
        "input and output), converted with `keras_deconvnet.export.convert_tflite`.",
        f"- Latency, batch 1, ms as median / p90: {config['rounds']} rounds, each running every "
        f"model in turn (LiteRT {config['tflite_runs']} runs a round after "
        f"{config['tflite_warmup']} warm-up runs, XNNPACK as it applies by default; Keras: the "
        f"model called in a `tf.function`, TensorFlow's default threads, {config['keras_runs']} "
        f"runs a round after {config['keras_warmup']} warm-up runs, the VGG16 DeconvNet "
        f"{config['vgg_runs']} after 1).",
        f"- Training: `train_on_batch` at batch {config['batch_size']}, Adam, "
        f"`SegmentationCrossEntropy()`, random images and labels, {config['train_steps']} timed "
        f"steps after {config['train_warmup']} warm-up steps (VGG16 DeconvNet: "
        f"{config['vgg_train_steps']} after 1); the encoder alone is trained with its 576 "
        "output channels as logits at stride 32. Peak MB: the largest resident size of the "
        "process (sampled every 5 ms by a thread) during those steps minus the resident size "
        "just before them: optimizer state, gradients, activations and the traced graph, not "
        "the weights.",
        "- Ratios: the model's figure divided by the reference's in the same run and at the "
        "same size (below 1: smaller or faster, except images/s, where above 1 is faster).",
    ]
    for size, entries in result["results"].items():
        notes = _notes(entries)
        lines += [
            "", f"## {size}", "", format_results_table(entries, threads),
            "", "Ratio to the encoder:", "", format_ratio_table(entries, ENCODER, threads),
            "", "Ratio to the VGG16 DeconvNet:", "", format_ratio_table(entries, VGG, threads),
        ]
        notes += [
            f"- {reference}: not in this run, so no ratios to it"
            for reference in REFERENCES
            if reference not in entries
        ]
        if notes:
            lines += ["", "Not measured:", "", *notes]
    lines += ["", f"## Targets of `lean` ({result['sizes'][0]})", "", format_targets_table(result["targets"]), ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- machine


def machine_info() -> dict:
    """CPU model, core count and the versions of Python, TensorFlow, Keras and LiteRT."""
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        litert = importlib.metadata.version("ai-edge-litert")
    except importlib.metadata.PackageNotFoundError:
        litert = "unknown"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "litert": litert,
        "python": platform.python_version(),
    }


def size_name(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def run_benchmark(config: BenchmarkConfig, command: str = "") -> dict:
    """Measures every model of `config` at every size, in this process, and judges the
    targets of `lean`.

    Returns:
        A JSON-ready dict: "date", "command", "seconds", "machine" (with the load average
        before and after), "config", "sizes", "results" ({size: {model: entry}}, each
        entry with its figures, "notes" on what was not measured, and "vs_encoder" and
        "vs_deconvnet_vgg16" ratios) and "targets".
    """
    unknown = [name for name in config.models if name not in MODEL_NAMES]
    if unknown or not config.models:
        raise UsageError(f"unknown model {', '.join(unknown) or '(none)'}; choose from {', '.join(MODEL_NAMES)}")
    if config.rounds < 1 or min(config.tflite_runs, config.keras_runs, config.vgg_runs) < 1:
        raise UsageError("rounds and runs must be at least 1")
    if config.calibration_images < 1 or not config.threads or min(config.threads) < 1 or config.batch_size < 1:
        raise UsageError("calibration images, thread counts and the batch size must be at least 1")
    if min(config.tflite_warmup, config.keras_warmup, config.train_steps, config.train_warmup,
           config.vgg_train_steps) < 0:
        raise UsageError("warm-up runs and training steps cannot be negative")
    if not 2 <= config.num_classes <= 255:
        raise UsageError(f"num_classes must be from 2 to 255, got {config.num_classes}")
    for size in config.sizes:
        if len(size) != 2 or min(size) < 32 or size[0] % 32 or size[1] % 32:
            raise UsageError(f"input size {size_name(size)}: height and width must be multiples of 32")
    config = dataclasses.replace(config, models=tuple(dict.fromkeys(config.models)))
    keras.utils.set_random_seed(config.seed)
    start, load_before = time.perf_counter(), os.getloadavg()
    date = time.strftime("%Y-%m-%d %H:%M")
    sizes = list(dict.fromkeys(config.sizes))
    results = {}
    for size in sizes:
        results[size_name(size)] = entries = measure_size(size, config)
        add_ratios(entries, config.threads)
    result = {
        "date": date,
        "command": command,
        "seconds": time.perf_counter() - start,
        "machine": {**machine_info(), "load_average": {"before": list(load_before), "after": list(os.getloadavg())}},
        "config": {**dataclasses.asdict(config), "sizes": [size_name(size) for size in sizes]},
        "sizes": [size_name(size) for size in sizes],
        "results": results,
    }
    result["targets"] = lean_targets(result)
    return result
