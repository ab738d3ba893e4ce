"""The Matrix client-server API (v3) as the ``matrix`` driver calls it: JSON over HTTP, recorded.

``MatrixHttp`` sends one request with a user's access token, records the exchange in the
target's transcript (tokens redacted), and returns the JSON answer; a Matrix error (any
non-2xx answer) raises ``ApiError`` with the Matrix ``errcode`` and ``error`` in its ``desc`` and
``MATRIX_ERROR_CODE`` as its code, since Matrix errors have no V2TIM number.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import urllib3

from seenby.harness.wire.transport import ApiError, NoAnswer, ViolationLog

__all__ = ["MATRIX_ERROR_CODE", "MatrixHttp", "path", "registration_mac"]

MATRIX_ERROR_CODE = -1
"""The ``ApiError.code`` of every Matrix error: Matrix names errors (``M_FORBIDDEN``), it does
not number them, so the driver passes the name on in ``desc`` instead of inventing a code."""

CLIENT_API = "/_matrix/client/v3"


def path(template: str, *parts: str) -> str:
    """``template`` with each ``{}`` filled by a URL-quoted part (IDs hold ``!$:``)."""
    return template.format(*(quote(part, safe="") for part in parts))


def registration_mac(secret: str, nonce: str, username: str, password: str, admin: bool) -> str:
    """The HMAC-SHA1 of Synapse's shared-secret registration (``/_synapse/admin/v1/register``)."""
    message = b"\x00".join(
        [nonce.encode(), username.encode(), password.encode(), b"admin" if admin else b"notadmin"]
    )
    return hmac.new(secret.encode(), message, hashlib.sha1).hexdigest()


class MatrixHttp:
    """JSON requests to one homeserver, recorded in ``violations.transcript``."""

    def __init__(self, base_url: str, violations: ViolationLog, *, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self._violations = violations
        self._timeout = timeout
        self._pool = urllib3.PoolManager(maxsize=10, retries=False)

    def request(
        self,
        http_method: str,
        url_path: str,
        body: Mapping[str, Any] | None = None,
        *,
        token: str | None = None,
        actor: str,
        method: str,
        timeout: float | None = None,
        record: bool = True,
    ) -> Any:
        """``http_method url_path`` with ``body`` as JSON; the answer's JSON. ``method`` is the SDK
        call this request serves (named in errors); ``record`` False keeps idle long-polls out
        of the transcript."""
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        content = None if body is None else json.dumps(body).encode()
        try:
            answer = self._pool.request(
                http_method,
                self.base_url + url_path,
                body=content,
                headers=headers,
                timeout=self._timeout if timeout is None else timeout,
            )
        except urllib3.exceptions.HTTPError as error:
            raise NoAnswer(f"{method}: {http_method} {url_path} got no answer: {error}") from None
        if record:
            self._violations.transcript.http(
                actor,
                http_method,
                url_path,
                headers,
                content,
                answer.status,
                dict(answer.headers),
                answer.data,
            )
        try:
            data = json.loads(answer.data) if answer.data else {}
        except ValueError:
            data = {"errcode": "M_NOT_JSON", "error": answer.data[:200].decode("utf-8", "replace")}
        if answer.status >= 300:
            errcode = data.get("errcode", "?") if isinstance(data, dict) else "?"
            error_text = data.get("error", "") if isinstance(data, dict) else ""
            raise ApiError(
                method,
                MATRIX_ERROR_CODE,
                f"Matrix {errcode}: {error_text} ({http_method} {url_path})",
                answer.status,
                self.base_url,
            )
        return data

    def close(self) -> None:
        """Close the connection pool."""
        self._pool.clear()
