"""Who may see the dashboard and download each export; what an export contains; the audit."""

import csv
import io

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse
from openpyxl import load_workbook

from config.models import AuditLogEntry
from reporting.exports import KINDS, cell_safe
from tests.leads.factories import UserFactory
from tests.reporting.factories import at, lead_make, november_history

pytestmark = pytest.mark.django_db

DASHBOARD = "/staff/reports/finance/"
PERIOD = {"date_from": "2026-11-01", "date_to": "2026-11-30"}


def staff(group: str | None, username: str | None = None):
    user = UserFactory(username=username or f"{(group or 'plain').lower()}-user", is_staff=True)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


def export_url(kind: str, fmt: str = "csv", **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in {**PERIOD, "format": fmt, **params}.items())
    return f"{reverse('reporting:export', args=[kind])}?{query}"


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


@pytest.mark.parametrize("group", ["Finance", "Admin"])
def test_finance_and_admin_see_the_dashboard(client, group):
    november_history()
    client.force_login(staff(group))
    response = client.get(DASHBOARD, {**PERIOD, "currency": "EUR"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Revenue by day" in html and "€250.00" not in html
    # Course A: P1 and P5, 100.00 each, both in the table.
    assert "€200.00" in html
    assert 'id="finance-charts"' in html
    assert "chart.umd.min.js" in html
    assert [p.key for p in response.context["panels"]][:2] == ["revenue-day", "revenue-offer"]


def test_the_dashboard_shows_one_currency_at_a_time(client):
    november_history()
    client.force_login(staff("Finance"))
    jpy = client.get(DASHBOARD, {**PERIOD, "currency": "JPY"})
    day = jpy.context["panels"][0]
    assert day.rows == [["2026-11-10", "1", "¥5,000"]]
    assert jpy.context["charts"][0]["datasets"][0]["data"] == [5000.0]


@pytest.mark.parametrize("group", ["Sales", None])
def test_others_get_403_from_the_dashboard(client, group):
    client.force_login(staff(group))
    assert client.get(DASHBOARD).status_code == 403
    assert client.get("/admin/reporting/financereport/").status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(DASHBOARD)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    response = client.get(export_url("payments"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_admin_links_to_the_dashboard(client):
    client.force_login(staff("Finance"))
    assert "/admin/reporting/financereport/" in client.get("/admin/").content.decode()
    response = client.get("/admin/reporting/financereport/")
    assert response.status_code == 302 and response["Location"] == DASHBOARD


def test_bad_filters_are_refused_with_a_clear_message(client):
    client.force_login(staff("Finance"))
    response = client.get(
        DASHBOARD, {"date_from": "2026-11-30", "date_to": "2026-11-01", "currency": "EUR"}
    )
    assert response.status_code == 400
    assert "The start date is after the end date." in response.content.decode()
    response = client.get(DASHBOARD, {**PERIOD, "currency": "XXX"})
    assert response.status_code == 400
    response = client.get(export_url("payments", date_to="not-a-day"))
    assert response.status_code == 400
    assert response.content.decode().startswith("The export was not made:")
    assert client.get(export_url("payments", fmt="pdf")).status_code == 400
    assert client.get(export_url("nothing")).status_code == 404
    assert not AuditLogEntry.objects.filter(action="reporting.export").exists()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_every_export_and_format_is_denied_to_staff_without_the_permission(client, kind, fmt):
    client.force_login(staff(None))
    assert client.get(export_url(kind, fmt)).status_code == 403


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("kind", [k for k in KINDS if k != "leads"])
def test_sales_may_not_export_anything_but_their_leads(client, kind, fmt):
    client.force_login(staff("Sales"))
    assert client.get(export_url(kind, fmt)).status_code == 403
    assert not AuditLogEntry.objects.filter(action="reporting.export").exists()


def test_sales_export_only_their_own_leads(client):
    sales = staff("Sales")
    november_history(owner=sales)
    client.force_login(sales)
    rows = csv_rows(client.get(export_url("leads")))
    assert rows[0][:3] == ["id", "created_at", "name"]
    assert sorted(r[3] for r in rows[1:]) == ["l1@example.com", "l4@example.com"]
    entry = AuditLogEntry.objects.get(action="reporting.export")
    assert entry.actor == sales and entry.detail["scope"] == "own"


@pytest.mark.parametrize("kind", list(KINDS))
def test_finance_exports_every_kind_as_csv_and_xlsx_and_each_is_audited(client, kind):
    november_history()
    finance = staff("Finance")
    client.force_login(finance)
    response = client.get(export_url(kind))
    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"] == (
        f'attachment; filename="{kind}-20261101-20261130.csv"'
    )
    rows = csv_rows(response)
    assert rows[0] == [c.header for c in KINDS[kind].columns]
    expected = {"payments": 7, "receipts": 4, "refunds": 0, "leads": 4, "dunning_cases": 3}
    assert len(rows) - 1 == expected[kind]

    response = client.get(export_url(kind, "xlsx"))
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    assert sheet.max_row - 1 == expected[kind]
    entries = AuditLogEntry.objects.filter(action="reporting.export", actor=finance)
    assert sorted(e.detail["format"] for e in entries) == ["csv", "xlsx"]
    assert {e.detail["kind"] for e in entries} == {kind}


def test_payments_export_shows_money_in_its_currency_exactly(client):
    november_history()
    client.force_login(staff("Finance"))
    rows = csv_rows(client.get(export_url("payments")))
    header = rows[0]
    by_amount = {(r[header.index("currency")], r[header.index("amount")]) for r in rows[1:]}
    assert ("eur", "100.00") in by_amount and ("jpy", "5000") in by_amount
    refunded = [r for r in rows[1:] if r[header.index("amount_refunded")] == "20.00"]
    assert len(refunded) == 1
    # Oldest first; times in UTC as Postgres writes ISO 8601, empty when there is none.
    first, last = rows[1], rows[-1]
    assert first[header.index("created_at")] == "2026-11-02 10:00:00+00"
    assert first[header.index("succeeded_at")] == "2026-11-02 10:00:00+00"
    assert last[header.index("succeeded_at")] == ""


@pytest.mark.parametrize(
    "typed", ['=HYPERLINK("http://x")', "+41 1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]
)
def test_cells_that_a_spreadsheet_would_run_are_prefixed(client, typed):
    lead_make("sly@example.com", created=at(3), name=typed, company=typed)
    client.force_login(staff("Finance"))
    rows = csv_rows(client.get(export_url("leads")))
    header = rows[0]
    assert rows[1][header.index("name")] == "'" + typed
    assert rows[1][header.index("company")] == "'" + typed
    sheet = load_workbook(
        io.BytesIO(b"".join(client.get(export_url("leads", "xlsx")).streaming_content))
    ).active
    assert sheet.cell(row=2, column=header.index("name") + 1).value == "'" + typed


def test_harmless_text_is_left_alone():
    assert cell_safe("Ada Lovelace") == "Ada Lovelace"
    assert cell_safe("a=b") == "a=b"
    assert cell_safe("") == ""


def test_export_report_command_writes_the_same_file_with_progress(tmp_path):
    november_history()
    out, err = io.StringIO(), io.StringIO()
    path = tmp_path / "payments.csv"
    call_command(
        "export_report", "--kind", "payments", "--since", "2026-11-01", "--until", "2026-11-30",
        "--output", str(path), stdout=out, stderr=err,
    )  # fmt: skip
    rows = list(csv.reader(path.open()))
    assert len(rows) == 8 and rows[0][0] == "id"
    assert "7/7 rows" in err.getvalue() and "100%" in err.getvalue()
    assert "Wrote 7 payments" in out.getvalue()
    entry = AuditLogEntry.objects.get(action="reporting.export")
    assert entry.actor is None and entry.detail["via"] == "manage.py export_report"

    xlsx = tmp_path / "leads.xlsx"
    call_command(
        "export_report", "--kind", "leads", "--since", "2026-11-01", "--until", "2026-11-30",
        "--format", "xlsx", "--output", str(xlsx), stdout=out, stderr=err,
    )  # fmt: skip
    assert load_workbook(xlsx).active.max_row == 5


def test_export_report_refuses_bad_dates(tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Nothing was exported"):
        call_command(
            "export_report", "--kind", "payments", "--since", "2026-12-01", "--until",
            "2026-11-01", "--output", str(tmp_path / "x.csv"),
        )  # fmt: skip
    assert not (tmp_path / "x.csv").exists()


def test_a_filter_left_out_takes_its_default(client):
    november_history()
    client.force_login(staff("Finance"))
    response = client.get(DASHBOARD, {"currency": "JPY"})
    assert response.status_code == 200
    assert response.context["form"].cleaned_data["currency"] == "JPY"
    assert client.get(DASHBOARD).context["form"].cleaned_data["currency"] == "EUR"


def test_the_dashboard_charts_payment_csat_by_week_with_its_table(client):
    from checkout.models import PaymentCsat

    history = november_history()
    # Week of Monday 11-02: O1 scores 5, O2 scores 2 (mean 3.50); week of 11-09: O3 scores 4.
    # O5's answer on 10-30 is before the period.
    for order, score, moment in [
        ("O1", 5, at(2, 12)), ("O2", 2, at(6, 8)), ("O3", 4, at(9, 7)), ("O5", 1, at(30, month=10)),
    ]:  # fmt: skip
        PaymentCsat.objects.create(order=history.orders[order], score=score, answered_at=moment)
    client.force_login(staff("Finance"))
    response = client.get(DASHBOARD, {**PERIOD, "currency": "EUR"})
    csat = next(p for p in response.context["panels"] if p.key == "csat")
    assert csat.rows == [
        ["2026-11-02", "2", "3.50", "0", "1", "0", "0", "1"],
        ["2026-11-09", "1", "4.00", "0", "0", "0", "1", "0"],
    ]
    assert csat.chart["labels"] == ["2026-11-02", "2026-11-09"]
    assert csat.chart["datasets"][0]["data"] == [3.5, 4.0]
    assert "3 answers in the period" in csat.definition
    assert 'id="panel-csat"' in response.content.decode()
