"""The checkout app's action on the leads admin ("Send a checkout link for an offer").

Appended to LeadAdmin.actions from CheckoutConfig.ready(): leads never imports checkout.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

from checkout.models import Offer
from checkout.services.links import checkout_link_send


class CheckoutLinkForm(forms.Form):
    offer = forms.ModelChoiceField(
        queryset=Offer.objects.filter(is_active=True), empty_label="Choose an offer"
    )


@admin.action(description="Send a checkout link for an offer", permissions=["change"])
def send_checkout_link(modeladmin, request, queryset):
    if "apply" in request.POST:
        form = CheckoutLinkForm(request.POST)
        if form.is_valid():
            offer = form.cleaned_data["offer"]
            sent = sum(
                checkout_link_send(lead=lead, offer=offer, actor=request.user) for lead in queryset
            )
            skipped = queryset.count() - sent
            modeladmin.message_user(
                request,
                f"Sent a checkout link for {offer.name} to {sent} lead(s)."
                + (f" Skipped {skipped} (spam or erased)." if skipped else ""),
                messages.SUCCESS,
            )
            return None
    else:
        form = CheckoutLinkForm()
    return TemplateResponse(
        request,
        "checkout/admin/send_checkout_link.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": "Send a checkout link",
            "form": form,
            "leads": queryset,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "opts": modeladmin.model._meta,
        },
    )
