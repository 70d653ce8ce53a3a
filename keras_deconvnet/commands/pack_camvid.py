"""Copy a CamVid folder compactly (images as JPEG) for a GPU machine that receives only the checkout.

Example:
  python scripts/pack_camvid.py --data-dir DIR --out data/camvid   # data/ is git-ignored

The copy keeps SegNet's layout with list files naming the JPEG images; --dataset camvid
--data-dir data/camvid reads it, held-out splits included. Labels stay PNG (JPEG would blur
them into other classes).
"""

import argparse
import sys

from keras_deconvnet.commands.cli import add_verbose_argument, int_flag


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True, help="the CamVid folder, in SegNet's layout")
    parser.add_argument("--out", required=True, help="the new folder for the copy; it must not exist")
    parser.add_argument("--quality", type=int_flag(1, 100), default=95, help="JPEG quality, 1-100 (default: 95)")
    add_verbose_argument(parser)
    return parser


def main(args: argparse.Namespace) -> None:
    from keras_deconvnet.datasets.pack import pack_camvid

    def progress(done: int, total: int) -> None:
        print(f"\r{done}/{total} images", end="\n" if done == total else "", flush=True)

    counts = pack_camvid(args.data_dir, args.out, args.quality, progress if sys.stdout.isatty() else None)
    print(f"{args.out}: " + ", ".join(f"{split} {count}" for split, count in counts.items()))
