"""A fake Zoom: a small real HTTP server on a free port with just the endpoints the site uses.

So the real client (webapp/zoom/client.py) runs over real HTTP. It keeps state (meetings,
registrants with their join URLs and status, participants), checks the bearer token it handed
out, and fails on demand:

    zoom.fail_next(3)                   # the next 3 API calls answer 500
    zoom.rate_limit_next(2, retry_after=1)  # the next 2 answer 429 with Retry-After: 1
    zoom.delay = 2.0                    # every answer waits 2 s (a slow Zoom)
    zoom.down = True                    # every API call answers 503 until set back

A registrant's join URL is served by the fake too: GET it, and a cancelled registrant (or a
deleted meeting) is refused (403 / 404), as Zoom refuses a dead link. `sign_webhook` signs a
webhook body the way Zoom does (x-zm-signature: v0=HMAC-SHA256(secret, "v0:{ts}:{body}")).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

ACCOUNT_ID, CLIENT_ID, CLIENT_SECRET = "fake-account", "fake-client", "fake-secret"
WEBHOOK_SECRET = "fake-webhook-secret"


def sign_webhook(body: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> dict[str, str]:
    """The headers Zoom sends with a webhook body."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"x-zm-request-timestamp": ts, "x-zm-signature": f"v0={digest}", "Content-Type": "application/json"}


class FakeZoom:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.meetings: dict[str, dict] = {}
        self.registrants: dict[str, list[dict]] = {}  # meeting id -> registrants
        self.participants: dict[str, list[dict]] = {}  # meeting id -> report rows
        self.tokens: set[str] = set()
        self.calls: list[tuple[str, str]] = []  # (method, path) of every API call answered
        self.token_requests = 0
        self._fail: list[tuple[int, dict]] = []  # answers to give before serving, in order
        self.delay = 0.0
        self.down = False
        # As Zoom may: a cancelled registrant stays (listed as denied) and adding the address again is
        # refused as existing, instead of making a new registrant.
        self.keep_cancelled = False
        # (method, path prefix, seconds): such a call is carried out at once and answered only after
        # the pause (a worker killed meanwhile never learns what Zoom did). `held` is set meanwhile.
        self.hold_answer: tuple[str, str, float] | None = None
        self.held = threading.Event()
        self._ids = itertools.count(81_000_000_001)
        self.server: ThreadingHTTPServer | None = None
        self.url = ""

    # --- failures on demand --------------------------------------------------------------------

    def fail_next(self, count: int, status: int = 500) -> None:
        with self.lock:
            self._fail += [(status, {})] * count

    def rate_limit_next(self, count: int, retry_after: int = 1) -> None:
        with self.lock:
            self._fail += [(429, {"Retry-After": str(retry_after)})] * count

    # --- what tests read ------------------------------------------------------------------------

    def approved(self, meeting_id: str) -> list[dict]:
        with self.lock:
            return [r for r in self.registrants.get(str(meeting_id), []) if r["status"] == "approved"]

    def count(self, method: str, prefix: str) -> int:
        with self.lock:
            return sum(1 for m, p in self.calls if m == method and p.startswith(prefix))

    def meeting_creates(self) -> int:
        return self.count("POST", "/v2/users/me/meetings")

    # --- the server -----------------------------------------------------------------------------

    def start(self) -> FakeZoom:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _answer(self, status: int, body=None, headers: dict | None = None) -> None:
                payload = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                if payload:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _body(self) -> dict:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                return json.loads(raw) if raw else {}

            def _route(self, method: str) -> None:
                parts = urllib.parse.urlsplit(self.path)
                path, query = parts.path, dict(urllib.parse.parse_qsl(parts.query))
                if path == "/oauth/token":
                    return self._token(query)
                if path.startswith("/w/"):
                    return self._join(path, query)
                if fake.delay:
                    time.sleep(fake.delay)
                if self.headers.get("Authorization", "").removeprefix("Bearer ") not in fake.tokens:
                    return self._answer(401, {"code": 124, "message": "Invalid access token."})
                with fake.lock:
                    if fake.down:
                        return self._answer(503, {"message": "Service Unavailable"})
                    if fake._fail:
                        status, headers = fake._fail.pop(0)
                        return self._answer(status, {"code": status, "message": "Injected failure"}, headers)
                    fake.calls.append((method, path))
                    body = self._body() if method in ("POST", "PATCH", "PUT") else {}
                    status, answer = fake.handle(method, path, query, body)
                    hold = fake.hold_answer
                if hold and method == hold[0] and path.startswith(hold[1]):
                    fake.held.set()
                    time.sleep(hold[2])
                return self._answer(status, answer)

            def _token(self, query: dict) -> None:
                expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
                if self.headers.get("Authorization") != f"Basic {expected}" or \
                        query.get("grant_type") != "account_credentials" or query.get("account_id") != ACCOUNT_ID:
                    return self._answer(400, {"reason": "Invalid client_id or client_secret",
                                              "error": "invalid_client"})
                token = secrets.token_urlsafe(16)
                with fake.lock:
                    fake.tokens.add(token)
                    fake.token_requests += 1
                return self._answer(200, {"access_token": token, "token_type": "bearer", "expires_in": 3599,
                                          "scope": "meeting:write:admin meeting:read:admin report:read:admin"})

            def _join(self, path: str, query: dict) -> None:
                meeting_id = path.removeprefix("/w/")
                with fake.lock:
                    if meeting_id not in fake.meetings:
                        return self._answer(404, {"message": "This meeting does not exist."})
                    for registrant in fake.registrants.get(meeting_id, []):
                        if registrant["token"] == query.get("tk"):
                            if registrant["status"] == "approved":
                                return self._answer(200, {"message": "Welcome to the waiting room."})
                            return self._answer(403, {"message": "Your registration was cancelled."})
                return self._answer(404, {"message": "Invalid meeting link."})

            def do_GET(self):
                self._route("GET")

            def do_POST(self):
                self._route("POST")

            def do_PATCH(self):
                self._route("PATCH")

            def do_PUT(self):
                self._route("PUT")

            def do_DELETE(self):
                self._route("DELETE")

        from tests.support.servers import free_port

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a client that gave up (the slow-Zoom tests) is not the fake's problem

        self.server = Server(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    # --- the API --------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict, body: dict) -> tuple[int, dict | None]:
        segments = path.removeprefix("/v2/").split("/")
        if segments == ["users", "me", "meetings"]:
            if method == "POST":
                return self._create_meeting(body)
            return 200, {"meetings": [dict(m) for m in self.meetings.values()], "next_page_token": ""}
        if segments[0] == "meetings" and len(segments) >= 2:
            meeting = self.meetings.get(segments[1])
            if meeting is None:
                return 404, {"code": 3001, "message": "Meeting does not exist."}
            rest = segments[2:]
            if not rest and method == "PATCH":
                meeting.update({k: v for k, v in body.items() if k != "settings"})
                meeting["settings"].update(body.get("settings", {}))
                return 204, None
            if not rest and method == "DELETE":
                del self.meetings[segments[1]]
                return 204, None
            if not rest and method == "GET":
                return 200, dict(meeting)
            if rest == ["registrants"] and method == "POST":
                return self._add_registrant(meeting, body)
            if rest == ["registrants"] and method == "GET":
                wanted = query.get("status", "approved")
                listed = [{k: r[k] for k in ("id", "email", "first_name", "last_name", "join_url", "status")}
                          for r in self.registrants[meeting["id"]] if r["status"] == wanted]
                return 200, {"registrants": listed, "total_records": len(listed), "next_page_token": ""}
            if rest == ["registrants", "status"] and method == "PUT":
                action = body.get("action")
                for wanted in body.get("registrants", []):
                    for registrant in self.registrants[meeting["id"]]:
                        if registrant["id"] == wanted.get("id") or (
                                not wanted.get("id") and registrant["email"] == wanted.get("email")):
                            cancelled = "denied" if self.keep_cancelled else "cancelled"
                            registrant["status"] = {"cancel": cancelled, "approve": "approved",
                                                    "deny": "denied"}.get(action, registrant["status"])
                return 204, None
        if segments[:2] == ["report", "meetings"] and len(segments) == 4 and segments[3] == "participants":
            return 200, {"participants": list(self.participants.get(segments[2], [])), "next_page_token": ""}
        return 404, {"code": 404, "message": f"no such endpoint: {method} {path}"}

    def _create_meeting(self, body: dict) -> tuple[int, dict]:
        meeting_id = str(next(self._ids))
        meeting = {
            "id": int(meeting_id), "topic": body.get("topic"), "type": body.get("type"),
            "start_time": body.get("start_time"), "duration": body.get("duration"),
            "timezone": body.get("timezone"), "agenda": body.get("agenda", ""),
            "settings": dict(body.get("settings", {})), "password": "fake-pass",
            "join_url": f"{self.url}/w/{meeting_id}",
            "registration_url": f"{self.url}/meeting/register/{meeting_id}",
        }
        self.meetings[meeting_id] = meeting
        self.registrants[meeting_id] = []
        meeting["id"] = meeting_id  # kept as a string inside; answered as a number, as Zoom does
        return 201, {**meeting, "id": int(meeting_id)}

    def _add_registrant(self, meeting: dict, body: dict) -> tuple[int, dict]:
        email = (body.get("email") or "").lower()
        if not email or not body.get("first_name"):
            return 400, {"code": 300, "message": "Validation Failed."}
        for registrant in self.registrants[meeting["id"]]:
            if registrant["email"] == email and (registrant["status"] == "approved" or (
                    self.keep_cancelled and registrant["status"] == "denied")):
                return 409, {"code": 3027, "message": "Registrant already exists."}
        token = secrets.token_urlsafe(12)
        registrant = {"id": secrets.token_urlsafe(9), "email": email, "first_name": body["first_name"],
                      "last_name": body.get("last_name", ""), "status": "approved", "token": token,
                      "join_url": f"{self.url}/w/{meeting['id']}?tk={token}"}
        self.registrants[meeting["id"]].append(registrant)
        return 201, {"id": int(meeting["id"]), "registrant_id": registrant["id"], "join_url": registrant["join_url"],
                     "topic": meeting["topic"], "start_time": meeting["start_time"]}


@pytest.fixture
def fake_zoom(app):
    """A fake Zoom for this test, and the app's Zoom settings pointing at it."""
    from webapp.zoom import client

    zoom = FakeZoom().start()
    app.config.update(ZOOM_ACCOUNT_ID=ACCOUNT_ID, ZOOM_CLIENT_ID=CLIENT_ID, ZOOM_CLIENT_SECRET=CLIENT_SECRET,
                      ZOOM_API_BASE=f"{zoom.url}/v2", ZOOM_OAUTH_URL=f"{zoom.url}/oauth/token",
                      ZOOM_WEBHOOK_SECRET=WEBHOOK_SECRET, ZOOM_TIMEOUT_SECONDS=3)
    client._memory_tokens.clear()
    yield zoom
    zoom.stop()
    client._memory_tokens.clear()


def zoom_env(zoom: FakeZoom) -> dict[str, str]:
    """The same settings for a worker process."""
    return {"ZOOM_ACCOUNT_ID": ACCOUNT_ID, "ZOOM_CLIENT_ID": CLIENT_ID, "ZOOM_CLIENT_SECRET": CLIENT_SECRET,
            "ZOOM_API_BASE": f"{zoom.url}/v2", "ZOOM_OAUTH_URL": f"{zoom.url}/oauth/token",
            "ZOOM_WEBHOOK_SECRET": WEBHOOK_SECRET}
