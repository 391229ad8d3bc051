"""Zoom's REST API over plain HTTP (urllib: no new dependency), with a Server-to-Server OAuth token.

Only workers call this, never a web request: a slow or failing Zoom must never hold a page. Every
failure is a `ZoomError` that says whether trying again can help:
- timeouts, lost connections and 5xx answers are retryable; so is 429, with Zoom's Retry-After
  as the least delay (the caller schedules the retry: nothing here sleeps);
- other 4xx answers are not (a bad request stays bad), except where a call says otherwise:
  a 404 on a delete means it is gone already (done), and "registrant already exists" is looked up.

The token (account_credentials grant, about an hour) is cached until a minute before it expires:
in Redis when the site has one, so every worker process on every host shares one token, or else
in this process's memory (each process then fetches its own; Zoom lets several be valid at once).
A 401 drops the cached token and fetches a new one, once.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from flask import current_app

log = logging.getLogger(__name__)

# Seconds before its expiry a cached token is no longer used: a call must not start with one that
# dies on the way.
TOKEN_MARGIN = 60

_memory_tokens: dict[str, tuple[str, float]] = {}
_memory_lock = threading.Lock()


class ZoomError(Exception):
    """A call to Zoom that did not succeed: its HTTP status (None: no answer), Zoom's code and message."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None,
                 retryable: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message, self.status, self.code = message, status, code
        self.retryable, self.retry_after = retryable, retry_after

    def __str__(self) -> str:
        parts = [f"HTTP {self.status}" if self.status else "no answer"]
        if self.code:
            parts.append(f"code {self.code}")
        return f"{' '.join(parts)}: {self.message}"


def is_configured(config=None) -> bool:
    """All three credentials are set: the site may make Zoom meetings."""
    config = config if config is not None else current_app.config
    return all(config.get(name) for name in ("ZOOM_ACCOUNT_ID", "ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET"))


@dataclass(frozen=True)
class Registrant:
    id: str
    join_url: str


def _retry_after(headers) -> float | None:
    value = (headers or {}).get("Retry-After") if headers is not None else None
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        # An HTTP date: Zoom sends seconds, but a proxy might not. Parse it rather than ignore it.
        from email.utils import parsedate_to_datetime

        try:
            return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
        except (TypeError, ValueError):
            return None


class ZoomClient:
    """One site's connection to Zoom, from the app's settings."""

    def __init__(self, config=None) -> None:
        config = config if config is not None else current_app.config
        if not is_configured(config):
            raise ZoomError("Zoom is not configured (ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET).")
        self.account_id = config["ZOOM_ACCOUNT_ID"]
        self.client_id = config["ZOOM_CLIENT_ID"]
        self.client_secret = config["ZOOM_CLIENT_SECRET"]
        self.api_base = config["ZOOM_API_BASE"].rstrip("/")
        self.oauth_url = config["ZOOM_OAUTH_URL"]
        self.timeout = config.get("ZOOM_TIMEOUT_SECONDS", 10)
        self.redis_url = config.get("REDIS_URL")
        self._cache_key = f"zoom:token:{self.oauth_url}:{self.account_id}:{self.client_id}"
        self._store = None

    # --- HTTP --------------------------------------------------------------------------------

    def _send(self, method: str, url: str, *, headers: dict, body: bytes | None = None) -> tuple[int, dict, bytes]:
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, dict(error.headers or {}), error.read()
        except TimeoutError as error:
            raise ZoomError(f"Zoom did not answer within {self.timeout} s ({error})", retryable=True) from error
        except (urllib.error.URLError, ConnectionError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ZoomError(f"could not reach Zoom: {reason}", retryable=True) from error

    @staticmethod
    def _failure(status: int, headers: dict, payload: bytes) -> ZoomError:
        try:
            data = json.loads(payload or b"{}")
        except ValueError:
            data = {}
        message = (data.get("message") or data.get("reason") or payload[:300].decode("utf-8", "replace")
                   or f"HTTP {status}") if isinstance(data, dict) else str(data)[:300]
        code = data.get("code") if isinstance(data, dict) and isinstance(data.get("code"), int) else None
        if status == 429:
            return ZoomError(message or "rate limited", status=status, code=code, retryable=True,
                             retry_after=_retry_after(headers))
        return ZoomError(message, status=status, code=code, retryable=status >= 500)

    # --- the token -----------------------------------------------------------------------------

    def _redis(self):
        if not self.redis_url:
            return None
        if self._store is None:  # one connection pool per client, made when first needed
            import redis

            self._store = redis.Redis.from_url(self.redis_url, socket_connect_timeout=2, socket_timeout=2)
        return self._store

    def _cached_token(self) -> str | None:
        store = self._redis()
        if store is not None:
            try:
                value = store.get(self._cache_key)
                return value.decode() if value else None
            except Exception:  # Redis down: fetch a token of our own rather than fail the call
                log.warning("zoom: Redis unavailable for the token cache; fetching a token")
                return None
        with _memory_lock:
            found = _memory_tokens.get(self._cache_key)
        if found and found[1] > time.monotonic():
            return found[0]
        return None

    def _keep_token(self, token: str, expires_in: float) -> None:
        seconds = max(int(expires_in) - TOKEN_MARGIN, 1)
        store = self._redis()
        if store is not None:
            try:
                store.set(self._cache_key, token, ex=seconds)
                return
            except Exception:
                log.warning("zoom: Redis unavailable; the token is kept in this process only")
        with _memory_lock:
            _memory_tokens[self._cache_key] = (token, time.monotonic() + seconds)

    def forget_token(self) -> None:
        store = self._redis()
        if store is not None:
            try:
                store.delete(self._cache_key)
            except Exception:
                pass
        with _memory_lock:
            _memory_tokens.pop(self._cache_key, None)

    def token(self) -> str:
        """A valid access token: the cached one, or a new one from the account_credentials grant."""
        cached = self._cached_token()
        if cached:
            return cached
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        query = urllib.parse.urlencode({"grant_type": "account_credentials", "account_id": self.account_id})
        separator = "&" if "?" in self.oauth_url else "?"
        status, headers, payload = self._send(
            "POST", f"{self.oauth_url}{separator}{query}",
            headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
            body=b"")
        if status != 200:
            error = self._failure(status, headers, payload)
            # Wrong credentials stay wrong; Zoom's own trouble may pass.
            error.retryable = status >= 500 or status == 429
            error.message = f"getting a token: {error.message}"
            raise error
        data = json.loads(payload)
        self._keep_token(data["access_token"], float(data.get("expires_in", 3600)))
        return data["access_token"]

    # --- calls --------------------------------------------------------------------------------

    def call(self, method: str, path: str, *, json_body: dict | None = None, query: dict | None = None):
        """One API call; its JSON answer (None when empty). A 401 renews the token once."""
        url = f"{self.api_base}{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        body = json.dumps(json_body).encode() if json_body is not None else None
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self.token()}", "Accept": "application/json"}
            if body is not None:
                headers["Content-Type"] = "application/json"
            status, response_headers, payload = self._send(method, url, headers=headers, body=body)
            if status == 401 and attempt == 1:
                self.forget_token()
                continue
            if 200 <= status < 300:
                return json.loads(payload) if payload.strip() else None
            raise self._failure(status, response_headers, payload)
        raise AssertionError("unreachable")

    # Meetings

    def create_meeting(self, payload: dict) -> dict:
        return self.call("POST", "/users/me/meetings", json_body=payload)

    def find_meeting(self, marker: str) -> str | None:
        """The id of a scheduled meeting of ours whose agenda carries `marker` (a create whose answer
        was lost on the way back), or None."""
        token = ""
        for _ in range(20):  # 20 pages of 300: far beyond the program's upcoming meetings
            query = {"type": "upcoming", "page_size": 300}
            if token:
                query["next_page_token"] = token
            data = self.call("GET", "/users/me/meetings", query=query) or {}
            for meeting in data.get("meetings", []):
                if marker in (meeting.get("agenda") or ""):
                    return str(meeting["id"])
            token = data.get("next_page_token") or ""
            if not token:
                return None
        return None

    def update_meeting(self, meeting_id: str, payload: dict) -> None:
        self.call("PATCH", f"/meetings/{meeting_id}", json_body=payload)

    def delete_meeting(self, meeting_id: str) -> None:
        """Delete it; one Zoom no longer has (404) is deleted already."""
        try:
            self.call("DELETE", f"/meetings/{meeting_id}", query={"schedule_for_reminder": "false"})
        except ZoomError as error:
            if error.status != 404:
                raise

    # Registrants

    def find_registrant(self, meeting_id: str, email: str, status: str = "approved") -> Registrant | None:
        """The registrant with this address and status (approved, pending, denied), or None."""
        token = ""
        for _ in range(50):
            query = {"status": status, "page_size": 300}
            if token:
                query["next_page_token"] = token
            data = self.call("GET", f"/meetings/{meeting_id}/registrants", query=query) or {}
            for registrant in data.get("registrants", []):
                if (registrant.get("email") or "").lower() == email.lower():
                    return Registrant(str(registrant["id"]), registrant["join_url"])
            token = data.get("next_page_token") or ""
            if not token:
                return None
        return None

    def add_registrant(self, meeting_id: str, *, email: str, first_name: str, last_name: str = "") -> Registrant:
        """Register this address; one registered already is looked up, not an error."""
        try:
            data = self.call("POST", f"/meetings/{meeting_id}/registrants",
                             json_body={"email": email, "first_name": first_name[:64] or email.split("@")[0],
                                        "last_name": last_name[:64]})
        except ZoomError as error:
            if error.retryable or error.status == 404:
                raise
            found = self.find_registrant(meeting_id, email)
            if found is None:
                # Cancelled earlier (Zoom lists cancelled registrants as denied) and back now: approve it again.
                found = self.find_registrant(meeting_id, email, status="denied")
                if found is None:
                    raise
                self.call("PUT", f"/meetings/{meeting_id}/registrants/status",
                          json_body={"action": "approve", "registrants": [{"id": found.id, "email": email}]})
            return found
        return Registrant(str(data.get("registrant_id") or data["id"]), data["join_url"])

    def cancel_registrant(self, meeting_id: str, *, registrant_id: str, email: str) -> None:
        """Cancel it at Zoom, so its join URL stops working; a meeting Zoom no longer has is fine."""
        try:
            self.call("PUT", f"/meetings/{meeting_id}/registrants/status",
                      json_body={"action": "cancel", "registrants": [{"id": registrant_id, "email": email}]})
        except ZoomError as error:
            if error.status != 404:
                raise

    # Reports

    def meeting_participants(self, meeting_id: str) -> list[dict]:
        """Who joined a past meeting, each stay one row (join_time, leave_time, duration in seconds)."""
        found, token = [], ""
        for _ in range(50):
            query = {"page_size": 300}
            if token:
                query["next_page_token"] = token
            data = self.call("GET", f"/report/meetings/{meeting_id}/participants", query=query) or {}
            found += data.get("participants", [])
            token = data.get("next_page_token") or ""
            if not token:
                break
        return found
