from django.contrib import admin
from django.shortcuts import redirect
from django.urls import reverse

from reporting.models import FinanceReport


@admin.register(FinanceReport)
class FinanceReportAdmin(admin.ModelAdmin):
    """The admin's link to the finance dashboard (the model has no rows: it opens the page)."""

    def get_object(self, request, object_id, from_field=None):
        return None  # no table, so no rows: a change or delete URL finds nothing

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("reporting.view_finance_dashboard")

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        return redirect(reverse("reporting:finance-dashboard"))
