"""Batch-1 latency: timers for Keras and LiteRT, interleaved rounds and their statistics."""

import time
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf

from keras_deconvnet.errors import UsageError
from keras_deconvnet.export.runtimes import litert_interpreter


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
    interpreter = litert_interpreter(content, num_threads)
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
