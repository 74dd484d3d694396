"""Generates the X-Twilio-Signature test vectors hard-coded in
src/channels/twilio/signature.rs, using the official SDK (twilio 9.13.0):

    python3 -m venv /tmp/twilio-venv && /tmp/twilio-venv/bin/pip install twilio==9.13.0
    /tmp/twilio-venv/bin/python tests/clients/twilio_signature_vectors.py

Every vector is also checked with RequestValidator.validate, so the printed
expectations (which URL forms validate) are the SDK's own answers.
"""

import hashlib
import json

import twilio
from twilio.request_validator import RequestValidator

TOKEN = "12345"  # the token Twilio's own SDK tests use
v = RequestValidator(TOKEN)


class MultiDict(dict):
    """A form with repeated keys, as Flask's MultiDict presents it (getall)."""

    def __init__(self, pairs):
        super().__init__()
        self.pairs = pairs
        for k, _ in pairs:
            self[k] = None

    def getall(self, k):
        return [val for key, val in self.pairs if key == k]


out = {"twilio_version": twilio.__version__, "token": TOKEN, "form": [], "body": []}

WHATSAPP = [
    ("SmsMessageSid", "SM1f0e8ae6ade43cb3c0ce4525424e404f"),
    ("NumMedia", "1"),
    ("ProfileName", "Marisol Ortega"),
    ("SmsSid", "SM1f0e8ae6ade43cb3c0ce4525424e404f"),
    ("WaId", "447700900418"),
    ("SmsStatus", "received"),
    ("Body", "Olá! My invoice is wrong ✓ & 100% off?"),
    ("To", "whatsapp:+14155238886"),
    ("NumSegments", "1"),
    ("MessageSid", "SM1f0e8ae6ade43cb3c0ce4525424e404f"),
    ("AccountSid", "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"),
    ("From", "whatsapp:+447700900418"),
    ("MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"),
    ("MediaContentType0", "image/jpeg"),
    ("ApiVersion", "2010-04-01"),
]
REPEATED = [("b", "2"), ("a", "z"), ("b", "1"), ("a", "y"), ("b", "2"), ("A", "x"), ("b", "10")]

cases = [
    ("whatsapp_https_no_port", "https://support.example.com/twilio/whatsapp?tenant=acme", WHATSAPP),
    ("whatsapp_https_443", "https://support.example.com:443/twilio/whatsapp?tenant=acme", WHATSAPP),
    ("repeated_http_no_port", "http://support.example.com/hook", REPEATED),
    ("repeated_http_80", "http://support.example.com:80/hook", REPEATED),
    ("empty_params_https", "https://support.example.com/hook", []),
    ("nondefault_port", "https://support.example.com:8443/hook", [("From", "whatsapp:+12025550147")]),
]
for name, url, pairs in cases:
    params = MultiDict(pairs)
    sig = v.compute_signature(url, params)
    # The other spelling of the URL, as the validator computes it.
    out["form"].append({"name": name, "url": url, "params": pairs, "signature": sig})
    assert v.validate(url, params, sig), name
    # Tampering with any value breaks it.
    if pairs:
        tampered = MultiDict([(k, val + "x") if i == 0 else (k, val) for i, (k, val) in enumerate(pairs)])
        assert not v.validate(url, tampered, sig), name

# Cross-checks the Rust tests repeat: a signature made over one spelling of
# the URL validates against the other.
checks = []
for signed, presented, pairs in [
    ("https://support.example.com:443/twilio/whatsapp?tenant=acme", "https://support.example.com/twilio/whatsapp?tenant=acme", WHATSAPP),
    ("https://support.example.com/twilio/whatsapp?tenant=acme", "https://support.example.com:443/twilio/whatsapp?tenant=acme", WHATSAPP),
    ("http://support.example.com:80/hook", "http://support.example.com/hook", REPEATED),
    ("http://support.example.com/hook", "http://support.example.com:80/hook", REPEATED),
    ("https://support.example.com/hook", "https://support.example.com:8443/hook", [("From", "whatsapp:+12025550147")]),
    ("https://support.example.com:80/hook", "https://support.example.com/hook", [("From", "whatsapp:+12025550147")]),
    ("https://support.example.com:443/hook", "http://support.example.com/hook", [("From", "whatsapp:+12025550147")]),
]:
    sig = v.compute_signature(signed, MultiDict(pairs))
    checks.append({"signed": signed, "presented": presented, "signature": sig,
                   "valid": v.validate(presented, MultiDict(pairs), sig)})
out["cross"] = checks

for name, base, body in [
    ("json_https", "https://support.example.com/twilio/events?tenant=acme&bodySHA256=", '{"MessageSid":"SM1","MessageStatus":"delivered","note":"olá"}'),
    ("json_https_443", "https://support.example.com:443/twilio/events?bodySHA256=", '{"a":1}'),
]:
    h = hashlib.sha256(body.encode("utf-8")).hexdigest()
    url = base + h
    sig = v.compute_signature(url, {})
    assert v.validate(url, body, sig), name
    assert not v.validate(url, body + " ", sig), name
    out["body"].append({"name": name, "url": url, "body": body, "sha256": h, "signature": sig,
                        "valid_with_other_body": v.validate(url, body + " ", sig)})

print(json.dumps(out, indent=1, ensure_ascii=False))
