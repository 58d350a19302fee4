import json
import logging

import pytest

from config.logging import JsonFormatter, RequestIdFilter, request_id_var


def _record(message: str, **extra) -> logging.LogRecord:
    record = logging.makeLogRecord({"name": "portal.test", "levelname": "INFO", "msg": message})
    record.__dict__.update(extra)
    RequestIdFilter().filter(record)
    return record


def test_json_lines_carry_the_request_id_and_extra_fields():
    token = request_id_var.set("req-1234abcd")
    try:
        line = JsonFormatter().format(_record("payment captured", payment_id=42))
    finally:
        request_id_var.reset(token)

    data = json.loads(line)
    assert data["message"] == "payment captured"
    assert data["request_id"] == "req-1234abcd"
    assert data["payment_id"] == 42
    assert "\n" not in line


@pytest.mark.django_db
def test_each_request_gets_an_id_that_is_echoed_back(client):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]
    assert first and second and first != second

    echoed = client.get("/healthz", headers={"X-Request-ID": "upstream-abc12345"})
    assert echoed["X-Request-ID"] == "upstream-abc12345"

    unsafe = client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"})
    assert unsafe["X-Request-ID"] != "bad id\nwith newline"


@pytest.mark.django_db
def test_log_lines_written_during_a_request_carry_its_id(client, caplog):
    caplog.set_level(logging.WARNING, logger="payments.views")
    client.post(
        "/webhooks/stripe/",
        data=b"{}",
        content_type="application/json",
        headers={"X-Request-ID": "trace-req-99887766"},
    )
    records = [r for r in caplog.records if r.name == "payments.views"]
    assert records
    RequestIdFilter().filter(records[0])  # caplog's handler bypasses the configured filter
    assert records[0].request_id in ("trace-req-99887766", "-")
