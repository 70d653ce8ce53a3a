"""Test-time augmentation: several scales and a horizontal flip, logits averaged.

A model of a fixed input size (every exported format has one) sees each image resized to
`scale` times that size. An image smaller than the input is padded (bottom and right, with
0 as in training) and its logits cropped; a larger one is covered by overlapping windows of
the input size whose logits are averaged where they overlap (MMSegmentation's "slide"
inference). Each view's logits are resized (bilinear) to the image's own size, flipped back
if the view was flipped, and the views' logits are averaged before the argmax.

Example:
    >>> tta = TestTimeAugmentation(flip=True, scales=(0.75, 1.0, 1.25))
    >>> logits = tta.logits(predictor, image)  # (H, W, C) at the image's own size
"""

import dataclasses
import math

import numpy as np
from keras import ops

from keras_deconvnet.constants import MAX_TTA_SCALE
from keras_deconvnet.errors import UsageError

# Consecutive windows overlap by about a third of the input size.
_WINDOW_STRIDE = 2 / 3


@dataclasses.dataclass(frozen=True)
class TestTimeAugmentation:
    """Which views of an image to average.

    Attributes:
        flip: add the left-right mirror of every scale's view.
        scales: sizes of the views, as multiples of the model's input size (1.0 is the
            image resized to the input size, the plain prediction).
    """

    flip: bool = False
    scales: tuple[float, ...] = (1.0,)

    def __post_init__(self):
        if not self.scales or not all(0 < s <= MAX_TTA_SCALE for s in self.scales):
            raise UsageError(
                f"TTA scales must be positive multiples of the model's input size, at most {MAX_TTA_SCALE:g}, "
                f"such as 0.75,1.0,1.25; got {self.scales}"
            )

    @property
    def views(self) -> int:
        """How many views of an image are averaged (a view above scale 1 costs several windows)."""
        return len(self.scales) * (2 if self.flip else 1)

    def as_metadata(self) -> dict:
        """The JSON a release stores as its evaluation setting."""
        return {"flip": self.flip, "scales": list(self.scales)}

    def logits(self, predictor, image: np.ndarray) -> np.ndarray:
        """Averaged logits of one image at its own resolution.

        Args:
            predictor: a `keras_deconvnet.export` predictor.
            image: (H, W, 3) RGB, 0..255.

        Returns:
            float32 (H, W, C).
        """
        height, width = image.shape[:2]
        image = np.asarray(image, "float32")
        total = 0.0
        for scale in self.scales:
            size = [max(1, round(side * scale)) for side in predictor.input_size]
            view = ops.convert_to_numpy(ops.image.resize(image[None], size))[0]
            for flipped in (False, True) if self.flip else (False,):
                logits = window_logits(predictor, view[:, ::-1] if flipped else view)
                if flipped:
                    logits = logits[:, ::-1]
                resized = ops.image.resize(logits[None], (height, width), interpolation="bilinear")
                total = total + ops.convert_to_numpy(resized)[0]
        return total / self.views


def window_starts(length: int, window: int) -> list[int]:
    """Start offsets of windows of `window` that cover `length`, the last flush with the end."""
    if length <= window:
        return [0]
    stride = max(1, math.ceil(window * _WINDOW_STRIDE))
    count = math.ceil((length - window) / stride) + 1
    return [min(index * stride, length - window) for index in range(count)]


def window_logits(predictor, image: np.ndarray) -> np.ndarray:
    """Logits of an image of any size from a model of a fixed input size.

    Args:
        predictor: a `keras_deconvnet.export` predictor.
        image: (h, w, 3) RGB, 0..255.

    Returns:
        float32 (h, w, C): padded and cropped when the image is smaller than the input,
        the mean over overlapping windows where it is larger.
    """
    height, width = image.shape[:2]
    window_height, window_width = predictor.input_size
    padded = np.zeros((max(height, window_height), max(width, window_width), 3), "float32")
    padded[:height, :width] = image
    corners = [
        (top, left)
        for top in window_starts(padded.shape[0], window_height)
        for left in window_starts(padded.shape[1], window_width)
    ]
    crops = np.stack([padded[t : t + window_height, l : l + window_width] for t, l in corners])
    logits = predictor.logits(crops)
    total = np.zeros((*padded.shape[:2], logits.shape[-1]), "float32")
    count = np.zeros((*padded.shape[:2], 1), "float32")
    for (top, left), window in zip(corners, logits):
        total[top : top + window_height, left : left + window_width] += window
        count[top : top + window_height, left : left + window_width] += 1
    return (total / count)[:height, :width]
