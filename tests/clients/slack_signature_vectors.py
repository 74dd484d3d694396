#!/usr/bin/env python3
"""Known-answer vectors for the Slack request-signature check, produced by
the official SDK: slack_sdk's `slack_sdk.signature.SignatureVerifier`
(`generate_signature(timestamp=..., body=...)` and `is_valid(...)`).

Usage (PyPI slack_sdk, any 3.x):
    python3 -m venv venv && venv/bin/pip install slack_sdk
    venv/bin/python tests/clients/slack_signature_vectors.py > signature_vectors.json

Output: {"slack_sdk_version", "signatures": [...], "checks": [...]}.
`signatures`: (secret, timestamp, body) -> the `X-Slack-Signature` value the
SDK computes; each one is also asserted valid by `is_valid` at its own
timestamp. `checks`: (secret, timestamp, body, signature, now) -> `is_valid`'s
answer with the clock frozen at `now` (float seconds), covering tampered
bodies, timestamps and signatures and the 5-minute window's edges.
"""

import json
import sys

import slack_sdk
from slack_sdk.signature import Clock, SignatureVerifier


class FrozenClock(Clock):
    def __init__(self, now: float):
        self._now = now

    def now(self) -> float:
        return self._now


# Slack's published example ("Verifying requests from Slack",
# docs.slack.dev/authentication/verifying-requests-from-slack).
DOC_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
DOC_TS = "1531420618"
DOC_BODY = (
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
DOC_SIG = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

SECRETS = [
    DOC_SECRET,
    "e3b8a7c1d2f4061957a8b9c0d1e2f3a4",
    "a signing secret with spaces & ünïcödé",
    "x",
]

EVENT_BODY = json.dumps(
    {
        "token": "XXYYZZ",
        "team_id": "T123ABC456",
        "api_app_id": "A123ABC456",
        "event": {
            "type": "app_mention",
            "user": "U061F7AUR",
            "text": "<@U0LAN0Z89> is it everything a river should be?",
            "ts": "1515449522.000016",
            "channel": "C123ABC456",
            "event_ts": "1515449522.000016",
        },
        "type": "event_callback",
        "event_id": "Ev123ABC456",
        "event_time": 1515449522,
    },
    separators=(",", ":"),
)

BODIES = [
    "",
    DOC_BODY,
    EVENT_BODY,
    '{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}',
    # Unicode as raw UTF-8 (Slack's JSON may carry either this or \\u escapes).
    '{"event":{"text":"Olá — ¿qué tal? 你好 🚀 &amp; &lt;ok&gt;"}}',
    '{"event":{"text":"Ol\\u00e1 \\ud83d\\ude80"}}',
    "line one\nline two\r\n\ttabbed",
    "v0:1531420618:looks like a basestring",
]

TIMESTAMPS = ["1531420618", "1700000000", "0", "1999999999"]


def main() -> None:
    signatures = []
    for secret in SECRETS:
        verifier = SignatureVerifier(secret)
        for body in BODIES:
            for ts in TIMESTAMPS:
                sig = verifier.generate_signature(timestamp=ts, body=body)
                at_ts = SignatureVerifier(secret, clock=FrozenClock(float(ts)))
                assert at_ts.is_valid(body=body, timestamp=ts, signature=sig), (secret, ts, body)
                # bytes bodies are decoded as UTF-8 by the SDK: same answer.
                assert verifier.generate_signature(timestamp=ts, body=body.encode("utf-8")) == sig
                signatures.append({"secret": secret, "timestamp": ts, "body": body, "signature": sig})

    doc = SignatureVerifier(DOC_SECRET)
    assert doc.generate_signature(timestamp=DOC_TS, body=DOC_BODY) == DOC_SIG, "Slack's published example"

    checks = []

    def check(secret, ts, body, sig, now, label):
        valid = SignatureVerifier(secret, clock=FrozenClock(now)).is_valid(body=body, timestamp=ts, signature=sig)
        checks.append(
            {"label": label, "secret": secret, "timestamp": ts, "body": body, "signature": sig, "now": now, "valid": valid}
        )

    t = float(DOC_TS)
    check(DOC_SECRET, DOC_TS, DOC_BODY, DOC_SIG, t, "published example, same second")
    check(DOC_SECRET, DOC_TS, DOC_BODY, DOC_SIG, t + 300, "300 s late: still inside the window")
    check(DOC_SECRET, DOC_TS, DOC_BODY, DOC_SIG, t + 300.5, "300.5 s late: outside")
    check(DOC_SECRET, DOC_TS, DOC_BODY, DOC_SIG, t + 301, "301 s late: outside")
    check(DOC_SECRET, DOC_TS, DOC_BODY, DOC_SIG, t - 300, "300 s early (timestamp ahead of us): inside")
    check(DOC_SECRET, DOC_TS, DOC_BODY, DOC_SIG, t - 300.5, "300.5 s early: outside")
    check(DOC_SECRET, DOC_TS, DOC_BODY, DOC_SIG, t - 301, "301 s early: outside")
    check(DOC_SECRET, DOC_TS, DOC_BODY + " ", DOC_SIG, t, "body with a trailing space")
    check(DOC_SECRET, DOC_TS, DOC_BODY.replace("roadrunner", "roadrunnes"), DOC_SIG, t, "body with one letter changed")
    check(DOC_SECRET, "1531420619", DOC_BODY, DOC_SIG, t, "timestamp one second off")
    check(DOC_SECRET[:-1] + "6", DOC_TS, DOC_BODY, DOC_SIG, t, "secret with its last character changed")
    check(DOC_SECRET, DOC_TS, DOC_BODY, DOC_SIG.upper().replace("V0=", "v0="), t, "signature in upper-case hex")
    check(DOC_SECRET, DOC_TS, DOC_BODY, DOC_SIG[:-1] + "4", t, "signature with its last digit changed")
    check(DOC_SECRET, DOC_TS, DOC_BODY, DOC_SIG.replace("v0=", "v1="), t, "signature with another version")
    check(DOC_SECRET, DOC_TS, DOC_BODY, DOC_SIG[3:], t, "signature without its v0= prefix")
    check(DOC_SECRET, DOC_TS, DOC_BODY, DOC_SIG + "00", t, "signature with extra digits")
    check(DOC_SECRET, DOC_TS, DOC_BODY, "", t, "empty signature")
    ts = "1700000000"
    uni = BODIES[4]
    uni_sig = SignatureVerifier(SECRETS[2]).generate_signature(timestamp=ts, body=uni)
    check(SECRETS[2], ts, uni, uni_sig, float(ts), "unicode secret and body")
    check(SECRETS[2], ts, uni.replace("你好", "你号"), uni_sig, float(ts), "unicode body, one character changed")

    json.dump(
        {"slack_sdk_version": slack_sdk.version.__version__, "signatures": signatures, "checks": checks},
        sys.stdout,
        ensure_ascii=False,
        indent=1,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
