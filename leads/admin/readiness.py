"""The readiness policy in the admin: saving it re-evaluates every lead."""

from django import forms
from django.contrib import admin

from leads.models import ConsentPurpose, ReadinessPolicy, TenderType
from leads.normalise import LeadInputError, country_normalise
from leads.services import readiness_policy_save


class ReadinessPolicyForm(forms.ModelForm):
    required_consents = forms.MultipleChoiceField(
        choices=ConsentPurpose.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    accepted_tender_types = forms.MultipleChoiceField(
        choices=TenderType.choices, widget=forms.CheckboxSelectMultiple, required=False
    )

    class Meta:
        model = ReadinessPolicy
        fields = [
            "name",
            "is_active",
            "required_consents",
            "allowed_billing_countries",
            "max_risk_score",
            "accepted_tender_types",
        ]

    def clean_allowed_billing_countries(self):
        codes = []
        for code in self.cleaned_data["allowed_billing_countries"]:
            try:
                codes.append(country_normalise(code))
            except LeadInputError:
                raise forms.ValidationError(f"{code!r} is not an ISO country code.") from None
        return [code for code in codes if code]


@admin.register(ReadinessPolicy)
class ReadinessPolicyAdmin(admin.ModelAdmin):
    form = ReadinessPolicyForm
    list_display = [
        "name",
        "is_active",
        "required_consents",
        "allowed_billing_countries",
        "max_risk_score",
        "accepted_tender_types",
        "updated_at",
    ]

    def save_model(self, request, obj, form, change):
        readiness_policy_save(policy=obj, actor=request.user)
        self.message_user(request, "Every lead is being re-evaluated against this policy.")
