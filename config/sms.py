"""Pluggable SMS delivery, configured like Django's email backends (settings.SMS_BACKEND)."""

import json
import logging
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

# LocmemSmsBackend appends here, like django.core.mail.outbox.
outbox: list["SmsMessage"] = []


@dataclass
class SmsMessage:
    to: str
    body: str
    sender: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    sent_at: str = field(default_factory=lambda: datetime.now(tz=UTC).isoformat())


class SmsDeliveryError(Exception):
    pass


def send_sms(*, to: str, body: str) -> SmsMessage:
    """Send one SMS through the configured backend and return what was sent."""
    if not to or "\n" in to:
        raise SmsDeliveryError("A phone number in international format is needed.")
    message = SmsMessage(to=to, body=body, sender=settings.SMS_FROM)
    backend = import_string(settings.SMS_BACKEND)()
    backend.send(message)
    return message


class LocmemSmsBackend:
    def send(self, message: SmsMessage) -> None:
        outbox.append(message)


class FileSmsBackend:
    """Writes one JSON file per message under settings.SMS_FILE_PATH (shown at /dev/outbox/)."""

    def send(self, message: SmsMessage) -> None:
        directory = Path(settings.SMS_FILE_PATH)
        directory.mkdir(parents=True, exist_ok=True)
        name = f"{message.sent_at.replace(':', '')}-{message.id}.json"
        (directory / name).write_text(json.dumps(asdict(message), indent=2))


class HttpSmsBackend:
    """Posts JSON to an SMS provider's HTTP API (settings.SMS_HTTP_URL, bearer SMS_HTTP_TOKEN)."""

    def send(self, message: SmsMessage) -> None:
        if not settings.SMS_HTTP_URL.startswith(("https://", "http://")):
            raise SmsDeliveryError("SMS_HTTP_URL is not set; no SMS provider is configured.")
        request = urllib.request.Request(
            settings.SMS_HTTP_URL,
            data=json.dumps(
                {"to": message.to, "from": message.sender, "body": message.body}
            ).encode(),
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {settings.SMS_HTTP_TOKEN}",
            },
            method="POST",
        )
        # The URL is the operator's own setting, checked to be http(s) above.
        with urllib.request.urlopen(request, timeout=10) as response:
            if response.status >= 300:
                raise SmsDeliveryError(f"SMS provider answered {response.status}")
