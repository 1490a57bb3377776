"""Webhook notices: one JSON POST per notice (stdlib :mod:`urllib.request`).

What a send can end in::

    Receipt("webhook", "HTTP 200")   any 2xx
    DeliveryError(retryable=False)   any other 4xx, or a redirect (configure the final URL)
    DeliveryError(retryable=True)    5xx, 408, 429, or the request could not be sent
    ConnectionError                  the request went out but no complete reply came: it
                                     may or may not have been processed (outbox: uncertain)

Receivers de-duplicate on the ``Idempotency-Key`` header and check the
``X-Cxloop-Signature`` header (``sha256=`` + hex HMAC-SHA256 of the raw body under
the shared secret); see ``docs/sending.md``.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import urllib.error
import urllib.request
from email.message import Message
from typing import IO

from cxloop.errors import ConfigError, DeliveryError
from cxloop.notify.base import Notice, Receipt
from cxloop.version import __version__

RETRYABLE_4XX = frozenset({408, 429})


def signature(secret: str, body: bytes) -> str:
    """The ``X-Cxloop-Signature`` header value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are errors: following one would turn the POST into a GET without a body."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> None:
        return None


class WebhookChannel:
    """POSTs each notice as JSON to ``url``, signed when a ``secret`` is set."""

    name = "webhook"

    def __init__(self, url: str, *, secret: str | None = None, timeout: float = 10.0) -> None:
        if not url.lower().startswith(("http://", "https://")):
            raise ConfigError(f"webhook URL must start with http:// or https://, got {url!r}")
        self.url = url
        self.secret = secret
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirect())

    def body(self, notice: Notice) -> bytes:
        payload = {
            "key": notice.key,
            "incident_id": notice.incident_id,
            "customer_id": notice.customer_id,
            "address": notice.address,
            "subject": notice.subject,
            "body": notice.body,
            "data": notice.data,
        }
        try:
            text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise DeliveryError(
                f"notice {notice.key!r}: its data is not JSON ({exc})", retryable=False
            ) from exc
        return text.encode()

    def headers(self, notice: Notice, body: bytes) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": notice.key,
            "User-Agent": f"cxloop/{__version__}",
        }
        if self.secret:
            headers["X-Cxloop-Signature"] = signature(self.secret, body)
        return headers

    def send(self, notice: Notice) -> Receipt:
        body = self.body(notice)
        request = urllib.request.Request(
            self.url, data=body, headers=self.headers(notice, body), method="POST"
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                response.read()
                return Receipt("webhook", f"HTTP {response.status}")
        except urllib.error.HTTPError as exc:
            raise self._refused(exc) from exc
        except urllib.error.URLError as exc:
            raise DeliveryError(
                f"cannot reach the webhook {self.url}: {exc.reason}", retryable=True
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise ConnectionError(
                f"no complete reply from the webhook {self.url} after the request went out "
                f"({type(exc).__name__}: {exc}): it may or may not have been processed"
            ) from exc

    def _refused(self, exc: urllib.error.HTTPError) -> DeliveryError:
        try:
            raw = exc.read(2000) if exc.fp else b""
        except (OSError, http.client.HTTPException):  # the status alone is enough to go on
            raw = b""
        finally:
            exc.close()
        text = " ".join(raw.decode(errors="replace").split())[:200]
        where = f" to {exc.headers.get('Location')}" if 300 <= exc.code < 400 else ""
        message = f"webhook {self.url} answered HTTP {exc.code} {exc.reason}{where}"
        return DeliveryError(
            message + (f": {text}" if text else ""),
            retryable=exc.code >= 500 or exc.code in RETRYABLE_4XX,
        )
