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


NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
    "pdf": "http://ns.adobe.com/pdf/1.3/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "fx": "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#",
    "pdfaSchema": "http://www.aiim.org/pdfa/ns/schema#",
}


def xmp_tree(reader: PdfReader):
    from lxml import etree

    stream = reader.trailer["/Root"]["/Metadata"].get_object()
    return etree.fromstring(stream.get_data())


def xmp_value(tree, path: str) -> str:
    """An XMP property, written as an element or as an attribute of rdf:Description (both are
    RDF/XML for the same thing: the library writes one, WeasyPrint the other)."""
    found = str(tree.xpath(f"string({path})", namespaces=NS)).strip()
    if not found and path.startswith("//") and "/" not in path[2:]:
        found = str(tree.xpath(f"string(//@{path[2:]})", namespaces=NS)).strip()
    return found


def pdfa3b_problems(pdf: bytes, *, with_facturx: bool) -> list[str]:
    """What stops the file from being the PDF/A-3b (Factur-X) we promise, read with pypdf.

    The checks veraPDF would fail us on for these files: the PDF/A identification in XMP, an
    output intent with an ICC profile, every font embedded, no encryption, a file ID, document
    information equal to the XMP, and (with Factur-X) the XML attached as an associated file with
    the Factur-X extension schema declared in the XMP.
    """
    reader = PdfReader(io.BytesIO(pdf))
    root = reader.trailer["/Root"]
    problems = []
    if reader.pdf_header < "%PDF-1.4":
        problems.append(f"header {reader.pdf_header}")
    if "/Encrypt" in reader.trailer:
        problems.append("encrypted")
    if "/ID" not in reader.trailer:
        problems.append("no file ID in the trailer")
    tree = xmp_tree(reader)
    if xmp_value(tree, "//pdfaid:part") != "3":
        problems.append("XMP pdfaid:part is not 3")
    if xmp_value(tree, "//pdfaid:conformance") != "B":
        problems.append("XMP pdfaid:conformance is not B")
    intents = root.get("/OutputIntents") or []
    if not any(
        i.get_object().get("/S") == "/GTS_PDFA1" and "/DestOutputProfile" in i.get_object()
        for i in intents
    ):
        problems.append("no PDF/A output intent with an ICC profile")
    for number, page in enumerate(reader.pages, start=1):
        fonts = (page.get("/Resources") or {}).get("/Font") or {}
        for name, ref in fonts.items():
            font = ref.get_object()
            descendants = [d.get_object() for d in font.get("/DescendantFonts", [])] or [font]
            for d in descendants:
                descriptor = (
                    (d.get("/FontDescriptor") or {}).get_object()
                    if d.get("/FontDescriptor")
                    else {}
                )
                if not any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")):
                    problems.append(f"page {number}: font {name} is not embedded")
    info = reader.metadata or {}
    producer = xmp_value(tree, "//pdf:Producer")
    if info.get("/Producer") and info.get("/Producer") != producer:
        problems.append(f"/Producer {info.get('/Producer')!r} differs from XMP {producer!r}")
    title = xmp_value(tree, "//dc:title//rdf:li")
    if info.get("/Title") and info.get("/Title") != title:
        problems.append(f"/Title {info.get('/Title')!r} differs from XMP {title!r}")
    if with_facturx:
        problems += _facturx_problems(reader, root, tree)
    return problems


def _facturx_problems(reader: PdfReader, root, tree) -> list[str]:
    problems = []
    associated = [f.get_object() for f in (root.get("/AF") or [])]
    xml_specs = [f for f in associated if f.get("/F") == "factur-x.xml"]
    if not xml_specs:
        problems.append("factur-x.xml is not an associated file (/AF)")
    else:
        spec = xml_specs[0]
        if spec.get("/AFRelationship") not in ("/Data", "/Alternative", "/Source"):
            problems.append(f"AFRelationship {spec.get('/AFRelationship')}")
        stream = spec["/EF"]["/F"].get_object()
        if stream.get("/Subtype") != "/text/xml":
            problems.append(f"embedded file subtype {stream.get('/Subtype')}")
        if "/ModDate" not in (stream.get("/Params") or {}):
            problems.append("embedded file has no /ModDate")
    if "factur-x.xml" not in reader.attachments:
        problems.append("factur-x.xml is not in the EmbeddedFiles name tree")
    if xmp_value(tree, "//fx:DocumentFileName") != "factur-x.xml":
        problems.append("XMP fx:DocumentFileName")
    if xmp_value(tree, "//fx:ConformanceLevel") != "EN 16931":
        problems.append(f"XMP fx:ConformanceLevel {xmp_value(tree, '//fx:ConformanceLevel')!r}")
    if xmp_value(tree, "//fx:DocumentType") != "INVOICE":
        problems.append("XMP fx:DocumentType")
    schemas = tree.xpath("//pdfaSchema:namespaceURI/text()", namespaces=NS)
    if NS["fx"] not in schemas:
        problems.append("the Factur-X PDF/A extension schema is not declared")
    return problems
