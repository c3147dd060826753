"""Schemathesis hooks for scripts/schemathesis.sh (loaded through SCHEMATHESIS_HOOKS).

Idempotency-Key: the document says a key is kept per caller for 24 hours and that reusing it for
another request answers 422 IDEMPOTENCY_KEY_REUSED. Generated cases draw keys from a small space
("0", "00", ...), so they collide across operations and bodies; a real client sends a fresh key
per request. A key the document allows (1-128 visible ASCII characters) is therefore made unique
before each call; a key it forbids is left untouched so negative cases still test the refusal.
"""

import itertools
import re

import schemathesis

_VALID = re.compile(r"^[\x21-\x7e]{1,128}$")
_COUNTER = itertools.count()


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers
    if not headers:
        return
    for name in list(headers):
        if name.lower() != "idempotency-key":
            continue
        value = headers[name]
        if isinstance(value, str) and _VALID.match(value):
            suffix = f".st{next(_COUNTER)}"
            headers[name] = value[: 128 - len(suffix)] + suffix
