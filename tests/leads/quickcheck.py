"""The property both quick checks (the form's and the API's) are held to: over submissions made
by changing a few fields of a valid one, the quick check never accepts what the full validator
refuses, and when it accepts, it gives what the full validator gives."""

import random
from collections.abc import Callable


def quick_check_agrees(
    *,
    valid: dict,
    choices: dict[str, list],
    build: Callable[[dict], object],
    quick: Callable[[object], dict | None],
    full: Callable[[object], dict | None],
    same: Callable[[dict, dict], None],
    runs: int = 1500,
) -> None:
    rng = random.Random(20261122)  # fixed: a failure can be replayed
    accepted = refused_by_both = 0
    for _ in range(runs):
        values = dict(valid)
        for field in rng.sample(sorted(choices), k=rng.randint(1, 4)):
            values[field] = rng.choice(choices[field])
        data = build(values)
        quick_verdict, full_verdict = quick(data), full(data)
        if quick_verdict is None:
            refused_by_both += full_verdict is None
            continue
        assert full_verdict is not None, f"quick accepted what is refused: {values!r}"
        same(quick_verdict, full_verdict)
        accepted += 1
    # Both kinds were exercised: the comparison is not vacuous.
    assert accepted > 200
    assert refused_by_both > 200
