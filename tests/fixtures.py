"""Tiny dataset folders for tests: Pascal VOC + SBD, CamVid (SegNet layout), a user folder.

Each writer fills `root` (created if needed) and returns the folder to pass as `data_dir` to
`keras_deconvnet.datasets.load_split`. Everything is small (24x32 images by default) and
deterministic. Point the TFDS cache at a tmp dir too, e.g.
`monkeypatch.setenv("KERAS_DECONVNET_TFDS_DIR", str(tmp_path / "cache"))`.

Example:
    >>> source = write_camvid_tree(tmp_path / "camvid", splits={"train": 3, "val": 2})
    >>> train, info = load_split("camvid", "train", source)
"""

import tarfile
import tempfile
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

from keras_deconvnet.datasets.palette import voc_palette

# The start of a Python program run in a subprocess: TensorFlow made unimportable, as on a
# machine that has JAX and no TensorFlow.
WITHOUT_TENSORFLOW = """
import importlib.abc, sys

class NoTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "tensorflow_datasets"):
            raise ModuleNotFoundError(name)

sys.meta_path.insert(0, NoTensorFlow())
"""

VOC_TRAIN = ("2007_000032", "2007_000039", "2007_000063")
VOC_VAL = ("2007_000033", "2007_000042")
# 2007_000032 is also VOC train; 2007_000033 and 2007_000042 are VOC val (so not train_aug).
SBD_TRAIN = ("2007_000032", "2007_000033", "2008_000002", "2008_000003")
SBD_VAL = ("2007_000042", "2008_000007")
VOC_TRAIN_AUG = (
    "2007_000032",
    "2007_000039",
    "2007_000063",
    "2008_000002",
    "2008_000003",
    "2008_000007",
)


def label_mask(
    seed: int, size: tuple[int, int], num_classes: int, border: int | None = None
) -> np.ndarray:
    """A uint8 (H, W) mask: background 0 and a rectangle of a class from 1 to num_classes - 1.

    Args:
        seed: picks the class and the rectangle.
        size: (height, width).
        num_classes: classes in the dataset (at least 2).
        border: a value for a 1-pixel ring around the rectangle (VOC's 255), or None.

    Returns:
        The mask; with `border`, it holds 0, the class and `border`.
    """
    rng = np.random.default_rng(seed)
    height, width = size
    mask = np.zeros(size, dtype=np.uint8)
    top, left = rng.integers(1, height // 3), rng.integers(1, width // 3)
    bottom = rng.integers(2 * height // 3, height - 1)
    right = rng.integers(2 * width // 3, width - 1)
    if border is not None:
        mask[top - 1 : bottom + 1, left - 1 : right + 1] = border
    mask[top:bottom, left:right] = 1 + seed % (num_classes - 1)
    return mask


def _write_image(path: Path, seed: int, size: tuple[int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, size=(*size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def _write_index_png(path: Path, mask: np.ndarray, palette: np.ndarray | None = None) -> None:
    """Greyscale ("L") PNG, or a palette ("P") PNG when a palette is given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(mask)
    if palette is not None:
        image.putpalette(palette.ravel().tolist())
    image.save(path)


def write_voc_tree(
    root: Path,
    *,
    train: tuple[str, ...] = VOC_TRAIN,
    val: tuple[str, ...] = VOC_VAL,
    sbd_train: tuple[str, ...] = SBD_TRAIN,
    sbd_val: tuple[str, ...] = SBD_VAL,
    size: tuple[int, int] = (24, 32),
) -> Path:
    """Writes `VOCdevkit/VOC2012/` and, unless no SBD ids are given, `benchmark_RELEASE/dataset/`.

    VOC masks are palette PNGs with the VOC palette and 255 borders; SBD masks are `cls/<id>.mat`
    files whose `GTcls.Segmentation` holds the indices (no borders). With the defaults, the
    `train_aug` split is `VOC_TRAIN_AUG`.

    Args:
        root: the folder to fill.
        train, val: VOC's segmentation image ids.
        sbd_train, sbd_val: SBD's image ids.
        size: (height, width) of every image.

    Returns:
        `root`.
    """
    voc = root / "VOCdevkit" / "VOC2012"
    lists = voc / "ImageSets" / "Segmentation"
    lists.mkdir(parents=True, exist_ok=True)
    for split, ids in (("train", train), ("val", val)):
        (lists / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids))
    for number, image_id in enumerate(train + val):
        _write_image(voc / "JPEGImages" / f"{image_id}.jpg", number, size)
        mask = label_mask(number, size, 21, border=255)
        _write_index_png(voc / "SegmentationClass" / f"{image_id}.png", mask, voc_palette())
    if sbd_train or sbd_val:
        sbd = root / "benchmark_RELEASE" / "dataset"
        (sbd / "cls").mkdir(parents=True, exist_ok=True)
        for split, ids in (("train", sbd_train), ("val", sbd_val)):
            (sbd / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids))
        for number, image_id in enumerate(sbd_train + sbd_val, start=100):
            _write_image(sbd / "img" / f"{image_id}.jpg", number, size)
            segmentation = label_mask(number, size, 21)
            scipy.io.savemat(
                sbd / "cls" / f"{image_id}.mat",
                {
                    "GTcls": {
                        "Segmentation": segmentation,
                        "CategoriesPresent": np.unique(segmentation)[1:],
                    }
                },
            )
    return root


def write_voc_archives(root: Path, **tree_options) -> Path:
    """Writes `VOCtrainval_11-May-2012.tar` and `benchmark.tgz` of `write_voc_tree`'s folders.

    Args:
        root: the folder to fill.
        **tree_options: passed to `write_voc_tree`.

    Returns:
        `root`.
    """
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as staging:
        tree = write_voc_tree(Path(staging), **tree_options)
        with tarfile.open(root / "VOCtrainval_11-May-2012.tar", "w") as archive:
            archive.add(tree / "VOCdevkit", arcname="VOCdevkit")
        with tarfile.open(root / "benchmark.tgz", "w:gz") as archive:
            archive.add(tree / "benchmark_RELEASE", arcname="benchmark_RELEASE")
    return root


def write_camvid_tree(
    root: Path,
    *,
    splits: dict[str, int] | None = None,
    size: tuple[int, int] = (24, 32),
    segnet_paths: bool = True,
    sequences: dict[str, tuple[str, ...]] | None = None,
) -> Path:
    """Writes CamVid in SegNet's layout: `<split>/`, `<split>annot/` and `<split>.txt`.

    Labels are greyscale PNGs of ids 0..10 with 11 (unlabelled) borders.

    Args:
        root: the folder to fill.
        splits: images per split (default `{"train": 3, "val": 2}`).
        size: (height, width) of every image.
        segnet_paths: list lines with SegNet's absolute paths (`/SegNet/CamVid/train/x.png`)
            rather than paths relative to `root`.
        sequences: the video sequences each split's frames cycle through, as file-name
            prefixes (default: 0001TP only).

    Returns:
        `root`.
    """
    splits = {"train": 3, "val": 2} if splits is None else splits
    sequences = sequences or {}
    prefix = "/SegNet/CamVid/" if segnet_paths else ""
    number = 0
    for split, count in splits.items():
        lines = []
        for index in range(count):
            cycle = sequences.get(split, ("0001TP",))
            name = f"{cycle[index % len(cycle)]}_{split}_{index:04d}.png"
            _write_image(root / split / name, number, size)
            _write_index_png(root / f"{split}annot" / name, label_mask(number, size, 11, border=11))
            lines.append(f"{prefix}{split}/{name} {prefix}{split}annot/{name}\n")
            number += 1
        (root / f"{split}.txt").write_text("".join(lines))
    return root


def write_folder_tree(
    root: Path,
    *,
    splits: dict[str, int] | None = None,
    num_classes: int = 3,
    size: tuple[int, int] = (24, 32),
    list_files: bool = True,
) -> Path:
    """Writes a user folder: `images/img_NNN.png`, `masks/img_NNN.png` and `<split>.txt` lists.

    Masks are greyscale PNGs of classes 0..num_classes - 1 with 255 (ignore) borders.

    Args:
        root: the folder to fill.
        splits: images per split, in order (default `{"train": 3, "val": 1}`).
        num_classes: classes in the masks.
        size: (height, width) of every image.
        list_files: write `<split>.txt` (file stems); without them, every image is `train`.

    Returns:
        `root`.
    """
    splits = {"train": 3, "val": 1} if splits is None else splits
    number = 0
    for split, count in splits.items():
        stems = [f"img_{number + index:03d}" for index in range(count)]
        for stem in stems:
            _write_image(root / "images" / f"{stem}.png", number, size)
            mask = label_mask(number, size, num_classes, border=255)
            _write_index_png(root / "masks" / f"{stem}.png", mask)
            number += 1
        if list_files:
            (root / f"{split}.txt").write_text("".join(f"{stem}\n" for stem in stems))
    return root
