"""Every write in the leads app. Other apps import from here (`from leads.services import …`).

The public API used by checkout and others:
    CaptureContext, lead_capture, consent_text_current, lead_readiness (ReadinessResult),
    consent_record_append, consent_withdraw, marketing_email_build, lead_first_contact_log,
    lead_assign, lead_erase.
"""

from leads.normalise import LeadInputError
from leads.services.capture import lead_capture
from leads.services.consent import (
    ConsentLinkExpired,
    ConsentLinkInvalid,
    consent_confirmation_send,
    consent_double_opt_in_confirm,
    consent_record_append,
    consent_text_current,
    consent_text_publish,
    consent_texts_current,
    consent_withdraw,
    consent_withdrawal_url,
    marketing_email_build,
)
from leads.services.lead import (
    lead_erase,
    lead_status_change,
    lead_submitted_details_accept,
    lead_submitted_details_dismiss,
    lead_update,
)
from leads.services.readiness import (
    lead_readiness,
    lead_readiness_refresh,
    readiness_policy_active,
    readiness_policy_save,
)
from leads.services.routing import AssignmentRefused, lead_assign, lead_route
from leads.services.sla import lead_first_contact_log, lead_sla_breaches_process
from leads.services.status import LeadStatusRefused
from leads.types import CaptureContext, ReadinessResult

__all__ = [
    "AssignmentRefused",
    "CaptureContext",
    "ConsentLinkExpired",
    "ConsentLinkInvalid",
    "LeadInputError",
    "LeadStatusRefused",
    "ReadinessResult",
    "consent_confirmation_send",
    "consent_double_opt_in_confirm",
    "consent_record_append",
    "consent_text_current",
    "consent_text_publish",
    "consent_texts_current",
    "consent_withdraw",
    "consent_withdrawal_url",
    "lead_assign",
    "lead_capture",
    "lead_erase",
    "lead_first_contact_log",
    "lead_readiness",
    "lead_readiness_refresh",
    "lead_route",
    "lead_sla_breaches_process",
    "lead_status_change",
    "lead_submitted_details_accept",
    "lead_submitted_details_dismiss",
    "lead_update",
    "marketing_email_build",
    "readiness_policy_active",
    "readiness_policy_save",
]
