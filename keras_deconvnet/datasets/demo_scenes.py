"""`demo`: circles, squares and triangles on textured backgrounds, generated in code, offline.

Every shape gets a random colour whatever its class, so a model has to tell the classes apart
by shape. Backgrounds are darker (a smooth random colour field, stripes and noise) than the
shapes, which keeps the task easy enough for a small model trained a few epochs on a CPU.
Example i of a split is drawn from a generator seeded with (seed, split, i): the same options
give byte-identical examples.
"""

import colorsys

import numpy as np

CLASS_NAMES = ("background", "circle", "square", "triangle")
PALETTE = np.array([(0, 0, 0), (230, 25, 75), (60, 180, 75), (0, 130, 200)], dtype=np.uint8)
SPLITS = ("train", "val")


def _smooth_field(rng: np.random.Generator, size: int, low: float, high: float) -> np.ndarray:
    """A (size, size, 3) colour field interpolated bilinearly from a random 4x4 grid."""
    grid = rng.uniform(low, high, size=(4, 4, 3))
    position = np.linspace(0, 3, size)
    start = np.minimum(position.astype(int), 2)
    weight = (position - start)[:, None, None]
    rows = grid[start] * (1 - weight) + grid[start + 1] * weight
    return rows[:, start] * (1 - weight[None, :, :, 0]) + rows[:, start + 1] * weight[None, :, :, 0]


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    angle, period = rng.uniform(0, np.pi), rng.uniform(6, 20)
    stripes = 12 * np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period)
    return _smooth_field(rng, size, 20, 100) + stripes[..., None]


def _shape_mask(rng: np.random.Generator, label: int, size: int) -> np.ndarray:
    """A random circle (1), square (2) or triangle (3) of similar area, as a boolean mask."""
    radius = rng.uniform(0.09, 0.2) * size
    center_y, center_x = rng.uniform(radius, size - radius, size=2)
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    dy, dx = yy - center_y, xx - center_x
    if label == 1:
        return dx**2 + dy**2 <= radius**2
    if label == 2:
        u = dx * np.cos(angle) + dy * np.sin(angle)
        v = -dx * np.sin(angle) + dy * np.cos(angle)
        return (np.abs(u) <= 0.8 * radius) & (np.abs(v) <= 0.8 * radius)
    corners = [angle + k * 2 * np.pi / 3 for k in range(3)]
    points = [(1.4 * radius * np.cos(a), 1.4 * radius * np.sin(a)) for a in corners]
    inside = np.ones((size, size), dtype=bool)
    for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1], strict=True):
        inside &= (x1 - x0) * (dy - y0) - (y1 - y0) * (dx - x0) >= 0
    return inside


def demo_example(
    seed: int, split: str, index: int, image_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Draws one demo scene.

    Args:
        seed: the dataset seed.
        split: "train" or "val".
        index: the example's index in its split.
        image_size: height and width in pixels.

    Returns:
        (image, mask): uint8 (size, size, 3) RGB and uint8 (size, size, 1) class indices.
    """
    rng = np.random.default_rng([seed, SPLITS.index(split), index])
    image = _background(rng, image_size)
    mask = np.zeros((image_size, image_size), dtype=np.uint8)
    for _ in range(rng.integers(1, 4)):
        label = int(rng.integers(1, len(CLASS_NAMES)))
        inside = _shape_mask(rng, label, image_size)
        hue, saturation, value = rng.uniform(0, 1), rng.uniform(0.3, 1), rng.uniform(0.65, 1)
        image[inside] = 255 * np.array(colorsys.hsv_to_rgb(hue, saturation, value))
        mask[inside] = label
    image += rng.normal(0, 8, size=image.shape)
    return np.clip(image, 0, 255).round().astype(np.uint8), mask[..., np.newaxis]
