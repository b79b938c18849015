"""What staff may send (issue 12, people used as targets):

- types that describe an account's own security events (meter access granted/refused/revoked/
  requested, device signed out) are written by the system only, never by a person;
- ``urgent`` (the queue that jumps every other) is for administrators' outage messages;
- ``data.link`` opens the app (``samaconso://``) or a Senelec page (``https://…senelec.sn``) only:
  no phishing link travels under Senelec's name;
- each staff account sends at most :data:`SENDS_PER_HOUR` notifications an hour (router).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from samaconso.identity.principal import Principal
from samaconso.kit.errors import AppError
from samaconso.notifications.models import NotificationType, Priority
from samaconso.notifications.schemas import NotificationCreate

SYSTEM_TYPES = frozenset(
    {
        NotificationType.meter_access_requested,
        NotificationType.meter_access_granted,
        NotificationType.meter_access_refused,
        NotificationType.meter_access_revoked,
        NotificationType.device_signed_out,
    }
)
SENDS_PER_HOUR = 30
APP_SCHEME = "samaconso"
SENELEC_DOMAIN = "senelec.sn"


def link_allowed(link: str) -> bool:
    parts = urlsplit(link.strip())
    if parts.scheme == APP_SCHEME:
        return True
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and (host == SENELEC_DOMAIN or host.endswith("." + SENELEC_DOMAIN))


def check(staff: Principal, body: NotificationCreate) -> None:
    if body.type in SYSTEM_TYPES:
        raise AppError(
            403,
            "notification_type_reserved",
            "Ce type de notification est réservé au système.",
            "This notification type is reserved to the system.",
        )
    if body.priority == Priority.urgent and not (staff.is_admin and body.type == NotificationType.outage):
        raise AppError(
            403,
            "priority_reserved",
            "La priorité « urgente » est réservée aux coupures annoncées par un administrateur.",
            "The 'urgent' priority is reserved to outages announced by an administrator.",
        )
    for key, value in (body.data or {}).items():
        if key in ("link", "url", "deep_link") and not link_allowed(value):
            raise AppError(
                422,
                "link_not_allowed",
                "Lien refusé : seuls les liens de l'application (samaconso://) ou de senelec.sn sont permis.",
                "Link refused: only app links (samaconso://) or senelec.sn pages are allowed.",
            )
