"""Consent wording: versions written once and never changed (a trigger forbids it)."""

from typing import Any

from django.db import transaction

from leads.hashing import consent_text_sha256
from leads.models import ConsentPurpose, ConsentText

PURPOSES = tuple(ConsentPurpose.values)

# Default wording, used when no version has been written for a purpose yet (post_migrate
# creates version 1 of each). Staff publish new versions in the admin.
DEFAULT_CONSENT_TEXTS = {
    ConsentPurpose.TERMS: (
        "I agree to the terms of service and have read the privacy notice, which explains who "
        "we are, what we do with my details and how to withdraw consent at any time."
    ),
    ConsentPurpose.MARKETING_EMAIL: (
        "Send me occasional emails about products and offers. I can stop them at any time with "
        "the link in every email."
    ),
    ConsentPurpose.SMS: (
        "Send me text messages about my enquiry and offers. I can stop them at any time by "
        "replying STOP or with the link in any message."
    ),
    ConsentPurpose.PROCESSING: (
        "Use my details to answer my enquiry and prepare an offer for me. I can ask you to "
        "erase them at any time."
    ),
}


def consent_text_publish(*, purpose: str, text: str, actor: Any = None) -> ConsentText:
    """Write a new version of the wording for `purpose`; it is shown from now on."""
    if purpose not in PURPOSES:
        raise ValueError(f"Unknown consent purpose {purpose!r}")
    with transaction.atomic():
        # Serialise publishers per purpose so two versions never get the same number.
        last = (
            ConsentText.objects.select_for_update()
            .filter(purpose=purpose)
            .order_by("-version")
            .first()
        )
        return ConsentText.objects.create(
            purpose=purpose,
            version=(last.version + 1) if last else 1,
            text=text,
            sha256=consent_text_sha256(text),
            created_by=actor if getattr(actor, "pk", None) else None,
        )


def consent_texts_ensure_defaults(**_kwargs) -> None:
    """Version 1 of each purpose's wording, if none exists (post_migrate receiver)."""
    for purpose, text in DEFAULT_CONSENT_TEXTS.items():
        if not ConsentText.objects.filter(purpose=purpose).exists():
            consent_text_publish(purpose=purpose, text=text)


def consent_text_current(*, purpose: str) -> ConsentText:
    """The version to render next to a checkbox for `purpose` (the newest)."""
    return consent_texts_current(purposes=[purpose])[purpose]


def consent_texts_current(*, purposes: list[str]) -> dict[str, ConsentText]:
    """The newest version for each of `purposes`, in one query."""
    unknown = set(purposes) - set(PURPOSES)
    if unknown:
        raise ValueError(f"Unknown consent purposes {sorted(unknown)!r}")
    texts = {
        text.purpose: text
        for text in ConsentText.objects.filter(purpose__in=purposes)
        .order_by("purpose", "-version")
        .distinct("purpose")
    }
    if len(texts) < len(set(purposes)):
        consent_texts_ensure_defaults()
        return consent_texts_current(purposes=purposes)
    return texts
