"""The PDF: the snapshot's HTML (templates/receipts/) rendered by WeasyPrint as PDF/A-3b, through
the safe fetcher, with the Factur-X XML embedded."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pydyf
from django.template.loader import render_to_string
from weasyprint import HTML

from receipts.rendering.context import document_context
from receipts.rendering.einvoice import FINAL_PRODUCER, facturx_embed, facturx_xml
from receipts.rendering.fetcher import ASSET_BASE_URL, ReceiptAssetFetcher

PDF_VARIANT = "pdf/a-3b"


@dataclass(frozen=True)
class RenderedDocument:
    pdf: bytes
    xml: bytes
    # URLs the HTML asked for that the fetcher refused (none for our own template).
    refused: list[str] = field(default_factory=list)


def document_html(snapshot: dict[str, Any]) -> str:
    """The HTML for a snapshot. Django's autoescaping turns every user field into text."""
    return render_to_string("receipts/document.html", document_context(snapshot))


def html_to_pdf(html: str, *, producer: str = "") -> tuple[bytes, list[str]]:
    """PDF/A-3b from our HTML. `producer` names the tool that writes the final file, when
    another one rewrites this one (PDF/A wants the document information to say the same as the
    XMP metadata that tool writes)."""
    fetcher = ReceiptAssetFetcher()

    def name_producer(document, pdf) -> None:
        pdf.info["Producer"] = pydyf.String(producer)

    pdf = HTML(string=html, base_url=ASSET_BASE_URL, url_fetcher=fetcher).write_pdf(
        pdf_variant=PDF_VARIANT, finisher=name_producer if producer else None
    )
    return pdf, fetcher.refused


def document_render(snapshot: dict[str, Any]) -> RenderedDocument:
    """PDF/A-3b with its Factur-X XML, from a snapshot alone."""
    xml = facturx_xml(snapshot)
    pdf, refused = html_to_pdf(document_html(snapshot), producer=FINAL_PRODUCER)
    return RenderedDocument(
        pdf=facturx_embed(pdf, xml, snapshot=snapshot), xml=xml, refused=refused
    )
