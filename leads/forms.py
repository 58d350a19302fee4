"""The public lead form. Field rules come from leads.normalise, shared with the API and the
service; the form only turns them into inline messages."""

import time
from datetime import UTC, datetime

from django import forms
from django.core import signing

from leads.models import (
    COMPANY_MAX_LENGTH,
    EMAIL_MAX_LENGTH,
    NAME_MAX_LENGTH,
    PHONE_INPUT_MAX_LENGTH,
    ConsentPurpose,
    ConsentText,
)
from leads.normalise import (
    TOUCH_FIELDS,
    LeadInputError,
    company_clean,
    country_choices,
    country_normalise,
    email_normalise,
    name_clean,
    phone_normalise,
)

# The checkboxes on the lead form, in the order shown. Processing consent is not asked here:
# answering an enquiry is covered by the terms and privacy notice.
LEAD_FORM_PURPOSES = [ConsentPurpose.TERMS, ConsentPurpose.MARKETING_EMAIL, ConsentPurpose.SMS]
STARTED_SALT = "leads.form-started"
HONEYPOT_FIELD = "website"


def form_started_token(now: float | None = None) -> str:
    """When the form was rendered, signed (django.core.signing.TimestampSigner), so a bot
    cannot claim it filled the form in slowly."""
    moment = time.time() if now is None else now
    return signing.TimestampSigner(salt=STARTED_SALT).sign_object({"t": moment})


def form_started_at(token: str) -> datetime:
    """When the form was rendered. A missing or forged token reads as "just now", which the
    fill-time rule scores as too fast. Keys in SECRET_KEY_FALLBACKS are accepted too."""
    try:
        moment = float(signing.TimestampSigner(salt=STARTED_SALT).unsign_object(token)["t"])
        return datetime.fromtimestamp(moment, tz=UTC)
    except (signing.BadSignature, KeyError, TypeError, ValueError, OverflowError):
        return datetime.now(tz=UTC)


def _raise_as_validation_error(step, field: str):
    try:
        return step()
    except LeadInputError as exc:
        messages = exc.errors.get(field) or next(iter(exc.errors.values()))
        raise forms.ValidationError(messages) from None


def _country_options() -> list[tuple[str, str]]:
    # A callable: Django builds the ~250 options only when the form is rendered.
    return [("", "Choose your country"), *country_choices()]


class LeadForm(forms.Form):
    email = forms.CharField(
        label="Email",
        max_length=EMAIL_MAX_LENGTH,
        help_text="So we can reply to you. We never share it.",
        widget=forms.EmailInput(
            attrs={"autocomplete": "email", "inputmode": "email", "spellcheck": "false"}
        ),
        error_messages={"required": "Tell us your email address so we can reply."},
    )
    name = forms.CharField(
        label="Your name",
        max_length=NAME_MAX_LENGTH,
        help_text="So we know who to ask for.",
        widget=forms.TextInput(attrs={"autocomplete": "name", "autocapitalize": "words"}),
        error_messages={"required": "Tell us your name so we know who to ask for."},
    )
    company = forms.CharField(
        label="Company (optional)",
        max_length=COMPANY_MAX_LENGTH,
        required=False,
        help_text="If you are buying for a business, so the offer fits it.",
        widget=forms.TextInput(attrs={"autocomplete": "organization"}),
    )
    phone = forms.CharField(
        label="Phone (optional)",
        max_length=PHONE_INPUT_MAX_LENGTH,
        required=False,
        help_text="Only if you would like a call back. Include the country code if abroad.",
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )
    # A CharField with a Select: clean_country checks the code against the same list.
    country = forms.CharField(
        label="Country (optional)",
        required=False,
        max_length=2,
        help_text="So we show prices, taxes and payment options that apply to you.",
        widget=forms.Select(attrs={"autocomplete": "country"}, choices=_country_options),
    )
    # Hidden: what was rendered, when, and where the visitor came from.
    started = forms.CharField(required=False, widget=forms.HiddenInput)
    # The honeypot: hidden from people by CSS and from screen readers by aria-hidden. Only
    # whether it is empty matters, so it has no length to exceed.
    website = forms.CharField(required=False)

    def __init__(self, *args, consent_texts: dict[str, ConsentText] | None = None, **kwargs):
        """`consent_texts` (purpose -> the wording) labels the checkboxes; a form that is only
        validated, never shown, needs none."""
        super().__init__(*args, **kwargs)
        self.fields[HONEYPOT_FIELD].widget.attrs.update({"autocomplete": "off", "tabindex": "-1"})
        self.consent_texts = consent_texts
        for purpose in LEAD_FORM_PURPOSES:
            text = (consent_texts or {}).get(purpose)
            required = purpose == ConsentPurpose.TERMS
            self.fields[f"consent_{purpose}"] = forms.BooleanField(
                label=text.text if text else "",
                required=required,
                error_messages={
                    "required": "Tick this box to agree to the terms, so we can reply to you."
                },
            )
            # Which wording was shown; lead_capture checks it (a forged or stale id is "this form
            # is out of date", never an error on a field the visitor cannot see).
            self.fields[f"consent_text_{purpose}"] = forms.CharField(
                required=False, widget=forms.HiddenInput, initial=text.pk if text else None
            )
        for name, field in self.fields.items():
            if name != HONEYPOT_FIELD and not field.widget.is_hidden:
                field.widget.attrs["aria-describedby"] = f"id_{name}_why id_{name}_error"
        for field in TOUCH_FIELDS:
            # Metadata is cut to fit by the service, never an error for the visitor (who could
            # not see or fix a hidden field).
            self.fields[field] = forms.CharField(required=False, widget=forms.HiddenInput)

    @property
    def consent_fields(self):
        return [(self[f"consent_{p}"], self[f"consent_text_{p}"], p) for p in LEAD_FORM_PURPOSES]

    @property
    def hidden_touch_fields(self):
        return [self[field] for field in [*TOUCH_FIELDS, "started"]]

    def clean_email(self):
        return _raise_as_validation_error(
            lambda: email_normalise(self.cleaned_data["email"]), "email"
        )

    def clean_name(self):
        return _raise_as_validation_error(lambda: name_clean(self.cleaned_data["name"]), "name")

    def clean_company(self):
        return _raise_as_validation_error(
            lambda: company_clean(self.cleaned_data.get("company", "")), "company"
        )

    def clean_country(self):
        return _raise_as_validation_error(
            lambda: country_normalise(self.cleaned_data.get("country", "")), "country"
        )

    def clean(self):
        cleaned = super().clean()
        phone = cleaned.get("phone", "")
        if phone and "phone" not in self.errors:
            try:
                cleaned["phone"] = phone_normalise(phone, country=cleaned.get("country", ""))
            except LeadInputError as exc:
                self.add_error("phone", exc.errors["phone"])
        return cleaned

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs["aria-invalid"] = "true"

    # What the service needs, from a valid form.
    def capture_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "email": data["email"],
            "name": data["name"],
            "company": data.get("company", ""),
            "phone": data.get("phone", ""),
            "country": data.get("country", ""),
            "consents": {p: bool(data.get(f"consent_{p}")) for p in LEAD_FORM_PURPOSES},
            "consent_text_ids": {
                p: data[f"consent_text_{p}"]
                for p in LEAD_FORM_PURPOSES
                if data.get(f"consent_text_{p}")
            },
            "touch": {field: data.get(field, "") for field in TOUCH_FIELDS},
            "started_at": form_started_at(data.get("started", "")),
            "honeypot": data.get(HONEYPOT_FIELD, ""),
        }
