"""The contract the mobile team builds on: the OpenAPI document and the offline docs.

FastAPI writes a first draft from the routes; :func:`build_openapi` makes it truthful:

- readable ``operationId`` s, a summary and a description per operation (:data:`OPERATIONS`), tag
  descriptions, ``servers`` from the public base URL;
- a bearer ``securitySchemes`` and per-operation ``security`` (``[]`` on the public routes);
- every error status an operation can answer, as ``application/problem+json`` with one shared
  ``Problem`` schema whose ``code`` is enumerated per operation and status (statuses and texts from
  the catalogue in :mod:`samaconso.kit.errors`); the codes are :func:`generic_codes` (shared by
  every route of a shape) plus what the endpoint can reach, read from the source
  (:mod:`samaconso.kit.raised_codes`), plus the few ``Op.errors`` a source scan cannot see;
  FastAPI's ``HTTPValidationError`` is gone;
- ``deprecated: true`` and the ``Deprecation`` / ``Sunset`` / ``Link`` headers for an operation
  marked ``Op(..., deprecated=Deprecation(...))`` (:mod:`samaconso.kit.deprecation`);
- the ``X-Request-ID`` and ``Content-Language`` headers on every response, ``Retry-After`` on 429/503;
- an example for every request and response body (:mod:`samaconso.kit.openapi_examples`).

The docs (Swagger UI at ``/docs``, ReDoc at ``/redoc``) are served with their JavaScript and CSS from
the ``fastapi-offline`` wheel (MIT; it ships Swagger UI, Apache-2.0, and ReDoc, MIT): no CDN, no
third-party script in a page that holds staff tokens. A strict Content-Security-Policy says so.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request

from samaconso.kit.deprecation import (
    DEPRECATION_HEADERS_DOC,
    DeprecatedRoute,
    Deprecation,
    DeprecationHeadersMiddleware,
)
from samaconso.kit.errors import ERROR_CATALOGUE, PROBLEM_JSON, codes_for_status
from samaconso.kit.inputs import MAX_YEAR, MIN_YEAR
from samaconso.kit.openapi_examples import example_for, problem_example
from samaconso.kit.raised_codes import CodeIndex, package_index

DOCS_ASSETS = "/docs/assets"
BEARER = "bearerAuth"
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


@dataclass(frozen=True)
class Op:
    """What the document says about one operation."""

    id: str
    summary: str
    description: str
    # Catalogue codes the source does not show (a code chosen at run time, a call through an object):
    # the generic ones (generic_codes) and those its code reaches (kit/raised_codes) are added.
    errors: tuple[str, ...] = ()
    # Announced for removal: `deprecated: true`, and Deprecation / Sunset / Link headers on every answer.
    deprecated: Deprecation | None = None


# (method, path) -> the operation. ``tests/contract`` checks that every route is here.
OPERATIONS: dict[tuple[str, str], Op] = {
    # the agency console's staff routes (console/router.py)
    ("GET", "/api/v1/staff/customers"): Op(
        "searchCustomers",
        "Find a customer",
        "By phone in any form, name, meter or contract number. Agents: their agency's customers only.",
    ),
    ("GET", "/api/v1/staff/customers/{customer_id}"): Op(
        "getCustomerFile",
        "A customer's file",
        "Profile, meters with who shares them, devices, requests, notifications received.",
    ),
    ("GET", "/api/v1/staff/customers/{customer_id}/meters/{meter_id}/purchases"): Op(
        "listCustomerPurchases",
        "A customer's Woyofal purchases",
        "The last 12 months with their tokens, newest first, by pages (cursor).",
    ),
    ("GET", "/api/v1/staff/customers/{customer_id}/meters/{meter_id}/bills"): Op(
        "listCustomerBills",
        "A customer's bills",
        "The last 12 months, newest first, by pages (cursor).",
    ),
    (
        "POST",
        "/api/v1/staff/customers/{customer_id}/meters/{meter_id}/purchases/{order_number}/resend-token",
    ): Op(
        "resendToken",
        "Re-send a purchase's token by SMS",
        "To the customer's own phone. Audited (`token_resent`).",
    ),
    ("POST", "/api/v1/staff/customers/{customer_id}/unlock"): Op(
        "unlockCustomer",
        "Unlock a customer's account",
        "Lifts a PIN lockout. Audited (`customer_unlocked`).",
    ),
    ("POST", "/api/v1/staff/customers/{customer_id}/pin-reset-code"): Op(
        "sendPinResetCode",
        "Send a PIN-reset code",
        'The same code and quotas as the app\'s "PIN oublié". Audited.',
    ),
    ("POST", "/api/v1/staff/customers/{customer_id}/requests"): Op(
        "fileRequestForCustomer",
        "File a request for a customer",
        "At the counter; attachments are files the agent uploaded. Audited.",
    ),
    ("GET", "/api/v1/staff/colleagues"): Op(
        "listColleagues",
        "Colleagues a request can be given to",
        "Active staff of the caller's agency (administrators: any agency, or all), by name, by pages "
        "(cursor).",
    ),
    ("PUT", "/api/v1/me/password"): Op(
        "changeMyPassword",
        "Change my password (staff)",
        "Local staff accounts; the other sessions end. Directory accounts change it in the directory.",
    ),
    # system
    ("GET", "/health"): Op(
        "getHealth", "Liveness", "Answers 200 with `status: running` while the process serves (the F5 probe)."
    ),
    ("GET", "/health/ready"): Op(
        "getReadiness",
        "Readiness",
        "Checks PostgreSQL, Redis, the broker and S3. 503 (with `Retry-After`) when one fails.",
    ),
    ("GET", "/api/v1/errors"): Op(
        "listErrorCodes",
        "Error catalogue",
        "Every `code` the API can answer in a problem, with its HTTP status and its French and English text.",
    ),
    # identity: sign-up and sign-in
    ("POST", "/api/v1/auth/otp"): Op(
        "requestOtp",
        "Send a verification code",
        "Sends a 6-digit code by SMS for sign-up or PIN reset. The answer is the same whether the number "
        "has an account or not. Limited per number and per address.",
    ),
    ("POST", "/api/v1/auth/signup"): Op(
        "signUp",
        "Create a customer account",
        "Creates the account from the SMS code and a 4-digit PIN and signs the device in (token pair).",
    ),
    ("POST", "/api/v1/auth/login"): Op(
        "logIn",
        "Customer sign-in",
        "Phone number and PIN. Repeated failures lock the account for a while (423).",
    ),
    ("POST", "/api/v1/auth/staff/login"): Op(
        "logInStaff",
        "Staff sign-in",
        "Agents and administrators: login and password (Active Directory or local account).",
    ),
    ("POST", "/api/v1/auth/refresh"): Op(
        "refreshTokens",
        "Refresh the token pair",
        "Trades a refresh token for a new pair. Each refresh token works once.",
    ),
    ("POST", "/api/v1/auth/pin/reset"): Op(
        "resetPin",
        "Reset a forgotten PIN",
        "With the SMS code sent for `pin_reset`. Every session of the account is signed out.",
    ),
    ("POST", "/api/v1/auth/logout"): Op(
        "logOut", "Sign out", "Ends this session (or every session with `all: true`)."
    ),
    # identity: my account
    ("GET", "/api/v1/me"): Op("getMe", "My profile", "The signed-in user's profile."),
    ("PATCH", "/api/v1/me"): Op(
        "updateMe", "Update my profile", "Names, e-mail and language (`fr` or `en`)."
    ),
    ("DELETE", "/api/v1/me"): Op(
        "deleteMe",
        "Delete my account",
        "Customers only: the account is closed and its personal data removed.",
    ),
    ("PUT", "/api/v1/me/pin"): Op(
        "changePin",
        "Change my PIN",
        "Customers: the current PIN and a new, different one.",
    ),
    ("GET", "/api/v1/me/avatar"): Op(
        "getMyAvatar",
        "My profile picture",
        "The picture's bytes (JPEG, PNG or WebP).",
    ),
    ("PUT", "/api/v1/me/avatar"): Op(
        "putMyAvatar",
        "Set my profile picture",
        "JPEG, PNG or WebP (checked by content), 2 MB at most, as the raw body or one multipart file.",
    ),
    ("POST", "/api/v1/me/devices"): Op(
        "registerMyDevice",
        "Register this device for push",
        "Records or refreshes the device's FCM token.",
    ),
    ("GET", "/api/v1/me/devices"): Op(
        "listMyDevices", "My devices", "Devices signed in to my account, most recent first."
    ),
    ("DELETE", "/api/v1/me/devices/{device_id}"): Op(
        "removeMyDevice", "Remove a device", "Signs the device out and stops its push messages."
    ),
    # identity: staff administration
    ("POST", "/api/v1/admin/users"): Op(
        "createStaffUser",
        "Create a staff account",
        "Administrators: an agent (with an agency) or an administrator.",
    ),
    ("GET", "/api/v1/admin/users"): Op(
        "listStaffUsers", "Staff accounts", "Administrators: staff accounts, filtered by role or agency."
    ),
    ("GET", "/api/v1/admin/users/{user_id}"): Op(
        "getStaffUser", "One staff account", "Administrators: one account."
    ),
    ("PATCH", "/api/v1/admin/users/{user_id}"): Op(
        "updateStaffUser",
        "Update a staff account",
        "Administrators: role, agency, activation, password.",
    ),
    ("GET", "/api/v1/admin/audit"): Op(
        "listAuditEvents", "Audit trail", "Administrators: security events, newest first."
    ),
    ("GET", "/api/v1/agencies"): Op("listAgencies", "Agencies", "Senelec agencies (staff)."),
    ("POST", "/api/v1/agencies"): Op("createAgency", "Create an agency", "Administrators."),
    ("GET", "/api/v1/agencies/{agency_id}"): Op("getAgency", "One agency", "Staff."),
    ("PATCH", "/api/v1/agencies/{agency_id}"): Op("updateAgency", "Update an agency", "Administrators."),
    # meters
    ("POST", "/api/v1/me/meters"): Op(
        "addMyMeter",
        "Add a meter",
        "A Woyofal meter number or a postpaid contract account. Active at once when the legacy record "
        "carries my phone number; otherwise pending until its owner approves (one pending request per "
        "meter; none for a day after the owner refused or removed me, `Retry-After`; the owner is "
        "pushed once a day at most per requester and meter, and holds at most 20 pending requests).",
    ),
    ("GET", "/api/v1/me/meters"): Op(
        "listMyMeters", "My meters", "The meters I follow, default first, with their status."
    ),
    ("GET", "/api/v1/me/meters/suggestions"): Op(
        "listMyMeterSuggestions",
        "Meters registered under my phone",
        "Meters and contracts of the legacy systems that carry my phone number and that I have not added.",
    ),
    ("GET", "/api/v1/me/meters/{meter_id}"): Op("getMyMeter", "One of my meters", "One meter I follow."),
    ("DELETE", "/api/v1/me/meters/{meter_id}"): Op(
        "removeMyMeter", "Remove a meter from my list", "Stops following the meter."
    ),
    ("PUT", "/api/v1/me/meters/{meter_id}/default"): Op(
        "setMyDefaultMeter",
        "Make a meter my default",
        "The default meter opens the home screen.",
    ),
    ("GET", "/api/v1/me/meter-access-requests"): Op(
        "listMyMeterAccessRequests",
        "Access requests on my meters",
        "Pending requests from other customers to follow a meter I own.",
    ),
    ("POST", "/api/v1/me/meter-access-requests/{request_id}/approve"): Op(
        "approveMeterAccessRequest",
        "Approve an access request",
        "The requester starts following the meter.",
    ),
    ("POST", "/api/v1/me/meter-access-requests/{request_id}/refuse"): Op(
        "refuseMeterAccessRequest",
        "Refuse an access request",
        "The requester is told; the meter stays private.",
    ),
    ("DELETE", "/api/v1/me/meters/{meter_id}/members/{user_id}"): Op(
        "revokeMeterMember",
        "Withdraw a customer's access",
        "The owner withdraws another customer's access (or pending request) to the meter.",
    ),
    ("GET", "/api/v1/meters"): Op(
        "lookUpMeters",
        "Find meters by number",
        "Staff: agents see their agency's meters, administrators every meter.",
    ),
    # consumption
    ("GET", "/api/v1/me/meters/{meter_id}/purchases"): Op(
        "listMyMeterPurchases",
        "Woyofal purchases",
        "Purchases of a prepaid meter, newest first (default: the last 12 months).",
    ),
    ("GET", "/api/v1/me/meters/{meter_id}/bills"): Op(
        "listMyMeterBills",
        "Postpaid bills",
        "Bills of a postpaid contract, newest first (default: the last 12 months).",
    ),
    ("GET", "/api/v1/me/meters/{meter_id}/contract"): Op(
        "getMyMeterContract",
        "Contract details",
        "The contract behind a meter: holder, tariff, address, power.",
    ),
    ("GET", "/api/v1/me/meters/{meter_id}/consumption/monthly"): Op(
        "getMyMeterMonthlyConsumption",
        "Monthly consumption",
        "kWh and FCFA per month of a year (default: this year).",
    ),
    ("GET", "/api/v1/me/meters/{meter_id}/summary"): Op(
        "getMyMeterSummary",
        "Home screen summary",
        "This month's kWh and FCFA, tranche reached, kWh left, last purchase or bill.",
    ),
    # tariffs
    ("GET", "/api/v1/tariffs"): Op(
        "listTariffs",
        "Tariff versions",
        "Versions in force today (or on `on`), or every version with `history=true`.",
    ),
    ("GET", "/api/v1/tariffs/{code}/bands"): Op(
        "listTariffBands",
        "Threshold bands of a tariff",
        "kWh ranges and their colours, in the caller's language.",
    ),
    ("POST", "/api/v1/admin/tariffs"): Op(
        "addTariffVersion",
        "Add a tariff version",
        "Administrators: a new version applies from its effective date; the grid is checked "
        "(`problems` lists what is wrong, in the caller's language).",
    ),
    ("POST", "/api/v1/simulator/prepaid"): Op(
        "simulatePrepaid",
        "Woyofal simulator",
        "kWh for an amount, or the amount for kWh, given this month's purchases.",
    ),
    ("POST", "/api/v1/simulator/postpaid"): Op(
        "simulatePostpaid",
        "Postpaid bill estimate",
        "The bill for kWh over N billed days.",
    ),
    # notifications
    ("POST", "/api/v1/notifications"): Op(
        "createNotification",
        "Send a notification",
        "Staff: to one user, a meter's users, an agency, all agencies, everyone or an outage zone. "
        "Accepted at once; delivery runs in the background. `Idempotency-Key` is honoured 24 h.",
    ),
    ("GET", "/api/v1/notifications"): Op(
        "listSentNotifications",
        "Notifications sent by staff",
        "Newest first: administrators every one, agents theirs and their agency's.",
    ),
    ("POST", "/api/v1/notifications/{notification_id}/withdraw"): Op(
        "withdrawNotification",
        "Withdraw a notification",
        "Gone from every feed at once; pushes not yet sent are stopped. Audited.",
    ),
    ("GET", "/api/v1/notifications/{notification_id}"): Op(
        "getNotificationDelivery",
        "Delivery figures of a notification",
        "Staff: targeted, sent, failed and pending counts.",
    ),
    ("GET", "/api/v1/me/notifications"): Op(
        "listMyNotifications", "My notifications", "My notification feed, newest first."
    ),
    ("GET", "/api/v1/me/notifications/unread-count"): Op(
        "getMyUnreadNotificationCount", "Unread count", "How many notifications I have not read."
    ),
    ("POST", "/api/v1/me/notifications/read-all"): Op(
        "markAllMyNotificationsRead", "Mark all as read", "Every notification of my feed becomes read."
    ),
    ("POST", "/api/v1/me/notifications/{notification_id}/read"): Op(
        "markMyNotificationRead", "Mark one as read", "One notification becomes read."
    ),
    ("DELETE", "/api/v1/me/notifications/{notification_id}"): Op(
        "hideMyNotification", "Hide a notification", "Removes it from my feed."
    ),
    # requests
    ("GET", "/api/v1/request-types"): Op(
        "listRequestTypes", "Request types", "The request types a customer can choose from."
    ),
    ("GET", "/api/v1/admin/request-types"): Op(
        "listAllRequestTypes", "Every request type", "Administrators: active and inactive types."
    ),
    ("POST", "/api/v1/admin/request-types"): Op(
        "createRequestType", "Create a request type", "Administrators."
    ),
    ("PATCH", "/api/v1/admin/request-types/{type_id}"): Op(
        "updateRequestType", "Update a request type", "Administrators."
    ),
    ("POST", "/api/v1/me/requests"): Op(
        "submitMyRequest",
        "File a request",
        "A request to my agency (claim, information, connection…), optionally about one of my meters "
        "and with uploaded documents.",
    ),
    ("GET", "/api/v1/me/requests"): Op("listMyRequests", "My requests", "My requests, newest first."),
    ("GET", "/api/v1/me/requests/{request_id}"): Op(
        "getMyRequest",
        "One of my requests",
        "With its newest 20 history entries and comments; `older_events_cursor` pages through the "
        "older ones at `/timeline`.",
    ),
    ("GET", "/api/v1/me/requests/{request_id}/timeline"): Op(
        "listMyRequestTimeline",
        "My request's timeline",
        "Status changes and messages of my request, newest first.",
    ),
    ("POST", "/api/v1/me/requests/{request_id}/comments"): Op(
        "commentMyRequest",
        "Comment on my request",
        "Adds a message for the agent handling it (2 000 characters at most; 10 an hour and 100 in "
        "all per author and request).",
    ),
    ("POST", "/api/v1/me/requests/{request_id}/cancel"): Op(
        "cancelMyRequest",
        "Cancel my request",
        "Only while it is not resolved.",
    ),
    ("GET", "/api/v1/requests"): Op(
        "listRequests",
        "Requests to handle",
        "Agents: their agency's requests. Administrators: all, one agency, or the national queue.",
    ),
    ("POST", "/api/v1/requests/{request_id}/assignment"): Op(
        "assignRequest",
        "Give a request to a colleague",
        "To an active agent of the request's agency (or an administrator); recorded in its timeline. "
        "Audited (`request_assigned`: who, from whom, to whom).",
    ),
    ("POST", "/api/v1/requests/{request_id}/transfer"): Op(
        "transferRequest",
        "Transfer a request to another agency",
        "Into another agency's queue, unassigned there; it leaves an agent's own queue. "
        "Audited (`request_transferred`: who, from and to agency, the assignee it had).",
    ),
    ("GET", "/api/v1/requests/{request_id}"): Op(
        "getRequest",
        "One request (staff)",
        "With the customer, the newest 20 history entries and comments (`older_events_cursor`: the "
        "older ones at `/timeline`).",
    ),
    ("GET", "/api/v1/requests/{request_id}/timeline"): Op(
        "listRequestTimeline",
        "A request's timeline (staff)",
        "Status changes and messages of the request, newest first.",
    ),
    ("PATCH", "/api/v1/requests/{request_id}"): Op(
        "updateRequest",
        "Handle a request",
        "Take it (`assign_to_me`), move it (`status`) and/or write to the customer (`comment`, 2 000 "
        "characters at most; a message alone: 10 an hour and 100 in all per author and request). "
        "Taking it is audited (`request_assigned`).",
    ),
    # files
    ("POST", "/api/v1/files"): Op(
        "uploadFile",
        "Upload a document",
        "One PDF, JPEG or PNG as `multipart/form-data` field `file`, to attach to a request.",
    ),
    ("GET", "/api/v1/files/{file_id}"): Op(
        "getFileDownload",
        "Download link of a document",
        "A short-lived (≤ 5 min) link, for the owner and the staff handling the request.",
    ),
    ("DELETE", "/api/v1/files/{file_id}"): Op(
        "deleteFile",
        "Delete a document",
        "One of my documents not attached to a request yet.",
    ),
    # subscriptions
    ("GET", "/api/v1/subscription-notices/{number}"): Op(
        "followSubscriptionNotice",
        "Follow a connection request",
        "Public: the progress of a new-connection request, by notice number and the phone given with it.",
    ),
    # dashboard
    ("GET", "/api/v1/dashboard"): Op(
        "getDashboard",
        "Staff dashboard",
        "Agents: their agency's figures. Administrators: national figures, or one agency's.",
    ),
    # issue 18 screens and the v2 cutover (added after the rebase; error codes from their services)
    ("GET", "/api/v1/me/meters/{meter_id}/members"): Op(
        "listMyMeterMembers",
        "Who shares my meter",
        "The owner's view: who shares this meter (since when) and who asks to.",
    ),
    ("POST", "/api/v1/meters/access-requests/{link_id}/decide"): Op(
        "decideMeterAccessAtCounter",
        "Decide an access request at the counter",
        "Agent of the meter's agency or administrator: approve or refuse a pending or expired request.",
    ),
    ("GET", "/api/v1/me/meters/{meter_id}/bills/{bill_id}/pdf"): Op(
        "getMyBillPdf",
        "A bill as a PDF invoice",
        "One bill as a French PDF invoice.",
    ),
    ("GET", "/api/v1/me/purchases"): Op(
        "listAllMyPurchases",
        "Purchases of all my meters",
        "Woyofal purchases of all my meters, newest first.",
    ),
    ("PUT", "/api/v1/me/alerts"): Op(
        "putMyAlerts",
        "Set my alerts",
        "A monthly kWh or FCFA threshold per meter (replaces them all).",
    ),
    ("GET", "/api/v1/me/alerts"): Op("listMyAlerts", "My alerts", "My consumption alerts."),
    ("POST", "/api/v1/me/requests/{request_id}/reopen"): Op(
        "reopenMyRequest",
        "Reopen my request",
        "Within 14 days of its closing (back to in progress).",
    ),
    ("POST", "/api/v1/me/requests/{request_id}/rating"): Op(
        "rateMyRequest",
        "Rate my request",
        "1 to 5 and a comment, once per resolution.",
    ),
    ("GET", "/api/v1/app/config"): Op(
        "getAppConfig",
        "App configuration",
        "Public: app versions per platform, store links, maintenance window.",
    ),
    ("POST", "/api/v1/outages"): Op(
        "declareOutage",
        "Declare an outage",
        "Staff: for one agency (agents: theirs) or several (admins); pushed at once.",
    ),
    ("GET", "/api/v1/outages"): Op(
        "listOutages", "Outages (staff)", "Agents: their agency's; administrators: all."
    ),
    ("GET", "/api/v1/outages/{outage_id}"): Op("getOutage", "One outage", "Staff."),
    ("POST", "/api/v1/outages/{outage_id}/updates"): Op(
        "postOutageUpdate",
        "News on an outage",
        "Pushed to the same zone.",
    ),
    ("POST", "/api/v1/outages/{outage_id}/end"): Op(
        "endOutage",
        "End an outage",
        "Power is back; pushed to the same zone.",
    ),
    ("GET", "/api/v1/me/outages"): Op(
        "listMyOutages",
        "Outages near me",
        "Current outages and those ended in the last 7 days, in my meters' agencies.",
    ),
}

TAGS: list[dict[str, str]] = [
    {
        "name": "identity",
        "description": "Sign-up by SMS code, sign-in (customers: phone + PIN; staff: "
        "login + password), tokens, my profile and devices, staff accounts, agencies, audit.",
    },
    {
        "name": "meters",
        "description": "The meters a customer follows (Woyofal prepaid meters and postpaid "
        "contracts), sharing a meter with its owner's approval, staff look-up.",
    },
    {
        "name": "consumption",
        "description": "Purchases, bills, monthly totals and the home-screen summary of "
        "a meter, read from Senelec's legacy systems (503 with `Retry-After` when they are down).",
    },
    {
        "name": "tariffs",
        "description": "The versioned tariff grid, threshold bands, the Woyofal simulator "
        "and the postpaid estimate.",
    },
    {
        "name": "notifications",
        "description": "The notification feed, read state, staff broadcasts and "
        "their delivery figures. Realtime delivery: the WebSocket described in `/asyncapi.json`.",
    },
    {"name": "requests", "description": "Customer requests to their agency and their handling by staff."},
    {"name": "files", "description": "Documents uploaded to attach to a request, and their download links."},
    {"name": "subscriptions", "description": "Public follow-up of a new-connection request."},
    {"name": "dashboard", "description": "Figures for agents (their agency) and administrators."},
    {
        "name": "staff console",
        "description": "What the agency console (`/console`) does for a customer at the counter: "
        "search, the customer's file, token re-send, unlock, PIN-reset code, request on behalf.",
    },
    {"name": "system", "description": "Health probes and the error catalogue."},
    {
        "name": "outages",
        "description": "Planned and unplanned outages: staff declare and update them, customers see theirs.",
    },
    {
        "name": "app",
        "description": "Public app configuration: versions per platform, store links, maintenance.",
    },
]

API_DESCRIPTION = """\
Backend of Senelec's SamaConso mobile app. Everything under `/api/v1`.

**Authentication.** `Authorization: Bearer <access token>` on every operation except those marked
as public (`security: []`). Customers get a token pair from `signUp` / `logIn`, staff from
`logInStaff`; `refreshTokens` renews it.

**Errors.** Every error is an RFC 9457 `application/problem+json` `Problem` with a stable `code`
(catalogue: `GET /api/v1/errors`), a `detail` for people and, for invalid fields, `errors[]`
(field path, code, message, what is allowed). Unknown query parameters are refused (400).

**Language.** Texts are French by default, English with `Accept-Language: en`; without the header, the
signed-in user's profile language. `Content-Language` says which one was used.

**Lists** are paginated by cursor: `{"items": [...], "next_cursor": "..."}`; pass `cursor` back, `limit` ≤ 100.

**Realtime.** The WebSocket `/api/v1/ws` is described in AsyncAPI 3.0 at `/asyncapi.json`.

**Versioning.** Changes inside `/api/v1` are additive only; removals are announced with `Deprecation`
and `Sunset` headers and in the changelog (`docs/versioning.md`).

Every response carries `X-Request-ID` (give it when reporting a problem).
"""

_HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "Identifier of this request in the server logs (the one sent, if valid, else a new one).",
        "required": True,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{8,64}$"},
        "example": "3f2a9c1e7b5d4a60b8e1c2d3f4a5b6c7",
    },
    "Content-Language": {
        "description": "Language of the texts of the response: `fr` or `en`.",
        "required": True,
        "schema": {"type": "string", "enum": ["fr", "en"]},
        "example": "fr",
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
        "example": "30",
    },
}

_FIELD_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "One invalid field or parameter.",
    "required": ["field", "code", "message"],
    "properties": {
        "field": {
            "type": "string",
            "description": "Path of the field: `phone`, `tranches.2.kwh_to`, a query parameter name, "
            "or `body` when the body itself is missing or not JSON.",
        },
        "location": {"type": "string", "enum": ["body", "query", "path", "header", "cookie"]},
        "code": {"type": "string", "description": "What is wrong, e.g. `missing`, `string_too_long`."},
        "message": {"type": "string", "description": "The same, for people, in the response language."},
        "allowed": {
            "type": "array",
            "items": {"type": ["string", "number", "integer", "boolean", "null"]},
            "description": "The values allowed (enumerations).",
        },
        "constraint": {
            "type": "object",
            "description": "The limit broken: `min_length`, `max_length`, `pattern`, `ge`, `le`, `format`…",
            "additionalProperties": True,
        },
    },
}

_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details. `code` is stable (see `GET /api/v1/errors`); `detail` is "
    "for people, in the response language.",
    "required": ["type", "title", "status", "code", "detail", "instance"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "code": {"type": "string"},
        "detail": {"type": "string"},
        "instance": {"type": "string", "description": "The request path."},
        "request_id": {"type": "string"},
        "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
        "problems": {
            "type": "array",
            "items": {"type": "string"},
            "description": "What is wrong with a submitted grid (tariffs), in the response language.",
        },
    },
    "additionalProperties": True,
}

_STATUS_DESCRIPTIONS = {
    400: "Bad request (unknown query parameter, invalid cursor, rule broken).",
    401: "No valid access token.",
    403: "The caller may not do this.",
    404: "Not found for this caller.",
    409: "Conflicts with the current state.",
    413: "Body too large.",
    415: "Unsupported content type.",
    422: "Invalid fields (`errors[]` names each one).",
    423: "Account temporarily locked.",
    429: "Too many requests (`Retry-After`).",
    503: "A system behind the API is unavailable (`Retry-After`).",
}


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dep in dependant.dependencies:
        yield dep.call
        yield from _calls(dep)


def _params(dependant: Dependant, kind: str) -> list[Any]:
    found = list(getattr(dependant, kind))
    for dep in dependant.dependencies:
        found.extend(_params(dep, kind))
    return found


def iter_routes(app: FastAPI) -> Iterator[tuple[str, str, APIRoute]]:
    """(method, full path, route) of every HTTP route in the schema, however routers were included."""
    for route in app.routes:
        if isinstance(route, APIRoute):
            for method in route.methods or ():
                yield method, route.path, route
        elif hasattr(route, "effective_route_contexts"):
            for context in route.effective_route_contexts():
                original = context.original_route
                if isinstance(original, APIRoute):
                    for method in original.methods or ():
                        yield method, context.path, original


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


DependencyCodes = Mapping[Callable[..., Any], tuple[str, ...]]


def _dependency_codes(
    call: Callable[..., Any], dependency_codes: DependencyCodes, index: CodeIndex
) -> frozenset[str]:
    declared = frozenset(dependency_codes.get(call, ()))
    if not callable(call) or not getattr(call, "__qualname__", None):
        return declared
    return declared | index.codes_of(call)


def generic_codes(
    route: APIRoute,
    public: bool,
    dependency_codes: DependencyCodes,
    index: CodeIndex,
    authentication: Callable[..., Any] | None = None,
) -> set[str]:
    """The codes any route of this shape can answer, whatever its own code does: authentication
    (unless public), its dependencies (role guards, the legacy gateway, strict query…, derived from
    their source plus ``dependency_codes`` for what the source cannot show), paging, path and body
    validation. Shared by every operation so the table below lists only what is particular."""
    codes = {"unknown_query_parameter"}
    if not public:
        # a token we do not know, one past its time, a session closed (logout, PIN reset, closed
        # agency) or a device signed out by a newer one: the app tells the user which (identity.deps)
        codes.update(("unauthenticated", "token_expired", "session_revoked", "device_signed_out"))
        # the session check reads PostgreSQL on a cache miss: a burst past the pool is a 503
        codes.add("database_busy")
    for call in _calls(route.dependant):
        if call is authentication:
            continue  # closed-by-default guard: its codes are the 401s above, not on public routes
        codes.update(_dependency_codes(call, dependency_codes, index))
    queries = {f.alias for f in _params(route.dependant, "query_params")}
    if "cursor" in queries:
        codes.add("invalid_cursor")
    if route.dependant.path_params or _params(route.dependant, "path_params"):
        codes.add("not_found")  # a path that no route matches (empty segment…)
    has_input = any(
        _params(route.dependant, kind) for kind in ("query_params", "path_params", "header_params")
    ) or bool(route.body_field)
    if has_input:
        codes.add("validation_error")
    if route.body_field is not None or "requestBody" in (route.openapi_extra or {}):
        codes.add("bad_request")  # a body that cannot be read at all (not JSON, broken multipart)
    return codes


def route_codes(
    route: APIRoute,
    op: Op | None,
    public: bool,
    dependency_codes: DependencyCodes,
    index: CodeIndex,
    authentication: Callable[..., Any] | None = None,
) -> set[str]:
    """Every code one operation documents: the generic ones, those its endpoint can reach (derived
    from the source, :mod:`samaconso.kit.raised_codes`) and those the table declares by hand."""
    return (
        generic_codes(route, public, dependency_codes, index, authentication)
        | set(index.codes_of(route.endpoint))
        | set(op.errors if op else ())
    )


def _problem_response(status: int, codes: list[str], spec: dict[str, Any]) -> dict[str, Any]:
    headers: dict[str, Any] = {
        "X-Request-ID": {"$ref": "#/components/headers/X-Request-ID"},
        "Content-Language": {"$ref": "#/components/headers/Content-Language"},
    }
    if status in (429, 503):
        headers["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
    listed = ", ".join(f"`{c}`" for c in codes)
    return {
        "description": f"{_STATUS_DESCRIPTIONS.get(status, 'Error.')} Codes: {listed}.",
        "headers": headers,
        "content": {
            PROBLEM_JSON: {
                "schema": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Problem"},
                        {"type": "object", "properties": {"code": {"type": "string", "enum": codes}}},
                    ]
                },
                "example": problem_example(status, codes[0], spec),
            }
        },
    }


def build_openapi(
    app: FastAPI,
    public_base_url: str,
    is_public: Callable[[str, str], bool],
    dependency_codes: DependencyCodes,
    authentication: Callable[..., Any] | None = None,
    operations: Mapping[tuple[str, str], Op] | None = None,
) -> dict[str, Any]:
    operations = OPERATIONS if operations is None else operations
    index = package_index()
    spec = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=API_DESCRIPTION,
        routes=app.routes,
        tags=TAGS,
        servers=[{"url": public_base_url.rstrip("/") or "/", "description": "This deployment"}],
    )
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Problem"] = copy.deepcopy(_PROBLEM_SCHEMA)
    schemas["FieldError"] = copy.deepcopy(_FIELD_ERROR_SCHEMA)
    components["headers"] = copy.deepcopy(_HEADERS)
    components["securitySchemes"] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "The access token of `signUp`, `logIn`, `logInStaff` or `refreshTokens`.",
        }
    }
    spec["security"] = [{BEARER: []}]
    routes = {(m, p): r for m, p, r in iter_routes(app)}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            key = (method.upper(), path)
            route = routes.get(key)
            op = operations.get(key)
            public = is_public(method.upper(), path)
            operation["operationId"] = op.id if op else _camel(route.name if route else method + path)
            if op:
                operation["summary"] = op.summary
                operation["description"] = op.description
            operation["security"] = [] if public else [{BEARER: []}]
            responses: dict[str, Any] = operation.setdefault("responses", {})
            responses.pop("422", None)
            for status_text, response in responses.items():
                if status_text.startswith("2"):
                    response.setdefault("headers", {}).update(
                        {
                            "X-Request-ID": {"$ref": "#/components/headers/X-Request-ID"},
                            "Content-Language": {"$ref": "#/components/headers/Content-Language"},
                        }
                    )
                    for media, content in (response.get("content") or {}).items():
                        if "schema" in content and "json" in media:
                            content.setdefault("example", example_for(content["schema"], spec))
            codes = (
                route_codes(route, op, public, dependency_codes, index, authentication)
                if route
                else set(op.errors if op else ())
            )
            by_status: dict[int, list[str]] = {}
            for code in sorted(codes):
                by_status.setdefault(ERROR_CATALOGUE[code].status, []).append(code)
            for status in sorted(by_status):
                responses[str(status)] = _problem_response(status, by_status[status], spec)
            body = operation.get("requestBody")
            if body:
                body.setdefault("description", "The request body.")
                for media, content in body.get("content", {}).items():
                    if "schema" in content and "json" in media:
                        content.setdefault("example", example_for(content["schema"], spec))
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                parameter.setdefault("description", schema.get("description") or parameter["name"])
                if parameter.get("in") == "query":
                    _bound_query_dates(schema)
            if op and op.deprecated:
                _mark_deprecated(operation, op.deprecated, public_base_url)
    _strip_titles(spec)
    _readable_component_names(spec)
    return spec


# Query dates outside these years are refused before routing (kit/inputs.InputGuardMiddleware): the
# document says so with a pattern on the year (format: date alone allows 0001 to 9999).
_CENTURIES = "|".join(str(c) for c in range(MIN_YEAR // 100, MAX_YEAR // 100 + 1))
QUERY_DATE_PATTERN = rf"^({_CENTURIES})[0-9]{{2}}-[0-9]{{2}}-[0-9]{{2}}$"


def _bound_query_dates(schema: dict[str, Any]) -> None:
    if schema.get("format") == "date":
        schema["pattern"] = QUERY_DATE_PATTERN
        schema.setdefault("description", f"YYYY-MM-DD, years {MIN_YEAR} to {MAX_YEAR}.")
    for option in schema.get("anyOf", []):
        if isinstance(option, dict):
            _bound_query_dates(option)


def _docs_link(public_base_url: str, operation_id: str) -> str:
    return f"{public_base_url.rstrip('/')}/redoc#operation/{operation_id}"


def _mark_deprecated(operation: dict[str, Any], deprecation: Deprecation, public_base_url: str) -> None:
    operation["deprecated"] = True
    operation["description"] = (
        f"{operation.get('description', '')}\n\n**Deprecated** since {deprecation.since.isoformat()}: "
        f"use {deprecation.replacement} instead. It stops answering on {deprecation.sunset.isoformat()} "
        "(410 `gone` afterwards). See docs/versioning.md."
    ).strip()
    link = {
        "description": 'Where to read why and what instead: `<…/redoc#operation/…>; rel="deprecation"`.',
        "required": True,
        "schema": {"type": "string"},
        "example": f'<{_docs_link(public_base_url, operation["operationId"])}>; rel="deprecation"',
    }
    for response in operation.get("responses", {}).values():
        headers = response.setdefault("headers", {})
        headers.update(copy.deepcopy(DEPRECATION_HEADERS_DOC))
        headers["Link"] = copy.deepcopy(link)


def deprecated_routes(
    operations: Mapping[tuple[str, str], Op], public_base_url: str
) -> list[DeprecatedRoute]:
    return [
        DeprecatedRoute(method, path, op.deprecated, _docs_link(public_base_url, op.id))
        for (method, path), op in operations.items()
        if op.deprecated
    ]


def _readable_component_names(spec: dict[str, Any]) -> None:
    """Two models of the same name in two domains get FastAPI keys like
    ``samaconso__meters__schemas__Requester``, which generators shorten back into a clash:
    name them ``MetersRequester`` / ``RequestsRequester`` instead."""
    schemas: dict[str, Any] = spec["components"]["schemas"]
    renames = {}
    for key in list(schemas):
        if "__" in key:
            parts = key.split("__")
            renames[key] = parts[1].capitalize() + parts[-1]
    if not renames:
        return
    for old, new in renames.items():
        schemas[new] = schemas.pop(old)
        schemas[new]["title"] = new

    def rewrite(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[-1]
                if name in renames:
                    node["$ref"] = f"#/components/schemas/{renames[name]}"
            for value in node.values():
                rewrite(value)
        elif isinstance(node, list):
            for value in node:
                rewrite(value)

    rewrite(spec)


def _strip_titles(node: Any) -> None:
    """Drop pydantic's ``title: "Kwh To"`` noise from property schemas (names say it already)."""
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict):
            for value in props.values():
                if isinstance(value, dict):
                    value.pop("title", None)
        for value in node.values():
            _strip_titles(value)
    elif isinstance(node, list):
        for value in node:
            _strip_titles(value)


def _static_dir() -> str:
    return str(resources.files("fastapi_offline") / "static")


_ASSET_NAME = re.compile(r"^[a-z.-]+$")


def install_contract(
    app: FastAPI,
    public_base_url: str,
    *,
    is_public: Callable[[str, str], bool],
    dependency_codes: DependencyCodes,
    authentication: Callable[..., Any] | None = None,
    asyncapi: Callable[[], dict[str, Any]] | None = None,
    operations: Mapping[tuple[str, str], Op] | None = None,
) -> None:
    """Serve ``/openapi.json`` (the truthful one), ``/docs``, ``/redoc``, their assets and ``/asyncapi.json``.

    Build the FastAPI app with ``docs_url=None, redoc_url=None`` and call this after every router
    is included."""
    cached: dict[str, dict[str, Any]] = {}
    table = OPERATIONS if operations is None else operations
    announced = deprecated_routes(table, public_base_url)
    if announced:
        app.add_middleware(DeprecationHeadersMiddleware, routes=announced)

    def openapi() -> dict[str, Any]:
        if "spec" not in cached:
            cached["spec"] = build_openapi(
                app, public_base_url, is_public, dependency_codes, authentication, table
            )
        return cached["spec"]

    app.openapi = openapi  # type: ignore[method-assign]
    app.mount(DOCS_ASSETS, StaticFiles(directory=_static_dir()), name="docs-assets")
    csp = {"Content-Security-Policy": DOCS_CSP, "Cache-Control": "no-cache"}

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="SamaConso API — Swagger UI",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_ui_parameters={"persistAuthorization": True, "displayOperationId": True},
        )
        page.headers.update(csp)
        return page

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url="/openapi.json",
            title="SamaConso API — ReDoc",
            redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png",
            with_google_fonts=False,
        )
        page.headers.update(csp)
        return page

    if asyncapi is not None:
        document = asyncapi

        @app.get("/asyncapi.json", include_in_schema=False)
        async def asyncapi_document() -> JSONResponse:
            return JSONResponse(document())


def operation_codes(spec: dict[str, Any], method: str, path: str) -> dict[int, list[str]]:
    """The problem codes documented for one operation, by status (used by the contract tests)."""
    out: dict[int, list[str]] = {}
    for status_text, response in spec["paths"][path][method.lower()]["responses"].items():
        content = (response.get("content") or {}).get(PROBLEM_JSON)
        if content:
            out[int(status_text)] = list(content["schema"]["allOf"][1]["properties"]["code"]["enum"])
    return out


__all__ = [
    "OPERATIONS",
    "TAGS",
    "Deprecation",
    "Op",
    "build_openapi",
    "codes_for_status",
    "install_contract",
    "iter_routes",
]
