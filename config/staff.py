"""Staff roles. Each group gets only the permissions its work needs.

Permissions exist only after each app's models are migrated, so the groups (created by a data
migration) are brought up to date after every `migrate` from this one declarative table.
Entries are "app_label.codename" and may end in `*`.
"""

from fnmatch import fnmatch

STAFF_GROUPS: dict[str, list[str]] = {
    "Sales": [
        # Work leads; the wording of consent, the readiness policy, routing and erasure are
        # Admin decisions.
        "leads.view_*",
        "leads.change_lead",
        "leads.add_outofoffice",
        "leads.change_outofoffice",
        "leads.delete_outofoffice",
        "checkout.view_*",
        "payments.view_payment",
        "payments.view_customer",
        "dunning.view_*",
        "dunning.change_dunningcase",
        # Work the triage queue (retry now, links, pause, policy, assign, notes); marking paid
        # and writing off are Finance's (dunning.settle_dunningcase, not granted here).
        "dunning.work_dunningcase",
        "dunning.add_dunningcasenote",
        # Exports of the leads they own; never the finance dashboard or other exports.
        "reporting.export_own_leads",
        # No receipts.* at all: Sales never opens or downloads a receipt or credit note.
    ],
    "Finance": [
        "leads.view_lead",
        "checkout.view_*",
        "checkout.change_order",
        # The message log's "send again" (a bounced receipt, a lost email).
        "checkout.change_notification",
        "payments.*",
        # Receipts and credit notes: view, download, resend, credit a lost dispute, exports
        # (with their downloads), buyers' billing details. Never delete (NEVER_GRANTED).
        "receipts.*",
        "dunning.*",
        "reporting.*",
    ],
    "Admin": [
        "auth.*",
        "portal.*",
        # Login lockouts: see who is locked out, and clear a lock by deleting its attempts.
        "axes.view_*",
        "axes.delete_accessattempt",
        "leads.*",
        "checkout.*",
        "payments.*",
        "receipts.*",
        "dunning.*",
        "reporting.*",
    ],
}

# Append-only evidence is never changed or deleted by anyone through the admin, and money
# records are never deleted (a wildcard above must not grant that to a model added later:
# receipts' and dunning's rows are financial records too).
NEVER_GRANTED = [
    "leads.change_consentrecord",
    "leads.delete_consentrecord",
    "leads.delete_lead",  # erasure pseudonymises; a lead row is what money records point at
    "leads.delete_touchpoint",
    "leads.delete_consenttext",
    "portal.add_auditlogentry",
    "portal.change_auditlogentry",
    "portal.delete_auditlogentry",
    "payments.delete_*",
    "checkout.delete_order",
    "checkout.delete_orderevent",
    "checkout.delete_entitlement",
    "checkout.delete_entitlementevent",
    "checkout.delete_notification",
    "checkout.delete_subscription",
    "receipts.delete_*",
    "dunning.delete_*",
]


def staff_group_permissions(name: str):
    from django.contrib.auth.models import Permission

    patterns = STAFF_GROUPS[name]
    permissions = Permission.objects.select_related("content_type")
    chosen = []
    for permission in permissions:
        key = f"{permission.content_type.app_label}.{permission.codename}"
        if any(fnmatch(key, p) for p in NEVER_GRANTED):
            continue
        if any(fnmatch(key, p) for p in patterns):
            chosen.append(permission)
    return chosen


def staff_groups_sync(**_kwargs) -> None:
    """Give each staff group exactly the permissions in STAFF_GROUPS (post_migrate receiver)."""
    from django.contrib.auth.models import Group

    for name in STAFF_GROUPS:
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(staff_group_permissions(name))
