"""Dunning tasks: each takes ids, loads by id and calls one service; running twice is harmless."""

from __future__ import annotations

import logging
from datetime import datetime

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="dunning.tick")
def tick_task() -> dict:
    """Beat (`dunning-tick`): due triggers, discovery, then claim the due cases in batches."""
    from dunning.services.scheduler import dunning_tick

    return dunning_tick()


def _moment(at: str | None) -> datetime | None:
    return datetime.fromisoformat(at) if at else None


@shared_task(name="dunning.case_steps_run")
def case_steps_run_task(pairs: list[list[int]], at: str | None = None) -> int:
    """Run one batch of claimed (case id, step) pairs, as of the claim's time `at`. A case that
    fails stays leased and is due again when its lease ends; the others carry on."""
    from dunning.services.scheduler import dunning_case_step_run

    ran = 0
    now = _moment(at)
    for case_id, step in pairs:
        try:
            dunning_case_step_run(case_id=case_id, step=step, now=now)
            ran += 1
        except Exception:
            logger.exception("dunning case %s step %s failed; it is due again later", case_id, step)
    return ran


@shared_task(name="dunning.attempt_charge")
def attempt_charge_task(attempt_id: int, at: str | None = None) -> None:
    """One retry of a saved card, in a task of its own (it waits for Stripe)."""
    from dunning.services.attempts import dunning_attempt_charge

    dunning_attempt_charge(attempt_id=attempt_id, now=_moment(at))


@shared_task(name="dunning.payment_news")
def payment_news_task(payment_id: int) -> None:
    from dunning.services.triggers import dunning_payment_news

    dunning_payment_news(payment_id=payment_id)
