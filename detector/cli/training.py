"""The developer's ``train`` command (``python -m detector train --help``): the run's settings as flags, built into
one ``TrainingConfig``. TensorFlow and the training modules are imported only when it runs, so that ``--help`` and
the reviewer's ``scan`` start without them.
"""

from __future__ import annotations

import argparse
import shlex

from detector.cli import common
from detector.models import model_card
from detector.training import ARCHITECTURES, PRECISIONS


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Adds ``train`` to the command line."""
    _add_train(subparsers).set_defaults(run=_run_train)


def _add_train(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("train", help="train a face-crop classifier and write it with its card")
    parser.add_argument("--name", required=True, help="model name: writes models/NAME.keras and models/NAME.json")
    parser.add_argument("--architecture", default="compact", choices=ARCHITECTURES)
    parser.add_argument("--resolution", type=int, default=128, help="side the model works at (pixels)")
    parser.add_argument(
        "--input-size",
        type=int,
        default=224,
        help="side of the crops the model takes (pixels; default 224); training crops are decoded at it, so a "
        "mixed run takes 128, below every source's own size, to bring them all through the same downscale",
    )
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument(
        "--steps-per-epoch",
        type=common.at_least_one,
        help="batches in an epoch (default: one pass over the training crops); shorter epochs checkpoint and "
        "validate more often, for runs that may be interrupted",
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument(
        "--patience",
        type=common.at_least_one,
        default=3,
        help="stop after this many epochs in a row without a lower validation loss",
    )
    parser.add_argument(
        "--rate-patience",
        type=common.at_least_one,
        default=1,
        help="halve the learning rate after this many epochs in a row without a lower validation loss (default: 1; "
        "more for short epochs or a noisy validation set)",
    )
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--limit", type=int, help="use at most this many training crops (smoke runs)")
    parser.add_argument("--init", dest="init_weights", help="local weights file to start from")
    parser.add_argument("--run-folder", default="runs", help="where checkpoints and the log go")
    parser.add_argument("--models-folder", help="where the final model and card go (default: models/)")
    parser.add_argument("--resume", action="store_true", help="continue the run from its last checkpoint")
    parser.add_argument(
        "--export-only", action="store_true", help="measure the run's best checkpoint and write the model and card"
    )
    parser.add_argument(
        "--export-checkpoint",
        choices=["best", "last"],
        default="best",
        help="which checkpoint the run ships: its best epoch (default) or its last, to compare where a run ended "
        "with the epoch it selected (write it under another --models-folder or name)",
    )
    parser.add_argument(
        "--fakes",
        default="dfdc",
        choices=["dfdc", "sbi", "both", "mixed"],
        help="training fakes: DFDC fake crops, self-blended reals (SBI), half each, or every source balanced: "
        "DFDC with its second fakes, FaceForensics++, UTKFace reals and self-blends (mixed; default: dfdc)",
    )
    parser.add_argument(
        "--extra-reals",
        choices=["utkface", "utkface-except-selection"],
        help="add these real faces to training (../shared/data/utkface, but its held-out quarter; not in "
        "validation); utkface-except-selection also leaves out the tenth a later stage's --select-on "
        "mixed-utkface chooses its epochs on",
    )
    parser.add_argument(
        "--select-on",
        choices=["dfdc", "self-blends", "mixed", "mixed-utkface"],
        help="whose validation figures pick the best epoch, lower the learning rate and stop the run: the DFDC "
        "validation crops, the DFDC validation reals and self-blends of them (which uses no fake labels), the "
        "DFDC and FF++ validation crops weighted alike by source and method (mixed), or those and a tenth of "
        "the UTKFace photos, kept out of training, with a self-blend of each (mixed-utkface) (default: dfdc for "
        "a new run; a resumed run keeps its own)",
    )
    parser.add_argument(
        "--select-by",
        choices=["loss", "auc"],
        help="what picks the best epoch, lowers the learning rate and stops the run: the lowest validation loss, "
        "or the highest validation ROC AUC, which ranks only (the calibration is refitted after training either "
        "way) (default: loss for a new run; a resumed run keeps its own)",
    )
    parser.add_argument(
        "--mix",
        choices=[
            "even",
            "dfdc-first",
            "dfdc-first-regions",
            "dfdc-first-reenact",
            "dfdc-first-swaps",
            "dfdc-first-mouths",
            "utkface-third",
            "both-balanced",
            "dfdc-only",
        ],
        help="a mixed run's batch recipe: every source a third of each half (even), or DFDC half, FF++ a third, "
        "UTKFace a sixth, with DFDC swaps the largest share of the fakes (dfdc-first), and with half its "
        "self-blends of the mouth, lower face or eyes only (dfdc-first-regions), reenactment proxies "
        "(dfdc-first-reenact: the benchmark's reenactment sets then measure the generator) or landmark face swaps "
        "between training reals (dfdc-first-swaps: the face-swap sets then measure the generator) or mouth transplants "
        "between training reals, placed without a warp (dfdc-first-mouths) instead; or as "
        "dfdc-first with UTKFace a third and DFDC and FF++ the rest (utkface-third); or DFDC and UTKFace only, half "
        "DFDC swaps and half self-blends, each source as much of the fakes as of the reals (both-balanced); or "
        "DFDC's reals and swaps alone, for a first stage with the change-region map (dfdc-only); it weighs the mixed "
        "selection loss's sources too (default: even for a new run; a resumed run keeps its own)",
    )
    parser.add_argument(
        "--boundary-weight",
        type=common.not_negative,
        help="a mixed run: also train a second output that draws the blending seam of each crop (Face X-ray's "
        "target; known for reals, empty, and self-blends), cut off before shipping, with this weight beside the "
        "crop's loss (default: 0, none, for a new run; a resumed run keeps its own)",
    )
    parser.add_argument(
        "--ffpp-seams",
        action="store_true",
        default=None,
        help="with --boundary-weight: FF++'s training fakes teach the seam output too, with the difference to the "
        "real crop of the same frame, found by alignment (a resumed run keeps its own)",
    )
    parser.add_argument(
        "--change-masks",
        action="store_true",
        default=None,
        help="with --boundary-weight: the head draws the region each fake changed (the share of each cell), learnt "
        "from DFDC's and FF++'s fakes' differences to their aligned real and the self-blends' masks, instead of the "
        "seam (a resumed run keeps its own)",
    )
    parser.add_argument(
        "--paired",
        action="store_true",
        default=None,
        help="a mixed run: put each fake of a batch beside the real it was made from (its source video's, its "
        "aligned FF++ pair, or a synthetic fake's own), both augmented alike, instead of drawing the reals on their "
        "own (a resumed run keeps its own)",
    )
    parser.add_argument(
        "--match-sharpness",
        action="store_true",
        default=None,
        help="a mixed run: blur each real drawn down to the sharpness at its own quantile among its source's fakes, "
        "so that how soft a whole crop is does not tell real from fake (a resumed run keeps its own)",
    )
    parser.add_argument(
        "--augment",
        type=common.augmentation_policy,
        help="change the share of crops an augmentation is applied to, e.g. h264=0 or jpeg=0.5,blur=0 (names: "
        "flip, reframe, color, cast, blur, rescale, jpeg, h264; reframe and cast are off unless asked for, the others "
        "keep the default; a resumed run keeps its own)",
    )
    parser.add_argument(
        "--precision",
        default="float32",
        choices=PRECISIONS,
        help="arithmetic: mixed_bfloat16 computes in bfloat16 with float32 weights, about twice as fast for VGG16 "
        "and ResNet50 on CPUs with AVX512_BF16 (default: float32)",
    )
    parser.add_argument(
        "--threads",
        type=common.at_least_one,
        help="cores TensorFlow may use (default: all); two InceptionResNetV2 runs side by side on one core each "
        "get 1.4 times as much done as on both cores in turn (bench/bench_architectures.py --threads)",
    )
    return parser


def _run_train(arguments: argparse.Namespace) -> int:
    from detector.training import train

    if arguments.threads:
        train.use_threads(arguments.threads)
    config = train.TrainingConfig(
        name=arguments.name,
        architecture=arguments.architecture,
        resolution=arguments.resolution,
        input_size=arguments.input_size,
        epochs=arguments.epochs,
        steps_per_epoch=arguments.steps_per_epoch,
        batch_size=arguments.batch_size,
        learning_rate=arguments.learning_rate,
        patience=arguments.patience,
        rate_patience=arguments.rate_patience,
        seed=arguments.seed,
        limit=arguments.limit,
        init_weights=arguments.init_weights,
        run_folder=arguments.run_folder,
        models_folder=arguments.models_folder or str(model_card.MODELS_FOLDER),
        command="python -m detector " + shlex.join(arguments.argv),
        fakes=arguments.fakes,
        extra_reals=arguments.extra_reals.replace("-", "_") if arguments.extra_reals else None,
        precision=arguments.precision,
        augmentation=arguments.augment,
        select_on=arguments.select_on.replace("-", "_") if arguments.select_on else None,
        select_by=arguments.select_by,
        export_checkpoint=arguments.export_checkpoint,
        mix=arguments.mix.replace("-", "_") if arguments.mix else None,
        boundary_weight=arguments.boundary_weight,
        ffpp_seams=arguments.ffpp_seams,
        paired=arguments.paired,
        change_masks=arguments.change_masks,
        match_sharpness=arguments.match_sharpness,
    )
    from detector.shipping import export

    card = export.train_and_export(config, resume=arguments.resume, export_only=arguments.export_only)
    print(f"wrote {card}")
    return 0
