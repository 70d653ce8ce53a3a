"""The NumPy counterpart of `keras_deconvnet.data.pipeline`: batches as `keras.utils.PyDataset`s, for
training without TensorFlow (Keras on JAX).

The same steps as the tf.data pipeline, with PIL for resizing and colour conversion: random
scale, pad to the crop size (image 0, mask ignore), random crop, random flip, an optional
photometric distortion, then float32 images in 0..255 and int32 masks with the dataset's
ignore label mapped to 255, and an optional ClassMix or CutMix of each batch (`mix_regions`,
as `keras_deconvnet.data.mixing`). The random draws differ from tf.data's (NumPy generators seeded
with (seed, epoch, batch)), so a run is repeatable with this path but draws other crops than
the same run through tf.data. Batches are made by `workers` threads; PIL and NumPy release
the GIL for most of the work.

Training batches are one endless stream (`num_batches` is None, and `model.fit` gets
`steps_per_epoch`): batch i is batch i % n of epoch first_epoch + i // n. Keras' queue prefetches across an
epoch's end; with a finite dataset, batches prefetched in one epoch's order would open the
next epoch, and some images would come twice an epoch and others not at all.
"""

import keras
import numpy as np
from PIL import Image

from keras_deconvnet.constants import IGNORE_LABEL
from keras_deconvnet.data.mix_settings import check_mix, check_mix_mode
from keras_deconvnet.errors import UsageError


def photometric_distortion(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`augmentation.PhotometricDistortion`'s draws on a uint8 (H, W, 3) image, in NumPy and PIL.

    Brightness shift in [-32, 32], contrast (about the image's mean) and saturation factors in
    [0.5, 1.5], hue shift up to 18 degrees, each with probability 1/2; contrast before or after
    the colour changes, at random.
    """
    coins = rng.random(4) < 0.5
    contrast_first = rng.random() < 0.5
    pixels = image.astype(np.float32)
    if coins[0]:
        pixels = np.clip(pixels + rng.uniform(-32, 32), 0, 255)
    if coins[1] and contrast_first:
        pixels = _contrast(pixels, rng.uniform(0.5, 1.5))
    if coins[2] or coins[3]:
        hue, saturation, value = Image.fromarray(pixels.round().astype(np.uint8)).convert("HSV").split()
        if coins[2]:
            scaled = np.asarray(saturation, np.float32) * rng.uniform(0.5, 1.5)
            saturation = Image.fromarray(np.clip(scaled, 0, 255).round().astype(np.uint8))
        if coins[3]:
            shift = round(rng.uniform(-18, 18) / 360 * 256)
            hue = Image.fromarray(((np.asarray(hue, np.int16) + shift) % 256).astype(np.uint8))
        pixels = np.asarray(Image.merge("HSV", (hue, saturation, value)).convert("RGB"), np.float32)
    if coins[1] and not contrast_first:
        pixels = _contrast(pixels, rng.uniform(0.5, 1.5))
    return pixels


def mix_regions(
    masks: np.ndarray, mode: str, probability: float, num_classes: int, rng: np.random.Generator
) -> np.ndarray:
    """`keras_deconvnet.data.mixing.mix_batch`'s pasted regions: (B, H, W) bool, image i's taken from image i - 1.

    Args:
        masks: (B, H, W) labels of the batch, 255 = ignore.
        mode: "classmix" (each class of the other image with probability 1/2) or "cutmix" (a
            box of a uniform random area fraction, the image's aspect).
        probability: the chance that an image is mixed at all.
        num_classes: the classes a mask may hold besides 255.
        rng: the batch's generator.

    Returns:
        Where each image takes the previous image's pixel and label; never where that is 255.

    Raises:
        UsageError: an unknown mode.
    """
    check_mix_mode(mode)
    others = np.roll(masks, 1, axis=0)
    height, width = masks.shape[1:]
    pasted = np.zeros(masks.shape, bool)
    for index, other in enumerate(others):
        if rng.random() >= probability:
            continue
        if mode == "classmix":
            chosen = np.append(rng.random(num_classes) < 0.5, False)  # 255 maps to the last entry
            pasted[index] = chosen[np.minimum(other, num_classes)]
        else:
            side = np.sqrt(rng.random())
            box_height, box_width = round(height * side), round(width * side)
            top, left = rng.integers(0, height - box_height + 1), rng.integers(0, width - box_width + 1)
            pasted[index, top : top + box_height, left : left + box_width] = True
    return pasted & (others != IGNORE_LABEL)


def _contrast(pixels: np.ndarray, factor: float) -> np.ndarray:
    mean = pixels.mean(axis=(0, 1), keepdims=True)
    return np.clip((pixels - mean) * factor + mean, 0, 255)


def resize_pair(image: np.ndarray, mask: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Resizes a uint8 image (bilinear) and its uint8 mask (nearest) to (height, width)."""
    height, width = size
    image = np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR))
    mask = np.asarray(Image.fromarray(mask).resize((width, height), Image.NEAREST))
    return image, mask


def random_crop_pair(
    image: np.ndarray, mask: np.ndarray, size: tuple[int, int], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Pads a short side by its shortfall at both ends (image 0, mask 255), then crops `size`."""
    height, width = size
    pad_rows, pad_cols = max(height - image.shape[0], 0), max(width - image.shape[1], 0)
    if pad_rows or pad_cols:
        pads = ((pad_rows, pad_rows), (pad_cols, pad_cols))
        image = np.pad(image, (*pads, (0, 0)))
        mask = np.pad(mask, pads, constant_values=IGNORE_LABEL)
    top = rng.integers(0, image.shape[0] - height + 1)
    left = rng.integers(0, image.shape[1] - width + 1)
    return image[top : top + height, left : left + width], mask[top : top + height, left : left + width]


def _labels(mask: np.ndarray, num_classes: int, ignore_label: int) -> np.ndarray:
    """The dataset's ignore label as 255; the arrays were checked for stray labels when read."""
    mask = np.where(mask == ignore_label, IGNORE_LABEL, mask)
    if mask[mask != IGNORE_LABEL].max(initial=0) >= num_classes:
        raise UsageError(f"a mask has a label >= num_classes ({num_classes}); check --num-classes")
    return mask


class TrainingBatches(keras.utils.PyDataset):
    """Shuffled, augmented training batches of (images float32 (B, H, W, 3), masks int32 (B, H, W)),
    an endless stream of epochs; each epoch's last incomplete batch is dropped, as in the tf.data
    pipeline."""

    def __init__(
        self,
        images: list[np.ndarray],
        masks: list[np.ndarray],
        *,
        num_classes: int,
        ignore_label: int,
        input_size: tuple[int, int],
        batch_size: int,
        scale_range: tuple[float, float] = (0.5, 2.0),
        flip: bool = True,
        photometric: bool = False,
        mix: str = "none",
        mix_probability: float = 0.5,
        seed: int = 0,
        first_epoch: int = 0,
        workers: int = 4,
    ):
        super().__init__(workers=workers, use_multiprocessing=False)
        if batch_size < 1 or len(images) < batch_size:
            raise UsageError(f"{len(images)} training images cannot fill a batch of {batch_size}; use a smaller batch")
        check_mix(mix, mix_probability, batch_size)
        self.images, self.masks = images, masks
        self.num_classes, self.ignore_label = num_classes, ignore_label
        self.input_size, self.batch_size = tuple(input_size), batch_size
        self.scale_range, self.flip, self.photometric = tuple(scale_range), flip, photometric
        self.mix, self.mix_probability = mix, mix_probability
        self.seed, self.first_epoch = seed, first_epoch
        self.batches_per_epoch = len(images) // batch_size

    @property
    def num_batches(self) -> None:
        return None  # endless: see the module docstring

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        epoch, batch = divmod(index, self.batches_per_epoch)
        epoch += self.first_epoch  # a resumed run's stream starts at its next epoch
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.images))
        rng = np.random.default_rng([self.seed, epoch, batch])
        chosen = order[batch * self.batch_size : (batch + 1) * self.batch_size]
        pairs = [self._augment(self.images[i], self.masks[i], rng) for i in chosen]
        images = np.stack([image for image, _ in pairs]).astype(np.float32)
        masks = np.stack([mask for _, mask in pairs])
        if self.mix != "none":
            pasted = mix_regions(masks, self.mix, self.mix_probability, self.num_classes, rng)
            images = np.where(pasted[..., None], np.roll(images, 1, axis=0), images)
            masks = np.where(pasted, np.roll(masks, 1, axis=0), masks)
        return images, masks.astype(np.int32)

    def _augment(self, image, mask, rng):
        factor = rng.uniform(*self.scale_range)
        size = (max(round(image.shape[0] * factor), 1), max(round(image.shape[1] * factor), 1))
        image, mask = resize_pair(image, mask, size)
        image, mask = random_crop_pair(image, _labels(mask, self.num_classes, self.ignore_label), self.input_size, rng)
        if self.flip and rng.random() < 0.5:
            image, mask = image[:, ::-1], mask[:, ::-1]
        pixels = photometric_distortion(image, rng) if self.photometric else image
        return pixels, mask


class EvaluationBatches(keras.utils.PyDataset):
    """Validation batches in file order, resized to `input_size` (image bilinear, mask nearest),
    as the tf.data evaluation pipeline's "resize" mode."""

    def __init__(
        self,
        images: list[np.ndarray],
        masks: list[np.ndarray],
        *,
        num_classes: int,
        ignore_label: int,
        input_size: tuple[int, int],
        batch_size: int,
        workers: int = 4,
    ):
        super().__init__(workers=workers, use_multiprocessing=False)
        self.images, self.masks = images, masks
        self.num_classes, self.ignore_label = num_classes, ignore_label
        self.input_size, self.batch_size = tuple(input_size), batch_size

    def __len__(self) -> int:
        return -(-len(self.images) // self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        chosen = range(index * self.batch_size, min((index + 1) * self.batch_size, len(self.images)))
        pairs = [resize_pair(self.images[i], self.masks[i], self.input_size) for i in chosen]
        images = np.stack([image for image, _ in pairs]).astype(np.float32)
        masks = np.stack([_labels(mask, self.num_classes, self.ignore_label) for _, mask in pairs])
        return images, masks.astype(np.int32)
