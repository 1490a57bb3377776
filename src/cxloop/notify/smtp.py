"""E-mail notices over SMTP (stdlib :mod:`smtplib`), one connection per notice.

What a send can end in::

    Receipt("email", "<key@cxloop>")   the server accepted the message (250 after the data)
    DeliveryError(retryable=False)     no usable address; recipient or message refused (5xx)
    DeliveryError(retryable=True)      unreachable, TLS or login failed, 4xx, or a timeout
                                       before the message content went out
    ConnectionError                    the content went out but no reply came: it may or
                                       may not have been delivered (the outbox: uncertain)

The dialogue is driven step by step (MAIL, RCPT, DATA, content) rather than with
``sendmail`` so that the last case is told apart from the others.
"""

from __future__ import annotations

import hashlib
import re
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, parseaddr

from cxloop.errors import ConfigError, DeliveryError
from cxloop.notify.base import Notice, Receipt
from cxloop.settings import SMTP_SECURITY

_ADDRESS = re.compile(r"[^@\s<>,;:\"()\[\]\\]+@[^@\s<>,;:\"()\[\]\\]+")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._+=-]")


def message_id(key: str) -> str:
    """The Message-ID of a notice: the key itself where it is safe in a msg-id, else the
    key with unsafe characters replaced plus a short hash of it (still deterministic)."""
    safe = re.sub(r"\.{2,}", ".", _ID_UNSAFE.sub("-", key)).strip(".")[:120] or "notice"
    if safe != key:
        safe += "." + hashlib.sha256(key.encode()).hexdigest()[:12]
    return f"<{safe}@cxloop>"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return _reply(exc.smtp_code, exc.smtp_error)
    return str(exc) or type(exc).__name__


def _reply(code: int, text: bytes | str) -> str:
    words = text.decode(errors="replace") if isinstance(text, bytes) else text
    return f"{code} {words}".strip()


def _dot_stuffed(payload: bytes) -> bytes:
    """The message content as sent after DATA (RFC 5321 section 4.5.2), with the final dot."""
    data = re.sub(rb"(?m)^\.", b"..", payload)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def _close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except OSError:  # the session already broke; the outcome is decided, just drop it
        smtp.close()


class SmtpChannel:
    """Sends each notice as a plain-text e-mail from ``sender`` to the notice's address."""

    name = "email"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        security: str = "none",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        if security not in SMTP_SECURITY:
            raise ConfigError(
                f"SMTP security must be one of {', '.join(SMTP_SECURITY)}, got {security!r}"
            )
        self.host = host
        self.port = port
        self.sender = sender
        self.security = security
        self.username = username
        self.password = password
        self.timeout = timeout

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def message(self, notice: Notice) -> EmailMessage:
        """The e-mail for a notice; DeliveryError (not retryable) when it cannot be built."""
        address = notice.address.strip()
        if not address:
            raise DeliveryError(
                f"no e-mail address for customer {notice.customer_id}", retryable=False
            )
        if not (address.isascii() and _ADDRESS.fullmatch(address)):
            raise DeliveryError(
                f"e-mail address {address!r} of customer {notice.customer_id} is not a plain "
                "ASCII address (user@domain)",
                retryable=False,
            )
        msg = EmailMessage()
        try:
            msg["From"] = self.sender
            msg["To"] = address
            msg["Subject"] = notice.subject
            msg["Date"] = format_datetime(datetime.now(UTC))
            msg["Message-ID"] = message_id(notice.key)
            msg["X-Cxloop-Key"] = notice.key
            msg["X-Cxloop-Incident"] = notice.incident_id
            msg.set_content(notice.body)
        except ValueError as exc:  # e.g. a line break in the subject
            raise DeliveryError(
                f"cannot build the e-mail for notice {notice.key!r}: {exc}", retryable=False
            ) from exc
        return msg

    def send(self, notice: Notice) -> Receipt:
        msg = self.message(notice)
        payload = msg.as_bytes(policy=SMTP_POLICY)
        smtp = self._open()
        try:
            self._envelope(smtp, notice.address.strip())
            self._transmit(smtp, payload)
        finally:
            _close(smtp)
        return Receipt("email", str(msg["Message-ID"]))

    def _open(self) -> smtplib.SMTP:
        try:
            if self.security == "ssl":
                context = ssl.create_default_context()
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=context
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except OSError as exc:
            raise DeliveryError(
                f"cannot reach the SMTP server {self.where}: {_describe(exc)}", retryable=True
            ) from exc
        try:
            smtp.ehlo_or_helo_if_needed()
            if self.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo_or_helo_if_needed()
            if self.username:
                smtp.login(self.username, self.password or "")
        except OSError as exc:  # smtplib's errors are OSErrors too
            _close(smtp)
            raise DeliveryError(
                f"SMTP session with {self.where} failed ({_describe(exc)}); check "
                "CXLOOP_SMTP_SECURITY, CXLOOP_SMTP_USERNAME and CXLOOP_SMTP_PASSWORD",
                retryable=True,
            ) from exc
        return smtp

    def _envelope(self, smtp: smtplib.SMTP, address: str) -> None:
        """MAIL, RCPT and DATA, up to the server's go-ahead (354). Nothing is delivered yet."""
        try:
            code, text = smtp.mail(parseaddr(self.sender)[1] or self.sender)
            self._expect(code, text, {250}, f"sender {self.sender} refused", permanent=False)
            code, text = smtp.rcpt(address)
            self._expect(code, text, {250, 251}, f"recipient {address} refused")
            code, text = smtp.docmd("DATA")
            self._expect(code, text, {354}, f"DATA for {address} refused")
        except OSError as exc:
            raise DeliveryError(
                f"SMTP server {self.where} failed before the message went out: {_describe(exc)}",
                retryable=True,
            ) from exc

    def _transmit(self, smtp: smtplib.SMTP, payload: bytes) -> None:
        try:
            smtp.send(_dot_stuffed(payload))
            code, text = smtp.getreply()
        except OSError as exc:
            raise ConnectionError(
                f"no reply from the SMTP server {self.where} after the message went out "
                f"({_describe(exc)}): it may or may not have been delivered"
            ) from exc
        self._expect(code, text, {250}, "message refused")

    def _expect(
        self, code: int, text: bytes, ok: set[int], what: str, *, permanent: bool = True
    ) -> None:
        if code in ok:
            return
        raise DeliveryError(
            f"{what} by the SMTP server {self.where}: {_reply(code, text)}",
            retryable=not (permanent and code >= 500),
        )
