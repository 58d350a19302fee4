"""The contract test's plugin: the session's Stripe peer records every request stripe-python
sends (from the test process and from the real worker processes alike, so the recording is at
the peer, picked out by the SDK's User-Agent), and the contract test runs after every other
test to judge them all (tests/contract/test_stripe_contract.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def stripe_requests_log(stack_dir) -> Path:
    path = stack_dir / "stripe-requests.jsonl"
    path.touch()
    return path


def stripe_requests(path: Path) -> list[dict]:
    """What the peer recorded so far, one dict per request."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A stable sort: every other test keeps its place, the contract test goes last.
    items.sort(key=lambda item: bool(getattr(item.module, "RUN_LAST", False)))


JUDGED = pytest.StashKey[str]()


def pytest_terminal_summary(terminalreporter, config) -> None:
    if JUDGED in config.stash:
        terminalreporter.write_line(config.stash[JUDGED])
