"""The renderer opens nothing but our own assets: injection attempts against the fetcher, and
user fields full of HTML, CSS and file URLs that must print as text.

A loopback listener counts connections: a fetch that reached the network would show up there
(the tests never send traffic anywhere else)."""

import socket
import threading
from contextlib import contextmanager

import pytest
from weasyprint.urls import URLFetchingError, fetch

from receipts.models import Receipt
from receipts.rendering.fetcher import ASSET_BASE_URL, ReceiptAssetFetcher, URLRefused
from receipts.rendering.pdf import document_html, document_render, html_to_pdf
from tests.receipts.factories import paid_order
from tests.receipts.pdfs import pdf_text, stored_pdf

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def loopback_listener():
    """A TCP server on 127.0.0.1 that records every connection (and answers a redirect to
    file:///etc/passwd, in case anything follows it)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    connections: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, addr = server.accept()
            except TimeoutError:
                continue
            connections.append(f"{addr}")
            conn.sendall(
                b"HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\nContent-Length: 0\r\n\r\n"
            )
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], connections
    finally:
        stop.set()
        thread.join(2)
        server.close()


ATTEMPTS = [
    "file:///etc/passwd",
    "FILE:///etc/passwd",
    "file://localhost/etc/hostname",
    "http://169.254.169.254/latest/meta-data/",
    "https://example.com/logo.png",
    "ftp://127.0.0.1/x",
    "gopher://127.0.0.1:70/x",
    "jar:file:///etc/passwd!/",
    ASSET_BASE_URL + "../../../../etc/passwd",
    ASSET_BASE_URL + "receipts/../../../etc/passwd",
    ASSET_BASE_URL + "%2e%2e/%2e%2e/etc/passwd",
    ASSET_BASE_URL + "css/site.css",  # ours, but not allowed in a receipt
    ASSET_BASE_URL + "receipts/document.css?x=file:///etc/passwd",
    "https://assets.receipts.invalid.evil.example/static/receipts/document.css",
    "data:text/plain;base64," + "A" * 40_000,
]


def test_the_fetcher_refuses_every_injection_attempt_without_opening_it():
    with loopback_listener() as (port, connections):
        attempts = [
            *ATTEMPTS,
            f"http://127.0.0.1:{port}/redirect-to-file",
            f"https://127.0.0.1:{port}/",
            f"http://localhost:{port}/",
        ]
        fetcher = ReceiptAssetFetcher()
        for url in attempts:
            with pytest.raises(URLRefused):
                fetcher.fetch(url)
            # As WeasyPrint calls it: a refusal is a fetch error, never a fatal one.
            with pytest.raises(URLFetchingError), fetch(fetcher, url):
                pass
        assert connections == []
    assert len(fetcher.refused) == 2 * len(attempts)


def test_the_fetcher_serves_our_stylesheet_and_small_data_urls():
    fetcher = ReceiptAssetFetcher()
    css = fetcher.fetch(ASSET_BASE_URL + "receipts/document.css")
    assert b"@page" in css.read() and css.content_type == "text/css"
    small = fetcher.fetch("data:text/plain;base64,aGVsbG8=")
    assert small.read() == b"hello"
    assert fetcher.refused == []


HOSTILE = {
    "name": '<img src="file:///etc/passwd"> Mallory <script>alert(1)</script>',
    "company": '</p><style>@import url("file:///etc/passwd"); body{background:url(http://127.0.0.1:{port}/x)}</style>ACME',
}


def test_hostile_names_print_as_text_and_nothing_is_fetched(celery_eager):
    with loopback_listener() as (port, connections):
        _, payment = paid_order(name=HOSTILE["name"])
        receipt = Receipt.objects.get(payment=payment)
        snapshot = {
            **receipt.snapshot,
            "buyer": {
                **receipt.snapshot["buyer"],
                "company": HOSTILE["company"].replace("{port}", str(port)),
                "vat_id": f'<link rel=stylesheet href="http://127.0.0.1:{port}/a.css">',
            },
        }
        html = document_html(snapshot)
        pdf, refused = html_to_pdf(html)
        rendered = document_render(snapshot)
        assert connections == []
    assert refused == [] and rendered.refused == []  # escaped: the browser never saw a URL
    assert "<img" not in html and "&lt;img src=&quot;file:///etc/passwd&quot;&gt;" in html
    assert "<style>@import" not in html and 'href="http://127.0.0.1' not in html
    assert "&lt;link rel=stylesheet" in html
    text = pdf_text(pdf)
    assert '<img src="file:///etc/passwd"> Mallory <script>alert(1)</script>' in text
    assert '</p><style>@import url("file:///etc/passwd");' in text
    assert "root:" not in text and "root:" not in pdf_text(stored_pdf(receipt))


def test_a_template_that_asks_for_files_or_the_network_renders_without_them():
    """The fetcher is the wall even if our own HTML went wrong: a page full of references
    renders, fetches none of them, and lists each refusal."""
    with loopback_listener() as (port, connections):
        html = f"""<!doctype html><html><head>
        <link rel="stylesheet" href="http://127.0.0.1:{port}/evil.css">
        <link rel="stylesheet" href="file:///etc/passwd">
        <style>@import url("http://127.0.0.1:{port}/import.css");
               body {{ background: url("file:///etc/passwd"); }}</style></head>
        <body><p>Receipt</p><img src="file:///etc/passwd"><img src="http://127.0.0.1:{port}/i.png">
        <iframe src="file:///etc/passwd"></iframe><object data="file:///etc/shadow"></object>
        <img src="data:image/png;base64,{"A" * 40_000}"></body></html>"""
        pdf, refused = html_to_pdf(html)
        assert connections == []
    assert pdf.startswith(b"%PDF")
    assert "root:" not in pdf_text(pdf)
    assert any("127.0.0.1" in url for url in refused)
    assert any(url.startswith("file:") for url in refused)
    assert any(url.startswith("data:") for url in refused)


@pytest.mark.e2e
def test_a_render_runs_in_the_worker_and_is_stopped_by_its_time_limit(
    settings, transactional_db, embedded_postgres, embedded_redis, stack_dir
):
    """In a real worker: a soft limit below a cold render's time (loading WeasyPrint alone takes
    longer) stops it, records why, and the document stays issued; with the normal limit the
    same task stores it."""
    from config.celery import app as celery_app
    from devtools.embedded import stop_process
    from receipts.models import ReceiptEvent
    from receipts.services.issue import receipt_issue
    from receipts.tasks import document_render_task
    from tests.conftest import _worker_env, celery_worker_start, wait_until

    _, payment = paid_order()
    receipt = receipt_issue(payment_id=payment.pk)
    celery_app.control.purge()  # the signal's own task: this test renders by hand
    settings.RECEIPTS_RENDER_SOFT_TIME_LIMIT = 0.05  # sent with the task: read when enqueued
    settings.RECEIPTS_RENDER_TIME_LIMIT = 10
    document_render_task.delay("receipt", receipt.pk)
    worker = celery_worker_start(
        env=_worker_env(embedded_postgres, embedded_redis), log_dir=stack_dir, concurrency=1
    )
    try:
        failed = wait_until(
            lambda: ReceiptEvent.objects.filter(receipt=receipt, cause="render_failed").first(),
            timeout=30,
        )
        assert "SoftTimeLimitExceeded" in failed.detail["error"]
        receipt.refresh_from_db()
        assert receipt.status == Receipt.Status.ISSUED and receipt.render_attempts == 1

        settings.RECEIPTS_RENDER_SOFT_TIME_LIMIT = 20
        document_render_task.delay("receipt", receipt.pk)
        wait_until(
            lambda: Receipt.objects.get(pk=receipt.pk).status == Receipt.Status.STORED,
            timeout=30,
        )
    finally:
        stop_process(worker, timeout=20)
