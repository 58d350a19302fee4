"""Dedupe under real parallel requests: threads POST the same person to the live server."""

import json
import threading
import urllib.request

import pytest

from leads.models import ConsentRecord, Lead, Touchpoint
from leads.selectors import consent_chains_verify

pytestmark = pytest.mark.e2e

PARALLEL = 12


def _post(url: str, payload: dict) -> int:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def test_parallel_first_submissions_of_one_email_make_one_lead(live_server, settings):
    settings.LEADS_RATE_LIMIT_PER_IP = 1000
    settings.LEADS_RATE_LIMIT_PER_EMAIL = 1000
    url = f"{live_server.url}/api/v1/leads/"
    variants = ["Dup@Example.com", "dup@example.com", " DUP@EXAMPLE.COM", "dup@example.com\u200b"]
    barrier = threading.Barrier(PARALLEL)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def submit(n: int) -> None:
        payload = {
            "email": variants[n % len(variants)],
            "name": f"Dup {n}",
            "consents": {"terms": True, "sms": n % 2 == 0},
            "utm_source": f"source-{n}",
        }
        barrier.wait()
        try:
            statuses.append(_post(url, payload))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert statuses == [201] * PARALLEL
    assert Lead.objects.count() == 1
    lead = Lead.objects.get()
    assert lead.email == "dup@example.com"
    assert lead.submissions == PARALLEL
    assert Touchpoint.objects.filter(lead=lead).count() == PARALLEL
    assert ConsentRecord.objects.filter(lead=lead).count() == 2 * PARALLEL
    # Touches and records are dated in the order they were written, not the order the
    # requests arrived: the lead's first touch is its earliest and its last touch its latest.
    touch_times = sorted(Touchpoint.objects.filter(lead=lead).values_list("created_at", flat=True))
    assert (lead.first_touch.created_at, lead.last_touch.created_at) == (
        touch_times[0],
        touch_times[-1],
    )
    record_times = list(lead.consent_records.order_by("sequence").values_list("created_at"))
    assert record_times == sorted(record_times)
    # Every submission appended to one linear, intact chain.
    assert consent_chains_verify(lead_ids=[lead.pk]) == (1, [])


def test_parallel_submissions_of_different_emails_all_get_in(live_server, settings):
    settings.LEADS_RATE_LIMIT_PER_IP = 1000
    url = f"{live_server.url}/api/v1/leads/"
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def submit(n: int) -> None:
        barrier.wait()
        statuses.append(
            _post(url, {"email": f"p{n}@example.com", "name": "P", "consents": {"terms": True}})
        )

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [201] * 8
    assert Lead.objects.count() == 8
