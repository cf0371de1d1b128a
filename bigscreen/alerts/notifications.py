"""Notifications about alerts, through one interface: a logging sender always, a webhook sender
when `alerts.webhook_url` is set; an SMS gateway would be one more `Sender`. Every message sent
is recorded (`notifications`), and a sender that fails never stops the others."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Protocol

from bigscreen.auth.privacy import mask_text
from bigscreen.process.runtime import Runtime

log = logging.getLogger("bigscreen.alerts.notifications")
WEBHOOK_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Message:
    alert_id: int
    level: int
    target: str   # who should hear of it: "duty-chief", "leader:{area}", "city"
    colour: str
    title: str
    area: str | None


class Sender(Protocol):
    name: str

    def send(self, message: Message) -> str | None:
        """Delivers the message; returns a note for the record, raises on failure."""


class LogSender:
    name = "log"

    def send(self, message: Message) -> str | None:
        log.warning("alert %d level %d → %s: [%s] %s", message.alert_id, message.level, message.target,
                    message.colour, message.title)
        return None


class WebhookSender:
    name = "webhook"

    def __init__(self, url: str) -> None:
        self.url = url

    def send(self, message: Message) -> str | None:
        import httpx  # here, not at the top: importing it (and the CLI's rich it brings) is a quarter second of every start

        r = httpx.post(self.url, json=vars(message), timeout=WEBHOOK_TIMEOUT_S)
        r.raise_for_status()
        return f"HTTP {r.status_code}"


def senders(rt: Runtime) -> list[Sender]:
    out: list[Sender] = [LogSender()]
    if url := rt.config.city.alerts.webhook_url:
        out.append(WebhookSender(url))
    return out


def deliver(rt: Runtime, message: Message) -> list[dict]:
    """Sends through every sender; returns the rows to record (sender, ok, detail). What leaves the
    centre quotes citizens' text masked (a title carries the case's description), as the wall shows it."""
    message = replace(message, title=mask_text(message.title))
    rows = []
    for sender in senders(rt):
        try:
            note = sender.send(message)
            rows.append({"sender": sender.name, "ok": True, "detail": note})
        except Exception as exc:  # one failing channel must not silence the others
            log.error("notification via %s failed: %s", sender.name, exc)
            rows.append({"sender": sender.name, "ok": False, "detail": str(exc)[:500]})
    return rows
