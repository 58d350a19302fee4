"""The consent ledger by concern: wording (texts), the hash chain (ledger), double opt-in and
withdrawal."""

from leads.hashing import consent_record_hash, consent_subject_digest, consent_text_sha256
from leads.services.consent.double_opt_in import (
    ConsentLinkExpired,
    ConsentLinkInvalid,
    consent_confirmation_from_token,
    consent_confirmation_open,
    consent_confirmation_send,
    consent_confirmation_token,
    consent_confirmation_url,
    consent_double_opt_in_confirm,
)
from leads.services.consent.ledger import (
    ConsentEntry,
    consent_latest_text,
    consent_record_append,
    consent_record_append_locked,
    consent_records_append_locked,
)
from leads.services.consent.texts import (
    DEFAULT_CONSENT_TEXTS,
    PURPOSES,
    consent_text_current,
    consent_text_publish,
    consent_texts_current,
    consent_texts_ensure_defaults,
)
from leads.services.consent.withdrawal import (
    consent_withdraw,
    consent_withdrawal_target,
    consent_withdrawal_token,
    consent_withdrawal_url,
    marketing_email_build,
)

__all__ = [
    "DEFAULT_CONSENT_TEXTS",
    "PURPOSES",
    "ConsentEntry",
    "ConsentLinkExpired",
    "ConsentLinkInvalid",
    "consent_confirmation_from_token",
    "consent_confirmation_open",
    "consent_confirmation_send",
    "consent_confirmation_token",
    "consent_confirmation_url",
    "consent_double_opt_in_confirm",
    "consent_latest_text",
    "consent_record_append",
    "consent_record_append_locked",
    "consent_record_hash",
    "consent_records_append_locked",
    "consent_subject_digest",
    "consent_text_current",
    "consent_text_publish",
    "consent_text_sha256",
    "consent_texts_current",
    "consent_texts_ensure_defaults",
    "consent_withdraw",
    "consent_withdrawal_target",
    "consent_withdrawal_token",
    "consent_withdrawal_url",
    "marketing_email_build",
]
