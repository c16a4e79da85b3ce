"""The one interface every notification channel implements.

Modelled on Healthchecks' transports: one small class per channel, and a
failed delivery is a value (`Delivery`) the outbox records and classifies,
never an exception thrown into the reminder loop.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from notifiers.secrets import Scrubber

log = logging.getLogger(__name__)

# Route names used as keys of `notifiers.settings.build_channels()`.
EMAIL = "email"
WECOM_ROBOT = "wecom_robot"
WECOM_APP = "wecom_app"


@dataclass(frozen=True)
class Recipient:
    """A person a message is addressed to; each channel uses the contact it needs."""

    name: str
    email: str | None = None
    wecom_userid: str | None = None
    mobile: str | None = None


@dataclass(frozen=True)
class Message:
    """One planned message from the outbox, already rendered for every channel."""

    key: str  # outbox key: for logs, file names, Message-ID and idempotency
    subject: str  # Chinese
    text: str  # plain text body
    html: str | None  # HTML body (email)
    markdown: str | None  # WeCom markdown body
    recipients: tuple[Recipient, ...]
    mentions: tuple[Recipient, ...] = ()  # WeCom robot: who is @-mentioned in the group
    # Parts of a multi-part message already delivered by an earlier attempt ("k:content hash",
    # from `Delivery.progress`, kept on the outbox row): a retry resumes at part k+1.
    progress: str | None = None


@dataclass(frozen=True)
class Delivery:
    """Outcome for one recipient, or for the whole message when `recipient` is None
    (a group robot has no individual recipients)."""

    recipient: Recipient | None
    ok: bool
    retryable: bool
    error: str | None
    # The trouble belongs to the channel, not to this message: authentication, configuration,
    # connection, timeout or rate limit. The outbox pauses the channel and keeps the row
    # retryable (for a day) whatever `retryable` says; only recipient faults make a row dead.
    channel_fault: bool = False
    retry_after: float | None = None  # seconds the channel asks to wait (rate limit, pause hint)
    progress: str | None = None       # multi-part: parts delivered so far ("k:content hash")

    @classmethod
    def success(cls, recipient: Recipient | None) -> Delivery:
        return cls(recipient, ok=True, retryable=False, error=None)

    @classmethod
    def failure(cls, recipient: Recipient | None, error: str, *, retryable: bool,
                channel_fault: bool = False, retry_after: float | None = None,
                progress: str | None = None) -> Delivery:
        return cls(recipient, ok=False, retryable=retryable, error=error,
                   channel_fault=channel_fault, retry_after=retry_after, progress=progress)


# Told the result of message `index` of a batch as soon as it is known. Returning False (exactly)
# asks the channel to start no further message of the batch.
OnResult = Callable[[int, list[Delivery]], bool | None]


def fail_all(message: Message, error: str, *, retryable: bool, channel_fault: bool = False,
             retry_after: float | None = None) -> list[Delivery]:
    """The same failure for every recipient of a message (e.g. the server is down)."""
    extra = {"channel_fault": channel_fault, "retry_after": retry_after}
    if not message.recipients:
        return [Delivery.failure(None, error, retryable=retryable, **extra)]
    return [Delivery.failure(r, error, retryable=retryable, **extra) for r in message.recipients]


class Channel(ABC):
    """A way to deliver `Message`s. `send` and `send_many` never raise (except on
    cancellation, or an exception from the caller's own `on_result`): every problem ends up
    in a `Delivery` with a scrubbed error."""

    name: ClassVar[str]

    def __init__(self, scrubber: Scrubber | None = None) -> None:
        self.scrubber = scrubber or Scrubber()

    async def send(self, message: Message) -> list[Delivery]:
        try:
            return await self._send(message)
        except Exception as exc:  # a bug in a channel must not stop the reminder loop
            return self._unexpected(message, exc)

    async def send_many(self, messages: Sequence[Message],
                        on_result: OnResult | None = None) -> list[list[Delivery]]:
        """Deliver a batch; the result lists the deliveries of each message in order.

        ``on_result(i, deliveries)`` is called right after message ``i`` is done, before the
        next one starts, so the caller can record it (the outbox commits each result: a crash
        can then repeat only the message in flight). If it returns False no further message is
        started; those get an empty list. Channels that can share a connection override this."""
        results: list[list[Delivery]] = [[] for _ in messages]
        for i, m in enumerate(messages):
            results[i] = await self.send(m)
            if on_result is not None and on_result(i, results[i]) is False:
                break
        return results

    async def aclose(self) -> None:
        """Release network resources; the channel may be used again afterwards."""

    @abstractmethod
    async def _send(self, message: Message) -> list[Delivery]: ...

    def _unexpected(self, message: Message, exc: Exception) -> list[Delivery]:
        error = self.scrubber.scrub(f"内部错误 {type(exc).__name__}: {exc}")
        log.error("channel %s: message %s: %s", self.name, message.key, error)
        return fail_all(message, error, retryable=False)
