"""The default policy and the default copy of every message, in English and German.

Written to the database by migration (and again on first use after a test flush); staff edit
them in the admin from then on. The copy says why payments fail, what the buyer can do and how
to reach a person, without alarm or pressure: most failed payments are an expired card or a
tight week, not a bad customer.
"""

from __future__ import annotations

from datetime import timedelta

DEFAULT_POLICY = {
    "name": "Default",
    "is_default": True,
    "is_active": True,
    "max_retries": 6,
    "unknown_code_max_retries": 2,
    "window_days": 14,
    "payday_mode": "none",
    "payday_days_later": 3,
    "deposit_reminder_days": 3,
}

# (offset from the failure, action, template). Six retries in two weeks, the first email at once
# (within minutes of the case opening), a text message with the second reminder, staff at day
# 10, and the order or subscription canceled after the final notice.
DEFAULT_STEPS = [
    (timedelta(minutes=0), "email", "first_notice"),
    (timedelta(days=1), "retry", ""),
    (timedelta(days=3), "retry", ""),
    (timedelta(days=3, hours=1), "email", "reminder"),
    (timedelta(days=5), "retry", ""),
    (timedelta(days=5, hours=1), "sms", "reminder"),
    (timedelta(days=7), "retry", ""),
    (timedelta(days=7, hours=1), "email", "second_reminder"),
    (timedelta(days=10), "retry", ""),
    (timedelta(days=10, hours=1), "escalate", ""),
    (timedelta(days=12), "retry", ""),
    (timedelta(days=12, hours=1), "email", "final_notice"),
    (timedelta(days=14, hours=1), "cancel", ""),
]

_HTML_HEAD = (
    '<!doctype html><html lang="{lang}"><body style="font-family: system-ui, Arial, sans-serif; '
    'line-height: 1.5; color: #1b1f24; max-width: 36rem; margin: 0 auto; padding: 1rem;">'
)
_HTML_FOOT = "</body></html>"


def _html(lang: str, body: str) -> str:
    return _HTML_HEAD.format(lang=lang) + body + _HTML_FOOT


_BUTTON = (
    '<p><a href="{{ pay_url }}" style="display: inline-block; background: #0b5cad; color: #fff; '
    'padding: .7rem 1.2rem; border-radius: 8px; text-decoration: none;">{label}</a></p>'
)
_HELP_EN = (
    "<p>Need a hand? Reply to this email or write to "
    '<a href="mailto:{{ support_email }}">{{ support_email }}</a>'
    "{% if support_phone %}, or call us on {{ support_phone }}{% endif %}. A person reads every "
    "message.</p>"
)
_HELP_DE = (
    "<p>Brauchen Sie Hilfe? Antworten Sie auf diese E-Mail oder schreiben Sie an "
    '<a href="mailto:{{ support_email }}">{{ support_email }}</a>'
    "{% if support_phone %}, oder rufen Sie uns an: {{ support_phone }}{% endif %}. Jede "
    "Nachricht liest ein Mensch.</p>"
)
_HELP_TEXT_EN = (
    "Need a hand? Reply to this email or write to {{ support_email }}"
    "{% if support_phone %}, or call us on {{ support_phone }}{% endif %}. A person reads every "
    "message."
)
_HELP_TEXT_DE = (
    "Brauchen Sie Hilfe? Antworten Sie auf diese E-Mail oder schreiben Sie an {{ support_email }}"
    "{% if support_phone %}, oder rufen Sie uns an: {{ support_phone }}{% endif %}. Jede "
    "Nachricht liest ein Mensch."
)


def _pay_template(
    lang: str, subject: str, intro: str, close: str, button: str, sms: str
) -> dict[str, str]:
    help_html, help_text = (_HELP_DE, _HELP_TEXT_DE) if lang == "de" else (_HELP_EN, _HELP_TEXT_EN)
    hello = "Hallo {{ name }}," if lang == "de" else "Hello {{ name }},"
    link_note = (
        "Der Link gilt bis {{ link_expires }} und nur für diese Zahlung."
        if lang == "de"
        else "The link works until {{ link_expires }}, for this payment only."
    )
    order_line = (
        "Bestellung {{ reference }}: {{ offer_name }}, offen: {{ amount }}."
        if lang == "de"
        else "Order {{ reference }}: {{ offer_name }}, {{ amount }} to pay."
    )
    text = (
        f"{hello}\n\n{intro}\n\n{{{{ what_happened }}}}\n{{{{ what_to_do }}}}\n\n"
        f"{{{{ pay_url }}}}\n{link_note}\n\n{close}\n\n{help_text}\n\n{order_line}\n"
        "{{ seller_name }}\n"
    )
    html = _html(
        lang,
        f"<p>{hello}</p><p>{intro}</p><p>{{{{ what_happened }}}} {{{{ what_to_do }}}}</p>"
        + _BUTTON.replace("{label}", button)
        + f'<p style="color: #57606a;">{link_note}</p><p>{close}</p>{help_html}'
        f'<p style="color: #57606a;">{order_line}<br>{{{{ seller_name }}}}</p>',
    )
    return {"subject": subject, "body_text": text, "body_html": html, "sms_text": sms}


DEFAULT_TEMPLATES: dict[tuple[str, str], dict[str, str]] = {
    ("first_notice", "en"): _pay_template(
        "en",
        "Your payment for {{ offer_name }} did not go through",
        "We tried to take your payment of {{ amount }} for {{ offer_name }}, and it did not go "
        "through. You have not been charged.",
        "If you have already sorted it out, thank you, and please ignore this email.",
        "Pay {{ amount }}",
        "{{ seller_name }}: your payment of {{ amount }} did not go through, nothing was charged. "
        "You can pay here: {{ pay_url }}",
    ),
    ("first_notice", "de"): _pay_template(
        "de",
        "Ihre Zahlung für {{ offer_name }} ist nicht durchgegangen",
        "Wir wollten Ihre Zahlung von {{ amount }} für {{ offer_name }} einziehen, und sie ist "
        "nicht durchgegangen. Es wurde nichts abgebucht.",
        "Falls Sie das schon erledigt haben: Vielen Dank, dann ist diese E-Mail gegenstandslos.",
        "{{ amount }} bezahlen",
        "{{ seller_name }}: Ihre Zahlung von {{ amount }} ist nicht durchgegangen, nichts wurde "
        "abgebucht. Hier können Sie zahlen: {{ pay_url }}",
    ),
    ("reminder", "en"): _pay_template(
        "en",
        "A reminder about your payment for {{ offer_name }}",
        "A short reminder: the payment of {{ amount }} for {{ offer_name }} is still open.",
        "If now is not a good moment, that is fine: reply and tell us what would work for you.",
        "Pay {{ amount }}",
        "{{ seller_name }}: a reminder that {{ amount }} for {{ offer_name }} is still open. "
        "Pay or get help here: {{ pay_url }}",
    ),
    ("reminder", "de"): _pay_template(
        "de",
        "Eine Erinnerung an Ihre Zahlung für {{ offer_name }}",
        "Eine kurze Erinnerung: Die Zahlung von {{ amount }} für {{ offer_name }} ist noch offen.",
        "Wenn es gerade nicht passt, ist das in Ordnung: Antworten Sie uns einfach, was für Sie "
        "passen würde.",
        "{{ amount }} bezahlen",
        "{{ seller_name }}: Erinnerung, {{ amount }} für {{ offer_name }} ist noch offen. Zahlen "
        "oder Hilfe erhalten: {{ pay_url }}",
    ),
    ("second_reminder", "en"): _pay_template(
        "en",
        "Still open: your payment for {{ offer_name }}",
        "We wanted to check in: the payment of {{ amount }} for {{ offer_name }} is still open, "
        "and we have not been able to take it from your card.",
        "If a different way to pay or a little more time would help, reply and tell us. We "
        "would rather find a way with you than keep reminding you.",
        "Pay {{ amount }}",
        "{{ seller_name }}: {{ amount }} for {{ offer_name }} is still open. Pay or talk to us: "
        "{{ pay_url }}",
    ),
    ("second_reminder", "de"): _pay_template(
        "de",
        "Noch offen: Ihre Zahlung für {{ offer_name }}",
        "Wir wollten kurz nachfragen: Die Zahlung von {{ amount }} für {{ offer_name }} ist "
        "noch offen, und wir konnten sie nicht von Ihrer Karte einziehen.",
        "Wenn eine andere Zahlungsart oder etwas mehr Zeit hilft, antworten Sie uns einfach. Wir "
        "finden lieber gemeinsam eine Lösung, als Sie weiter zu erinnern.",
        "{{ amount }} bezahlen",
        "{{ seller_name }}: {{ amount }} für {{ offer_name }} ist noch offen. Zahlen oder mit "
        "uns sprechen: {{ pay_url }}",
    ),
    ("final_notice", "en"): _pay_template(
        "en",
        "Your order for {{ offer_name }}: the last reminder",
        "We have not been able to take the payment of {{ amount }} for {{ offer_name }}. This "
        "is our last reminder: if it stays open, we will close the order in about two days, "
        "and nothing more will be charged.",
        "If something is in the way, please tell us: we are happy to find a way with you.",
        "Pay {{ amount }}",
        "{{ seller_name }}: last reminder about {{ amount }} for {{ offer_name }}. Pay or talk "
        "to us here: {{ pay_url }}",
    ),
    ("final_notice", "de"): _pay_template(
        "de",
        "Ihre Bestellung {{ offer_name }}: die letzte Erinnerung",
        "Wir konnten die Zahlung von {{ amount }} für {{ offer_name }} bisher nicht einziehen. "
        "Dies ist unsere letzte Erinnerung: Bleibt sie offen, schließen wir die Bestellung in "
        "etwa zwei Tagen, und es wird nichts weiter abgebucht.",
        "Wenn etwas im Weg ist, sagen Sie es uns bitte: Wir finden gern gemeinsam eine Lösung.",
        "{{ amount }} bezahlen",
        "{{ seller_name }}: letzte Erinnerung zu {{ amount }} für {{ offer_name }}. Zahlen oder "
        "mit uns sprechen: {{ pay_url }}",
    ),
    ("action_needed", "en"): _pay_template(
        "en",
        "Your bank would like you to confirm a payment for {{ offer_name }}",
        "Your bank asked for your confirmation before it takes the payment of {{ amount }} for "
        "{{ offer_name }}. Nothing has been charged yet.",
        "It takes about a minute. If you have any doubt that this email is from us, go to our "
        "website yourself rather than following the link, or write to us.",
        "Confirm and pay",
        "{{ seller_name }}: your bank would like you to confirm the payment of {{ amount }}. "
        "Nothing was charged yet: {{ pay_url }}",
    ),
    ("action_needed", "de"): _pay_template(
        "de",
        "Ihre Bank möchte eine Zahlung für {{ offer_name }} bestätigt haben",
        "Ihre Bank möchte Ihre Bestätigung, bevor sie die Zahlung von {{ amount }} für "
        "{{ offer_name }} ausführt. Es wurde noch nichts abgebucht.",
        "Das dauert etwa eine Minute. Wenn Sie Zweifel haben, ob diese E-Mail von uns ist, "
        "öffnen Sie unsere Website selbst statt des Links, oder schreiben Sie uns.",
        "Bestätigen und bezahlen",
        "{{ seller_name }}: Ihre Bank möchte die Zahlung von {{ amount }} bestätigt haben. "
        "Noch nichts abgebucht: {{ pay_url }}",
    ),
    ("fresh_link", "en"): _pay_template(
        "en",
        "Your new payment link for {{ offer_name }}",
        "Here is a new link to pay {{ amount }} for {{ offer_name }}, as requested.",
        "If you did not ask for it, you can ignore this email.",
        "Pay {{ amount }}",
        "{{ seller_name }}: your new payment link for {{ amount }}: {{ pay_url }}",
    ),
    ("fresh_link", "de"): _pay_template(
        "de",
        "Ihr neuer Zahlungslink für {{ offer_name }}",
        "Hier ist, wie gewünscht, ein neuer Link, um {{ amount }} für {{ offer_name }} zu "
        "bezahlen.",
        "Falls Sie ihn nicht angefordert haben, können Sie diese E-Mail ignorieren.",
        "{{ amount }} bezahlen",
        "{{ seller_name }}: Ihr neuer Zahlungslink für {{ amount }}: {{ pay_url }}",
    ),
    ("deposit_due_soon", "en"): {
        "subject": "The balance for {{ offer_name }} is due on {{ due_date }}",
        "body_text": (
            "Hello {{ name }},\n\nA friendly note: the balance of {{ amount }} for "
            "{{ offer_name }} is due on {{ due_date }}. Nothing is taken automatically; you can "
            "pay it from your account page whenever suits you before then:\n\n{{ portal_url }}\n"
            "\nIf you have already paid, thank you.\n\n" + _HELP_TEXT_EN + "\n\nOrder "
            "{{ reference }}\n{{ seller_name }}\n"
        ),
        "body_html": _html(
            "en",
            "<p>Hello {{ name }},</p><p>A friendly note: the balance of {{ amount }} for "
            "{{ offer_name }} is due on {{ due_date }}. Nothing is taken automatically; you can "
            "pay it from your account page whenever suits you before then.</p>"
            '<p><a href="{{ portal_url }}">Open your account page</a></p>'
            "<p>If you have already paid, thank you.</p>" + _HELP_EN + '<p style="color: '
            '#57606a;">Order {{ reference }}<br>{{ seller_name }}</p>',
        ),
        "sms_text": "",
    },
    ("deposit_due_soon", "de"): {
        "subject": "Der Restbetrag für {{ offer_name }} ist am {{ due_date }} fällig",
        "body_text": (
            "Hallo {{ name }},\n\nein freundlicher Hinweis: Der Restbetrag von {{ amount }} für "
            "{{ offer_name }} ist am {{ due_date }} fällig. Es wird nichts automatisch "
            "abgebucht; Sie können ihn bis dahin jederzeit über Ihre Kontoseite bezahlen:\n\n"
            "{{ portal_url }}\n\nFalls Sie schon bezahlt haben: Vielen Dank.\n\n"
            + _HELP_TEXT_DE
            + "\n\nBestellung {{ reference }}\n{{ seller_name }}\n"
        ),
        "body_html": _html(
            "de",
            "<p>Hallo {{ name }},</p><p>ein freundlicher Hinweis: Der Restbetrag von "
            "{{ amount }} für {{ offer_name }} ist am {{ due_date }} fällig. Es wird nichts "
            "automatisch abgebucht; Sie können ihn bis dahin jederzeit über Ihre Kontoseite "
            'bezahlen.</p><p><a href="{{ portal_url }}">Zur Kontoseite</a></p>'
            "<p>Falls Sie schon bezahlt haben: Vielen Dank.</p>" + _HELP_DE + '<p style="color: '
            '#57606a;">Bestellung {{ reference }}<br>{{ seller_name }}</p>',
        ),
        "sms_text": "",
    },
    ("card_expiring", "en"): {
        "subject": "Your card for {{ offer_name }} expires soon",
        "body_text": (
            "Hello {{ name }},\n\nThe card ending {{ card_last4 }} that pays for {{ offer_name }} "
            "expires at the end of {{ card_expiry }}, before your next renewal. To keep things "
            "running smoothly, you can add your new card on your account page:\n\n"
            "{{ portal_url }}\n\n" + _HELP_TEXT_EN + "\n\n{{ seller_name }}\n"
        ),
        "body_html": _html(
            "en",
            "<p>Hello {{ name }},</p><p>The card ending {{ card_last4 }} that pays for "
            "{{ offer_name }} expires at the end of {{ card_expiry }}, before your next renewal. "
            "To keep things running smoothly, you can add your new card on your account page."
            '</p><p><a href="{{ portal_url }}">Update your card</a></p>'
            + _HELP_EN
            + '<p style="color: #57606a;">{{ seller_name }}</p>',
        ),
        "sms_text": "",
    },
    ("card_expiring", "de"): {
        "subject": "Ihre Karte für {{ offer_name }} läuft bald ab",
        "body_text": (
            "Hallo {{ name }},\n\ndie Karte mit der Endung {{ card_last4 }}, mit der Sie "
            "{{ offer_name }} bezahlen, läuft Ende {{ card_expiry }} ab, also vor Ihrer nächsten "
            "Verlängerung. Damit alles weiterläuft, können Sie Ihre neue Karte auf Ihrer "
            "Kontoseite hinterlegen:\n\n{{ portal_url }}\n\n" + _HELP_TEXT_DE + "\n\n"
            "{{ seller_name }}\n"
        ),
        "body_html": _html(
            "de",
            "<p>Hallo {{ name }},</p><p>die Karte mit der Endung {{ card_last4 }}, mit der Sie "
            "{{ offer_name }} bezahlen, läuft Ende {{ card_expiry }} ab, also vor Ihrer "
            "nächsten Verlängerung. Damit alles weiterläuft, können Sie Ihre neue Karte auf "
            'Ihrer Kontoseite hinterlegen.</p><p><a href="{{ portal_url }}">Karte '
            "aktualisieren</a></p>" + _HELP_DE + '<p style="color: #57606a;">{{ seller_name }}</p>',
        ),
        "sms_text": "",
    },
}
