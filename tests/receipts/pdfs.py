"""Reading our PDFs back the way a bookkeeper's tools do: pypdf for text, XMP and attachments,
the factur-x library for the embedded XML and its XSD check."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader


def pdf_text(pdf: bytes) -> str:
    """All text of the PDF, whitespace (and Babel's no-break spaces) folded to single spaces."""
    reader = PdfReader(io.BytesIO(pdf))
    text = " ".join(page.extract_text() for page in reader.pages)
    return normalise(text)


def normalise(text: str) -> str:
    return re.sub(r"[\s\u00a0\u202f]+", " ", text).strip()


def stored_pdf(document) -> bytes:
    from receipts.services.production import documents_storage

    with documents_storage().open(document.pdf_path, "rb") as f:
        return f.read()
