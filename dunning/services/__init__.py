"""Every write in dunning goes through these services (split by concern)."""

from dunning.services.attempts import dunning_attempt_charge, dunning_attempt_settle
from dunning.services.cases import dunning_case_cancel, dunning_case_open, dunning_case_recover
from dunning.services.pay import (
    LinkNotUsable,
    LinkOutcome,
    dunning_case_callback_request,
    dunning_case_transfer_announce,
    payment_link_fresh_send,
    payment_link_pay,
    payment_link_refresh,
    payment_link_setup_start,
)
from dunning.services.scheduler import dunning_case_step_run, dunning_cases_claim, dunning_tick
from dunning.services.staff import (
    ActionRefused,
    dunning_case_assign,
    dunning_case_link_send,
    dunning_case_mark_paid,
    dunning_case_note_add,
    dunning_case_pause,
    dunning_case_policy_change,
    dunning_case_resume,
    dunning_case_retry_now,
    dunning_case_write_off,
)
from dunning.services.transitions import CaseClosed, dunning_case_transition
from dunning.services.triggers import dunning_discover, dunning_payment_news, dunning_triggers_fire

__all__ = [
    "ActionRefused",
    "CaseClosed",
    "LinkNotUsable",
    "LinkOutcome",
    "dunning_attempt_charge",
    "dunning_attempt_settle",
    "dunning_case_assign",
    "dunning_case_callback_request",
    "dunning_case_cancel",
    "dunning_case_link_send",
    "dunning_case_mark_paid",
    "dunning_case_note_add",
    "dunning_case_open",
    "dunning_case_pause",
    "dunning_case_policy_change",
    "dunning_case_recover",
    "dunning_case_resume",
    "dunning_case_retry_now",
    "dunning_case_step_run",
    "dunning_case_transfer_announce",
    "dunning_case_transition",
    "dunning_case_write_off",
    "dunning_cases_claim",
    "dunning_discover",
    "dunning_payment_news",
    "dunning_tick",
    "dunning_triggers_fire",
    "payment_link_fresh_send",
    "payment_link_pay",
    "payment_link_refresh",
    "payment_link_setup_start",
]
