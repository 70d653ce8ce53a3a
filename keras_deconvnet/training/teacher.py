"""A teacher's probabilities for every training image, computed once per run and kept in its folder.

Distillation (`--teacher`) needs, for each crop the student sees, what the teacher thinks of
those pixels. The teacher's test-time augmentation (several scales and a flip) costs many
forward passes per image, several times a student's training step, so it runs once per image at
the image's own resolution, before training, and the pipeline crops, scales, flips and mixes
the stored probabilities with the image (`keras_deconvnet.data.pipeline`, `soft_targets`). They are
kept at half resolution as uint8 (the teacher's logits are already upsampled from a stride-4
grid, so nothing finer is lost), one file per image under `teacher_probabilities/`, with a
manifest that says which teacher, views and split made them: a resumed run reuses them, a run
with another teacher makes them again. They are written to a hidden folder first, so a run
killed on the way leaves nothing half-made to reuse.
"""

import json
import shutil
import sys
import time
from pathlib import Path

import keras
import numpy as np

from keras_deconvnet.data.soft_targets import soft_target_file
from keras_deconvnet.errors import UsageError
from keras_deconvnet.evaluation.tta import TestTimeAugmentation
from keras_deconvnet.files import write_json
from keras_deconvnet.models import load_model, model_input_size
from keras_deconvnet.training.run_folder import RunFolder


class _ModelViews:
    """A Keras model as `TestTimeAugmentation` runs one: its input size and a logits function."""

    def __init__(self, model: keras.Model) -> None:
        self.model = model
        self.input_size = model_input_size(model)

    def logits(self, images: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict_on_batch(images), np.float32)


def teacher_views(config) -> TestTimeAugmentation:
    """The views the teacher averages, from `--teacher-tta` and `--teacher-tta-scales`."""
    return TestTimeAugmentation(flip=config.teacher_tta == "flip", scales=tuple(config.teacher_tta_scales))


def teacher_probabilities(config, split, info, run_dir: Path) -> Path:
    """The folder of the teacher's probabilities for every image of `split`, made if needed.

    Args:
        config: the run's `TrainConfig` (teacher, teacher_tta, teacher_tta_scales).
        split: the training split's decoded feature dicts (`load_split`).
        info: its `DatasetInfo`.
        run_dir: the run folder; the probabilities go to its `teacher_probabilities/` (`RunFolder`).

    Raises:
        UsageError: the teacher cannot be loaded, or predicts other classes than the dataset's.
    """
    views = teacher_views(config)
    teacher = Path(config.teacher)
    if not teacher.is_file():
        raise UsageError(f"--teacher {teacher}: no such file; pass a .keras model, e.g. a run's last.keras")
    made_by = {
        "teacher": str(teacher.resolve()),
        "teacher_bytes": teacher.stat().st_size,
        "teacher_modified": teacher.stat().st_mtime,
        "views": views.as_metadata(),
        "dataset": config.dataset,
        "split": config.train_split,
        "num_classes": info.num_classes,
    }
    folder = RunFolder(run_dir).teacher_probabilities
    manifest = folder / "manifest.json"
    if manifest.is_file() and json.loads(manifest.read_text()).get("made_by") == made_by:
        return folder
    try:
        model = load_model(teacher, compile=False)
    except UsageError as error:
        raise UsageError(f"--teacher: {error}") from None
    if model.output_shape[-1] != info.num_classes:
        raise UsageError(
            f"--teacher {teacher} predicts {model.output_shape[-1]} classes but {info.name} has "
            f"{info.num_classes}; pass a model trained on the same dataset"
        )
    partial = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    cardinality = int(split.cardinality())
    count = cardinality if cardinality > 0 else None  # unknown or endless: the bar counts up
    print(f"computing the teacher's probabilities ({views.views} views an image) for {count or 'all'} "
          f"images of {config.train_split}, once for this run", flush=True)
    bar = keras.utils.Progbar(count, unit_name="image", verbose=1 if sys.stdout.isatty() else 2)
    predictor, start, images = _ModelViews(model), time.perf_counter(), 0
    for features in split.as_numpy_iterator():
        probabilities = half_resolution(_softmax(views.logits(predictor, features["image"])))
        name = soft_target_file(features["file_name"].decode())
        (partial / name).write_bytes(np.round(probabilities * 255).astype(np.uint8).tobytes())
        images += 1
        bar.update(images)
    seconds = time.perf_counter() - start
    write_json(partial / "manifest.json", {
        "made_by": made_by, "images": images, "seconds": round(seconds, 1),
        "seconds_per_image": round(seconds / max(images, 1), 3),
    })
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    print(f"teacher's probabilities: {images} images in {seconds:.0f} s ({seconds / max(images, 1):.2f} s an image)")
    return folder


def half_resolution(probabilities: np.ndarray) -> np.ndarray:
    """(H, W, C) probabilities averaged over 2x2 blocks to ((H + 1) // 2, (W + 1) // 2, C); an odd
    last row or column is its own block."""
    height, width = probabilities.shape[:2]
    padded = np.pad(probabilities, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
    return padded.reshape(padded.shape[0] // 2, 2, padded.shape[1] // 2, 2, -1).mean(axis=(1, 3))


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)
