"""The consent ledger's hashes: what ties a record to the one before it, to the words shown,
and to the person. Pure functions, shared by the ledger's writes and its verification."""

import hashlib
import json
from datetime import UTC

from django.utils.crypto import salted_hmac

from leads.models import ConsentRecord


def consent_text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def consent_subject_digest(email: str) -> str:
    """A keyed hash of the normalised email: it identifies the person on their records even
    after the lead's personal data is pseudonymised on an erasure request."""
    return salted_hmac("leads.consent-subject", email, algorithm="sha256").hexdigest()


def consent_record_hash(record: ConsentRecord) -> str:
    """SHA-256 over every evidential field and the previous record's hash.

    The canonical form is sorted keys, no spaces and text as typed; changing any of it changes
    every hash, and no lead's chain would verify any more.
    """
    payload = {
        "lead": record.lead_id,
        "sequence": record.sequence,
        "purpose": record.purpose,
        "decision": record.decision,
        "method": record.method,
        "consent_text": record.consent_text_id,
        "text_sha256": record.text_sha256,
        "subject_digest": record.subject_digest,
        "created_at": record.created_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "ip": record.ip,
        "user_agent": record.user_agent,
        "source_form": record.source_form,
        "source_url": record.source_url,
        "actor": record.actor_id,
        "prev_hash": record.prev_hash,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
