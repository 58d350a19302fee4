from babel import Locale
from django import forms

_NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"}


def country_choices() -> list[tuple[str, str]]:
    names = Locale("en").territories
    countries = sorted(
        ((code, name) for code, name in names.items() if code.isalpha() and len(code) == 2),
        key=lambda item: item[1],
    )
    return [("", "Choose your country")] + [c for c in countries if c[0] not in _NOT_COUNTRIES]


class CheckoutForm(forms.Form):
    """The fewest fields we need: who is paying, where they are billed, and the terms."""

    token = forms.CharField(widget=forms.HiddenInput)
    email = forms.EmailField(
        max_length=254,
        help_text="We send your receipt and your access details here.",
        widget=forms.EmailInput(attrs={"autocomplete": "email", "inputmode": "email"}),
    )
    name = forms.CharField(
        max_length=200,
        label="Full name",
        help_text="As it should appear on your receipt.",
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    billing_country = forms.ChoiceField(
        label="Billing country",
        help_text="Tax depends on where you are billed. You see the total before paying.",
        widget=forms.Select(attrs={"autocomplete": "country"}),
    )
    terms = forms.BooleanField(
        required=True,
        error_messages={"required": "Please accept the terms to continue."},
    )
    marketing_email = forms.BooleanField(required=False)
    terms_text_id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    marketing_text_id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    # Left empty by people; filled by bots. Recorded as a risk factor by the leads app.
    website = forms.CharField(required=False, label="Leave this empty", max_length=200)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["billing_country"].choices = country_choices()
        for name, field in self.fields.items():
            if name in ("email", "name", "billing_country") and field.help_text:
                field.widget.attrs["aria-describedby"] = f"id_{name}_why"
        if self.is_bound:
            for name in self.errors:
                if name in self.fields:
                    self.fields[name].widget.attrs["aria-invalid"] = "true"
