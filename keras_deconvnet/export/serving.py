"""TF Serving REST client helpers for the `serving_bytes` signature."""

import base64
import json
from collections.abc import Mapping, Sequence

import numpy as np

from keras_deconvnet.export.formats import BYTES_SIGNATURE


def rest_request_body(image_bytes_list: Sequence[bytes], signature_name: str = BYTES_SIGNATURE) -> str:
    """The JSON body of a TF Serving REST `:predict` request for the bytes signature.

    Each encoded image becomes one instance `{"b64": ...}` (TF Serving's encoding of binary
    strings), which the server decodes into the signature's one string input.

    Args:
        image_bytes_list: encoded JPEG/PNG files, as read from disk.
        signature_name: the signature to call.

    Returns:
        `{"signature_name": ..., "instances": [{"b64": ...}, ...]}` as a string.
    """
    instances = [{"b64": base64.b64encode(data).decode("ascii")} for data in image_bytes_list]
    return json.dumps({"signature_name": signature_name, "instances": instances})


def crop_class_maps(class_maps: Sequence, heights: Sequence[int], widths: Sequence[int]) -> list[np.ndarray]:
    """The `serving_bytes` outputs as one int32 (height, width) class map per image."""
    return [
        np.asarray(class_map, dtype=np.int32)[: int(height), : int(width)]
        for class_map, height, width in zip(class_maps, heights, widths)
    ]


def class_maps_from_rest_response(response: Mapping) -> list[np.ndarray]:
    """The class maps in TF Serving's REST answer (`{"predictions": [...]}`) to `serving_bytes`."""
    predictions = response["predictions"]
    return crop_class_maps(
        [p["class_map"] for p in predictions], [p["height"] for p in predictions], [p["width"] for p in predictions]
    )
