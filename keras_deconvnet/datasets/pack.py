"""A compact copy of a CamVid folder, for a machine that receives only what travels with the
checkout (a GPU machine whose transfer is limited): the images as JPEG, the labels as they are
(index PNGs: JPEG would invent labels), and list files that name the copies. The `camvid`
dataset reads the copy as it reads the original, held-out splits included.
"""

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from keras_deconvnet.datasets.camvid_layout import LAYOUT_FIX, SPLITS, split_pairs
from keras_deconvnet.errors import UsageError
from keras_deconvnet.files import read_rgb


def pack_camvid(
    source: str | os.PathLike, target: str | os.PathLike, quality: int = 95,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Writes the compact copy of the CamVid folder `source` into `target`.

    The copy is written to a temporary folder beside `target` and renamed into place at the
    end, so a failed or interrupted run leaves no half copy.

    Args:
        source: a folder in SegNet's CamVid layout.
        target: the new folder; it must not exist.
        quality: the JPEG quality, 1-100.
        progress: called with (images written, images in all) after each image.

    Returns:
        {split: images} of the splits copied.

    Raises:
        UsageError: no CamVid split in `source`, `target` exists, or a quality out of range.
    """
    source, target = Path(source), Path(target)
    if not 1 <= quality <= 100:
        raise UsageError(f"--quality must be from 1 to 100, got {quality}")
    if target.exists():
        raise UsageError(f"--out {target} exists; pass a new folder")
    found = {split: split_pairs(source, split) for split in SPLITS} if source.is_dir() else {}
    found = {split: pairs for split, pairs in found.items() if pairs}
    if not found:
        raise UsageError(f"no CamVid split in {source}: {LAYOUT_FIX}")
    total, done = sum(map(len, found.values())), 0
    partial = target.with_name(f".{target.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        for split, pairs in found.items():
            (partial / split).mkdir(parents=True)
            (partial / f"{split}annot").mkdir()
            lines = []
            for image, label in pairs:
                name = f"{image.stem}.jpg"
                Image.fromarray(read_rgb(image)).save(partial / split / name, quality=quality)
                shutil.copyfile(label, partial / f"{split}annot" / label.name)
                lines.append(f"{split}/{name} {split}annot/{label.name}\n")
                done += 1
                if progress:
                    progress(done, total)
            (partial / f"{split}.txt").write_text("".join(lines))
        partial.rename(target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return {split: len(pairs) for split, pairs in found.items()}
