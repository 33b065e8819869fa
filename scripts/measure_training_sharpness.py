"""Whether a mixed run's training fakes are softer than its reals, source by source: a shortcut the label offers.

    python -m scripts.measure_training_sharpness [--size 128] [--mix dfdc_first] [--draws 300]
        [--augment none] [--augment default] [--augment blur=0.4,rescale=0.4] [--match-sharpness]

Draws ``--draws`` crops from each slot of the mixed batches (each source's reals, each source's kind of fake, with
the share of a batch the mix gives it), as ``python -m detector train --fakes mixed`` would, from the training side
with the UTKFace selection tenth kept out, as the people stages train. Each crop's sharpness is measured as the page
measures a face (``quality.sharpness``: the variance of its Laplacian) as drawn and after each ``--augment`` policy
(``none``, ``default`` or a policy text as ``train --augment`` takes). Printed per slot: the median and quartiles,
and per source the ratio of each fake kind's median to its reals'; then per source the ratio of all its fakes' median
(each kind weighed by its share) to its reals'. A ratio well under 1 in every source means a network can tell the
classes apart by how soft a whole crop is, and then calls soft real faces fake (docs/EXPERIMENTS.md, "Softness read
as a trace"). With ``--match-sharpness`` the reals are drawn as a ``train --match-sharpness`` run draws them,
blurred to their source's fakes' softness (``detector.training.sharpness_match``); that run's recipe is accepted
only if every source's ratio is then within 0.95-1.05 as drawn. A diagnostic: it records nothing.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detector.analysis import quality
from detector.training.augment import AugmentationPolicy, policy_from_text

Draw = Callable[[tuple[str, str], np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class SlotSharpness:
    """One slot's crops: ``label`` ("real" or "fake"), ``slot`` (source, kind), its share of its half of a batch,
    and per policy name each crop's sharpness (``values``) and their quartiles (25th, 50th, 75th percentile)."""

    label: str
    slot: tuple[str, str]
    share: float
    values: dict[str, np.ndarray]

    @property
    def quartiles(self) -> dict[str, tuple[float, float, float]]:
        found = {}
        for name, values in self.values.items():
            low, middle, high = np.percentile(values, [25, 50, 75])
            found[name] = (float(low), float(middle), float(high))
        return found


def policy(text: str) -> AugmentationPolicy | None:
    """``none`` (no augmentation), ``default`` (today's default policy) or a policy text (``policy_from_text``)."""
    if text == "none":
        return None
    if text == "default":
        return AugmentationPolicy()
    return policy_from_text(text)


def measure(
    slots: Iterable[tuple[str, tuple[str, str], float]],
    draw: Draw,
    policies: dict[str, AugmentationPolicy | None],
    draws: int,
    rng: np.random.Generator,
) -> list[SlotSharpness]:
    """For each ``(label, slot, share)``, ``draws`` crops from ``draw`` (``(S, S, 3) uint8 RGB``), each measured as
    drawn through each policy (None: as drawn)."""
    if draws < 1:
        raise ValueError("at least one crop a slot is needed")
    found = []
    for label, slot, share in slots:
        crops = [draw(slot, rng) for _ in range(draws)]
        values = {
            name: np.array(
                [
                    quality.sharpness(np.clip(chosen.apply(crop, rng) if chosen else crop, 0, 255).astype(np.uint8))
                    for crop in crops
                ]
            )
            for name, chosen in policies.items()
        }
        found.append(SlotSharpness(label, slot, share, values))
    return found


def fake_to_real(found: Sequence[SlotSharpness], name: str) -> dict[tuple[str, str], float]:
    """Under policy ``name``: each fake slot's median sharpness over its own source's reals' median."""
    reals = {item.slot[0]: item.quartiles[name][1] for item in found if item.label == "real"}
    return {
        item.slot: item.quartiles[name][1] / reals[item.slot[0]]
        for item in found
        if item.label == "fake" and reals.get(item.slot[0])
    }


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """The value at which the cumulative weight of the sorted ``values`` first reaches half the total."""
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def source_ratios(found: Sequence[SlotSharpness], name: str) -> dict[str, float]:
    """Under policy ``name``: per source, the median sharpness of all its fakes, each kind weighed by its share of
    the batch, over its reals' median."""
    reals = {item.slot[0]: float(np.median(item.values[name])) for item in found if item.label == "real"}
    ratios = {}
    for source, real_median in reals.items():
        fakes = [item for item in found if item.label == "fake" and item.slot[0] == source]
        if not fakes or not real_median:
            continue
        values = np.concatenate([item.values[name] for item in fakes])
        weights = np.concatenate(
            [np.full(len(item.values[name]), item.share / len(item.values[name])) for item in fakes]
        )
        ratios[source] = _weighted_median(values, weights) / real_median
    return ratios


def table(found: Sequence[SlotSharpness]) -> str:
    """The printout: a line per slot with its median and quartiles under each policy, a fake's ratio beside it."""
    names = list(found[0].quartiles) if found else []
    ratios_by_name = {name: fake_to_real(found, name) for name in names}
    lines = [f"{'slot':34s} {'share':>6s}  " + "  ".join(f"{name:>28s}" for name in names)]
    for item in found:
        cells = [f"{middle:7.1f} [{low:6.1f}, {high:6.1f}]" for low, middle, high in item.quartiles.values()]
        ratios = [ratios_by_name[name].get(item.slot) for name in names] if item.label == "fake" else []
        shown = "  ".join(
            f"{cell:>20s} ({ratio:4.2f})" if ratio is not None else f"{cell:>28s}"
            for cell, ratio in zip(cells, ratios or [None] * len(cells), strict=True)
        )
        lines.append(f"{item.label} {item.slot[0]}/{item.slot[1]:<28s} {item.share:6.3f}  {shown}")
    lines.append("median sharpness [quartiles]; a fake's (ratio) is its median over its own source's reals'")
    by_source = {name: source_ratios(found, name) for name in names}
    for source in by_source[names[0]] if names else []:
        shown = "  ".join(f"{by_source[name][source]:>28.2f}" for name in names)
        lines.append(f"{'all fakes of ' + source:34s} {'':6s}  {shown}")
    lines.append("all fakes of a source: their median (each kind weighed by its share) over the source's reals'")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=128, help="the side the crops are decoded at (the run's input)")
    parser.add_argument("--mix", default="dfdc_first", help="the batches' mix (mixed_batches.MIXES)")
    parser.add_argument("--draws", type=int, default=300, help="crops drawn from each slot")
    parser.add_argument("--augment", action="append", help="none, default or a policy text (repeatable)")
    parser.add_argument("--cache-folder", default=".cache", help="folder of decoded crops and face meshes")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--match-sharpness", action="store_true", help="draw the reals as a train --match-sharpness run draws them"
    )
    arguments = parser.parse_args(argv)
    from detector.training import mixed_batches, sources

    texts = arguments.augment or ["none", "default"]
    policies = {text: policy(text) for text in texts}
    cache = Path(arguments.cache_folder)
    pools = sources.mixed_pools(arguments.size, cache, False, utkface_selection=True)
    batches = mixed_batches.MixedBatches(
        pools, 2, AugmentationPolicy(), arguments.seed, cache, steps=1, mix=mixed_batches.MIXES[arguments.mix]
    )
    if arguments.match_sharpness:
        batches.match_sharpness(arguments.seed + 1)
    slots = [("real", slot, float(share)) for slot, share in zip(batches.real_slots, batches.real_p, strict=True)]
    slots += [("fake", slot, float(share)) for slot, share in zip(batches.fake_slots, batches.fake_p, strict=True)]
    found = measure(slots, batches.draw_crop, policies, arguments.draws, np.random.default_rng(arguments.seed))
    print(table(found))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
