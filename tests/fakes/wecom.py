"""A loopback stand-in for qyapi.weixin.qq.com: the group robot webhook and the
application message API, behaving as their documentation describes.

- Errors are HTTP 200 with a non-zero `errcode` (and `errmsg`).
- `POST /cgi-bin/webhook/send?key=` : unknown key -> 93000; markdown content over
  4096 UTF-8 bytes or text over 2048 -> 40058; more than `robot_per_minute`
  messages a minute per key -> 45009.
- `GET /cgi-bin/gettoken?corpid=&corpsecret=` : bad corpid -> 40013, bad secret
  -> 40001, else `access_token` + `expires_in`.
- `POST /cgi-bin/message/send?access_token=` : unknown token -> 40014, token made
  stale by `expire_tokens()` -> 42001; wrong agentid -> 40056; content over
  2048 bytes -> 40058; userids not in `users` come back in `invaliduser`,
  those in `unlicensed` in `unlicenseduser` (lower-cased, `|`-separated, as
  WeCom does); when nobody is valid -> 81013.

Every request is recorded; `script(path, reply, ...)` queues canned replies
for a path that win over the default behaviour (`reply` is a dict answered
with HTTP 200, `(status, body)`, or a function of the `RecordedRequest`
returning either).

The fake puts the caller's secret into some `errmsg`s on purpose, so tests
can check that channels scrub what servers echo back.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Collection
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HOST = "127.0.0.1"
MARKDOWN_LIMIT = 4096
TEXT_LIMIT = 2048
APP_CONTENT_LIMIT = 2048


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    body: dict | None


class FakeWeCom:
    def __init__(
        self,
        *,
        robot_keys: Collection[str] = ("robot-key-0123456789",),
        robot_per_minute: int | None = 20,
        corp_id: str = "ww-test-corp",
        corp_secret: str = "corp-secret-abcdef123456",
        agent_id: int = 1000002,
        users: Collection[str] = (),
        unlicensed: Collection[str] = (),
        expires_in: int = 7200,
    ) -> None:
        self.robot_keys = set(robot_keys)
        self.robot_per_minute = robot_per_minute
        self.corp_id = corp_id
        self.corp_secret = corp_secret
        self.agent_id = agent_id
        self.users = {u.lower() for u in users}
        self.unlicensed = {u.lower() for u in unlicensed}
        self.expires_in = expires_in
        self.requests: list[RecordedRequest] = []
        self._scripts: dict[str, deque] = defaultdict(deque)
        self._valid_tokens: set[str] = set()
        self._stale_tokens: set[str] = set()
        self._token_counter = itertools.count(1)
        self._robot_sends: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((HOST, 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- control -----------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self._server.server_address[1]}"

    def script(self, path: str, *replies) -> None:
        with self._lock:
            self._scripts[path].extend(replies)

    def expire_tokens(self) -> None:
        """Every token issued so far now answers 42001 (access_token expired)."""
        with self._lock:
            self._stale_tokens |= self._valid_tokens
            self._valid_tokens.clear()

    def calls(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def start(self) -> FakeWeCom:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeWeCom:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- behaviour ---------------------------------------------------------

    def _answer(self, req: RecordedRequest) -> tuple[int, object]:
        with self._lock:
            self.requests.append(req)
            if self._scripts[req.path]:
                reply = self._scripts[req.path].popleft()
                if callable(reply):
                    reply = reply(req)
                return reply if isinstance(reply, tuple) else (200, reply)
            if req.path == "/cgi-bin/webhook/send" and req.method == "POST":
                return 200, self._robot(req)
            if req.path == "/cgi-bin/gettoken" and req.method == "GET":
                return 200, self._gettoken(req)
            if req.path == "/cgi-bin/message/send" and req.method == "POST":
                return 200, self._message_send(req)
            return 404, "<html>404 Not Found</html>"

    def _robot(self, req: RecordedRequest) -> dict:
        key = req.query.get("key", "")
        if key not in self.robot_keys:
            return {"errcode": 93000, "errmsg": f"invalid webhook url, hint: [key={key}], "
                                                 "more info at https://open.work.weixin.qq.com/devtool/query?e=93000"}
        body = req.body or {}
        msgtype = body.get("msgtype")
        content = (body.get(msgtype) or {}).get("content", "")
        limit = {"markdown": MARKDOWN_LIMIT, "text": TEXT_LIMIT}.get(msgtype)
        if limit is None:
            return {"errcode": 40008, "errmsg": "invalid message type"}
        if len(content.encode("utf-8")) > limit:
            return {"errcode": 40058, "errmsg": f"{msgtype}.content exceed max length {limit}"}
        if self.robot_per_minute is not None:
            now = time.monotonic()
            sent = self._robot_sends[key]
            while sent and sent[0] <= now - 60:
                sent.popleft()
            if len(sent) >= self.robot_per_minute:
                return {"errcode": 45009, "errmsg": "api freq out of limit"}
            sent.append(now)
        return {"errcode": 0, "errmsg": "ok"}

    def _gettoken(self, req: RecordedRequest) -> dict:
        if req.query.get("corpid") != self.corp_id:
            return {"errcode": 40013, "errmsg": "invalid corpid"}
        secret = req.query.get("corpsecret", "")
        if secret != self.corp_secret:
            return {"errcode": 40001, "errmsg": f"invalid credential, corpsecret={secret}"}
        token = f"access-token-{next(self._token_counter):04d}-{'x' * 16}"
        self._valid_tokens.add(token)
        return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": self.expires_in}

    def _message_send(self, req: RecordedRequest) -> dict:
        token = req.query.get("access_token", "")
        if token in self._stale_tokens:
            return {"errcode": 42001, "errmsg": f"access_token expired, token: {token}"}
        if token not in self._valid_tokens:
            return {"errcode": 40014, "errmsg": f"invalid access_token {token}"}
        body = req.body or {}
        if body.get("agentid") != self.agent_id:
            return {"errcode": 40056, "errmsg": "invalid agentid"}
        msgtype = body.get("msgtype")
        content = (body.get(msgtype) or {}).get("content", "")
        if len(content.encode("utf-8")) > APP_CONTENT_LIMIT:
            return {"errcode": 40058, "errmsg": f"{msgtype}.content exceed max length {APP_CONTENT_LIMIT}"}
        touser = [u for u in str(body.get("touser", "")).split("|") if u]
        if len(touser) > 1000:
            return {"errcode": 40031, "errmsg": "invalid userid list"}
        invalid = [u.lower() for u in touser if u.lower() not in self.users]
        unlicensed = [u.lower() for u in touser if u.lower() in self.unlicensed and u.lower() in self.users]
        if len(invalid) + len(unlicensed) == len(touser):
            return {"errcode": 81013, "errmsg": "user & party & tag all invalid"}
        return {"errcode": 0, "errmsg": "ok", "invaliduser": "|".join(invalid), "invalidparty": "",
                "invalidtag": "", "unlicenseduser": "|".join(unlicensed), "msgid": "msg-1",
                "response_code": "rc-1"}

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are separate writes

            def log_message(self, format, *args):  # keep test output clean
                pass

            def _handle(self, method: str) -> None:
                url = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw.decode("utf-8")) if raw else None
                except ValueError:
                    body = None
                status, reply = fake._answer(RecordedRequest(method, url.path, query, body))
                if isinstance(reply, (dict, list)):
                    payload = json.dumps(reply, ensure_ascii=False).encode("utf-8")
                    ctype = "application/json; charset=utf-8"
                else:
                    payload = str(reply).encode("utf-8")
                    ctype = "text/html; charset=utf-8"
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

        return Handler
