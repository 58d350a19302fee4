"""Downloads. Thin: check who asks, find the document, stream it from storage."""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from checkout.portal.links import PortalLinkExpired, PortalLinkInvalid, portal_token_email
from receipts.selectors import buyer_document
from receipts.services.production import documents_storage


def document_response(document, *, filename: str | None = None) -> FileResponse:
    response = FileResponse(
        documents_storage().open(document.pdf_path, "rb"),
        as_attachment=True,
        filename=filename or document.filename,
        content_type="application/pdf",
    )
    response["Cache-Control"] = "no-store, private"
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex"
    return response


@require_GET
def portal_download(request: HttpRequest, token: str, number: str) -> HttpResponse:
    """/account/<token>/documents/<number>.pdf: the buyer's own document, checked each time."""
    try:
        email = portal_token_email(token=token)
    except PortalLinkExpired:
        return _private(HttpResponse("This link has expired. Ask for a new one.", status=410))
    except PortalLinkInvalid as exc:
        raise Http404("This link does not work.") from exc
    document = buyer_document(email=email, number=number)
    if document is None:
        raise Http404("No such document.")
    return document_response(document)


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store, private"
    response["Content-Type"] = "text/plain; charset=utf-8"
    return response
