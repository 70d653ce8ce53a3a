"""`folder`: your own data, a folder of images and a folder of label PNGs with the same names.

    my_data/
      images/   a.jpg b.png ...     RGB images (.png, .jpg, .jpeg)
      masks/    a.png b.png ...     single-channel PNGs of class indices, one per image
      train.txt val.txt test.txt    optional: one file stem ("a") per line

Each list file that exists is a split; with none, every image is in `train`. Label values are
0 .. num_classes - 1, or the ignore label (default 255). Names, label formats and label values
are checked, and a mistake names the file and the fix.
"""

from pathlib import Path

from keras_deconvnet.datasets.info import read_list
from keras_deconvnet.errors import UsageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
LIST_SPLITS = ("train", "val", "test")


def check_label_options(num_classes: object, ignore_label: object) -> None:
    """Raises a UsageError naming the flag unless 2 <= num_classes <= ignore_label <= 255."""
    if not isinstance(num_classes, int) or not 2 <= num_classes <= 255:
        raise UsageError(f"the folder dataset needs num_classes from 2 to 255 (--num-classes), got {num_classes}")
    if not isinstance(ignore_label, int) or not num_classes <= ignore_label <= 255:
        raise UsageError(
            f"the folder dataset needs ignore_label (--ignore-label) from num_classes ({num_classes}) to 255, "
            f"got {ignore_label}"
        )


def files_by_stem(folder: Path, suffixes: tuple[str, ...]) -> dict[str, Path]:
    """{name without suffix: path} of a folder's files with one of `suffixes` (any case), sorted.

    Raises:
        UsageError: two files share a name but for the suffix (or its case): a.jpg and a.png.
    """
    files, keys = {}, {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in suffixes:
            key = path.stem.casefold()  # A.png and a.jpg are one file on case-insensitive disks
            if key in keys:
                raise UsageError(f"{keys[key]} and {path} share a name: rename or remove one")
            keys[key] = files[path.stem] = path
    return files


def folder_pairs(
    root: Path, images_subdir: str, masks_subdir: str
) -> dict[str, list[tuple[Path, Path]]]:
    """Pairs each image with its label, per split.

    Args:
        root: the dataset folder.
        images_subdir: its subfolder of images.
        masks_subdir: its subfolder of label PNGs.

    Returns:
        {split: [(image path, label path), ...]}, in list order (or name order for `train`
        when there is no list file).

    Raises:
        UsageError: a folder is missing, an image has no label or a label no image, or a list
            file names an image that does not exist.
    """
    images_dir, masks_dir = root / images_subdir, root / masks_subdir
    for folder in (images_dir, masks_dir):
        if not folder.is_dir():
            raise UsageError(
                f"no folder {folder}: the folder dataset needs {images_subdir}/ (images) and "
                f"{masks_subdir}/ (label PNGs with the same names) in {root}"
            )
    images = files_by_stem(images_dir, IMAGE_SUFFIXES)
    masks = files_by_stem(masks_dir, (".png",))
    if not images:
        raise UsageError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {images_dir}")
    for stem, image in images.items():
        if stem not in masks:
            raise UsageError(
                f"image {image} has no label {masks_dir / stem}.png: add it or remove the image"
            )
    for stem, mask in masks.items():
        if stem not in images:
            raise UsageError(
                f"label {mask} has no image {images_dir / stem}.*: add it or remove the label"
            )
    stems = {split: _listed(root / f"{split}.txt", images) for split in LIST_SPLITS}
    stems = {split: listed for split, listed in stems.items() if listed is not None}
    if not stems:
        stems = {"train": list(images)}
    return {split: [(images[s], masks[s]) for s in listed] for split, listed in stems.items()}


def _listed(list_file: Path, images: dict[str, Path]) -> list[str] | None:
    if not list_file.is_file():
        return None
    stems = [fields[0] for fields in read_list(list_file)]
    for number, stem in enumerate(stems, start=1):
        if stem not in images:
            raise UsageError(
                f"{list_file} line {number}: no image named '{stem}' (lines are file stems, "
                "such as 'img_001' for images/img_001.jpg)"
            )
    return stems
