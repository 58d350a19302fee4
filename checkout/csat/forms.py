"""The one-question payment CSAT form ("How easy was paying?")."""

from django import forms

from checkout.models import PaymentCsat

SCORE_CHOICES = [
    (1, "1 - very hard"),
    (2, "2 - hard"),
    (3, "3 - neither easy nor hard"),
    (4, "4 - easy"),
    (5, "5 - very easy"),
]
_SCORE_ERROR = "Choose how easy paying was, from 1 (very hard) to 5 (very easy)."


class CsatForm(forms.Form):
    score = forms.TypedChoiceField(
        label="How easy was paying?",
        choices=SCORE_CHOICES,
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": _SCORE_ERROR, "invalid_choice": _SCORE_ERROR},
    )
    comment = forms.CharField(
        label="Anything we could do better? (optional)",
        required=False,
        max_length=PaymentCsat.COMMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": PaymentCsat.COMMENT_MAX_LENGTH}),
        error_messages={
            "max_length": "Please keep the comment to %(limit_value)d characters or fewer "
            "(it has %(show_value)d)."
        },
    )
    source = forms.ChoiceField(
        choices=PaymentCsat.Source.choices,
        required=False,
        widget=forms.HiddenInput,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.is_bound:
            for name in self.errors:
                if name in self.fields:
                    self.fields[name].widget.attrs["aria-invalid"] = "true"
