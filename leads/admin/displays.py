"""How a lead reads in the admin: badges, the readiness checklist, risk, consent history,
touches, and what a later submission said that differs."""

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from leads.models import ConsentPurpose, ConsentState, Lead, SlaState, Touchpoint
from leads.selectors import lead_consent_history


def _badge(text: str, tone: str):
    return format_html('<span class="lead-badge lead-badge--{}">{}</span>', tone, text)


SLA_TONES = {
    SlaState.PENDING: "warn",
    SlaState.BREACHED: "bad",
    SlaState.MET: "ok",
    SlaState.MET_LATE: "warn",
    SlaState.NONE: "muted",
}
CONSENT_TONES = {
    ConsentState.GRANTED: "ok",
    ConsentState.PENDING: "warn",
    ConsentState.WITHDRAWN: "bad",
    ConsentState.NOT_GIVEN: "muted",
}
CONSENT_SHORT = {
    ConsentPurpose.TERMS: "Terms",
    ConsentPurpose.MARKETING_EMAIL: "Email",
    ConsentPurpose.SMS: "SMS",
    ConsentPurpose.PROCESSING: "Processing",
}


class LeadDisplays:
    """The read-only columns and fields of LeadAdmin."""

    @admin.display(description="Ready", ordering="is_ready")
    def readiness_badge(self, lead: Lead):
        if lead.is_ready:
            return _badge("Ready", "ok")
        missing = sum(1 for _, ok in lead.readiness_checklist if not ok)
        return _badge(f"Not ready ({missing})", "bad")

    @admin.display(description="Checklist")
    def readiness_checklist_display(self, lead: Lead):
        if not lead.readiness_checklist:
            return "Not evaluated yet."
        return format_html(
            '<ul class="lead-checklist">{}</ul>',
            format_html_join(
                "",
                '<li class="lead-check--{}">{} {}</li>',
                (
                    ("ok" if ok else "bad", "✔" if ok else "✘", label)
                    for label, ok in lead.readiness_checklist
                ),
            ),
        )

    @admin.display(description="Risk rules that fired")
    def risk_factors_display(self, lead: Lead):
        if not lead.risk_factors:
            return "None."
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li><strong>+{}</strong> {}</li>",
                ((f["points"], f["reason"]) for f in lead.risk_factors),
            ),
        )

    @admin.display(description="First response", ordering="sla_state")
    def sla_badge(self, lead: Lead):
        label = SlaState(lead.sla_state).label
        if lead.sla_state == SlaState.PENDING and lead.first_response_due_at:
            label = f"Due {timezone.localtime(lead.first_response_due_at):%d %b %H:%M}"
        return _badge(label, SLA_TONES.get(lead.sla_state, "muted"))

    @admin.display(description="Consent")
    def consent_badges(self, lead: Lead):
        shown = [(purpose, state) for purpose, state in lead.consents.items() if state]
        if not shown:
            return "—"
        return format_html_join(
            " ",
            '<span class="lead-badge lead-badge--{}" title="{}">{}</span>',
            (
                (
                    CONSENT_TONES.get(state, "muted"),
                    ConsentState(state).label,
                    f"{CONSENT_SHORT.get(purpose, purpose)}: {ConsentState(state).label.lower()}",
                )
                for purpose, state in shown
            ),
        )

    @admin.display(description="Consent history")
    def consent_history(self, lead: Lead):
        rows = lead_consent_history(lead=lead)
        if not rows:
            return "No consent records."
        return format_html(
            '<table class="lead-consent-history"><thead><tr><th>#</th><th>When</th>'
            "<th>Purpose</th><th>Decision</th><th>How</th><th>Wording shown</th><th>From</th>"
            "<th>Hash</th></tr></thead><tbody>{}</tbody></table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                "<td><details><summary>v{}</summary>{}</details></td><td>{}<br><small>{}</small>"
                "</td><td><code>{}…</code></td></tr>",
                (
                    (
                        record.sequence,
                        timezone.localtime(record.created_at).strftime("%Y-%m-%d %H:%M:%S"),
                        record.get_purpose_display(),
                        record.get_decision_display(),
                        record.get_method_display()
                        + (f" by {record.actor}" if record.actor_id else ""),
                        record.consent_text.version,
                        record.consent_text.text,
                        record.ip or "—",
                        record.source_url or record.source_form,
                        record.record_hash[:12],
                    )
                    for record in rows
                ),
            ),
        )

    def _touch(self, touch: Touchpoint | None):
        if touch is None:
            return "—"
        parts = [
            ("Source", touch.utm_source),
            ("Medium", touch.utm_medium),
            ("Campaign", touch.utm_campaign),
            ("Term", touch.utm_term),
            ("Content", touch.utm_content),
            ("Referrer", touch.referrer),
            ("Landing page", touch.landing_page),
            ("gclid", touch.gclid),
            ("fbclid", touch.fbclid),
        ]
        return format_html(
            "{}<br>{}",
            timezone.localtime(touch.created_at).strftime("%Y-%m-%d %H:%M"),
            format_html_join(", ", "{}: {}", ((k, v) for k, v in parts if v)) or "direct",
        )

    @admin.display(description="First touch")
    def first_touch_display(self, lead: Lead):
        return self._touch(lead.first_touch)

    @admin.display(description="Last touch")
    def last_touch_display(self, lead: Lead):
        return self._touch(lead.last_touch)

    @admin.display(description="Submitted details that differ")
    def submitted_details_display(self, lead: Lead):
        differing = {k: v for k, v in lead.submitted_details.items() if k != "at"}
        if not differing:
            return "None."
        return format_html(
            "<p>A later submission for this email said (not applied; use the actions “Accept "
            "submitted details” or “Dismiss submitted details”):</p><ul>{}</ul>",
            format_html_join(
                "",
                "<li>{}: <strong>{}</strong> (now: {})</li>",
                (
                    (Lead._meta.get_field(field).verbose_name, value, getattr(lead, field) or "—")
                    for field, value in differing.items()
                ),
            ),
        )
