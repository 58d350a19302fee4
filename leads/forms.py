"""The public lead form. Field rules come from leads.normalise, shared with the API and the
service; the form only turns them into inline messages."""

import time
from datetime import UTC, datetime

from django import forms
from django.conf import settings
from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.datastructures import MultiValueDict

from leads.models import (
    COMPANY_MAX_LENGTH,
    EMAIL_MAX_LENGTH,
    NAME_MAX_LENGTH,
    PHONE_INPUT_MAX_LENGTH,
    URL_MAX_LENGTH,
    ConsentPurpose,
    ConsentText,
)
from leads.normalise import (
    PERSON_FIELDS,
    TOUCH_FIELDS,
    LeadInputError,
    company_clean,
    country_choices,
    country_normalise,
    email_normalise,
    lead_input_clean,
    name_clean,
    phone_normalise,
)

# The checkboxes on the lead form, in the order shown. Processing consent is not asked here:
# answering an enquiry is covered by the terms and privacy notice.
LEAD_FORM_PURPOSES = [ConsentPurpose.TERMS, ConsentPurpose.MARKETING_EMAIL, ConsentPurpose.SMS]
STARTED_SALT = "leads.form-started"
HONEYPOT_FIELD = "website"


def _started_signature(moment: str, secret: str) -> str:
    return salted_hmac(STARTED_SALT, moment, secret=secret, algorithm="sha256").hexdigest()[:32]


def form_started_token(now: float | None = None) -> str:
    """When the form was rendered (Unix time, ms), signed: "1767225600000.<hmac>". A plain
    HMAC rather than django.core.signing: it is read on every submission, and Django's signed
    objects (base64 JSON) cost several times as much to check."""
    moment = str(int((time.time() if now is None else now) * 1000))
    return f"{moment}.{_started_signature(moment, settings.SECRET_KEY)}"


def form_started_at(token: str) -> datetime:
    """When the form was rendered. A missing or forged token reads as "just now", which the
    fill-time rule scores as too fast. A token signed with a key in SECRET_KEY_FALLBACKS is
    good, as are Django signed tokens from forms rendered before this format."""
    moment, _, signature = token.partition(".")
    if moment.isascii() and moment.isdigit() and len(moment) <= 13 and signature:
        for secret in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS):
            if constant_time_compare(signature, _started_signature(moment, secret)):
                return datetime.fromtimestamp(int(moment) / 1000, tz=UTC)
        return datetime.now(tz=UTC)
    try:
        return datetime.fromtimestamp(float(signing.loads(token, salt=STARTED_SALT)["t"]), tz=UTC)
    except (signing.BadSignature, KeyError, TypeError, ValueError, OverflowError):
        return datetime.now(tz=UTC)


class _Unsure(Exception):
    pass


def _quick_text(data, name: str, max_length: int, *, required: bool = False) -> str:
    value = data.get(name)
    value = "" if value is None else value.strip()  # what forms.CharField does
    if "\x00" in value or len(value) > max_length or (required and not value):
        raise _Unsure
    return value


def _quick_tick(data, name: str) -> bool:
    value = data.get(name)
    if value is None:
        return False
    if value == "on":  # what a browser sends for a ticked box
        return True
    raise _Unsure


def _quick_id(data, name: str) -> int | None:
    value = (data.get(name) or "").strip()
    if not value:
        return None
    if value.isascii() and value.isdigit() and len(value) <= 9:
        return int(value)
    raise _Unsure


def lead_form_quick_clean(data) -> dict | None:
    """What LeadForm(data).capture_kwargs() would give, for a submission that is plainly
    valid, without building the form: a bound LeadForm costs more than everything else the
    request does (field deep copies, ~250 country choices). None when anything is not plainly
    valid; LeadForm then judges it and explains, field by field.

    It never accepts what LeadForm refuses (tests/leads/test_forms.py compares the two).
    """
    if isinstance(data, MultiValueDict):
        # Each field's last value, as data.get() gives it, read once: a QueryDict lookup costs
        # several Python calls, and there are sixteen fields.
        data = {key: values[-1] if values else [] for key, values in data.lists()}
    try:
        person = {
            field: _quick_text(data, field, max_length, required=required)
            for field, (max_length, required) in PERSON_FIELDS.items()
        }
        consents = {p: _quick_tick(data, f"consent_{p}") for p in LEAD_FORM_PURPOSES}
        if not consents[ConsentPurpose.TERMS]:
            raise _Unsure
        text_ids = {p: _quick_id(data, f"consent_text_{p}") for p in LEAD_FORM_PURPOSES}
        touch = {f: _quick_text(data, f, max_length * 4) for f, max_length in TOUCH_FIELDS.items()}
        started = _quick_text(data, "started", 10_000)
        honeypot = _quick_text(data, HONEYPOT_FIELD, URL_MAX_LENGTH)
        cleaned = lead_input_clean(**person)
    except (_Unsure, LeadInputError):
        return None
    return {
        **cleaned,
        "consents": consents,
        "consent_text_ids": {p: pk for p, pk in text_ids.items() if pk is not None},
        "touch": touch,
        "started_at": form_started_at(started),
        "honeypot": honeypot,
    }


def _raise_as_validation_error(step, field: str):
    try:
        return step()
    except LeadInputError as exc:
        messages = exc.errors.get(field) or next(iter(exc.errors.values()))
        raise forms.ValidationError(messages) from None


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
    # A CharField with a Select: the list is only needed to render, and clean_country checks
    # the code with a dict lookup instead of walking ~250 choices on every submission.
    country = forms.CharField(
        label="Country (optional)",
        required=False,
        max_length=2,
        help_text="So we show prices, taxes and payment options that apply to you.",
        widget=forms.Select(attrs={"autocomplete": "country"}),
    )
    # Hidden: what was rendered, when, and where the visitor came from.
    started = forms.CharField(required=False, widget=forms.HiddenInput)
    # The honeypot: hidden from people by CSS and from screen readers by aria-hidden.
    website = forms.CharField(required=False, max_length=URL_MAX_LENGTH)

    def __init__(self, *args, consent_texts: dict[str, ConsentText], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["country"].widget.choices = [("", "Choose your country"), *country_choices()]
        self.fields[HONEYPOT_FIELD].widget.attrs.update({"autocomplete": "off", "tabindex": "-1"})
        self.consent_texts = consent_texts
        for purpose in LEAD_FORM_PURPOSES:
            text = consent_texts[purpose]
            required = purpose == ConsentPurpose.TERMS
            self.fields[f"consent_{purpose}"] = forms.BooleanField(
                label=text.text,
                required=required,
                error_messages={
                    "required": "Tick this box to agree to the terms, so we can reply to you."
                },
            )
            self.fields[f"consent_text_{purpose}"] = forms.IntegerField(
                required=False, widget=forms.HiddenInput, initial=text.pk
            )
        for name, field in self.fields.items():
            if name != HONEYPOT_FIELD and not field.widget.is_hidden:
                field.widget.attrs["aria-describedby"] = f"id_{name}_why id_{name}_error"
        for field, max_length in TOUCH_FIELDS.items():
            # Metadata is cut to fit by the service, never an error for the visitor.
            self.fields[field] = forms.CharField(
                required=False, widget=forms.HiddenInput, max_length=max_length * 4
            )

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
                if data.get(f"consent_text_{p}") is not None
            },
            "touch": {field: data.get(field, "") for field in TOUCH_FIELDS},
            "started_at": form_started_at(data.get("started", "")),
            "honeypot": data.get(HONEYPOT_FIELD, ""),
        }
