"""Running what export writes: one interface for `.keras`, a TF Serving SavedModel, `.tflite`
and `.onnx`.

`load_predictor(path)` opens any of them as a `Predictor`, so the export check, evaluation
and prediction run every format the same way: float32 RGB images in 0..255 at the model's
input size in, logits or class maps out. It lives in `export` because the export check
runs each file it writes; evaluation and the commands read exports through it.

Example:
    >>> predictor = load_predictor("saved_models/camvid")  # the latest SavedModel version
    >>> predictor.class_map(images).shape  # images: (B, *predictor.input_size, 3)
    (B, H, W)
"""

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from keras_deconvnet.datasets.palette import voc_palette
from keras_deconvnet.errors import UsageError
from keras_deconvnet.export.formats import SERVING_SIGNATURE, read_metadata
from keras_deconvnet.models import load_model, model_input_size, resize_model, run_folder_hint
from keras_deconvnet.process import native_notices_hidden

_KERAS_BATCH = 16


class Predictor:
    """A segmentation model of any format, from RGB 0..255 images to logits or class maps.

    Attributes:
        input_size: (height, width) the images must have.
        num_classes: C, the number of logits per pixel.
        class_names: C names, from the export's metadata ("class_0", ... without it).
        palette: uint8 (C, 3) colours, from the metadata (the VOC colour map without it).
        metadata: the whole metadata JSON ({} without one).
    """

    def __init__(self, input_size: tuple[int, int], num_classes: int, metadata: dict) -> None:
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.num_classes = int(num_classes)
        names = metadata.get("class_names") or [f"class_{i}" for i in range(self.num_classes)]
        palette = metadata.get("palette") or voc_palette()[: self.num_classes]
        self.class_names = tuple(names)
        self.palette = np.asarray(palette, dtype=np.uint8)
        self.metadata = metadata

    def logits(self, images: np.ndarray) -> np.ndarray:
        """Per-pixel scores whose argmax is the class.

        Args:
            images: float32 (B, H, W, 3) RGB in 0..255, (H, W) = `input_size`.

        Returns:
            float32 (B, H, W, C).
        """
        return self._logits(self._checked(images))

    def class_map(self, images: np.ndarray) -> np.ndarray:
        """The argmax of `logits`: int32 (B, H, W) class indices in 0..C-1."""
        return np.argmax(self.logits(images), axis=-1).astype(np.int32)

    def _logits(self, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _checked(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 4 or images.shape[1:] != (*self.input_size, 3):
            raise UsageError(
                f"images must be (batch, {self.input_size[0]}, {self.input_size[1]}, 3) RGB "
                f"0..255 for this model, got shape {images.shape}"
            )
        return images


class KerasPredictor(Predictor):
    """A Keras model (in memory, or loaded from `.keras`), run in batches of 16."""

    def __init__(self, model: keras.Model, metadata: dict | None = None) -> None:
        super().__init__(model_input_size(model), model.output_shape[-1], metadata or {})
        self.model = model

    def _logits(self, images: np.ndarray) -> np.ndarray:
        chunks = [
            self.model.predict_on_batch(images[start : start + _KERAS_BATCH])
            for start in range(0, len(images), _KERAS_BATCH)
        ]
        return np.concatenate(chunks).astype(np.float32)


class SavedModelPredictor(Predictor):
    """A SavedModel from `keras_deconvnet.export`, called through `serving_default`.

    That signature returns softmax probabilities, not logits: `logits` gives their log
    (log-softmax: the logits minus a per-pixel constant, so the same argmax; resized
    bilinearly, a class boundary can move by a pixel compared with resized logits), and
    `class_map` returns the signature's own `class_map` output.
    """

    def __init__(self, path: Path) -> None:
        self._loaded = tf.saved_model.load(str(path))
        if SERVING_SIGNATURE not in self._loaded.signatures:
            raise UsageError(f"{path} has no '{SERVING_SIGNATURE}' signature; export it with scripts/export.py")
        self._serve = self._loaded.signatures[SERVING_SIGNATURE]
        [(self._input_name, spec)] = self._serve.structured_input_signature[1].items()
        outputs = self._serve.structured_outputs
        if "probabilities" not in outputs or "class_map" not in outputs:
            raise UsageError(f"{path} is not a keras_deconvnet export (no probabilities/class_map outputs)")
        super().__init__(spec.shape[1:3], outputs["probabilities"].shape[-1], read_metadata(path))

    def _outputs(self, images: np.ndarray) -> dict:
        return self._serve(**{self._input_name: tf.constant(images)})

    def _logits(self, images: np.ndarray) -> np.ndarray:
        probabilities = self._outputs(images)["probabilities"].numpy()
        return np.log(np.maximum(probabilities, np.finfo(np.float32).tiny))

    def class_map(self, images: np.ndarray) -> np.ndarray:
        return self._outputs(self._checked(images))["class_map"].numpy()


class TFLitePredictor(Predictor):
    """A `.tflite` model of batch size 1, run image by image with LiteRT.

    Quantised (int8/uint8) inputs and outputs are handled with each tensor's scale and
    zero point, so callers always pass float images and get float logits. A file whose
    output is the class map itself (`export --int8-output classes`) gives class maps only.
    """

    def __init__(self, path: Path, num_threads: int | None = None) -> None:
        self._path = path
        self._interpreter = litert_interpreter(path, num_threads)
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        in_shape, out_shape = tuple(self._input["shape"]), tuple(self._output["shape"])
        metadata = read_metadata(path)
        self.gives_classes = len(out_shape) == 3 and "num_classes" in metadata
        segmentation_output = len(out_shape) == 4 or self.gives_classes
        if len(in_shape) != 4 or in_shape[0] != 1 or in_shape[3] != 3 or not segmentation_output:
            raise UsageError(
                f"{path} is not a segmentation model with batch size 1 (input {in_shape}, "
                f"output {out_shape}); export it with scripts/export.py"
            )
        num_classes = metadata["num_classes"] if self.gives_classes else out_shape[3]
        super().__init__(in_shape[1:3], num_classes, metadata)

    def _logits(self, images: np.ndarray) -> np.ndarray:
        if self.gives_classes:
            raise UsageError(
                f"{self._path} gives the class map, not logits (or probabilities): export it with "
                "--int8-output int8 or float for them"
            )
        return np.concatenate([_dequantize(self._invoke(image[None]), self._output) for image in images])

    def class_map(self, images: np.ndarray) -> np.ndarray:
        outputs = np.concatenate([self._invoke(image[None]) for image in self._checked(images)])
        if self.gives_classes:
            return outputs.astype(np.int32)
        # The argmax of the output as it is: dequantising (a positive scale) keeps the order.
        return np.argmax(outputs, axis=-1).astype(np.int32)

    def _invoke(self, image: np.ndarray) -> np.ndarray:
        """The output tensor for one image, as the file gives it (int8 logits stay int8)."""
        self._interpreter.set_tensor(self._input["index"], _quantize(image, self._input))
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output["index"])


class OnnxPredictor(Predictor):
    """An `.onnx` file from `export.py --formats onnx`, run with ONNX Runtime on the CPU."""

    def __init__(self, path: Path, num_threads: int | None = None) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise UsageError(f'{path}: ONNX needs onnxruntime: pip install "keras-deconvnet[onnx]"') from None
        options = onnxruntime.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = num_threads
        self._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        in_shape, out_shape = self._session.get_inputs()[0].shape, self._session.get_outputs()[0].shape
        if len(in_shape) != 4 or in_shape[3] != 3 or len(out_shape) != 4 or not isinstance(out_shape[3], int):
            raise UsageError(f"{path} is not a segmentation model (input {in_shape}, output {out_shape})")
        super().__init__(tuple(in_shape[1:3]), out_shape[3], read_metadata(path))

    def _logits(self, images: np.ndarray) -> np.ndarray:
        return self._session.run(None, {self._input: images})[0]


def litert_interpreter(model: str | Path | bytes, num_threads: int | None = None) -> Interpreter:
    """A LiteRT interpreter of a `.tflite` path or flatbuffer with its tensors allocated, which
    applies XNNPACK; LiteRT's notice of the delegate is hidden with TensorFlow's logs."""
    source = {"model_content": model} if isinstance(model, bytes) else {"model_path": str(model)}
    with native_notices_hidden():
        interpreter = Interpreter(**source, num_threads=num_threads)
        interpreter.allocate_tensors()
    return interpreter


def _quantize(values: np.ndarray, detail: dict) -> np.ndarray:
    """Float values as the tensor's dtype, through its scale and zero point if quantised."""
    dtype = np.dtype(detail["dtype"])
    scale, zero_point = detail["quantization"]
    if dtype.kind not in "iu" or not scale:
        return values.astype(dtype)
    limits = np.iinfo(dtype)
    return np.clip(np.round(values / scale + zero_point), limits.min, limits.max).astype(dtype)


def _dequantize(values: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero_point = detail["quantization"]
    if np.dtype(detail["dtype"]).kind not in "iu" or not scale:
        return values.astype(np.float32)
    return ((values.astype(np.float32) - zero_point) * scale).astype(np.float32)


def version_dirs(base: str | Path) -> dict[int, Path]:
    """The numbered version folders of a TF Serving model folder: {version: path}."""
    base = Path(base)
    return {int(child.name): child for child in base.iterdir() if child.is_dir() and child.name.isdigit()}


def saved_model_dir(path: str | Path) -> Path:
    """A SavedModel folder itself, or the latest version inside a TF Serving model folder."""
    path = Path(path)
    if (path / "saved_model.pb").is_file():
        return path
    versions = {v: p for v, p in version_dirs(path).items() if (p / "saved_model.pb").is_file()}
    if not versions:
        raise UsageError(
            f"no SavedModel in {path}: expected saved_model.pb or numbered version folders{run_folder_hint(path)}"
        )
    return versions[max(versions)]


def load_predictor(
    path: str | Path, num_threads: int | None = None, input_size: tuple[int, int] | None = None
) -> Predictor:
    """Opens an exported model of any format.

    Args:
        path: a `.keras` file, a SavedModel folder (a version folder such as
            `saved_models/NAME/3`, or the model folder `saved_models/NAME`, meaning its
            latest version), a `.tflite` or an `.onnx` file.
        num_threads: CPU threads for TFLite and ONNX Runtime (None: their default); the
            TensorFlow formats use TensorFlow's thread pools.
        input_size: run a `.keras` model at this (height, width) instead of its own (see
            `keras_deconvnet.models.resize_model`); exported formats have a fixed size.

    Returns:
        A `Predictor` with `input_size`, `num_classes`, `class_names`, `palette`, `logits`
        and `class_map`.

    Raises:
        UsageError: the path is missing, of an unknown kind, or not a readable model.
    """
    path = Path(path)
    if not path.exists():
        raise UsageError(f"model not found: {path}")
    if path.suffix == ".keras":
        model = load_model(path, compile=False)
        if input_size is not None:
            model = resize_model(model, input_size)
        return KerasPredictor(model, read_metadata(path))
    predictor = _open_exported(path, num_threads)
    if input_size is not None and tuple(input_size) != predictor.input_size:
        raise UsageError(
            f"{path} has the fixed input size {predictor.input_size}; re-export the .keras model "
            "with --input-size"
        )
    return predictor


def _open_exported(path: Path, num_threads: int | None) -> Predictor:
    """A SavedModel, `.tflite` or `.onnx` predictor; anything else is a one-line UsageError."""
    try:
        if path.is_dir():
            return SavedModelPredictor(saved_model_dir(path))
        if path.suffix == ".tflite":
            return TFLitePredictor(path, num_threads)
        if path.suffix == ".onnx":
            return OnnxPredictor(path, num_threads)
    except UsageError:
        raise
    except Exception as error:
        raise UsageError(f"could not load {path}: {first_line(error)}") from error
    raise UsageError(f"{path} is not a model: pass a .keras file, a SavedModel folder, a .tflite or an .onnx file")


def first_line(error: Exception) -> str:
    """The first line of an error's message (libraries append dumps and hints below it)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
