"""POST /api/v1/leads/ for lead forms embedded on other sites, and the consent wording they
must show. Public and CSRF-exempt (no session authentication); CORS origins come from
CORS_ALLOWED_ORIGINS; abuse limits come from leads.throttling."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from leads.context import capture_context, client_ip
from leads.models import (
    COMPANY_MAX_LENGTH,
    EMAIL_MAX_LENGTH,
    NAME_MAX_LENGTH,
    PHONE_INPUT_MAX_LENGTH,
    URL_MAX_LENGTH,
    ConsentPurpose,
    ConsentRecord,
)
from leads.normalise import PERSON_FIELDS, TOUCH_FIELDS, LeadInputError, lead_input_clean
from leads.services import consent_texts_current, lead_capture
from leads.throttling import (
    TOO_MANY_FROM_HERE,
    SubmissionRefused,
    lead_submission_count_begin,
    lead_submission_ip_allowed,
)

TOO_LARGE = "The request body is too large."


def _too_many(message: str) -> Response:
    return Response({"detail": message}, status=429, headers={"Retry-After": "60"})


def _body_too_large(request: HttpRequest) -> bool:
    """Whether the body is over LEADS_API_MAX_BODY_BYTES, decided before anything parses it.

    Django's DATA_UPLOAD_MAX_MEMORY_SIZE is 2.5 MB (sized for Stripe): far more JSON than a
    public endpoint should parse, refused with an HTML page, and enforced on DRF's parsers only
    since DRF 3.18 (PYSEC-2026-3827). An honest Content-Length settles it without reading. A
    body longer than its Content-Length (under ASGI nothing cuts it there) is caught by
    measuring request.body, which the parser reads anyway and which Django stops reading past
    DATA_UPLOAD_MAX_MEMORY_SIZE.
    """
    cap = settings.LEADS_API_MAX_BODY_BYTES
    try:
        if int(request.META.get("CONTENT_LENGTH") or 0) > cap:
            return True
    except ValueError:  # a malformed header: the body's own length decides
        pass
    try:
        return len(request.body) > cap
    except RequestDataTooBig:
        return True


class LeadCaptureRequestSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=EMAIL_MAX_LENGTH)
    name = serializers.CharField(max_length=NAME_MAX_LENGTH)
    company = serializers.CharField(
        max_length=COMPANY_MAX_LENGTH, required=False, allow_blank=True, default=""
    )
    phone = serializers.CharField(
        max_length=PHONE_INPUT_MAX_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        help_text="Any common format; a number without country code is read in `country`.",
    )
    country = serializers.CharField(
        max_length=2, required=False, allow_blank=True, default="", help_text="ISO 3166-1 alpha-2"
    )
    consents = serializers.DictField(
        child=serializers.BooleanField(),
        help_text=(
            "One entry per checkbox the visitor saw: purpose -> ticked. Purposes: "
            + ", ".join(ConsentPurpose.values)
            + ". `terms` must be shown and ticked. A ticked `marketing_email` is pending until "
            "the person confirms the link we email them."
        ),
    )
    consent_text_ids = serializers.DictField(
        child=serializers.IntegerField(),
        required=False,
        help_text="purpose -> id of the consent wording shown (GET /api/v1/leads/consent-texts/). "
        "Omitted purposes are recorded against the current wording.",
    )
    started_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="When the form was shown to the visitor."
    )
    website = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=URL_MAX_LENGTH,
        help_text="Honeypot: render it hidden and leave it empty.",
    )

    def get_fields(self):
        fields = super().get_fields()
        for name, max_length in TOUCH_FIELDS.items():
            # Generous: metadata is cut to fit by the service, never refused.
            fields[name] = serializers.CharField(
                required=False, allow_blank=True, default="", max_length=max_length * 4
            )
        return fields

    def validate(self, attrs):
        try:
            attrs.update(
                lead_input_clean(
                    email=attrs["email"],
                    name=attrs["name"],
                    company=attrs.get("company", ""),
                    phone=attrs.get("phone", ""),
                    country=attrs.get("country", ""),
                )
            )
        except LeadInputError as exc:
            raise serializers.ValidationError(exc.errors) from None
        if not attrs["consents"].get(ConsentPurpose.TERMS):
            raise serializers.ValidationError(
                {"consents": ["The visitor must tick the box agreeing to the terms."]}
            )
        return attrs


def _capture_kwargs(data) -> dict:
    """lead_capture's arguments (bar the context and velocity) from validated request data."""
    return {
        "email": data["email"],
        "name": data["name"],
        "company": data["company"],
        "phone": data["phone"],
        "country": data["country"],
        "consents": data["consents"],
        "consent_text_ids": data.get("consent_text_ids"),
        "touch": {field: data.get(field, "") for field in TOUCH_FIELDS},
        "started_at": data.get("started_at"),
        "honeypot": data.get("website", ""),
    }


class _Unsure(Exception):
    pass


def _quick_text(data: dict, name: str, max_length: int, *, required: bool = False) -> str:
    """What the serializer's CharField gives for a plain string: stripped, not blank when
    required, within max_length, without NUL or lone surrogates."""
    if name not in data:
        if required:
            raise _Unsure
        return ""
    value = data[name]
    if type(value) is not str:
        raise _Unsure
    value = value.strip()
    if (required and not value) or len(value) > max_length or "\x00" in value:
        raise _Unsure
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate, which JSON can carry
            raise _Unsure from None
    return value


def _quick_map(data: dict, name: str, kind: type) -> dict | None:
    value = data.get(name)
    if name in data and (
        type(value) is not dict or any(type(item) is not kind for item in value.values())
    ):
        raise _Unsure
    return value


def lead_api_quick_clean(data) -> dict | None:
    """What LeadCaptureRequestSerializer gives (as lead_capture's arguments) for a body that is
    plainly valid: plain JSON types only (strings, real booleans and integers, no started_at),
    without building the serializer, which costs more than the capture's own Python work. None
    for anything else; the serializer then judges it and explains, field by field.

    It never accepts what the serializer refuses (tests/leads/test_api_quick.py compares the two).
    """
    if type(data) is not dict:
        return None
    try:
        person = {
            field: _quick_text(data, field, max_length, required=required)
            for field, (max_length, required) in PERSON_FIELDS.items()
        }
        if "consents" not in data:
            raise _Unsure
        consents = _quick_map(data, "consents", bool)
        if consents.get(ConsentPurpose.TERMS) is not True:
            raise _Unsure
        text_ids = _quick_map(data, "consent_text_ids", int)
        if text_ids is not None and any(abs(pk) >= 2**31 for pk in text_ids.values()):
            raise _Unsure
        if data.get("started_at") is not None:  # a date to parse: the serializer's work
            raise _Unsure
        honeypot = _quick_text(data, "website", URL_MAX_LENGTH)
        touch = {f: _quick_text(data, f, limit * 4) for f, limit in TOUCH_FIELDS.items()}
        cleaned = lead_input_clean(**person)
    except (_Unsure, LeadInputError):
        return None
    return {
        **cleaned,
        "consents": dict(consents),
        "consent_text_ids": dict(text_ids) if text_ids is not None else None,
        "touch": touch,
        "started_at": None,
        "honeypot": honeypot,
    }


class LeadCaptureResponseSerializer(serializers.Serializer):
    received = serializers.BooleanField()
    check_inbox = serializers.BooleanField(
        help_text="True when the person must confirm marketing email from their inbox."
    )


class LeadCaptureAPI(APIView):
    authentication_classes: list = []  # no session, hence no CSRF: callers are other origins
    permission_classes = [AllowAny]
    throttle_classes: list = []  # leads.throttling answers 429 itself

    @extend_schema(
        operation_id="leads_capture",
        summary="Capture a lead from an embedded form",
        description=(
            "Creates the lead, or updates the existing one with the same email (case, spaces "
            "and Unicode forms do not matter), records one consent record per checkbox shown "
            "and a touchpoint with the UTM fields. The answer is the same for new and known "
            "emails. Limits: LEADS_RATE_LIMIT_PER_IP per minute per IP and "
            "LEADS_RATE_LIMIT_PER_EMAIL per hour per email, answered with 429; a body over "
            "LEADS_API_MAX_BODY_BYTES (64 kB by default) is answered with 413."
        ),
        request=LeadCaptureRequestSerializer,
        responses={
            201: LeadCaptureResponseSerializer,
            400: OpenApiResponse(description="Per-field errors: {field: [message, ...]}"),
            413: OpenApiResponse(description="The request body is too large."),
            429: OpenApiResponse(description="Too many submissions; try again later."),
        },
        examples=[
            OpenApiExample(
                "Minimal",
                value={
                    "email": "ada@example.com",
                    "name": "Ada Lovelace",
                    "consents": {"terms": True, "marketing_email": False},
                    "utm_source": "partner-site",
                },
                request_only=True,
            )
        ],
        auth=[],
        tags=["leads"],
    )
    def post(self, request: Request) -> Response:
        # Refused before request.data parses it, and not counted: it costs us nothing to say no.
        if _body_too_large(request._request):
            return Response({"detail": TOO_LARGE}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        ip = client_ip(request._request)
        kwargs = lead_api_quick_clean(request.data)
        person_cleaned = kwargs is not None  # lead_input_clean's output
        if kwargs is None:
            serializer = LeadCaptureRequestSerializer(data=request.data)
            if not serializer.is_valid():
                # Every POST counts against the IP's limit, valid or not.
                if not lead_submission_ip_allowed(ip=ip):
                    return _too_many(TOO_MANY_FROM_HERE)
                return Response(serializer.errors, status=status.HTTP_400_BAD_REQUEST)
            kwargs = _capture_kwargs(serializer.validated_data)
        # Counted in Redis while capture builds the rows, as on the form (leads.views).
        counting = lead_submission_count_begin(ip=ip, email=kwargs["email"])
        try:
            with counting:
                lead_capture(
                    **kwargs,
                    person_cleaned=person_cleaned,
                    context=capture_context(
                        request._request, source_form="api", method=ConsentRecord.Method.API
                    ),
                    velocity=counting.velocity_within_limits,
                )
        except SubmissionRefused as refused:
            return _too_many(refused.message)
        except LeadInputError as exc:
            return Response(exc.errors, status=status.HTTP_400_BAD_REQUEST)
        check_inbox = bool(kwargs["consents"].get(ConsentPurpose.MARKETING_EMAIL))
        return Response({"received": True, "check_inbox": check_inbox}, status=201)


class ConsentTextsAPI(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="leads_consent_texts",
        summary="The consent wording an embedded form must show",
        description="Show each `text` verbatim next to its checkbox and send its `id` back in "
        "`consent_text_ids`, so the record proves which words the visitor saw.",
        responses={
            200: inline_serializer(
                "ConsentTextItem",
                fields={
                    "purpose": serializers.CharField(),
                    "id": serializers.IntegerField(),
                    "version": serializers.IntegerField(),
                    "text": serializers.CharField(),
                    "sha256": serializers.CharField(),
                },
                many=True,
            )
        },
        auth=[],
        tags=["leads"],
    )
    def get(self, request: Request) -> Response:
        texts = consent_texts_current(purposes=list(ConsentPurpose.values))
        return Response(
            [
                {
                    "purpose": purpose,
                    "id": text.pk,
                    "version": text.version,
                    "text": text.text,
                    "sha256": text.sha256,
                }
                for purpose, text in texts.items()
            ]
        )
