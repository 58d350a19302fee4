"""The portal's admin site (`admin.site`, installed by config.apps.PortalAdminConfig): the
staff home as its index, and two-factor sign-in in front of every admin page."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from config import two_factor
from config.staff_home import staff_home_items


class PortalAdminSite(admin.AdminSite):
    site_header = "Lead-to-cash portal"
    site_title = "Portal admin"
    index_title = "Work queues"
    index_template = "admin/staff_home.html"
    # The model sidebar takes 300 of a 1280-pixel screen from every change list; the staff home
    # and the breadcrumbs lead to every list instead.
    enable_nav_sidebar = False

    def index(self, request, extra_context=None):
        """The staff home: the user's work queues above the list of models."""
        extra_context = {
            **(extra_context or {}),
            "work_items": staff_home_items(user=request.user),
            "backup_codes_left": two_factor.staff_backup_codes_left(user=request.user),
        }
        return super().index(request, extra_context)

    def has_permission(self, request) -> bool:
        """Staff who owe the second factor are, to the admin, not signed in yet."""
        return super().has_permission(request) and not two_factor.staff_second_factor_missing(
            request
        )

    def login(self, request, extra_context=None):
        if request.method == "GET" and two_factor.staff_second_factor_missing(request):
            return two_factor.staff_second_factor_redirect(request)
        response = super().login(request, extra_context)
        if request.method == "POST" and two_factor.staff_second_factor_missing(request):
            # The password was right: now the code (or the enrolment).
            return two_factor.staff_second_factor_redirect(request)
        return response

    def get_urls(self):
        return [
            path(
                "two-factor/",
                lambda request: two_factor.two_factor_verify(request, self),
                name="two_factor_verify",
            ),
            path(
                "two-factor/enrol/",
                lambda request: two_factor.two_factor_enrol(request, self),
                name="two_factor_enrol",
            ),
            path(
                "two-factor/sign-out/",
                lambda request: two_factor.two_factor_sign_out(request, self),
                name="two_factor_sign_out",
            ),
            path(
                "two-factor/backup-codes/",
                self.admin_view(
                    lambda request: two_factor.two_factor_backup_codes_renew(request, self)
                ),
                name="two_factor_backup_codes",
            ),
            *super().get_urls(),
        ]
