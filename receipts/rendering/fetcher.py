"""The only way a receipt's HTML reaches anything outside itself.

WeasyPrint's default fetcher opens any URL it is given: `file://` (so `<img
src=file:///etc/passwd>` would read the disk), http(s) anywhere (the cloud metadata address
included), and follows redirects (CVE-2025-68616). User fields are escaped by the template, so
no user text becomes a URL; this fetcher is the second wall:

- our own static assets, by name from ALLOWED_ASSETS, under ASSET_BASE_URL (a name that
  resolves nowhere, so nothing can be fetched from the network even by mistake);
- `data:` URLs up to RECEIPTS_DATA_URL_MAX_BYTES, decoded by WeasyPrint's own handler;
- nothing else: `file:`, other http(s), ftp, and every other scheme are refused without being
  opened, and there is no redirect handler at all.

A refused URL is logged and skipped (WeasyPrint renders without it); `refused` lists them for
the caller.
"""

from __future__ import annotations

import logging
import posixpath
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from weasyprint.urls import URLFetcher, URLFetcherResponse

logger = logging.getLogger(__name__)

ASSET_BASE_URL = "https://assets.receipts.invalid/static/"
ALLOWED_ASSETS = {
    "receipts/document.css": "text/css",
}


class URLRefused(ValueError):
    """The receipt asked for something the fetcher does not serve."""


class ReceiptAssetFetcher(URLFetcher):
    def __init__(self) -> None:
        super().__init__(allowed_protocols=("data",), allow_redirects=False, timeout=1)
        self.refused: list[str] = []

    def fetch(self, url: str, headers=None) -> URLFetcherResponse:
        try:
            return self._fetch(url)
        except URLRefused:
            self.refused.append(url[:200])
            logger.warning("receipt render: refused to fetch %r", url[:200])
            raise

    def _fetch(self, url: str) -> URLFetcherResponse:
        if url.startswith(ASSET_BASE_URL):
            return self._asset(url)
        if url[:5].lower() == "data:":
            if len(url) > settings.RECEIPTS_DATA_URL_MAX_BYTES:
                raise URLRefused(f"data: URL of {len(url)} bytes is over the cap")
            # allowed_protocols is ("data",): the parent refuses every other scheme too.
            return super().fetch(url)
        raise URLRefused(f"not one of our assets: {url[:200]}")

    def _asset(self, url: str) -> URLFetcherResponse:
        parts = urlsplit(url)
        if parts.query or parts.fragment:
            raise URLRefused(f"asset URL with a query: {url[:200]}")
        name = posixpath.normpath(unquote(parts.path).removeprefix(urlsplit(ASSET_BASE_URL).path))
        content_type = ALLOWED_ASSETS.get(name)
        if content_type is None:
            raise URLRefused(f"not an allowed asset: {name[:200]}")
        path = finders.find(name)
        if not path:
            raise URLRefused(f"asset missing: {name}")
        with open(path, "rb") as f:
            body = f.read()
        return URLFetcherResponse(url, body, {"Content-Type": content_type})
