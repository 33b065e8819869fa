"""False alarms group by group: how often the unseen real people of the benchmark are called fake, split by who
they are (UTKFace's own labels: gender, ethnicity, age) and by how sharp their photo is.

A rate over the whole set can hide a group the model wrongs: a reviewer needs to know whether a soft photo, or a
person of one group, is more often called manipulated. Each rate comes with a Wilson 95% interval, since some groups
are small (a hundred photos or fewer), where a difference of a few points means nothing.

The groups are UTKFace's annotations as its file names give them (``age_gender_race_date.jpg``, parsed by
``benchmark_sets.utkface_traits``); a name that does not parse counts under "unknown". Sharpness is the page's own
measure (``quality.sharpness``: the variance of the Laplacian of the grey face crop, here the photo resized to the
side the model scores), ranked within the set and cut into fifths, so "softest fifth" means the fifth of these
photos with the least fine detail (blur, upscaling, smoothing); each fifth keeps its range of sharpness, which the
page's blur limit (``quality.QualityThresholds.min_sharpness``) can be read against.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from scipy import stats

from detector.analysis import quality
from detector.evaluation import benchmark_sets

CONFIDENCE = 0.95
# UTKFace's labels, in the words its authors gave them.
GENDERS = {"0": "male", "1": "female"}
ETHNICITIES = {"0": "White", "1": "Black", "2": "Asian", "3": "Indian", "4": "Others"}
# Age bands (inclusive bounds, years).
AGE_BANDS = ((0, 17, "under 18"), (18, 39, "18-39"), (40, 59, "40-59"), (60, 200, "60 and over"))
SHARPNESS_FIFTHS = ("softest fifth", "second fifth", "middle fifth", "fourth fifth", "sharpest fifth")
UNKNOWN = "unknown"


@dataclass(frozen=True)
class GroupRate:
    """One group's false alarms: ``called_fake`` of its ``count`` real photos were called fake, with the rate's
    Wilson interval ``[low, high]``."""

    grouping: str
    group: str
    count: int
    called_fake: int
    low: float
    high: float
    # For a group cut from a measurement (the sharpness fifths), that measurement's range in the group.
    span: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.called_fake <= self.count or self.count == 0:
            raise ValueError(f"{self.group}: {self.called_fake} called fake of {self.count}")

    @property
    def rate(self) -> float:
        return self.called_fake / self.count

    def to_dict(self) -> dict[str, Any]:
        found = {
            "group": self.group,
            "count": self.count,
            "called_fake": self.called_fake,
            "rate": round(self.rate, 4),
            "interval": [round(self.low, 4), round(self.high, 4)],
        }
        if self.span is not None:
            found["range"] = [round(self.span[0], 2), round(self.span[1], 2)]
        return found


def group_rate(
    grouping: str, group: str, called_fake: np.ndarray, span: tuple[float, float] | None = None
) -> GroupRate:
    """The rate of ``called_fake`` ``(N,) bool``, N > 0, with its Wilson interval."""
    count, fakes = int(called_fake.size), int(np.count_nonzero(called_fake))
    interval = stats.binomtest(fakes, count).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return GroupRate(grouping, group, count, fakes, float(interval.low), float(interval.high), span)


def sharpness(path: Path, side: int) -> float:
    """The photo's sharpness as the page measures a face (``quality.sharpness``), resized to ``side`` pixels square
    as the crop the model scores would be: fine detail, low for a soft photo."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"cannot read the photo {path}")
    resized = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
    return quality.sharpness(cv2.cvtColor(resized, cv2.COLOR_BGR2RGB))


def _age_band(age: int) -> str:
    return next(name for low, high, name in AGE_BANDS if low <= age <= high)


def trait_groups(paths: Sequence[Path]) -> dict[str, list[str]]:
    """Each photo's group under each of UTKFace's labels, from its file name: ``{grouping: [group per photo]}``."""
    traits = [benchmark_sets.utkface_traits(path.name) for path in paths]
    return {
        "gender": [GENDERS.get(found[1], UNKNOWN) if found else UNKNOWN for found in traits],
        "ethnicity": [ETHNICITIES.get(found[2], UNKNOWN) if found else UNKNOWN for found in traits],
        "age": [_age_band(found[0]) if found else UNKNOWN for found in traits],
    }


def sharpness_groups(values: np.ndarray) -> list[str]:
    """Each photo's fifth of ``values`` ``(N,)`` (its sharpness) by rank: five groups of (nearly) equal size, the
    softest first; equal values keep their order."""
    order = np.argsort(values, kind="stable")
    fifths = np.empty(values.size, np.int64)
    fifths[order] = np.arange(values.size) * len(SHARPNESS_FIFTHS) // values.size
    return [SHARPNESS_FIFTHS[index] for index in fifths]


def false_alarms_by_group(paths: Sequence[Path], called_fake: np.ndarray, side: int) -> dict[str, list[GroupRate]]:
    """For real photos ``paths`` and whether each was called fake (``(N,) bool``), each grouping's groups in a
    fixed order (the labels' order, then "unknown"), each with its rate; empty groups left out. Sharpness is
    measured at ``side`` pixels, the side of the crop the model scores (``by_sharpness``)."""
    if len(paths) != called_fake.size or called_fake.size == 0:
        raise ValueError(f"{len(paths)} photos and {called_fake.size} decisions")
    orders = {
        "gender": (*GENDERS.values(), UNKNOWN),
        "ethnicity": (*ETHNICITIES.values(), UNKNOWN),
        "age": (*(name for _, _, name in AGE_BANDS), UNKNOWN),
    }
    found = {}
    for grouping, groups in trait_groups(paths).items():
        members = np.array(groups, dtype=object)
        found[grouping] = [
            group_rate(grouping, group, called_fake[members == group])
            for group in orders[grouping]
            if np.any(members == group)
        ]
    found["sharpness"] = by_sharpness(paths, called_fake, side)
    return found


def by_sharpness(paths: Sequence[Path], called_fake: np.ndarray, side: int) -> list[GroupRate]:
    """The real faces ``paths`` called fake (``(N,) bool``), fifth by fifth of their sharpness at ``side`` pixels
    (``sharpness``, ``fifth_rates``), softest first."""
    if len(paths) != called_fake.size or called_fake.size == 0:
        raise ValueError(f"{len(paths)} faces and {called_fake.size} decisions")
    return fifth_rates(np.array([sharpness(path, side) for path in paths]), called_fake)


def fifth_rates(values: np.ndarray, called_fake: np.ndarray) -> list[GroupRate]:
    """Faces of sharpness ``values`` ``(N,)`` called fake (``(N,) bool``), fifth by fifth of ``values``
    (``sharpness_groups``), softest first, each fifth with its range of sharpness."""
    if values.size != called_fake.size or values.size == 0:
        raise ValueError(f"{values.size} sharpness values and {called_fake.size} decisions")
    fifths = np.array(sharpness_groups(values), dtype=object)
    return [
        group_rate(
            "sharpness",
            name,
            called_fake[fifths == name],
            (float(values[fifths == name].min()), float(values[fifths == name].max())),
        )
        for name in SHARPNESS_FIFTHS
        if np.any(fifths == name)
    ]


def card_entry(rates: dict[str, list[GroupRate]], threshold: float) -> dict[str, Any]:
    """The rates as a model card keeps them (``metrics.<set>_groups``)."""
    return {
        "what": f"real photos called fake (fake probability at or above {threshold:.4f}), group by group",
        "groups_from": "UTKFace's own labels in its file names (gender, ethnicity, age band); sharpness as the "
        "page measures a face (variance of the Laplacian of the grey crop at the side the model scores), ranked "
        f"within this set and cut into fifths (each with its range; the page calls a face blurry under "
        f"{quality.QualityThresholds().min_sharpness})",
        "interval": f"Wilson, {CONFIDENCE:.0%}",
        **{grouping: [rate.to_dict() for rate in found] for grouping, found in rates.items()},
    }


def summary_line(rates: dict[str, list[GroupRate]]) -> str:
    """One line per grouping's extremes, for a printout: the group most often and least often called fake."""
    parts = []
    for grouping, found in rates.items():
        highest = max(found, key=lambda rate: rate.rate)
        lowest = min(found, key=lambda rate: rate.rate)
        parts.append(
            f"{grouping}: highest {highest.group} {highest.rate:.1%} [{highest.low:.1%}, {highest.high:.1%}], "
            f"lowest {lowest.group} {lowest.rate:.1%}"
        )
    return "; ".join(parts)
