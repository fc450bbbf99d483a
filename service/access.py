"""Who may do what through the HTTP service: API keys, roles and the principal a request acts as.

Pure: no I/O. Keys are made and checked here; the application layer (service/app.py) stores them
(their SHA-256 only, storage ``api_keys``) and the HTTP layer (service/http) asks :func:`allowed`
before it calls a use case, then narrows what a rights holder or an uploader sees to their own.

A key is ``psk_<prefix>_<secret>``: 128 random bits of prefix-and-secret in URL-safe base64 (the
prefix, shown in listings, tells keys apart; the whole key is never stored). A 256-bit random token
needs no slow password hash: its SHA-256 cannot be searched back to it.

Roles (what each may do, by capability):

======================  ========  ==============  ========  ========
capability              operator  rights_holder   reviewer  uploader
======================  ========  ==============  ========  ========
works (register, rules,    yes     their own works    -         -
exclusions, licences,
notices, removal)
works.priority             yes        -               -         -
claims (uploads that       yes     on their works     -         -
matched a work)
screen (uploads, jobs)     yes        -               -      their own
uploads.read               yes        -              yes     their own
dispute                    yes        -               -      their own
reviews (queue, evidence,  yes        -              yes        -
decisions)
audit, keys, index, paths  yes        -               -         -
report                     yes       yes             yes       yes
======================  ========  ==============  ========  ========
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

OPERATOR, RIGHTS_HOLDER, REVIEWER, UPLOADER = "operator", "rights_holder", "reviewer", "uploader"
ROLES = (OPERATOR, RIGHTS_HOLDER, REVIEWER, UPLOADER)
# roles whose keys act for someone: a rights holder for an owner (the ``owner`` its works carry), an
# uploader for an uploader id
SUBJECT_ROLES = {RIGHTS_HOLDER: "owner", UPLOADER: "uploader id"}

CAPABILITIES: dict[str, frozenset[str]] = {
    "works": frozenset({OPERATOR, RIGHTS_HOLDER}),
    "works.priority": frozenset({OPERATOR}),
    "claims": frozenset({OPERATOR, RIGHTS_HOLDER}),
    "screen": frozenset({OPERATOR, UPLOADER}),
    "uploads.read": frozenset({OPERATOR, REVIEWER, UPLOADER}),
    "dispute": frozenset({OPERATOR, UPLOADER}),
    "reviews": frozenset({OPERATOR, REVIEWER}),
    "audit": frozenset({OPERATOR}),
    "keys": frozenset({OPERATOR}),
    "index": frozenset({OPERATOR}),
    "paths": frozenset({OPERATOR}),
    "report": frozenset(ROLES),
}

KEY_PREFIX = "psk_"
_KEY_RE = re.compile(r"^psk_([A-Za-z0-9_-]{8})_([A-Za-z0-9_-]{32,64})$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MAX_SUBJECT_CHARS = 200


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: the key's ``name`` (the audit log's actor), its role, and for a rights
    holder the owner, for an uploader the uploader id, it acts for (``subject``)."""

    name: str
    role: str
    subject: str | None = None

    def can(self, capability: str) -> bool:
        return allowed(self.role, capability)

    @property
    def is_operator(self) -> bool:
        return self.role == OPERATOR


def allowed(role: str, capability: str) -> bool:
    """Whether ``role`` has ``capability`` (a key of CAPABILITIES; an unknown one: nobody)."""
    return role in CAPABILITIES.get(capability, frozenset())


def new_key() -> tuple[str, str, str]:
    """A new key: (the key to show once, its prefix, its SHA-256 to store)."""
    prefix = secrets.token_urlsafe(6)[:8]
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    return key, prefix, key_digest(key)


def key_digest(key: str) -> str:
    """SHA-256 (hex) of a key: what the catalog stores and looks keys up by."""
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def looks_like_key(text: str) -> bool:
    """Whether ``text`` has a key's form (checked before any lookup: junk is refused cheaply)."""
    return bool(_KEY_RE.match(text))


def same_digest(a: str, b: str) -> bool:
    """Constant-time comparison of two digests."""
    return hmac.compare_digest(a.encode(), b.encode())


def check_key_request(name: str, role: str, subject: str | None) -> str | None:
    """Why a key cannot be made with these fields (None: it can). ``name`` is the audit log's actor:
    letters, digits and ``._@-``, at most 64; a rights holder's and an uploader's key name whom it acts
    for (``subject``); the other roles' keys act for nobody."""
    if not _NAME_RE.match(name or ""):
        return (f"key name {name!r} must be 1-64 letters, digits or ._@- (starting with a letter or digit): it is "
                "the actor the audit log records")
    if role not in ROLES:
        return f"role {role!r} is not one of {', '.join(ROLES)}"
    if role in SUBJECT_ROLES:
        if not subject or not subject.strip() or len(subject) > MAX_SUBJECT_CHARS or not subject.isprintable():
            return (f"a {role} key needs the {SUBJECT_ROLES[role]} it acts for (--subject, printable, at most "
                    f"{MAX_SUBJECT_CHARS} characters)")
    elif subject:
        return f"a {role} key acts for nobody: give no subject"
    return None


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Prescreen-Signature`` of a webhook delivery: ``sha256=<hex HMAC-SHA-256>`` of
    ``<timestamp>.<body>`` under the webhook's secret (the timestamp, sent as
    ``X-Prescreen-Timestamp``, lets a receiver refuse old deliveries replayed)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"
