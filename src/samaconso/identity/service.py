"""The identity domain's service, as the router, the tasks and the CLI see it.

The rules live in rooms of one story each; this module only gathers the names callers use:

* ``context.py``   the call context (session, settings, rate limiter, storage, forget/notify callbacks)
* ``otp_codes.py`` one-time SMS codes: quotas, sending, checking, purging
* ``signup.py``    customer sign-up
* ``logins.py``    PIN and staff logins, failure counters and lockouts
* ``sessions.py``  sessions, refresh-token rotation, logout
* ``pins.py``      PIN reset and change
* ``devices.py``   devices, the 2-device limit, idle sign-outs
* ``profile.py``   the user's own profile and avatar; erasing it when the account closes
* ``staff.py``     staff accounts
* ``agencies.py``  agencies
* ``audit.py``     the security audit trail
"""

from __future__ import annotations

from samaconso.identity.agencies import create_agency, get_agency, list_agencies, patch_agency
from samaconso.identity.audit import list_audit
from samaconso.identity.context import Ctx, Forget
from samaconso.identity.devices import (
    list_devices,
    register_device,
    remove_device,
    sign_out_idle_devices,
)
from samaconso.identity.logins import login, staff_login
from samaconso.identity.otp_codes import purge_old_codes, request_otp
from samaconso.identity.pins import change_pin, reset_pin
from samaconso.identity.profile import (
    AVATAR_TYPES,
    ErasedAccount,
    erase_account,
    get_avatar,
    get_me,
    patch_me,
    set_avatar,
    user_out,
)
from samaconso.identity.sessions import Issued, logout, refresh
from samaconso.identity.signup import signup
from samaconso.identity.staff import create_staff, get_staff_user, list_staff, patch_staff

__all__ = [
    "AVATAR_TYPES",
    "Ctx",
    "ErasedAccount",
    "Forget",
    "Issued",
    "change_pin",
    "create_agency",
    "create_staff",
    "erase_account",
    "get_agency",
    "get_avatar",
    "get_me",
    "get_staff_user",
    "list_agencies",
    "list_audit",
    "list_devices",
    "list_staff",
    "login",
    "logout",
    "patch_agency",
    "patch_me",
    "patch_staff",
    "purge_old_codes",
    "refresh",
    "register_device",
    "remove_device",
    "request_otp",
    "reset_pin",
    "set_avatar",
    "sign_out_idle_devices",
    "signup",
    "staff_login",
    "user_out",
]
