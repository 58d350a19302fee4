"""The payment page's words, in English and German (the messages' copy is in the editable
templates; the decline explanations come from dunning/declines.py)."""

from __future__ import annotations

PAGE_COPY: dict[str, dict[str, str]] = {
    "en": {
        "title": "Finish your payment",
        "intro": "Your payment for {offer} did not go through, so your order {reference} is "
        "still open. Nothing was charged. This page is for paying it: it works only for this "
        "order and this amount.",
        "amount_label": "To pay",
        "order_label": "Order",
        "why_title": "What happened",
        "options_title": "How would you like to pay?",
        "card_title": "Pay by card",
        "card_why": "Your card number goes straight to our card processor, Stripe; it never "
        "reaches our server. Your bank may ask you to confirm the payment, for example in your "
        "banking app.",
        "card_label": "Card details",
        "card_noscript": "Paying by card needs JavaScript switched on in your browser. You can "
        "also pay by bank transfer or ask us for help below.",
        "pay_button": "Pay {amount}",
        "transfer_title": "Pay by bank transfer",
        "transfer_intro": "Send {amount} to this account. Please use the reference, so we can "
        "match your payment quickly.",
        "transfer_name": "Account name",
        "transfer_iban": "IBAN",
        "transfer_bic": "BIC",
        "transfer_reference": "Reference",
        "transfer_button": "I have sent the transfer",
        "transfer_hint": "Tell us once you have sent it, and we stop reminding you while it "
        "arrives (usually 1 to 3 working days).",
        "help_title": "Talk to a person",
        "help_intro": "Questions, or a tight month? We are happy to help and find a way with you.",
        "help_write": "Write to {email}",
        "help_call": "or call {phone}",
        "callback_label": "Your phone number",
        "callback_when": "When suits you? (optional)",
        "callback_button": "Please call me back",
        "expired_title": "This link has expired",
        "expired_text": "For your safety, payment links work for a limited time. Nothing was "
        "charged.",
        "used_title": "This link has already been used",
        "used_text": "A payment was made through this link. Thank you! There is nothing more to "
        "do here.",
        "closed_title": "Nothing more to pay here",
        "closed_text": "This payment has been settled or closed, so the link no longer works. "
        "If you think that is a mistake, please write to us.",
        "unknown_title": "We do not recognise this link",
        "unknown_text": "The link may be incomplete: try copying the whole link from the "
        "message. Nothing was charged.",
        "fresh_button": "Send me a new link",
        "fresh_hint": "We send it to the email address we have for this order.",
        "fresh_done": "If this payment is still open, we have sent a new link to the email "
        "address we have for the order. It can take a few minutes to arrive.",
        "callback_done": "Thank you. Someone from our team will call you back, usually within "
        "one working day.",
        "transfer_done": "Thank you. We will match your transfer as soon as it arrives and "
        "email you then. We will not send reminders in the meantime.",
        "done_title": "Thank you, payment received",
        "done_text": "We received {amount} for {offer}. Order {reference}. A confirmation is on "
        "its way to you by email.",
        "access_title": "Your access",
        "access_code": "Your access code",
        "access_pending": "Your access is being set up; we email it to you within a few minutes.",
        "back": "Back to the payment page",
        "other_language": "Deutsch",
        "other_language_code": "de",
    },
    "de": {
        "title": "Zahlung abschließen",
        "intro": "Ihre Zahlung für {offer} ist nicht durchgegangen, daher ist Ihre Bestellung "
        "{reference} noch offen. Es wurde nichts abgebucht. Auf dieser Seite können Sie sie "
        "bezahlen: Sie gilt nur für diese Bestellung und diesen Betrag.",
        "amount_label": "Zu zahlen",
        "order_label": "Bestellung",
        "why_title": "Was passiert ist",
        "options_title": "Wie möchten Sie bezahlen?",
        "card_title": "Mit Karte bezahlen",
        "card_why": "Ihre Kartennummer geht direkt an unseren Zahlungsdienstleister Stripe und "
        "erreicht nie unseren Server. Ihre Bank bittet Sie eventuell, die Zahlung zu bestätigen, "
        "zum Beispiel in Ihrer Banking-App.",
        "card_label": "Kartendaten",
        "card_noscript": "Für die Kartenzahlung muss JavaScript in Ihrem Browser aktiviert sein. "
        "Sie können auch per Überweisung zahlen oder unten um Hilfe bitten.",
        "pay_button": "{amount} bezahlen",
        "transfer_title": "Per Überweisung bezahlen",
        "transfer_intro": "Überweisen Sie {amount} auf dieses Konto. Bitte geben Sie den "
        "Verwendungszweck an, damit wir Ihre Zahlung schnell zuordnen können.",
        "transfer_name": "Kontoinhaber",
        "transfer_iban": "IBAN",
        "transfer_bic": "BIC",
        "transfer_reference": "Verwendungszweck",
        "transfer_button": "Ich habe überwiesen",
        "transfer_hint": "Sagen Sie uns Bescheid, sobald Sie überwiesen haben, dann erinnern "
        "wir Sie nicht mehr, bis das Geld da ist (meist 1 bis 3 Werktage).",
        "help_title": "Mit einem Menschen sprechen",
        "help_intro": "Fragen, oder ein knapper Monat? Wir helfen gern und finden gemeinsam "
        "eine Lösung.",
        "help_write": "Schreiben Sie an {email}",
        "help_call": "oder rufen Sie an: {phone}",
        "callback_label": "Ihre Telefonnummer",
        "callback_when": "Wann passt es Ihnen? (optional)",
        "callback_button": "Bitte rufen Sie mich zurück",
        "expired_title": "Dieser Link ist abgelaufen",
        "expired_text": "Zu Ihrer Sicherheit gelten Zahlungslinks nur für eine gewisse Zeit. Es "
        "wurde nichts abgebucht.",
        "used_title": "Dieser Link wurde bereits verwendet",
        "used_text": "Über diesen Link wurde bereits bezahlt. Vielen Dank! Hier ist nichts mehr "
        "zu tun.",
        "closed_title": "Hier ist nichts mehr zu bezahlen",
        "closed_text": "Diese Zahlung ist erledigt oder abgeschlossen, daher funktioniert der "
        "Link nicht mehr. Falls Sie das für einen Fehler halten, schreiben Sie uns bitte.",
        "unknown_title": "Wir erkennen diesen Link nicht",
        "unknown_text": "Der Link ist vielleicht unvollständig: Kopieren Sie bitte den ganzen "
        "Link aus der Nachricht. Es wurde nichts abgebucht.",
        "fresh_button": "Neuen Link senden",
        "fresh_hint": "Wir senden ihn an die E-Mail-Adresse, die wir zu dieser Bestellung haben.",
        "fresh_done": "Falls diese Zahlung noch offen ist, haben wir einen neuen Link an die "
        "E-Mail-Adresse der Bestellung gesendet. Es kann ein paar Minuten dauern.",
        "callback_done": "Vielen Dank. Jemand aus unserem Team ruft Sie zurück, meist innerhalb "
        "eines Werktags.",
        "transfer_done": "Vielen Dank. Wir ordnen Ihre Überweisung zu, sobald sie eingeht, und "
        "schreiben Ihnen dann. Bis dahin senden wir keine Erinnerungen.",
        "done_title": "Vielen Dank, Zahlung erhalten",
        "done_text": "Wir haben {amount} für {offer} erhalten. Bestellung {reference}. Eine "
        "Bestätigung ist per E-Mail unterwegs.",
        "access_title": "Ihr Zugang",
        "access_code": "Ihr Zugangscode",
        "access_pending": "Ihr Zugang wird eingerichtet; wir senden ihn Ihnen in wenigen "
        "Minuten per E-Mail.",
        "back": "Zurück zur Zahlungsseite",
        "other_language": "English",
        "other_language_code": "en",
    },
}


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def page_copy(language: str, **values: str) -> dict[str, str]:
    """The page's words in `language` (English if unknown), with {placeholders} filled (a
    placeholder not given is left empty)."""
    words = PAGE_COPY.get(language) or PAGE_COPY["en"]
    fill = _Blank(values)
    return {key: text.format_map(fill) for key, text in words.items()}
