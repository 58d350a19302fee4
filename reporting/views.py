"""Thin views: check the permission, validate the filters, call the dashboard or an export."""

from __future__ import annotations

import tempfile

from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from config.audit import audit_log_record
from reporting.dashboard import dashboard_panels, panels_chart_data
from reporting.exports import (
    KINDS,
    ExportError,
    csv_chunks,
    export_filename,
    export_kind,
    export_queryset,
    export_rows,
    xlsx_write,
)
from reporting.forms import DashboardForm, ExportForm, default_period
from reporting.selectors import currencies_offered

DASHBOARD_PERMISSION = "reporting.view_finance_dashboard"
EXPORT_PERMISSION = "reporting.export_finance_data"
OWN_LEADS_PERMISSION = "reporting.export_own_leads"


def _staff(user) -> bool:
    return user.is_active and user.is_staff


@require_GET
@login_required
def finance_dashboard(request):
    """Finance and Admin only (a Sales user gets 403)."""
    if not (_staff(request.user) and request.user.has_perm(DASHBOARD_PERMISSION)):
        raise PermissionDenied("The finance dashboard is for Finance and Admin.")
    currencies = currencies_offered() or ["EUR"]
    # A filter left out takes its default (the last 30 days, the first currency).
    data = {**default_period(), "currency": currencies[0], **request.GET.dict()}
    form = DashboardForm(data, currencies=currencies)
    context = {
        # The admin's header, user links and sidebar: the dashboard is a page of the admin.
        **admin.site.each_context(request),
        "title": "Finance dashboard",
        "form": form,
        "panels": [],
        "charts": [],
        "exports": [],
    }
    if not form.is_valid():
        return render(request, "reporting/finance_dashboard.html", context, status=400)
    since, until = form.period()
    currency = form.cleaned_data["currency"]
    panels = dashboard_panels(since=since, until=until, currency=currency)
    query = {
        "date_from": form.cleaned_data["date_from"].isoformat(),
        "date_to": form.cleaned_data["date_to"].isoformat(),
    }
    context.update(
        panels=panels,
        charts=panels_chart_data(panels),
        currency=currency,
        exports=[
            (
                name.replace("_", " ").capitalize(),
                {
                    fmt: reverse("reporting:export", args=[name])
                    + "?"
                    + urlencode({**query, "format": fmt})
                    for fmt in ("csv", "xlsx")
                },
            )
            for name in KINDS
        ],
    )
    return render(request, "reporting/finance_dashboard.html", context)


def _export_scope(user, kind_name: str):
    """None for every row, the user for their own rows; PermissionDenied otherwise."""
    if not _staff(user):
        raise PermissionDenied("Exports are for staff.")
    if user.has_perm(EXPORT_PERMISSION):
        return None
    if kind_name == "leads" and user.has_perm(OWN_LEADS_PERMISSION):
        return user
    raise PermissionDenied("You may not export this.")


@require_GET
@login_required
def export_download(request, kind: str):
    """A CSV (streamed) or XLSX of one kind for a date range; every export is audited."""
    owner = _export_scope(request.user, kind)
    try:
        export = export_kind(kind)
    except ExportError as error:
        return HttpResponse(str(error), status=404, content_type="text/plain; charset=utf-8")
    form = ExportForm(request.GET)
    if not form.is_valid():
        message = "; ".join(e for errors in form.errors.values() for e in errors)
        return HttpResponse(
            f"The export was not made: {message}",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    since, until = form.period()
    fmt = form.cleaned_data["format"]
    audit_log_record(
        actor=request.user,
        action="reporting.export",
        detail={
            "kind": kind,
            "format": fmt,
            "since": since.isoformat(),
            "until": until.isoformat(),
            "scope": "own" if owner is not None else "all",
        },
    )
    rows = export_rows(export_queryset(kind=export, since=since, until=until, owner=owner), export)
    filename = export_filename(export, since, form.cleaned_data["date_to"], fmt)
    if fmt == "xlsx":
        # openpyxl writes a whole workbook at once; its write-only mode keeps rows on disk, and
        # so does this temporary file, which the response streams and then closes.
        out = tempfile.TemporaryFile()  # noqa: SIM115 (closed by the response)
        xlsx_write(export, rows, out)
        out.seek(0)
        return FileResponse(
            out,
            as_attachment=True,
            filename=filename,
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response = StreamingHttpResponse(csv_chunks(export, rows), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
