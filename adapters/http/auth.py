"""Who may do what: bearer tokens per role, and signed webhooks for adapters.

Roles: ``adapter`` (post contact, offer, feedback and agent events, only as
its own ``source``; read its command stream), ``supervisor`` (live state,
stats, acknowledge alerts, post ``alert.acknowledged`` and ``team.absent``, raise
and work escalations; a supervisor token may name its ``team``),
``planner`` (stats). An adapter token serves some channels (``channels``; its
command stream carries only their commands, docs/ROUTING.md): by default the
``carrier`` adapter serves ``phone`` and the ``chat`` adapter ``chat`` (the two
vendor webhooks' channels), and any other adapter every channel. Which role posts which event type:
``adapters.http.wire.EVENT_ROLES``. Tokens come from an auth file (TOML) or from the environment
(``token_env``); only their SHA-256 digests are kept in memory and they are
compared in constant time. Secrets never reach a log: nothing here logs, and
the models keep them out of ``repr``.

Signed webhooks (Stripe-style): ``Linje-Signature: t=<unix>,kid=<key id>,
v1=<hex HMAC-SHA256 of "<t>.<body>">``; ``kid`` may be left out, then every
key of every adapter is tried (so a rotation can run two keys side by side).
A timestamp more than 300 s from the server's clock is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from adapters.config_file import load_model
from router.errors import ConfigError

__all__ = [
    "ROOT_ROLES",
    "V1_ROLES",
    "AuthConfig",
    "Authenticator",
    "Principal",
    "adapter_channels",
    "load_auth",
]

Role = Literal["adapter", "supervisor", "planner", "agent"]
SIGNATURE_TOLERANCE_S = 300
# Who may call each operation: (method, path below /v1 and /v1/helplines/{helpline},
# or from the root for the service's own routes). The handlers enforce it and the
# OpenAPI document's ``x-roles`` is written from it (an empty tuple: no token).
V1_ROLES: dict[tuple[str, str], tuple[Role, ...]] = {
    ("POST", "/events"): ("adapter", "supervisor", "agent"),  # each event type has its roles
    ("POST", "/adapters/carrier"): ("adapter",),
    ("POST", "/adapters/chat"): ("adapter",),
    ("GET", "/commands"): ("adapter",),
    ("GET", "/state"): ("supervisor",),
    ("GET", "/state/stream"): ("supervisor",),
    ("GET", "/stats"): ("supervisor", "planner"),
    ("POST", "/alerts/{alert_id}/acknowledge"): ("supervisor",),
    ("POST", "/escalations/{escalation_id}/steps/{step}"): ("supervisor",),
    ("POST", "/escalations/{escalation_id}/close"): ("supervisor",),
    ("GET", "/stats/escalations"): ("supervisor",),
    # An agent token (its name is the agent's id): its own contacts to register, the forms.
    ("GET", "/agent/contacts"): ("agent",),
    ("GET", "/agent/forms"): ("agent",),
    ("POST", "/agent/registrations"): ("agent",),
    ("GET", "/stats/content"): ("supervisor", "planner"),
}
ROOT_ROLES: dict[tuple[str, str], tuple[Role, ...]] = {
    ("GET", "/healthz"): (),
    ("GET", "/readyz"): (),
    ("GET", "/v1/openapi.json"): (),
    ("GET", "/metrics"): ("supervisor",),  # open without a token on a loopback bind
    ("GET", "/"): (),  # the dashboard's page and files (adapters/http/dashboard.py)
    ("GET", "/ui/{file}"): (),
    ("GET", "/agent"): (),  # the agent page (adapters/http/agent.py)
}

# The channels an adapter token serves when its entry names none: the vendor
# webhooks' adapters serve their vendor's channel; any other adapter every channel.
DEFAULT_ADAPTER_CHANNELS: dict[str, frozenset[str]] = {
    "carrier": frozenset({"phone"}),
    "chat": frozenset({"chat"}),
}


class TokenEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    role: Role
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,79}$")
    token: SecretStr | None = None
    token_env: str | None = None
    # adapter tokens only: the channels whose commands its stream carries
    channels: tuple[str, ...] | None = Field(default=None, min_length=1)
    # supervisor tokens only: the team whose supervisor this is (escalations name teams)
    team: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{0,39}$")

    @model_validator(mode="after")
    def _one_source(self) -> TokenEntry:
        if (self.token is None) == (self.token_env is None):
            raise ValueError("give exactly one of token or token_env")
        if self.channels is not None and self.role != "adapter":
            raise ValueError("channels is for adapter tokens only")
        if self.team is not None and self.role != "supervisor":
            raise ValueError("team is for supervisor tokens only")
        return self


class WebhookKey(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    adapter: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,79}$")
    key_id: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    secret: SecretStr | None = None
    secret_env: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> WebhookKey:
        if (self.secret is None) == (self.secret_env is None):
            raise ValueError("give exactly one of secret or secret_env")
        return self


MAX_SIGNATURE_HEADER = 512
_UNIX = re.compile(r"[0-9]{1,12}")  # used with fullmatch: ASCII digits only, no newline
_MAC = re.compile(r"[0-9a-f]{64}")
_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class AuthConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    # Development tokens: the service refuses them unless it binds to loopback.
    dev: bool = False
    tokens: tuple[TokenEntry, ...] = ()
    webhook_keys: tuple[WebhookKey, ...] = ()


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    name: str
    # an adapter's channels (its command stream); None: every channel
    channels: frozenset[str] | None = None
    team: str | None = None  # a supervisor's team (None: not tied to one)


def adapter_channels(name: str, channels: tuple[str, ...] | None) -> frozenset[str] | None:
    """The channels an adapter serves: its entry's, else the default for its name."""
    if channels is not None:
        return frozenset(channels)
    return DEFAULT_ADAPTER_CHANNELS.get(name)


def _secret(value: SecretStr | None, env: str | None, *, what: str, file: str) -> str:
    if value is not None:
        secret = value.get_secret_value()
    else:
        assert env is not None
        secret = os.environ.get(env, "")
        if not secret:
            raise ConfigError(f"environment variable {env} is empty or unset", file=file, key=what)
    if len(secret) < 16:
        raise ConfigError("must be at least 16 characters", file=file, key=what)
    return secret


class Authenticator:
    def __init__(self, config: AuthConfig, *, source: str = "(auth)") -> None:
        self.dev = config.dev
        self.source = source
        self._tokens: dict[bytes, Principal] = {}
        for i, t in enumerate(config.tokens):
            secret = _secret(t.token, t.token_env, what=f"tokens[{i}].token", file=source)
            channels = adapter_channels(t.name, t.channels) if t.role == "adapter" else None
            self._tokens[hashlib.sha256(secret.encode()).digest()] = Principal(
                t.role, t.name, channels, t.team
            )
        # Channels and teams named in the file (checked against the helplines' by the service).
        self.named_channels = frozenset(c for t in config.tokens for c in t.channels or ())
        self.named_teams = frozenset(t.team for t in config.tokens if t.team is not None)
        self._keys: list[tuple[str, str, bytes]] = [
            (
                k.key_id,
                k.adapter,
                _secret(
                    k.secret, k.secret_env, what=f"webhook_keys[{i}].secret", file=source
                ).encode(),
            )
            for i, k in enumerate(config.webhook_keys)
        ]

    def add_token(self, role: Role, name: str, token: str, team: str | None = None) -> None:
        """Add a token at run time (the demo's in-process adapter)."""
        channels = adapter_channels(name, None) if role == "adapter" else None
        self._tokens[hashlib.sha256(token.encode()).digest()] = Principal(
            role, name, channels, team
        )

    def bearer(self, header: str | None) -> Principal | None:
        """The principal for an ``Authorization: Bearer`` header, or None."""
        if not header or not header.startswith("Bearer "):
            return None
        # A header of non-UTF-8 bytes reaches here surrogate-escaped: hash those bytes.
        digest = hashlib.sha256(header[7:].strip().encode("utf-8", "surrogateescape")).digest()
        found: Principal | None = None
        # Compare against every digest so the time taken does not depend on which matched.
        for known, principal in self._tokens.items():
            if hmac.compare_digest(known, digest):
                found = principal
        return found

    def signature(
        self, header: str | None, body: bytes, *, now: float | None = None
    ) -> tuple[Principal | None, str]:
        """(principal, "") for a valid ``Linje-Signature``, else (None, reason)."""
        if not header:
            return None, "no Linje-Signature header"
        parts: dict[str, str] = {}
        if len(header) <= MAX_SIGNATURE_HEADER:
            for item in header.split(","):
                key, _, value = item.strip().partition("=")
                parts[key] = value
        t, sig, kid = parts.get("t", ""), parts.get("v1", ""), parts.get("kid")
        # Strict ASCII shapes: "²".isdigit() is True and int() of 5,000 digits raises.
        if (
            _UNIX.fullmatch(t) is None
            or _MAC.fullmatch(sig) is None
            or (kid is not None and _KEY_ID.fullmatch(kid) is None)
        ):
            return None, "Linje-Signature must be t=<unix>,v1=<hex> (optionally kid=<key id>)"
        now = time.time() if now is None else now
        if abs(now - int(t)) > SIGNATURE_TOLERANCE_S:
            return None, f"signature timestamp is more than {SIGNATURE_TOLERANCE_S} s from now"
        keys = [k for k in self._keys if kid is None or k[0] == kid]
        if not keys:
            return None, "unknown signing key id"
        message = t.encode() + b"." + body
        found: Principal | None = None
        for _, adapter, secret in keys:
            expected = hmac.new(secret, message, hashlib.sha256).hexdigest()
            if hmac.compare_digest(expected, sig):
                found = Principal("adapter", adapter)
        return (found, "") if found else (None, "signature does not match")

    @staticmethod
    def sign(secret: str, body: bytes, t: int, kid: str | None = None) -> str:
        """The ``Linje-Signature`` value an adapter sends (used by tests and the demo)."""
        mac = hmac.new(secret.encode(), str(t).encode() + b"." + body, hashlib.sha256).hexdigest()
        return f"t={t}," + (f"kid={kid}," if kid else "") + f"v1={mac}"


def load_auth(path: str | Path | None) -> Authenticator:
    if path is None:
        return Authenticator(AuthConfig())
    return Authenticator(load_model(AuthConfig, path), source=str(path))
