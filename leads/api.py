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

from leads.context import capture_context
from leads.models import (
    COMPANY_MAX_LENGTH,
    EMAIL_MAX_LENGTH,
    NAME_MAX_LENGTH,
    PHONE_INPUT_MAX_LENGTH,
    ConsentPurpose,
    ConsentRecord,
)
from leads.normalise import TOUCH_FIELDS, LeadInputError, lead_input_clean
from leads.services import consent_texts_current, lead_capture
from leads.throttling import SubmissionRefused, lead_submission_count, lead_submission_ip_check

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


class JsonBooleanField(serializers.BooleanField):
    """A JSON `true` or `false` and nothing else: a consent is given by `true`, never by
    "true", 1 or "on" (DRF's BooleanField takes those, as a form would)."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if data is True or data is False:
            return data
        self.fail("invalid", input=data)


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
        child=JsonBooleanField(),
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
        help_text="Honeypot: render it hidden and leave it empty.",
    )

    def get_fields(self):
        fields = super().get_fields()
        for name in TOUCH_FIELDS:
            # Metadata is cut to fit by the service, never refused (the body's size is capped).
            fields[name] = serializers.CharField(required=False, allow_blank=True, default="")
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
        if attrs["consents"].get(ConsentPurpose.TERMS) is not True:
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
        context = capture_context(
            request._request, source_form="api", method=ConsentRecord.Method.API
        )
        try:
            # Every POST counts against the client's limit, valid or not.
            lead_submission_ip_check(request._request)
            serializer = LeadCaptureRequestSerializer(data=request.data)
            if not serializer.is_valid():
                return Response(serializer.errors, status=status.HTTP_400_BAD_REQUEST)
            kwargs = _capture_kwargs(serializer.validated_data)
            velocity = lead_submission_count(ip=context.ip, email=kwargs["email"])
            lead_capture(**kwargs, context=context, velocity=velocity)
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
