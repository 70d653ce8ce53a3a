"""Segment images with a model served by TF Serving (REST, or gRPC with tensorflow-serving-api).

Sends the encoded files to the `serving_bytes` signature, which returns each class map at
the image's own size, and writes NAME_classes.png (class indices) and NAME_color.png (the
mask in the export's palette) per image. See docs/export.md.

Example:
  docker run -p 8501:8501 --mount type=bind,source=$PWD/saved_models/camvid,target=/models/camvid \\
      -e MODEL_NAME=camvid -t tensorflow/serving
  python scripts/serve_client.py photos/*.jpg --model-name camvid --out masks/ \\
      --metadata saved_models/camvid/1/assets.extra/keras_deconvnet.json
"""

import argparse
import json
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

from keras_deconvnet.commands.cli import add_verbose_argument, int_flag
from keras_deconvnet.datasets.palette import colorize, voc_palette
from keras_deconvnet.errors import UsageError
from keras_deconvnet.files import check_output_dir


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="+", help="JPEG/PNG files")
    parser.add_argument("--model-name", required=True, help="the served model's name (MODEL_NAME of the server)")
    parser.add_argument("--out", required=True, help="output folder (created if needed)")
    parser.add_argument("--rest", default="http://localhost:8501", help="REST address (default: http://localhost:8501)")
    parser.add_argument("--grpc", help="gRPC address such as localhost:8500, instead of REST (pip install -e '.[serving]')")
    parser.add_argument("--version", type=int, help="model version to ask for (default: the latest the server has)")
    parser.add_argument("--metadata", help="an export's metadata JSON, for the palette (default: the VOC colours)")
    parser.add_argument("--batch-size", type=int_flag(1), default=8, help="images per request (default: 8)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds per request (default: 60)")
    add_verbose_argument(parser)
    return parser


def rest_predict(url: str, image_bytes_list: list[bytes], timeout: float) -> list[np.ndarray]:
    """Class maps from a REST `:predict` call to the bytes signature."""
    from keras_deconvnet.export import class_maps_from_rest_response, rest_request_body

    request = urllib.request.Request(
        url, data=rest_request_body(image_bytes_list).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = response.read()
    except urllib.error.HTTPError as error:
        raise UsageError(f"TF Serving answered {error.code} at {url}: {error.read().decode(errors='replace')}") from None
    except (urllib.error.URLError, TimeoutError) as error:
        raise UsageError(f"cannot reach TF Serving at {url}: {error}") from None
    try:
        return class_maps_from_rest_response(json.loads(answer))
    except (ValueError, KeyError, TypeError, IndexError):
        start = answer[:80].decode(errors="replace").replace("\n", " ")
        raise UsageError(
            f"the answer from {url} is not a TF Serving prediction (it starts: {start!r}); check --rest and --model-name"
        ) from None


def grpc_predict(
    target: str, model_name: str, version: int | None, image_bytes_list: list[bytes], timeout: float
) -> list[np.ndarray]:
    """Class maps from a gRPC Predict call to the bytes signature (needs tensorflow-serving-api)."""
    try:
        import grpc
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc
    except ImportError:
        raise UsageError("--grpc needs tensorflow-serving-api: pip install -e '.[serving]'") from None
    from keras_deconvnet.export import BYTES_INPUT, crop_class_maps
    from keras_deconvnet.export.formats import BYTES_SIGNATURE

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = BYTES_SIGNATURE
    if version is not None:
        request.model_spec.version.value = version
    request.inputs[BYTES_INPUT].CopyFrom(tf.make_tensor_proto(image_bytes_list, dtype=tf.string))
    with grpc.insecure_channel(target) as channel:
        try:
            response = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=timeout)
        except grpc.RpcError as error:
            raise UsageError(f"TF Serving at {target} answered {error.code().name}: {error.details()}") from None
    outputs = {name: tf.make_ndarray(tensor) for name, tensor in response.outputs.items()}
    return crop_class_maps(outputs["class_map"], outputs["height"], outputs["width"])


def read_palette(metadata: str | None) -> np.ndarray:
    """The palette of an export's metadata JSON, or the VOC colour map."""
    if metadata is None:
        return voc_palette()
    try:
        return np.asarray(json.loads(Path(metadata).read_text())["palette"], dtype=np.uint8)
    except (OSError, ValueError, KeyError) as error:
        raise UsageError(f"cannot read a palette from {metadata}: {error}") from None


def main(args: argparse.Namespace) -> None:
    paths = [Path(path) for path in args.images]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise UsageError(f"no such image file: {', '.join(missing)} (pass image files, not folders)")
    if not 0 < args.timeout < float("inf"):
        raise UsageError(f"--timeout must be above 0 seconds, got {args.timeout}")
    if not args.grpc and not args.rest.startswith(("http://", "https://")):
        raise UsageError(f"--rest needs the scheme, e.g. http://{args.rest}")
    palette = read_palette(args.metadata)
    version = f"/versions/{args.version}" if args.version is not None else ""
    url = f"{args.rest.rstrip('/')}/v1/models/{args.model_name}{version}:predict"
    out_dir = check_output_dir(args.out, "--out")
    for start in range(0, len(paths), args.batch_size):
        batch = paths[start : start + args.batch_size]
        data = [path.read_bytes() for path in batch]
        if args.grpc:
            class_maps = grpc_predict(args.grpc, args.model_name, args.version, data, args.timeout)
        else:
            class_maps = rest_predict(url, data, args.timeout)
        out_dir.mkdir(parents=True, exist_ok=True)  # once the server has answered: no empty folder
        for path, classes in zip(batch, class_maps):
            Image.fromarray(classes.astype(np.uint8)).save(out_dir / f"{path.stem}_classes.png")
            Image.fromarray(colorize(classes, palette)).save(out_dir / f"{path.stem}_color.png")
    print(f"{len(paths)} image{'s' if len(paths) != 1 else ''} segmented by {args.grpc or url} into {out_dir}")

