"""Staff authentication against the corporate directory (Active Directory, OpenLDAP in tests).

Search-then-bind: the service account searches the user's entry by a configurable attribute
(``sAMAccountName`` by default, value escaped for the filter), then we bind as the found DN with the
given password. ldap3 is blocking: the whole exchange runs in a worker thread, with connect and
receive timeouts, under a circuit breaker (the directory being down answers 503, not 401).
"""

from __future__ import annotations

import math
import ssl
from urllib.parse import urlsplit

import anyio
import structlog
from ldap3 import NONE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPBindError, LDAPException, LDAPInvalidCredentialsResult
from ldap3.utils.conv import escape_filter_chars

from samaconso.kit.outbound import CircuitBreaker
from samaconso.settings import Settings

log = structlog.get_logger(__name__)


class DirectoryUnavailable(RuntimeError):
    """The directory could not be reached or the service account was refused."""


def _timeout(settings: Settings) -> int:
    return max(1, math.ceil(settings.ldap_timeout_s))  # ldap3 wants whole seconds for socket options


def _tls(settings: Settings) -> Tls:
    """ldaps:// verifies the directory: chain against ``ldap_ca_bundle`` (or the system store),
    host name against the URL's host, TLS 1.2 at least (Python's default context). A rogue server
    never sees the service account's bind nor a staff password: the handshake fails first (503)."""
    host = urlsplit(settings.ldap_url).hostname
    return Tls(
        validate=ssl.CERT_REQUIRED,
        ca_certs_file=str(settings.ldap_ca_bundle) if settings.ldap_ca_bundle else None,
        sni=host,
    )


def _server(settings: Settings) -> Server:
    secure = settings.ldap_url.lower().startswith("ldaps://")
    return Server(
        settings.ldap_url,
        get_info=NONE,
        connect_timeout=settings.ldap_timeout_s,
        tls=_tls(settings) if secure else None,
    )


def check_password_sync(settings: Settings, login: str, password: str) -> bool:
    """True when ``login`` exists exactly once in the directory and ``password`` binds as it."""
    if not password or not login:
        return False  # an empty password would be an anonymous (always successful) bind
    server = _server(settings)
    attribute = settings.ldap_login_attribute
    search_filter = f"({attribute}={escape_filter_chars(login)})"
    try:
        service = Connection(
            server,
            user=settings.ldap_bind_dn,
            password=settings.ldap_bind_password.get_secret_value() if settings.ldap_bind_password else None,
            receive_timeout=_timeout(settings),
            raise_exceptions=True,
            read_only=True,
        )
        with service:
            service.search(
                settings.ldap_base_dn,
                search_filter,
                search_scope=SUBTREE,
                attributes=[attribute],
                size_limit=2,
                time_limit=_timeout(settings),
            )
            entries = [e for e in service.response or [] if e.get("type") == "searchResEntry"]
    except (LDAPException, OSError) as exc:
        log.warning("ldap_search_failed", error=type(exc).__name__)
        raise DirectoryUnavailable(type(exc).__name__) from exc
    if len(entries) != 1:
        return False
    user_dn = str(entries[0]["dn"])
    try:
        user_conn = Connection(
            server,
            user=user_dn,
            password=password,
            receive_timeout=_timeout(settings),
            raise_exceptions=True,
            read_only=True,
        )
        user_conn.bind()
        user_conn.unbind()
    except (LDAPBindError, LDAPInvalidCredentialsResult):
        return False
    except (LDAPException, OSError) as exc:
        log.warning("ldap_bind_failed", error=type(exc).__name__)
        raise DirectoryUnavailable(type(exc).__name__) from exc
    return True


class Directory:
    """The corporate directory as the API process sees it: built at start-up with its own circuit
    breaker (``samaconso/wiring.py``), handed to the identity services through their context."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.breaker = CircuitBreaker("ldap", failure_threshold=5, reset_timeout_s=30)

    async def check_password(self, login: str, password: str) -> bool:
        settings = self.settings

        async def _call() -> bool:
            return await anyio.to_thread.run_sync(check_password_sync, settings, login, password)

        return await self.breaker.call(_call, timeout_s=settings.ldap_timeout_s * 3 + 1)
