"""One benchmark run: build, count, save, convert, time and train every model at every size."""

import contextlib
import dataclasses
import importlib.metadata
import os
import platform
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_deconvnet.benchmark.config import (
    ENCODER,
    MODEL_NAMES,
    NOT_CONVERTED,
    TFLITE_TYPES,
    VGG,
    VGG_MIN_SIZE,
    BenchmarkConfig,
)
from keras_deconvnet.benchmark.cost import count_multiply_adds, file_sizes, training_memory_estimate
from keras_deconvnet.benchmark.memory import available_memory_bytes, release_free_memory
from keras_deconvnet.benchmark.partitions import xnnpack_partitions
from keras_deconvnet.benchmark.report import add_ratios
from keras_deconvnet.benchmark.targets import Target, judge_targets
from keras_deconvnet.benchmark.throughput import training_throughput
from keras_deconvnet.benchmark.timing import (
    Timer,
    calibration_images,
    keras_call,
    latency_stats,
    tflite_call,
    time_interleaved,
)
from keras_deconvnet.errors import UsageError
from keras_deconvnet.export import convert_tflite, non_builtin_ops
from keras_deconvnet.models import build_model
from keras_deconvnet.models.backbone import build_mobilenet_v3

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
    entry["xnnpack"] = {dtype: xnnpack_partitions(content) for dtype, content in tflite_files.items()}
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


def run_benchmark(config: BenchmarkConfig, command: str = "", targets: list[Target] | None = None) -> dict:
    """Measures every model of `config` at every size, in this process, and judges `targets`
    (`benchmark.targets.read_targets`) at the first size.

    Returns:
        A JSON-ready dict: "date", "command", "seconds", "machine" (with the load average
        before and after), "config", "sizes", "results" ({size: {model: entry}}, each
        entry with its figures, "notes" on what was not measured, "vs_encoder" and
        "vs_deconvnet_vgg16" ratios, "int8_vs_float32" ({"1t": int8 / float32 LiteRT
        median, ...}) and "xnnpack" ({dtype: `xnnpack_partitions` of that TFLite file}))
        and "targets" (`judge_targets`; [] without targets).
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
    result["targets"] = judge_targets(result, targets or [])
    return result
