"""Shipping what a training run ends with: ``python -m detector train`` trains (``detector.training.train``), then
this calibrates the best model on half the validation split, measures it on the other half and writes
``models/<name>.keras`` with its card.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from detector.shipping import calibrate, ship
from detector.training import (
    architectures,
    blend_boundary,
    datasets,
    face_swap,
    ffpp_pairs,
    landmarks,
    mixed_batches,
    mouth_transplant,
    reenactment,
    self_blend,
    self_blend_batches,
    sharpness_match,
    sources,
    train,
    training_config,
    training_run,
)
from detector.training.augment import AugmentationPolicy

logger = logging.getLogger(__name__)


def _fake_kinds(mix: str) -> set[str]:
    """Every kind of fake a mix (a ``mixed_batches.MIXES`` name) draws, over all its sources."""
    return {kind for source_kinds in mixed_batches.MIXES[mix].fake_kinds.values() for kind in source_kinds}


def synthetic_fake_records(mix: str) -> dict[str, Any]:
    """What a mixed run's card records of the fakes its mix (a ``mixed_batches.MIXES`` name) makes as it trains,
    beside whole-face self-blends: the regional blends' ranges, the reenactment proxies' regions."""
    kinds = _fake_kinds(mix)
    records: dict[str, Any] = {}
    if sources.REGION_BLEND in kinds:
        records["regional"] = {
            **dataclasses.asdict(self_blend.REGION_CONFIG),
            "regions": {name: len(points) for name, points in self_blend.BLEND_REGIONS.items()},
            "mask": "convex hull of the region's face-mesh points (counted here)",
        }
    if sources.REENACTMENT_PROXY in kinds:
        records["reenactment_proxies"] = {
            "regions": list(reenactment.REGIONS),
            "why": "the benchmark's reenactment sets are made by the same generator: for this model they measure the "
            "generator, not generalisation (docs/EXPERIMENTS.md)",
        }
    if sources.FACE_SWAP in kinds:
        records["face_swaps"] = {
            "blends": list(face_swap.BLENDS),
            "pairs": "two training reals of the same source, of different groups",
            "why": "the benchmark's face-swap sets are made by the same generator: for this model they measure the "
            "generator, not generalisation; the reenactment proxies are its never-trained kind (docs/EXPERIMENTS.md)",
        }
    if sources.MOUTH_TRANSPLANT in kinds:
        records["mouth_transplants"] = {
            "regions": list(mouth_transplant.REGIONS),
            "pairs": "two training reals of the same source, of different groups",
            "placement": "a similarity fitted on the eye corners, nose and mouth corners; no warp",
            "max_residual_eye_distances": mouth_transplant.MAX_RESIDUAL,
            "why": "no benchmark set is made by this generator: the reenactment proxies (a warp of the crop's own "
            "mouth) and the face swaps stay never-trained kinds (docs/EXPERIMENTS.md)",
        }
    return records


# What a mix's fakes of each synthetic kind are, in a reviewer's words, beside the whole-face self-blends.
SYNTHETIC_FAKE_WORDS = {
    sources.REGION_BLEND: "regional self-blends (mouth, lower face or eyes)",
    sources.REENACTMENT_PROXY: "reenactment proxies of the training people",
    sources.FACE_SWAP: "landmark face swaps between training people",
    sources.MOUTH_TRANSPLANT: "mouth transplants between training people",
}


def mixed_description(architecture: str, start: str, mix: str) -> str:
    """A mixed run's card description, naming every kind of fake its mix (``mixed_batches.MIXES``) makes."""
    kinds = _fake_kinds(mix)
    made = ["self-blended fakes", *(words for kind, words in SYNTHETIC_FAKE_WORDS.items() if kind in kinds)]
    fakes = made[0] if len(made) == 1 else f"{', '.join(made[:-1])} and {made[-1]}"
    return (
        f"{architecture} classifier of face crops, {start} on DFDC, FaceForensics++ and UTKFace crops with {fakes}, "
        "balanced by source and method."
    )


def train_and_export(config: train.TrainingConfig, resume: bool = False, export_only: bool = False) -> Path:
    """Trains (or resumes) the run and ships its best model; returns the card's path."""
    return export_run(train.train(config, resume=resume, export_only=export_only))


def export_run(run: train.TrainedRun) -> Path:
    """Ships a run's best model with its card (``export``)."""
    return export(
        run.model,
        run.config,
        run.validation_set,
        run.validation_images,
        run.epochs_run,
        run.train_count,
        run.policy,
        run.sessions,
        run.exported_epoch,
    )


def export(
    model: keras.Model,
    config: train.TrainingConfig,
    validation_set: datasets.CropSet,
    validation_images: np.ndarray,
    epochs_run: int,
    train_count: int,
    policy: AugmentationPolicy,
    sessions: Sequence[dict[str, Any]] = (),
    exported_epoch: int | None = None,
) -> Path:
    """Fits calibration and thresholds on half the validation split, measures on the other half
    (``calibrate.fit_on_validation``), and writes ``models/<name>.keras`` and its card (with ``sessions``, the
    invocations that trained the run: ``record_session``; ``exported_epoch``, the epoch whose weights these are)."""
    trained_precision = architectures.model_precision(model)
    if trained_precision != "float32":
        model = architectures.float32_copy(model, config.architecture, config.input_size, config.resolution)
    probabilities = ship.predict(model, validation_images, mirror=True)
    fitted = calibrate.fit_on_validation(
        validation_set.labels, probabilities, validation_set.groups, datasets.VALIDATION_DATA
    )
    logger.info("validation: %s", fitted.metrics["validation"])
    data = "../shared/data/dfdc-faces (DFDC face crops, 224x224)"
    if config.fakes == "mixed":
        data = "; ".join(sources.SOURCE_WORDS[source] for source in sources.SOURCES)
    if config.extra_reals:
        folder = training_config.EXTRA_REALS_FOLDERS[config.extra_reals]
        data += f"; ../shared/data/{folder} ({training_config.EXTRA_REALS_WORDS[config.extra_reals]})"
    selection = training_run.selection_words(config.select_on, config.select_by)
    training = {
        "data": data,
        "split": f"by group (source video): SHA-1 of the group modulo 100 < {config.validation_percent} is validation",
        "validation_percent": config.validation_percent,
        "train_count": train_count,
        "validation_count": len(validation_set),
        "resolution": config.resolution,
        "epochs_run": epochs_run,
        "exported_epoch": exported_epoch,
        "steps_per_epoch": config.steps_per_epoch,
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "augmentation": policy.describe(),
        "seed": config.seed,
        "limit": config.limit,
        "command": config.command,
        "fakes": config.fakes,
        "extra_reals": config.extra_reals,
        "precision": trained_precision,
        "selected_on": selection
        if config.export_checkpoint == "best"
        else f"none: the last epoch trained (the run itself selects by {selection})",
        "sessions": list(sessions),
    }
    if config.fakes != "dfdc":
        training["self_blend"] = {
            **dataclasses.asdict(self_blend_batches.DEFAULT_CONFIG),
            "mask": f"convex hull of the 468-point face mesh (landmarks v{landmarks.LANDMARK_VERSION})",
            "batches": mixed_batches.MIXES[config.mix or "even"].words
            if config.fakes == "mixed"
            else "balanced: half reals, half fakes; the self-blends are of the same batch's reals",
        }
    if config.fakes == "mixed":
        training["mix"] = config.mix or "even"
        training["self_blend"].update(synthetic_fake_records(training["mix"]))
        if config.boundary_weight:
            target = (
                "the region each fake changed: the share of each cell of its change mask scaled to a peak of 1; "
                "masks from DFDC's and FF++'s training fakes' differences to the real of their group that aligns to "
                f"them (affine ECC, edge difference at most {ffpp_pairs.MAX_EDGE_DIFFERENCE:g} of 255) and from the "
                "self-blends; empty for reals; no loss for fakes without a mask"
                if config.change_masks
                else "4 m (1 - m) of the self-blend's mask m scaled to a peak of 1, the most of each cell; "
                "empty for reals; no loss for fakes whose mask is unknown"
            )
            training["blend_boundary"] = {
                "weight": config.boundary_weight,
                "map": f"{config.resolution // blend_boundary.MAP_STRIDE} cells a side, from the backbone's "
                "feature map of that size",
                "target": target,
                "shipped": "no: a training-only output, cut off before export",
                "ffpp_seams": "FF++'s training fakes too: the mask of what each changed, from the difference to the "
                "real crop of its group that aligns to it (affine ECC) with an edge difference of at most "
                f"{ffpp_pairs.MAX_EDGE_DIFFERENCE:g} (0-255); fakes without such a pair add no boundary loss"
                if config.ffpp_seams
                else "no",
            }
        if config.paired:
            training["paired"] = (
                "each fake beside the real it was made from, both augmented alike: DFDC's fakes with the real of "
                "their source video, FF++'s with the real crop of their group that aligns to them (affine ECC, edge "
                f"difference at most {ffpp_pairs.MAX_EDGE_DIFFERENCE:g} of 255), synthetic fakes with their own real; "
                "a fake without one with a real of its group, else of its source"
            )
        if config.match_sharpness:
            sample = sharpness_match.sample_count(config.limit)
            training["match_sharpness"] = (
                "each real drawn blurred (Gaussian) down to the sharpness at its own quantile among its source's fakes "
                f"(variance of the Laplacian; samples of {sample} reals and {sample} fakes a source, drawn with the "
                "run's seed), where that is lower than its own; the fakes untouched"
            )
        training["ffpp_reframe"] = {
            "top_left_side": list(sources.FFPP_REFRAME),
            "why": "FF++ crops cut to the analysis crops' framing before resizing (docs/DESIGN.md)",
        }
    start = f"fine-tuned from {config.init_weights}" if config.init_weights else "trained from scratch"
    description = f"{config.architecture} classifier of face crops, {start} on DFDC face crops."
    if config.fakes == "mixed":
        description = mixed_description(config.architecture, start, config.mix or "even")
        if config.boundary_weight:
            description += (
                " Also trained to draw where each fake was changed (a training-only output)."
                if config.change_masks
                else " Also trained to draw where each self-blend was blended (a training-only output)."
            )
        if config.paired:
            description += " Each fake was trained beside the real it was made from."
        if config.match_sharpness:
            description += " Its training reals were blurred to their fakes' softness."
    elif config.fakes != "dfdc" or config.extra_reals:
        description = (
            f"{config.architecture} classifier of face crops, {start} on DFDC face crops "
            f"(fakes: {config.fakes}; extra reals: {config.extra_reals or 'none'})."
        )
    training["init_weights"] = config.init_weights
    return ship.save_with_card(
        model,
        config.name,
        Path(config.models_folder),
        config.architecture,
        description,
        training,
        fitted.metrics,
        fitted.thresholds,
        fitted.calibration,
        limitations=ship.training_limitations(config.fakes),
        test_time_flip=True,
    )
