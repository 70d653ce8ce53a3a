"""Train a segmentation model: the paper's training loop with model.fit, W&B and checkpoints.

Examples:
  python scripts/train.py --dataset demo --epochs 8 --input-size 96   # a minute on a CPU
  python scripts/train.py --preset paper-exp2                           # Table III on VOC 2012
  python scripts/train.py --dataset camvid --data-dir DIR --input-size 352x480
  python scripts/train.py --recipe camvid-lean --data-dir DIR --output-dir runs/release   # every stage

A recipe (--recipe) is a TOML file of named stages, each starting from the last epoch of the one
before; the package ships camvid-lean (the CamVid release), camvid-full (the leaders' full-frame
schedule), camvid, paper-exp1 and paper-exp2.
Flags given with it replace its settings in every stage.

Ctrl-C stops training at the end of the step in progress (a second Ctrl-C at once) and prints
the --resume command that continues the run from its last finished epoch (and stage).
"""

import argparse
import shlex
import sys

from keras_deconvnet.commands.cli import add_dataset_arguments, add_verbose_argument, parse_scale_range, parse_scales, size_flag
from keras_deconvnet.data.mix_settings import MIX_MODES
from keras_deconvnet.models.registry import MODEL_NAMES
from keras_deconvnet.constants import LOSS_NAMES, TTA_FLIPS, WANDB_MODES
from keras_deconvnet.errors import UsageError
from keras_deconvnet.training.config import OPTIMIZERS, PRESETS, SCHEDULES, STRATEGIES, TrainConfig, flag_name
from keras_deconvnet.training.data import DATA_LOADERS
from keras_deconvnet.training.recipe_files import bundled_recipes
from keras_deconvnet.training.run_folder import RunFolder

DEFAULTS = TrainConfig()
# Flags that are not TrainConfig fields.
NOT_SETTINGS = ("preset", "recipe", "resume", "verbose")


def describe(values: dict) -> str:
    """A preset's settings as flags: {"epochs": 90, "photometric": True} -> '--epochs 90 --photometric'."""
    flags = []
    for key, value in values.items():
        flag = flag_name(key)
        if isinstance(value, bool):
            flags.append(flag if value else "--no-" + flag[2:])
        elif isinstance(value, tuple):
            separator = "x" if key == "input_size" else ","
            flags.append(f"{flag} {separator.join(map(str, value))}")
        else:
            flags.append(f"{flag} {value}")
    return " ".join(flags)


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--model", choices=MODEL_NAMES, help=f"model to train (default: {DEFAULTS.model})")
    add_dataset_arguments(
        parser, split=None, required=False, ignore_label_default=None,
        purpose=f"to train on (default: {DEFAULTS.dataset}, as in the paper; 'demo' is generated, no download)",
    )
    add("--train-split", help=f"split to train on: train, train_aug (VOC), heldout_train (CamVid without sequence 0006R0), or several joined with '+', e.g. train+val (default: {DEFAULTS.train_split})")
    add("--val-split", help=f"split to validate on, e.g. heldout_val (CamVid's sequence 0006R0, a street the other splits never show) (default: {DEFAULTS.val_split})")
    add("--preset", choices=list(PRESETS), help="the one-stage recipes: paper-exp1 and paper-exp2, the paper's Tables II and III; camvid, the CamVid recipe chosen on the held-out sequence; camvid-full, the leaders' full-frame schedule (give --data-dir for both); explicit flags override. " + "; ".join(f"{name} = {describe(values)}" for name, values in PRESETS.items()))
    add("--recipe", metavar="NAME_OR_FILE", help="train by a recipe: a TOML file of named stages run one after another in --output-dir, each from the last epoch of the one before, or the name of one the package ships (" + ", ".join(bundled_recipes()) + "); the flags given with it replace its settings in every stage; --resume goes on in the stage it stopped in")
    add("--optimizer", choices=OPTIMIZERS, help=f"optimizer (default: {DEFAULTS.optimizer})")
    add("--lr", type=float, help=f"peak learning rate (default: {DEFAULTS.lr})")
    add("--momentum", type=float, help=f"SGD momentum (default: {DEFAULTS.momentum})")
    add("--weight-decay", type=float, help="decoupled weight decay (default: 0 for sgd/adam, 0.004 for adamw)")
    add("--schedule", choices=SCHEDULES, help=f"learning-rate schedule: constant, cosine decay over the whole run, or poly (decay as (1 - t)^0.9, as DABNet and CGNet train on CamVid) (default: {DEFAULTS.schedule})")
    add("--warmup-epochs", type=int, help="linear warm-up epochs before the decay (default: 0)")
    add("--epochs", type=int, help=f"maximum epochs (default: {DEFAULTS.epochs})")
    add("--batch-size", type=int, help=f"images per step (default: {DEFAULTS.batch_size})")
    add("--input-size", type=size_flag, help="training crop and model input, HEIGHTxWIDTH multiples of 32 (default: 224x224)")
    add("--scale-range", type=parse_scale_range, help="random scale range MIN,MAX before cropping, 0 < MIN <= MAX (default: 0.5,2.0)")
    add("--photometric", action=argparse.BooleanOptionalAction, help="random brightness, contrast, saturation and hue on the images after the geometric augmentation (MMSegmentation's PhotoMetricDistortion; default: off)")
    add("--mix", choices=MIX_MODES, help="mixed-sample augmentation: paste into each training image a region of another, labels and all, so objects appear in streets they were not seen in; classmix (the pixels of the other image's classes, each with probability 1/2) or cutmix (a random box) (default: none)")
    add("--mix-probability", type=float, help=f"the chance that a training image is mixed, with --mix (default: {DEFAULTS.mix_probability})")
    add("--loss", choices=LOSS_NAMES, help="training loss: cross-entropy; ohem (cross-entropy of the pixels whose true-class probability is below 0.7, at least 100,000 a batch); lovasz (Lovasz-softmax, a surrogate of 1 - IoU); ce+lovasz (their sum) (default: cross-entropy)")
    add("--class-weights", help="'none', 'median-frequency' (SegNet's, from the training masks; best mean class accuracy), 'sqrt-median-frequency' (their square roots; fewer false positives of rare classes, better mean IoU), 'enet' (ENet's 1/ln(1.10 + p) of each class's share p of the pixels, as DABNet trains on CamVid) or one comma-separated weight per class (default: none)")
    add("--ema-decay", type=float, help="keep an exponential moving average of the weights with this decay (e.g. 0.999); the average is what each epoch validates and what best.keras and last.keras hold; 0 turns it off (default: 0)")
    add("--teacher", metavar="MODEL", help="distil from this .keras model (of the same classes; any model, e.g. a larger run's last.keras): its probabilities, averaged over its --teacher-tta views, are computed once per training image before the first epoch and kept in the run folder, then the loss adds the KL divergence to them at --distill-temperature (default: none)")
    add("--teacher-tta", choices=TTA_FLIPS, help=f"the teacher's test-time augmentation, as evaluate's --tta: 'flip' averages each view with its mirror (default: {DEFAULTS.teacher_tta})")
    add("--teacher-tta-scales", type=parse_scales, help=f"the teacher's views at these multiples of its input size, as evaluate's --tta-scales (default: {','.join(map(str, DEFAULTS.teacher_tta_scales))})")
    add("--distill-temperature", type=float, help=f"softens the teacher's and the student's probabilities before the KL divergence; above 0 (default: {DEFAULTS.distill_temperature})")
    add("--distill-weight", type=float, help=f"the teacher's share of the loss, in [0, 1]: (1 - w) x the --loss on the labels + w x T^2 x the KL divergence (default: {DEFAULTS.distill_weight})")
    add("--backbone-weights", type=lambda text: None if text.lower() == "none" else text, help="encoder weights: 'imagenet' (Keras download), 'none', or a path to a local weights file (default: none)")
    add("--init-weights", metavar="PATH", help="start from the weights of a saved .keras model of the same --model and classes, e.g. a run's best.keras; its input size may differ, so a model trained on small crops can be fine-tuned at full size (default: none, a fresh start)")
    add("--patience", type=int, help=f"early stopping: epochs without a better val mean IoU; 0 turns it off, for a fixed schedule (default: {DEFAULTS.patience})")
    add("--output-dir", help=f"run folder: config, checkpoints, CSV, metrics, logs (default: {DEFAULTS.output_dir})")
    add("--resume", action="store_true", help="continue the run in --output-dir from its last epoch, with its saved config (a recipe run from the stage it stopped in)")
    add("--seed", type=int, help=f"random seed for weights, shuffling and augmentation, 0 to 2**32-1 (default: {DEFAULTS.seed})")
    add("--mixed-precision", action="store_true", default=None, help="mixed precision: float16 on GPUs, bfloat16 on CPUs")
    add("--data-loader", choices=DATA_LOADERS, help="input pipeline: tf (tf.data over the TFDS builders), numpy (reads camvid, folder or demo files into memory and batches them with NumPy and PIL, so Keras on JAX trains without TensorFlow), device (Keras on JAX with the whole dataset in accelerator memory, augmented inside the compiled step, for a GPU; camvid, folder or demo), auto (tf when TensorFlow is installed; default)")
    add("--strategy", choices=STRATEGIES, help="tf.distribute strategy: default (one device), mirrored (every GPU of this machine) or "
        "multiworker (several machines, each started with its TF_CONFIG; the chief writes the run); "
        "--batch-size is the global batch, split over the replicas (default: default)")
    add("--wandb", choices=WANDB_MODES, help="W&B logging: online (offline when no API key is set), offline, disabled (default: online)")
    add("--wandb-project", help=f"W&B project (default: {DEFAULTS.wandb_project})")
    add("--wandb-images-every", type=int, help="log validation overlays every N epochs; 0 logs none (default: 5)")
    add_verbose_argument(parser)
    return parser


def main(args: argparse.Namespace) -> None:
    from keras_deconvnet.training import (
        is_recipe_run,
        load_run_config,
        prepare_recipe_run,
        resolve_config,
        run_recipe,
        summary_line,
        train,
    )

    explicit = {key: value for key, value in vars(args).items() if value is not None and key not in NOT_SETTINGS}
    output_dir = args.output_dir or DEFAULTS.output_dir
    if args.recipe is not None and args.preset is not None:
        raise UsageError("--recipe and --preset: pass one (a preset is a one-stage recipe)")
    if args.resume and args.preset is not None:
        raise UsageError(f"--resume continues {output_dir} with its saved settings, so --preset {args.preset} would be "
                         "ignored: drop it (or start a new run in another --output-dir)")
    try:
        if args.recipe is not None or (args.resume and is_recipe_run(output_dir)):
            overrides = {key: value for key, value in explicit.items() if key != "output_dir"}
            recipe, overrides = prepare_recipe_run(args.recipe, output_dir, overrides, args.resume)
            metrics = run_recipe(recipe, output_dir, overrides, resume=args.resume)
        else:
            if args.resume:
                config = load_run_config(output_dir, explicit)
            else:
                config = resolve_config(args.preset, explicit)
            metrics = train(config)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(interruption(output_dir)) from None
    print(summary_line(metrics, output_dir))


def interruption(run_dir: str) -> str:
    """What Ctrl-C leaves: a run to continue with --resume once its folder holds a config."""
    if not RunFolder(run_dir).has_started():
        return f"stopped before the run in {run_dir} started; start it again with the same command"
    return (
        f"the run in {run_dir} stops here; continue it with "
        f"{resume_command()} --resume --output-dir {shlex.quote(run_dir)}"
    )


def resume_command() -> str:
    """How training was started: 'keras-deconvnet train' when the console command dispatched it
    (it names the program so in sys.argv[0]), else the script."""
    program = sys.argv[0]
    return program if program.endswith(" train") else "python scripts/train.py"
