"""Every change to a staff user's groups, permissions or status (is_staff, is_active,
is_superuser) is written to the audit log, whichever way it is made: the admin, the shell,
a management command. Signals, because the change can come from anywhere.

The actor is the signed-in user of the request (config.middleware.AuditActorMiddleware), or
None (the system) outside a request.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models.signals import m2m_changed, post_save, pre_save
from django.dispatch import receiver

from config.audit import audit_actor_var, audit_log_record

User = get_user_model()
STATUS_FIELDS = ("is_staff", "is_active", "is_superuser")


def _actor():
    user = audit_actor_var.get()
    return user if user is not None and user.is_authenticated else None


@receiver(pre_save, sender=User, dispatch_uid="portal.staff_status_before")
def staff_status_before(sender, instance, raw=False, **_kwargs) -> None:
    instance.audit_status_before = None
    if raw or instance.pk is None:
        return
    instance.audit_status_before = (
        User.objects.filter(pk=instance.pk).values(*STATUS_FIELDS).first()
    )


@receiver(post_save, sender=User, dispatch_uid="portal.staff_status_audit")
def staff_status_audit(sender, instance, created, raw=False, **_kwargs) -> None:
    if raw:
        return
    after = {field: getattr(instance, field) for field in STATUS_FIELDS}
    if created:
        if instance.is_staff or instance.is_superuser:
            audit_log_record(
                actor=_actor(), action="staff.user_created", target=instance, detail=after
            )
        return
    before = getattr(instance, "audit_status_before", None)
    if before is None:
        return
    changed = {f: [before[f], after[f]] for f in STATUS_FIELDS if before[f] != after[f]}
    if changed:
        audit_log_record(
            actor=_actor(),
            action="staff.status_changed",
            target=instance,
            detail={"username": instance.get_username(), "changed": changed},
        )


def _names(model, pks) -> list[str]:
    if model is Group:
        return sorted(Group.objects.filter(pk__in=pks).values_list("name", flat=True))
    if model is Permission:
        return sorted(
            f"{app}.{codename}"
            for app, codename in Permission.objects.filter(pk__in=pks).values_list(
                "content_type__app_label", "codename"
            )
        )
    return sorted(str(pk) for pk in pks)


def _membership_audit(*, action_name: str, kind: str, instance, action: str, reverse: bool,
                      model, pk_set) -> None:  # fmt: skip
    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    verb = {"post_add": "added", "post_remove": "removed", "pre_clear": "removed"}[action]
    if action == "pre_clear":
        # Who is cleared is only known before the rows go.
        related = instance.groups if kind == "groups" else instance.user_permissions
        if reverse:
            related = instance.user_set
        pk_set = set(related.values_list("pk", flat=True))
    if not pk_set:
        return
    if reverse:
        # group.user_set.add(user) or permission.user_set.add(user): one entry per user.
        detail_names = _names(type(instance), [instance.pk])
        for user in User.objects.filter(pk__in=pk_set):
            audit_log_record(
                actor=_actor(),
                action=action_name,
                target=user,
                detail={"username": user.get_username(), verb: detail_names},
            )
        return
    audit_log_record(
        actor=_actor(),
        action=action_name,
        target=instance,
        detail={"username": instance.get_username(), verb: _names(model, pk_set)},
    )


@receiver(m2m_changed, sender=User.groups.through, dispatch_uid="portal.staff_groups_audit")
def staff_groups_audit(sender, instance, action, reverse, model, pk_set, **_kwargs) -> None:
    _membership_audit(
        action_name="staff.groups_changed", kind="groups", instance=instance, action=action,
        reverse=reverse, model=model, pk_set=pk_set,
    )  # fmt: skip


@receiver(
    m2m_changed, sender=User.user_permissions.through, dispatch_uid="portal.staff_perms_audit"
)
def staff_permissions_audit(sender, instance, action, reverse, model, pk_set, **_kwargs) -> None:
    _membership_audit(
        action_name="staff.permissions_changed", kind="permissions", instance=instance,
        action=action, reverse=reverse, model=model, pk_set=pk_set,
    )  # fmt: skip
