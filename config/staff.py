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
        # Orders, offers and access, not the message log: its emails carry buyers' magic links.
        "checkout.view_offer",
        "checkout.view_order",
        "checkout.view_orderevent",
        "checkout.view_entitlement",
        "checkout.view_entitlementevent",
        "checkout.view_subscription",
        "checkout.view_taxrate",
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
        # Staff accounts: add, edit and look up; granting superuser status, permissions or
        # groups is for superusers only (config/admin.py PortalUserAdmin), and so is changing a
        # group's permissions (this table is the source of those).
        "auth.view_*",
        "auth.add_user",
        "auth.change_user",
        # A colleague who lost their phone: remove the authenticator so they enrol again.
        "otp_totp.view_totpdevice",
        "otp_totp.delete_totpdevice",
        "otp_static.view_staticdevice",
        "otp_static.delete_staticdevice",
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
    # A buyer's CSAT answer is theirs: staff read it, nobody edits or deletes it.
    "checkout.change_paymentcsat",
    "checkout.delete_paymentcsat",
    "receipts.delete_*",
    "dunning.delete_*",
    # Staff accounts are deactivated, never deleted: audit entries point at them.
    "auth.delete_user",
    "auth.add_group",
    "auth.change_group",
    "auth.delete_group",
    "auth.add_permission",
    "auth.change_permission",
    "auth.delete_permission",
]

WORKS_OWN_ROWS = "Sales"
WIDER_GROUPS = ("Finance", "Admin")


def staff_works_own_rows_only(user) -> bool:
    """A Sales member with no wider role: reads every lead and dunning case, works only their
    own (leads they own; dunning cases they own or that sit in the shared Sales queue)."""
    if not user.is_authenticated or user.is_superuser:
        return False
    names = set(user.groups.values_list("name", flat=True))
    return WORKS_OWN_ROWS in names and not names & set(WIDER_GROUPS)


def staff_in_group(user, name: str) -> bool:
    return user.is_authenticated and (user.is_superuser or user.groups.filter(name=name).exists())


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
