"""Export to .keras, SavedModel (TF Serving) and TFLite, on a 64x64 paper model with 3 classes.

One export of every format is made once per module and inspected by most tests; the tests
that need their own export use formats that convert in seconds.
"""

import base64
import http.server
import io
import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter
from helpers import load_script, random_images, synthetic_dataset_images
from PIL import Image

from keras_deconvnet import UsageError, build_model
from keras_deconvnet.export import (
    PADDING_CLASS,
    ExportCheckError,
    class_maps_from_rest_response,
    convert_tflite,
    export_model,
    format_check_table,
    load_predictor,
    next_version,
    non_builtin_ops,
    rest_request_body,
)
from keras_deconvnet.export import check as check_module
from keras_deconvnet.export.formats import read_metadata
from keras_deconvnet.export.runtimes import Predictor
from keras_deconvnet.export.sources import DataSource, data_source

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
SIZE, CLASSES = 64, 3


@pytest.fixture(scope="module")
def model() -> keras.Model:
    return build_model("paper", num_classes=CLASSES, input_shape=(SIZE, SIZE, 3))


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return random_images(np.random.default_rng(0), 4, SIZE, SIZE)


@pytest.fixture(scope="module")
def export(model, images, tmp_path_factory):
    masks = np.random.default_rng(1).integers(0, CLASSES, size=(4, SIZE, SIZE))
    masks[:, :8] = 255
    out_dir = tmp_path_factory.mktemp("saved_models") / "tiny"
    # An untrained model's int8 file loses whole classes: the class gate has its own test.
    return export_model(
        model, out_dir, images, check_masks=masks, calibration_images=images,
        class_names=["sky", "road", "car"], source_model="tiny.keras", latency_runs=2, max_class_drop={},
    )


@pytest.fixture(scope="module")
def loaded_saved_model(export):
    return tf.saved_model.load(str(export.artifacts["saved_model"]))


def encoded(image: np.ndarray, image_format: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=image_format)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def photos() -> dict[str, tuple[np.ndarray, bytes]]:
    """A PNG and a JPEG whose sizes differ from the model's and from each other."""
    rng = np.random.default_rng(2)
    png = rng.integers(0, 256, size=(50, 80, 3), dtype=np.uint8)
    jpeg = rng.integers(0, 256, size=(90, 40, 3), dtype=np.uint8)
    return {"png": (png, encoded(png, "PNG")), "jpeg": (jpeg, encoded(jpeg, "JPEG"))}


def tf_serving_predict(loaded, body: dict) -> dict:
    """What TF Serving does with a REST `:predict` body in the row ("instances") format."""
    signature = loaded.signatures[body.get("signature_name", "serving_default")]
    [(input_name, spec)] = signature.structured_input_signature[1].items()
    values = [base64.b64decode(item["b64"]) if isinstance(item, dict) else item for item in body["instances"]]
    outputs = signature(**{input_name: tf.constant(values, dtype=spec.dtype)})
    batch = len(values)
    return {"predictions": [{name: value[i].numpy().tolist() for name, value in outputs.items()} for i in range(batch)]}


@pytest.mark.slow
def test_every_format_is_written_as_version_1_with_its_metadata(export):
    assert export.version == 1
    names = {kind: path.name for kind, path in export.artifacts.items()}
    assert names == {
        "keras": "tiny_v1.keras",
        "tflite_float32": "tiny_v1_float32.tflite",
        "tflite_float16": "tiny_v1_float16.tflite",
        "tflite_int8": "tiny_v1_int8.tflite",
        "saved_model": "1",
    }
    out_dir = export.artifacts["keras"].parent
    assert not [path for path in out_dir.iterdir() if path.name.startswith(".")]  # no staging left
    metadata = json.loads((out_dir / "tiny_v1_int8.json").read_text())
    assert metadata["dtype"] == "int8" and metadata["format"] == "tflite"
    assert metadata["input_size"] == [SIZE, SIZE] and metadata["num_classes"] == CLASSES
    assert metadata["class_names"] == ["sky", "road", "car"]
    assert np.array(metadata["palette"]).shape == (CLASSES, 3)
    assert metadata["normalisation"] == "RGB 0..255, model normalises internally"
    assert metadata["source_model"] == "tiny.keras" and metadata["keras_deconvnet_version"]
    assert metadata["input"] == {"shape": [1, SIZE, SIZE, 3], "dtype": "float32"}
    saved_model_metadata = json.loads((out_dir / "1" / "assets.extra" / "keras_deconvnet.json").read_text())
    assert set(saved_model_metadata["signatures"]) == {"serving_default", "serving_bytes"}


@pytest.mark.slow
def test_keras_file_reloads_with_plain_keras_load_model(export, model, images):
    reloaded = keras.models.load_model(export.artifacts["keras"])
    np.testing.assert_allclose(reloaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6)


@pytest.mark.slow
def test_saved_model_signatures_have_stable_names_and_dtypes(loaded_saved_model):
    signatures = loaded_saved_model.signatures
    assert set(signatures) == {"serving_default", "serving_bytes"}
    images_spec = signatures["serving_default"].structured_input_signature[1]["images"]
    assert images_spec.dtype == tf.float32 and images_spec.shape.as_list() == [None, SIZE, SIZE, 3]
    outputs = signatures["serving_default"].structured_outputs
    assert outputs["class_map"].dtype == tf.int32 and outputs["class_map"].shape.as_list() == [None, SIZE, SIZE]
    assert outputs["probabilities"].dtype == tf.float32
    assert outputs["probabilities"].shape.as_list() == [None, SIZE, SIZE, CLASSES]
    bytes_spec = signatures["serving_bytes"].structured_input_signature[1]["image_bytes"]
    assert bytes_spec.dtype == tf.string and bytes_spec.shape.as_list() == [None]
    assert set(signatures["serving_bytes"].structured_outputs) == {"class_map", "height", "width"}


@pytest.mark.slow
def test_saved_model_matches_the_keras_model(loaded_saved_model, model, images):
    outputs = loaded_saved_model.signatures["serving_default"](images=tf.constant(images))
    logits = model.predict(images, verbose=0)
    np.testing.assert_allclose(outputs["probabilities"].numpy(), tf.nn.softmax(logits).numpy(), atol=1e-5)
    assert np.mean(outputs["class_map"].numpy() == logits.argmax(-1)) >= 0.999


@pytest.mark.slow
def test_saved_model_stores_each_weight_once(export, model):
    stored = tf.train.list_variables(str(export.artifacts["saved_model"] / "variables" / "variables"))
    values = sum(int(np.prod(shape)) for name, shape in stored if name != "_CHECKPOINTABLE_OBJECT_GRAPH")
    assert values == model.count_params()


@pytest.mark.slow
def test_bytes_signature_returns_class_maps_at_the_original_sizes(loaded_saved_model, model, photos):
    (png, png_bytes), (_, jpeg_bytes) = photos["png"], photos["jpeg"]
    outputs = loaded_saved_model.signatures["serving_bytes"](image_bytes=tf.constant([png_bytes, jpeg_bytes]))
    assert outputs["height"].numpy().tolist() == [50, 90]
    assert outputs["width"].numpy().tolist() == [80, 40]
    class_maps = outputs["class_map"].numpy()
    assert class_maps.shape == (2, 90, 80)
    assert (class_maps[0, 50:] == PADDING_CLASS).all() and (class_maps[1, :, 40:] == PADDING_CLASS).all()
    assert set(np.unique(class_maps[1, :, :40])) <= set(range(CLASSES))
    # The PNG is lossless: its class map is the Keras model's, logits resized back bilinearly.
    resized = tf.image.resize(png[None].astype("float32"), (SIZE, SIZE))
    logits = tf.image.resize(model.predict(resized.numpy(), verbose=0), (50, 80))
    assert np.mean(class_maps[0, :50, :80] == np.argmax(logits[0], axis=-1)) >= 0.999


@pytest.mark.slow
def test_saved_model_runs_as_tf_serving_runs_it(export, photos):
    """TF Serving loads the graph by its tags and feeds and fetches the SignatureDef's tensor names."""
    with tf.Graph().as_default(), tf.compat.v1.Session() as session:
        meta_graph = tf.compat.v1.saved_model.load(session, ["serve"], str(export.artifacts["saved_model"]))
        signature = meta_graph.signature_def["serving_bytes"]
        fetches = {name: info.name for name, info in signature.outputs.items()}
        outputs = session.run(fetches, {signature.inputs["image_bytes"].name: [photos["jpeg"][1]]})
    assert outputs["class_map"].shape == (1, 90, 40) and outputs["height"].tolist() == [90]


@pytest.mark.slow
def test_rest_request_body_round_trips_through_the_bytes_signature(loaded_saved_model, photos):
    files = [photos["png"][1], photos["jpeg"][1]]
    body = json.loads(rest_request_body(files))
    assert body["signature_name"] == "serving_bytes"
    assert [base64.b64decode(instance["b64"]) for instance in body["instances"]] == files
    class_maps = class_maps_from_rest_response(json.loads(json.dumps(tf_serving_predict(loaded_saved_model, body))))
    direct = loaded_saved_model.signatures["serving_bytes"](image_bytes=tf.constant(files))["class_map"].numpy()
    assert [class_map.shape for class_map in class_maps] == [(50, 80), (90, 40)]
    np.testing.assert_array_equal(class_maps[1], direct[1, :90, :40])


@pytest.mark.slow
def test_tflite_files_have_batch_1_builtin_ops_float_input_and_logits_output(export):
    for dtype in ("float32", "float16", "int8"):
        path = export.artifacts[f"tflite_{dtype}"]
        assert non_builtin_ops(path.read_bytes()) == [], dtype
        interpreter = Interpreter(model_path=str(path))
        (inputs,), (outputs,) = interpreter.get_input_details(), interpreter.get_output_details()
        assert inputs["shape"].tolist() == [1, SIZE, SIZE, 3] and inputs["dtype"] == np.float32
        assert outputs["shape"].tolist() == [1, SIZE, SIZE, CLASSES]
        assert outputs["dtype"] == (np.int8 if dtype == "int8" else np.float32), dtype


@pytest.mark.slow
def test_int8_tflite_is_integer_from_the_quantize_op_to_its_int8_logits(export, images):
    path = export.artifacts["tflite_int8"]
    interpreter = Interpreter(model_path=str(path))
    float_tensors = [t for t in interpreter.get_tensor_details() if t["dtype"] == np.float32]
    assert len(float_tensors) == 1  # the float input before QUANTIZE; no DEQUANTIZE at the end
    scale, _ = interpreter.get_output_details()[0]["quantization"]
    assert scale > 0  # so the argmax of the int8 logits is the class map
    assert read_metadata(path)["output"]["dtype"] == "int8"
    predictor = load_predictor(path)
    assert predictor.logits(images).dtype == np.float32  # dequantised for callers
    class_maps = predictor.class_map(images)
    assert class_maps.dtype == np.int32 and class_maps.shape == (4, SIZE, SIZE)
    assert class_maps.min() >= 0 and class_maps.max() < CLASSES


@pytest.mark.slow
def test_check_compares_every_artifact_with_keras(export, model, images):
    rows = {row.kind: row for row in export.checks}
    assert list(rows) == ["reference", "keras", "tflite_float32", "tflite_float16", "tflite_int8", "saved_model"]
    assert rows["tflite_float32"].agreement >= 0.999 and rows["saved_model"].agreement >= 0.999
    assert rows["tflite_float16"].agreement >= 0.995
    assert rows["tflite_int8"].min_agreement is None and 0 <= rows["tflite_int8"].agreement <= 1
    assert all(row.mean_iou is not None and row.latency_ms > 0 for row in rows.values())
    float32 = load_predictor(export.artifacts["tflite_float32"]).class_map(images)
    assert np.mean(float32 == model.predict(images, verbose=0).argmax(-1)) >= 0.999
    table = format_check_table(export.checks)
    assert "| tflite_int8 | tiny_v1_int8.tflite |" in table and "reported" in table and "mIoU" in table


class FixedClassMaps(Predictor):
    """A predictor whose class maps are given: the check's arithmetic on known maps."""

    def __init__(self, class_maps: np.ndarray) -> None:
        super().__init__(class_maps.shape[1:], CLASSES, {})
        self.class_maps = class_maps

    def class_map(self, images: np.ndarray) -> np.ndarray:
        return self.class_maps[: len(images)]


def test_the_check_scores_every_class_and_fails_int8_that_loses_one(images, tmp_path, monkeypatch):
    masks = np.zeros((4, SIZE, SIZE), np.int64)
    masks[:, :, 20:40], masks[:, :, 40:] = 1, 2
    degraded = masks.copy()
    degraded[:, :32, 40:] = 1  # int8 turns half of class 2 into class 1
    monkeypatch.setattr(check_module, "load_predictor", lambda path, threads: FixedClassMaps(degraded))
    paths = {"tflite_float32": tmp_path / "a.tflite", "tflite_int8": tmp_path / "b.tflite"}
    for path in paths.values():
        path.write_bytes(b"x")
    rows = {row.kind: row for row in check_module.check_artifacts(FixedClassMaps(masks), paths, images, masks, latency_runs=1)}
    assert rows["reference"].per_class_iou == (1.0, 1.0, 1.0)
    assert rows["tflite_int8"].worst_drop == (2, pytest.approx(50.0)) and rows["tflite_int8"].max_class_drop == 3.0
    assert not rows["tflite_int8"].passed and rows["tflite_int8"].agrees  # agreement is only reported for int8
    assert rows["tflite_float32"].max_class_drop is None and rows["tflite_float32"].passed is False  # 0.999 agreement
    table = check_module.format_class_table(list(rows.values()), ["sky", "road", "car"])
    assert "| car | 100.00% | 50.00% | 50.00% (-50.00 FAILED) |" in table
    relaxed = check_module.check_artifacts(FixedClassMaps(masks), {"tflite_int8": paths["tflite_int8"]}, images, masks,
                                           latency_runs=1, max_class_drop={"tflite_int8": 60.0})
    assert relaxed[1].passed
    assert check_module.format_class_table(check_module.check_artifacts(FixedClassMaps(masks), {}, images, latency_runs=1), ["a", "b", "c"]) == ""
    rare = np.zeros_like(masks)
    rare[0, 0, 0] = 2  # one pixel of class 2: its IoU is not held to the limit
    monkeypatch.setattr(check_module, "load_predictor", lambda path, threads: FixedClassMaps(np.zeros_like(masks)))
    rows = check_module.check_artifacts(FixedClassMaps(rare), {"tflite_int8": paths["tflite_int8"]}, images, rare, latency_runs=1)
    assert rows[1].per_class_iou[2] == 0.0 and rows[1].worst_drop == (0, pytest.approx(0.0, abs=0.01)) and rows[1].passed


@pytest.mark.slow
def test_exports_get_the_next_version_and_never_overwrite(model, images, tmp_path):
    out_dir = tmp_path / "tiny"
    out_dir.mkdir()
    (out_dir / "tiny_v1.keras").write_bytes(b"an earlier export")
    result = export_model(model, out_dir, images[:1], formats=["keras"], latency_runs=1)
    assert result.version == 2 and result.artifacts["keras"].name == "tiny_v2.keras"
    assert (out_dir / "tiny_v1.keras").read_bytes() == b"an earlier export"
    (out_dir / "7").mkdir()
    assert next_version(out_dir) == 8


@pytest.mark.slow
def test_a_failed_check_leaves_no_partial_output(model, images, tmp_path):
    out_dir = tmp_path / "tiny"
    out_dir.mkdir()
    (out_dir / "tiny_v1.keras").write_bytes(b"an earlier export")
    with pytest.raises(ExportCheckError, match="keras agrees with the Keras model on 100.00% of pixels") as error:
        export_model(model, out_dir, images[:1], formats=["keras"], latency_runs=1, min_agreement={"keras": 1.01})
    assert [row.kind for row in error.value.rows] == ["reference", "keras"]
    assert [path.name for path in out_dir.iterdir()] == ["tiny_v1.keras"]


@pytest.mark.slow
def test_each_stage_is_reported_and_an_interrupted_export_leaves_no_folder_it_made(model, images, tmp_path):
    stages = []

    def progress(stage: str) -> None:
        stages.append(stage)
        if stage.startswith("checking"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export_model(model, tmp_path / "new" / "tiny", images[:1], formats=["keras", "tflite"],
                     tflite_types=["float32"], latency_runs=1, progress=progress)
    assert stages == ["converting to TFLite float32", "writing the .keras file", "checking every file against the Keras model"]
    assert list(tmp_path.iterdir()) == []  # neither tiny nor the folder above it, both made by the export


def test_ctrl_c_in_an_export_stops_after_the_stage_and_writes_nothing(tmp_path, monkeypatch, capfd):
    from keras_deconvnet.export import exporter

    handler_before = signal.signal(signal.SIGINT, signal.default_int_handler)
    written, write_saved_model = [], exporter.write_saved_model

    def write_with_ctrl_c(model, path):
        signal.raise_signal(signal.SIGINT)  # pressed while the SavedModel is written
        write_saved_model(model, path)
        written.append(path)

    monkeypatch.setattr(exporter, "write_saved_model", write_with_ctrl_c)
    save_tiny_model(tmp_path / "tiny.keras")
    script = load_script("export")
    monkeypatch.setattr(script, "dataset_images", synthetic_dataset_images())
    args = ["--model", str(tmp_path / "tiny.keras"), "--out", str(tmp_path / "saved_models" / "tiny"),
            "--formats", "keras,saved_model", "--check-images", "2", "--latency-runs", "1"]
    try:
        with pytest.raises(KeyboardInterrupt, match="nothing was written to"):
            script.main(script.get_args_parser().parse_args(args))
    finally:
        signal.signal(signal.SIGINT, handler_before)
    assert len(written) == 1  # the SavedModel stage ran to its end
    assert not (tmp_path / "saved_models").exists()
    assert "stopping after this stage (Ctrl-C again stops at once)" in capfd.readouterr().err


def test_flex_ops_fail_the_tflite_export_and_are_named(tmp_path, images):
    inputs = keras.Input((32, 32, 3))
    logits = keras.layers.Lambda(lambda x: keras.ops.cumprod(x, axis=-1))(keras.layers.Conv2D(3, 1)(inputs))
    model = keras.Model(inputs, logits)
    out_dir = tmp_path / "flex"
    with pytest.raises(UsageError, match="not TFLite built-ins: FlexCumprod"):
        export_model(model, out_dir, images[:1, :32, :32], formats=["tflite"], tflite_types=["float32"])
    assert not out_dir.exists()


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda model, images, tmp: convert_tflite(model, ["int8"]), "needs calibration images"),
        (lambda model, images, tmp: export_model(model, tmp, images, formats=["pmml"]), "unknown format pmml"),
        (lambda model, images, tmp: export_model(model, tmp, images[:, :32]), r"must be \(N >= 1, 64, 64, 3\)"),
    ],
)
def test_bad_arguments_are_usage_errors(call, message, model, images, tmp_path):
    with pytest.raises(UsageError, match=message):
        call(model, images, tmp_path / "tiny")


class _TFServingStub(http.server.BaseHTTPRequestHandler):
    """Answers `/v1/models/tiny:predict` as TF Serving would, with the exported SavedModel."""

    loaded = None

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != "/v1/models/tiny:predict":
            self.send_error(404)
            return
        answer = json.dumps(tf_serving_predict(self.loaded, body)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.mark.slow
def test_serve_client_writes_index_and_colour_masks(loaded_saved_model, photos, tmp_path):
    for name, (_, data) in photos.items():
        (tmp_path / f"{name}.{name}").write_bytes(data)
    handler = type("Handler", (_TFServingStub,), {"loaded": loaded_saved_model})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = load_script("serve_client")
    try:
        client.main(client.get_args_parser().parse_args([
            str(tmp_path / "png.png"), str(tmp_path / "jpeg.jpeg"), "--model-name", "tiny",
            "--rest", f"http://127.0.0.1:{server.server_port}", "--out", str(tmp_path / "masks"),
        ]))
    finally:
        server.shutdown()
    classes = np.asarray(Image.open(tmp_path / "masks" / "jpeg_classes.png"))
    assert classes.shape == (90, 40) and classes.max() < CLASSES
    assert np.asarray(Image.open(tmp_path / "masks" / "png_color.png")).shape == (50, 80, 3)


class _NotTFServing(http.server.BaseHTTPRequestHandler):
    """A web server that is not TF Serving: it answers every POST with an HTML page."""

    def do_POST(self):
        answer = b"<html>hello</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def test_serve_client_mistakes_are_one_line_and_leave_no_folder(photos, tmp_path, capsys):
    (tmp_path / "a.png").write_bytes(photos["png"][1])
    server = http.server.HTTPServer(("127.0.0.1", 0), _NotTFServing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = load_script("serve_client")

    def error(*flags: str) -> str:
        args = [str(tmp_path / "a.png"), "--model-name", "m", "--out", str(tmp_path / "masks"), *flags]
        with pytest.raises(UsageError) as caught:
            client.main(client.get_args_parser().parse_args(args))
        return str(caught.value)

    try:
        assert "is not a TF Serving prediction" in error("--rest", f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
    assert error("--rest", "localhost:8501") == "--rest needs the scheme, e.g. http://localhost:8501"
    assert error("--timeout", "-1") == "--timeout must be above 0 seconds, got -1.0"
    assert not (tmp_path / "masks").exists()
    with pytest.raises(SystemExit):  # a count is refused by the parser, naming its flag
        client.get_args_parser().parse_args(["a.png", "--model-name", "m", "--out", "masks", "--batch-size", "0"])
    assert "argument --batch-size: expected an integer of at least 1, got '0'" in capsys.readouterr().err


def save_tiny_model(path: Path) -> Path:
    """A 32x32 model of CLASSES classes, saved as `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    inputs = keras.Input((32, 32, 3))
    logits = keras.layers.Conv2D(CLASSES, 3, padding="same")(keras.layers.Rescaling(1 / 255)(inputs))
    keras.Model(inputs, logits).save(path)
    return path


@pytest.mark.slow
def test_export_script_end_to_end(tmp_path, monkeypatch, capsys):
    save_tiny_model(tmp_path / "tiny.keras")
    monkeypatch.chdir(tmp_path)
    script = load_script("export")
    monkeypatch.setattr(script, "dataset_images", synthetic_dataset_images())
    out_dir = tmp_path / "saved_models" / "tiny"
    args = ["--model", str(tmp_path / "tiny.keras"), "--out", str(out_dir), "--calibration-dataset", "demo",
            "--calibration-images", "8", "--check-images", "4", "--latency-runs", "2"]
    script.main(script.get_args_parser().parse_args(args))
    printed = capsys.readouterr().out
    for name in ("tiny_v1.keras", "tiny_v1_float32.tflite", "tiny_v1_float16.tflite", "tiny_v1_int8.tflite"):
        assert f"| {name} |" in printed and (out_dir / name).is_file()
    assert (out_dir / "1" / "saved_model.pb").is_file()
    assert json.loads((out_dir / "tiny_v1_float16.json").read_text())["class_names"] == ["a", "b", "c"]
    # The source is named as a path under the working directory, not as this machine's folders.
    assert json.loads((out_dir / "tiny_v1_int8.json").read_text())["source_model"] == "tiny.keras"


def test_export_script_names_the_released_files_in_its_check_table(tmp_path, monkeypatch, capsys):
    save_tiny_model(tmp_path / "tiny.keras")
    script = load_script("export")
    monkeypatch.setattr(script, "dataset_images", synthetic_dataset_images())
    out_dir = tmp_path / "saved_models" / "tiny"
    args = ["--model", str(tmp_path / "tiny.keras"), "--out", str(out_dir), "--formats", "keras,tflite",
            "--tflite-types", "int8", "--calibration-dataset", "demo", "--calibration-images", "4",
            "--check-images", "2", "--latency-runs", "1", "--release", "best", "--int8-max-class-drop", "100"]
    script.main(script.get_args_parser().parse_args(args))
    printed = capsys.readouterr().out
    for name in ("best.keras", "best_int8.tflite"):
        assert f"| {name} |" in printed and (out_dir / name).is_file()
    assert "tiny_v1" not in printed  # the versioned names no longer exist
    assert "|\n\n| class | Keras model | keras | tflite_int8 |\n" in printed  # its own table, after a blank line


def test_a_release_names_the_recipe_and_commit_of_the_run_that_trained_it(tmp_path, monkeypatch):
    model = save_tiny_model(tmp_path / "run" / "last.keras")
    run_config = {"dataset": "demo", "recipe": "camvid-lean", "stage": "full-size", "commit": "0123abc"}
    (tmp_path / "run" / "config.json").write_text(json.dumps(run_config))
    script = load_script("export")
    monkeypatch.setattr(script, "dataset_images", synthetic_dataset_images())
    out_dir = tmp_path / "saved_models" / "tiny"
    args = ["--model", str(model), "--out", str(out_dir), "--formats", "keras", "--check-images", "2",
            "--latency-runs", "1", "--release", "best"]
    script.main(script.get_args_parser().parse_args(args))
    metadata = read_metadata(out_dir / "best.keras")
    assert (metadata["recipe"], metadata["stage"], metadata["commit"]) == ("camvid-lean", "full-size", "0123abc")


def test_export_refuses_int8_when_nothing_says_what_the_model_was_trained_on(tmp_path, monkeypatch):
    model = save_tiny_model(tmp_path / "tiny.keras")  # no run config.json beside it
    script = load_script("export")
    monkeypatch.setattr(script, "dataset_images", synthetic_dataset_images())
    out_dir = tmp_path / "saved_models" / "tiny"
    with pytest.raises(UsageError, match="int8 needs calibration images .* pass --calibration-dataset"):
        script.main(script.get_args_parser().parse_args(["--model", str(model), "--out", str(out_dir)]))
    assert not out_dir.exists()


def test_export_takes_the_dataset_from_the_run_beside_the_model(tmp_path, monkeypatch):
    model = save_tiny_model(tmp_path / "run" / "best.keras")
    run_config = {"dataset": "camvid", "data_dir": "/data/CamVid", "dataset_options": {"seed": 1}, "ignore_label": 255}
    (tmp_path / "run" / "config.json").write_text(json.dumps(run_config))
    script = load_script("export")
    sources = []
    monkeypatch.setattr(script, "dataset_images", synthetic_dataset_images(sources))
    args = ["--model", str(model), "--out", str(tmp_path / "out"), "--formats", "keras", "--check-images", "2", "--latency-runs", "1"]
    script.main(script.get_args_parser().parse_args(args))
    assert sources == [(DataSource("camvid", "/data/CamVid", 255, {"seed": 1}), "val")]
    # A model outside the working directory is named by its absolute path.
    assert read_metadata(next((tmp_path / "out").glob("*.keras")))["source_model"] == str(model)
    # Flags win, and the run's folder and options stay with the run's dataset.
    assert data_source(str(model), "folder", ignore_label=0, needs_calibration=True) == DataSource("folder", None, 0, {})


def test_export_refuses_a_negative_class_drop_before_any_work(tmp_path):
    script = load_script("export")
    args = script.get_args_parser().parse_args(["--model", "m.keras", "--out", str(tmp_path / "out"), "--int8-max-class-drop", "-1"])
    with pytest.raises(UsageError, match="--int8-max-class-drop must be at least 0 points of IoU, got -1.0"):
        script.main(args)
    assert not (tmp_path / "out").exists()


def test_export_counts_are_checked_before_anything_is_converted(capsys):
    parser = load_script("export").get_args_parser()
    for flag in ("--calibration-images", "--check-images", "--latency-runs", "--num-threads"):
        with pytest.raises(SystemExit):
            parser.parse_args(["--model", "m.keras", "--out", "out", flag, "0"])
        assert f"argument {flag}: expected an integer of at least 1, got '0'" in capsys.readouterr().err


def test_a_stopped_export_says_what_it_left(tmp_path):
    script = load_script("export")
    out_dir = tmp_path / "tiny"
    assert script.interrupted_export(out_dir, set()) == f"nothing was written to {out_dir}"
    out_dir.mkdir()
    (out_dir / "tiny_v1.keras").write_bytes(b"an earlier export")
    assert script.interrupted_export(out_dir, {"tiny_v1.keras"}) == f"nothing was written to {out_dir}"
    (out_dir / "tiny_v2.keras").write_bytes(b"published before a second Ctrl-C")
    assert script.interrupted_export(out_dir, {"tiny_v1.keras"}).endswith("left there: tiny_v2.keras")


def test_export_refuses_an_evaluation_mode_it_could_not_store(tmp_path):
    script = load_script("export")
    args = ["--model", "missing.keras", "--out", str(tmp_path / "out"), "--evaluation-mode", "original"]
    with pytest.raises(UsageError, match="--evaluation-mode is stored in a release's metadata: add --release NAME"):
        script.main(script.get_args_parser().parse_args(args))


@pytest.mark.slow
def test_export_script_reports_a_missing_model_in_one_line(tmp_path):
    done = subprocess.run(
        [sys.executable, SCRIPTS / "export.py", "--model", tmp_path / "missing.keras", "--out", tmp_path / "out"],
        capture_output=True, text=True,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("error: model file not found")
    assert not (tmp_path / "out").exists()


def test_release_gives_stable_names_and_replaces_an_earlier_release(tmp_path):
    from keras_deconvnet.export import release_artifacts

    def fake_export(version: int) -> dict:
        files = {"keras": tmp_path / f"camvid_v{version}.keras", "tflite_int8": tmp_path / f"camvid_v{version}_int8.tflite"}
        for kind, path in files.items():
            path.write_text(f"{kind} v{version}")
            path.with_suffix(".json").write_text(json.dumps({"num_classes": 11, "version": version}))
        return {**files, "saved_model": tmp_path / str(version)}

    release_artifacts(fake_export(1), "best", {"evaluation_mode": "original"})
    released = release_artifacts(fake_export(2), "best", {"evaluation_mode": "original"})
    assert released == {"keras": tmp_path / "best.keras", "tflite_int8": tmp_path / "best_int8.tflite"}
    assert (tmp_path / "best.keras").read_text() == "keras v2"
    assert read_metadata(tmp_path / "best_int8.tflite") == {"num_classes": 11, "version": 2, "evaluation_mode": "original"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.json", "best.keras", "best_int8.json", "best_int8.tflite"]


@pytest.mark.slow
def test_a_mixed_precision_run_exports_every_format_in_float32(tmp_path):
    from keras_deconvnet.models import load_model
    from keras_deconvnet.models.precision import compute_dtypes
    from keras_deconvnet.training import TrainConfig, train

    run_dir = tmp_path / "run"
    demo = {"num_train": 8, "num_val": 4, "image_size": 64}
    try:
        train(TrainConfig(model="lean", dataset="demo", dataset_options=demo, input_size=(64, 64), batch_size=4,
                          epochs=1, mixed_precision=True, wandb="disabled", output_dir=str(run_dir)))
        trained = load_model(run_dir / "last.keras", compile=False)
        assert "bfloat16" in compute_dtypes(trained)
        images = random_images(np.random.default_rng(5), 4, 64, 64)
        result = export_model(trained, tmp_path / "out", images, calibration_images=images, latency_runs=1)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert all(row.passed for row in result.checks)
    assert set(result.artifacts) == {"keras", "saved_model", "tflite_float32", "tflite_float16", "tflite_int8"}
    assert compute_dtypes(load_model(result.artifacts["keras"], compile=False)) == {"float32"}
    assert read_metadata(result.artifacts["keras"])["dtype"] == "float32"
    assert not non_builtin_ops(result.artifacts["tflite_float32"].read_bytes())


@pytest.mark.slow
def test_onnx_is_exported_checked_and_opened_like_the_other_formats(model, images, tmp_path):
    from keras_deconvnet.export import load_predictor, release_artifacts
    from keras_deconvnet.export.formats import read_metadata

    pytest.importorskip("tf2onnx")
    pytest.importorskip("onnxruntime")
    masks = np.random.default_rng(1).integers(0, CLASSES, size=(4, SIZE, SIZE))
    result = export_model(model, tmp_path / "net", images, check_masks=masks, formats=("keras", "onnx"), latency_runs=2)
    rows = {row.kind: row for row in result.checks}
    assert rows["onnx"].passed and rows["onnx"].agreement >= 0.999 and rows["onnx"].mean_iou is not None
    assert result.artifacts["onnx"].name == "net_v1.onnx"
    metadata = read_metadata(result.artifacts["onnx"])
    assert metadata["format"] == "onnx" and metadata["num_classes"] == CLASSES
    assert read_metadata(result.artifacts["keras"])["format"] == "keras"  # each file its own JSON
    predictor = load_predictor(result.artifacts["onnx"])
    assert predictor.input_size == (SIZE, SIZE) and predictor.num_classes == CLASSES
    np.testing.assert_allclose(predictor.logits(images[:2]), model.predict_on_batch(images[:2]), atol=1e-3)
    released = release_artifacts(result.artifacts, "best")
    assert released["onnx"].name == "best.onnx" and read_metadata(released["onnx"])["format"] == "onnx"


def test_onnx_without_its_extra_is_one_line_and_leaves_nothing(model, images, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # as if not installed
    with pytest.raises(UsageError, match=r"pip install \"keras-deconvnet\[onnx\]\""):
        export_model(model, tmp_path / "net", images, formats=("keras", "onnx"), latency_runs=1)
    assert not (tmp_path / "net").exists()
