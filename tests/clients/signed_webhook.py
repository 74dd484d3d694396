"""Posts a webhook signed by a provider's official SDK, as the provider would.

    twilio: signed_webhook.py twilio URL AUTH_TOKEN key=value ...
            (form-encoded; X-Twilio-Signature from twilio's RequestValidator;
            key:=value takes Python escapes in value, e.g. \x00 for a NUL)
    slack:  signed_webhook.py slack URL SIGNING_SECRET BODY [TIMESTAMP]
            (JSON; X-Slack-Signature from slack_sdk's SignatureVerifier)

Prints one JSON line: {"status": <HTTP status>, "body": <response text>}.
The tests use it as the independent client: if our verification drifts
from the SDK's signing, these requests fail.
"""

import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def post(url, body, headers):
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def twilio(url, token, pairs):
    from twilio.request_validator import RequestValidator

    params = {}
    for pair in pairs:
        key, value = pair.split("=", 1)
        if key.endswith(":"):
            key, value = key[:-1], value.encode("utf-8").decode("unicode_escape")
        params[key] = value
    signature = RequestValidator(token).compute_signature(url, params)
    body = urllib.parse.urlencode(params).encode()
    return post(url, body, {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature,
    })


def slack(url, secret, body, timestamp=None):
    from slack_sdk.signature import SignatureVerifier

    timestamp = timestamp or str(int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    return post(url, body.encode(), {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
    })


def main(argv):
    kind, url, secret, rest = argv[1], argv[2], argv[3], argv[4:]
    if kind == "twilio":
        status, text = twilio(url, secret, rest)
    elif kind == "slack":
        status, text = slack(url, secret, rest[0], rest[1] if len(rest) > 1 else None)
    else:
        raise SystemExit(f"unknown provider {kind}")
    print(json.dumps({"status": status, "body": text}))


if __name__ == "__main__":
    main(sys.argv)
