"""Measures whether the members' disagreement could make an average modest where it cannot rank.

An average's probabilities go to the middle where its members disagree; a calibration that also divides the logit
by ``1 + k * spread`` (``spread``: the standard deviation of the members' logits for the crop) would lean on that
more. Printed for the named members: each set's ROC AUC of the mean, the members' mean spread on its reals and on
its fakes, and the ECE of the mean under two calibrations fitted alike: Platt (``calibrate.fit_platt``'s form), and
Platt with the spread term (``k`` fitted too). Fitted on the DFDC validation split's calibration half, or with
``--on mixed`` on that and FF++'s calibration half, each source weighing the same and its reals as much as its
fakes; DFDC (and with ``mixed`` FF++) measured on the report half. Each member scores a crop as it is and mirrored,
as an average does.

Run from the repository root (needs ``../shared`` and the benchmark's sets in ``.cache/benchmark``)::

    python -m scripts.measure_member_spread --models-folder runs/export --scores .cache/member_scores.npz \\
        wide_v1 wide_v1_utk wide_people [--on mixed]

``--scores`` keeps every member's probabilities, so another choice of members or fit reads them instead of
scoring again (a set and member already in the file are not scored again).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import optimize
from sklearn.metrics import roc_auc_score

from detector.evaluation import benchmark
from detector.evaluation.metrics import expected_calibration_error
from detector.models import model_card, weight_storage
from detector.models.calibration import logits
from detector.shipping import calibrate
from detector.training import datasets

EIGHT = tuple(item.key for item in benchmark.SETS if item.kind is not None)
FFPP = tuple(key for key in EIGHT if key.startswith("ffpp_"))
BATCH = 64


# The UTKFace photos that mixed stages select on and that `--extra-reals utkface-except-selection` steps keep out:
# real people that networks of such a line never trained on (``datasets.split_utkface_selection``).
UTKFACE_SELECTION = "utkface_selection"


def crop_sets(cache_folder: Path, keys: Sequence[str] | None = None) -> dict[str, datasets.CropSet]:
    """The DFDC validation split (15%, as the cards), every benchmark set, whole (halves are chosen later), and the
    UTKFace selection tenth; only those named in ``keys`` when given."""
    wanted = set(keys) if keys is not None else {"dfdc", UTKFACE_SELECTION, *(item.key for item in benchmark.SETS)}
    found = {}
    if "dfdc" in wanted:
        found["dfdc"] = datasets.split_by_group(datasets.load_dfdc_faces(), datasets.VALIDATION_PERCENT)[1]
    for item in benchmark.SETS:
        if item.key in wanted:
            found[item.key] = benchmark.crop_set(item, benchmark.DEFAULT_FOLDER, cache_folder)
    if UTKFACE_SELECTION in wanted:
        training = datasets.split_utkface(datasets.load_utkface())[0]
        found[UTKFACE_SELECTION] = datasets.split_utkface_selection(training)[1]
    if unknown := wanted - set(found):
        raise ValueError(f"no such set: {', '.join(sorted(unknown))}")
    return found


def score_members(
    names: Sequence[str], folder: Path, cache_folder: Path, scores_path: Path, keys: Sequence[str] | None = None
) -> dict[str, np.ndarray]:
    """``"set|member"`` -> fake probabilities (mean of the crop and its mirror), ``"set|labels"`` and
    ``"set|groups"``, for the sets ``crop_sets`` gives (all, or those in ``keys``); read from ``scores_path`` where
    there, scored and saved otherwise."""
    scores = dict(np.load(scores_path, allow_pickle=True)) if scores_path.is_file() else {}
    sets = crop_sets(cache_folder, keys)
    for key, crops in sets.items():
        scores[f"{key}|labels"] = np.asarray(crops.labels)
        scores[f"{key}|groups"] = np.asarray(crops.groups, dtype=object)
    for name in names:
        if all(f"{key}|{name}" in scores for key in sets):
            continue
        card = model_card.read_card(name, folder)
        model = weight_storage.load(model_card.verified_weights(card, folder))
        for key, crops in sets.items():
            images = datasets.decode_images(crops.root, crops.files, card.preprocessing.input_size, cache_folder)
            views = [
                np.concatenate(
                    [
                        np.ravel(model.predict_on_batch(view(images[i : i + BATCH])))
                        for i in range(0, len(images), BATCH)
                    ]
                )
                for view in (lambda batch: batch.astype(np.float32), lambda batch: batch[:, :, ::-1].astype(np.float32))
            ]
            scores[f"{key}|{name}"] = (views[0] + views[1]) / 2
            print(f"scored {name} on {key} ({len(images)} crops)", flush=True)
        np.savez(scores_path, **scores)
    return scores


def _calibrated(parameters: np.ndarray, logit: np.ndarray, spread: np.ndarray) -> np.ndarray:
    scale, bias, log_k = parameters
    return 1.0 / (1.0 + np.exp(-(scale * logit + bias) / (1.0 + np.exp(log_k) * spread)))


def _fit(logit: np.ndarray, spread: np.ndarray, labels: np.ndarray, weights: np.ndarray, with_spread: bool):
    """``(scale, bias, log k)``: without the spread term, the product's Platt fit (``calibrate.fit_platt``, with
    k = e^-30); with it, the same weighted log loss minimised over all three, from that fit."""
    temperature, bias = calibrate.fit_platt(labels, 1.0 / (1.0 + np.exp(-logit)), weights)
    platt = np.array([1.0 / temperature, bias, -30.0])
    if not with_spread:
        return platt

    def loss(parameters: np.ndarray) -> float:
        p = np.clip(_calibrated(parameters, logit, spread), 1e-7, 1 - 1e-7)
        return float(-np.mean(weights * (labels * np.log(p) + (1 - labels) * np.log(1 - p))))

    return optimize.minimize(loss, np.array([platt[0], platt[1], 0.0])).x


def add_scoring_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the members' cards are, where the benchmark's decoded sets are, and the file the scores are kept in."""
    parser.add_argument("--models-folder", type=Path, default=model_card.models_folder())
    parser.add_argument("--cache-folder", type=Path, default=Path(".cache"))
    parser.add_argument("--scores", type=Path, default=Path(".cache") / "member_scores.npz")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("members", nargs="+", help="the networks averaged (NAME.json in --models-folder)")
    add_scoring_arguments(parser)
    parser.add_argument("--on", choices=("dfdc", "mixed"), default="dfdc")
    arguments = parser.parse_args()

    read = ("dfdc", "unseen_real_faces", *EIGHT)
    scores = score_members(arguments.members, arguments.models_folder, arguments.cache_folder, arguments.scores, read)

    def features(key: str, half: str | None = None):
        members = np.stack([scores[f"{key}|{name}"] for name in arguments.members])
        mean = members.mean(axis=0)
        keep = np.ones(mean.size, bool)
        if half is not None:
            in_calibration = np.array([datasets.in_calibration_half(str(g)) for g in scores[f"{key}|groups"]])
            keep = in_calibration if half == "calibration" else ~in_calibration
        labels = scores[f"{key}|labels"].astype(int)
        return logits(mean)[keep], logits(members).std(axis=0)[keep], labels[keep]

    # (features, source, kind of fake) of every part fitted on: DFDC's calibration half, and with mixed FF++'s
    # reals once (every method's file holds them) and each method's fakes.
    fitted_on = [(features("dfdc", "calibration"), "dfdc", "dfdc")]
    if arguments.on == "mixed":
        for position, key in enumerate(FFPP):
            z, s, y = features(key, "calibration")
            keep = np.ones(y.size, bool) if position == 0 else y == 1
            fitted_on.append(((z[keep], s[keep], y[keep]), "ffpp", key))
    logit, spread, labels = (np.concatenate([part[j] for part, _, _ in fitted_on]) for j in range(3))
    weights = np.ones(labels.size)  # DFDC alone: unweighted, as `calibrate` fits it
    if arguments.on == "mixed":  # as `calibrate --on mixed` weighs them
        kinds = [kind for (_, _, y), _, kind in fitted_on for _ in y]
        origins = [source for (_, _, y), source, _ in fitted_on for _ in y]
        weights = calibrate.source_weights(labels, kinds, origins)
    platt = _fit(logit, spread, labels, weights, with_spread=False)
    with_spread = _fit(logit, spread, labels, weights, with_spread=True)
    print(
        f"members {', '.join(arguments.members)}; fitted on {arguments.on}: Platt scale {platt[0]:.3f} bias "
        f"{platt[1]:.3f}; with the spread term scale {with_spread[0]:.3f} bias {with_spread[1]:.3f} "
        f"k {np.exp(with_spread[2]):.3f}"
    )
    eight = {"platt": [], "spread": []}
    for key in ("dfdc", "unseen_real_faces", *EIGHT):
        report = key == "dfdc" or (arguments.on == "mixed" and key in FFPP)
        z, s, y = features(key, "report" if report else None)
        ece = {
            name: expected_calibration_error(y, _calibrated(p, z, s))
            for name, p in (("platt", platt), ("spread", with_spread))
        }
        if key in EIGHT:
            for name, value in ece.items():
                eight[name].append(value)
        auc = f"{roc_auc_score(y, z):.3f}" if 0 < y.mean() < 1 else "  -  "
        fakes = f"{s[y == 1].mean():.2f}" if y.any() else "-"
        print(
            f"{key:22s} ROC AUC {auc}  ECE Platt {ece['platt']:.3f}, with spread {ece['spread']:.3f}  "
            f"spread reals {s[y == 0].mean():.2f}, fakes {fakes}"
        )
    print(f"eight-set mean ECE: Platt {np.mean(eight['platt']):.3f}, with spread {np.mean(eight['spread']):.3f}")


if __name__ == "__main__":
    main()
