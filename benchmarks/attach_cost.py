"""``python -m benchmarks.attach_cost [PAIRS] [FLOOR_PAIRS]``: what watching costs a run, as
``--only attach`` measures it (one trainer process, an attached app at 160x50 in its calm pace
frozen and let go every 3 s), with more pairs than the full run affords and a confidence
interval: the geometric mean of the pairs' ratios with a bootstrap 90% interval, and the same
for the noise floor (the app never frozen). 150 and 50 pairs take about 22 minutes.

Why: 50 pairs' median moves by about +-2% from one run to the next on a shared 2-core machine
(their quartiles span 0.90-1.00), which is the size of what is left to measure."""

from __future__ import annotations

import json
import math
import random
import sys
import tempfile
from pathlib import Path

from .attach import COST_IMAGES, cost_and_floor


def summary(ratios: list[float], resamples: int = 2000) -> dict[str, object]:
    """Median, geometric mean and its bootstrap 90% interval (seeded: the same ratios give
    the same interval)."""
    logs = [math.log(ratio) for ratio in ratios]
    rng = random.Random(0)
    means = sorted(math.exp(sum(rng.choice(logs) for _ in logs) / len(logs)) for _ in range(resamples))
    ordered = sorted(ratios)
    return {
        "pairs": len(ratios),
        "median": ordered[len(ordered) // 2],
        "geometric_mean": math.exp(sum(logs) / len(logs)),
        "ci90": [means[resamples // 20], means[resamples - resamples // 20]],
    }


def main(argv: list[str]) -> int:
    pairs, floor_pairs = (int(argv[0]) if argv else 150), (int(argv[1]) if len(argv) > 1 else 50)
    with tempfile.TemporaryDirectory() as folder:
        cost, floor = cost_and_floor(Path(folder), COST_IMAGES, pairs, floor_pairs)
    print(json.dumps({"watching": summary(cost), "noise floor": summary(floor)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
