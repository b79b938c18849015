"""What the installed v2 app gets from v3: ``426 Upgrade Required`` on every v2 route (HTTP and the
notifications WebSocket), with a body it can show, and ``GET /api/v1/app/config`` for the new app.

The v2 app reads a ``status`` field in the JSON body (V2.md §3); the problem+json body already has
one (426), plus ``detail`` (shown), ``message`` (the same text, the field v2 used) and the store links.
The WebSocket is refused at the handshake with the same 426 body when the server supports denial
responses (uvicorn does); otherwise it is accepted and closed at once with code 4426 and a reason."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import APIRouter, Request, Response, WebSocket
from fastapi.responses import JSONResponse

from samaconso.cutover.v2_routes import V2_HTTP_ROUTES, V2_WEBSOCKET_ROUTE
from samaconso.kit.deps import SettingsDep
from samaconso.kit.errors import PROBLEM_JSON
from samaconso.kit.i18n import Lang, negotiate
from samaconso.settings import Settings

UPGRADE_FR = (
    "Une nouvelle version de SamaConso est disponible. Mettez à jour l'application pour continuer : {url}"
)
UPGRADE_EN = "A new version of SamaConso is available. Please update the app to continue: {url}"
WS_CLOSE_CODE = 4426  # application range (4000-4999): "update required"
WS_CLOSE_REASON = {"fr": "Mise a jour requise: installez la nouvelle SamaConso", "en": "Update required"}

compat_router = APIRouter(tags=["v2 (retired)"], include_in_schema=False)
router = APIRouter(tags=["app"])


def _stores(settings: Settings) -> dict[str, str]:
    return {"android": settings.app_store_url_android, "ios": settings.app_store_url_ios}


def _platform(user_agent: str) -> str:
    ua = user_agent.lower()
    return "ios" if any(k in ua for k in ("iphone", "ipad", "ios", "darwin", "cfnetwork")) else "android"


def upgrade_body(settings: Settings, lang: Lang, path: str, user_agent: str = "") -> dict[str, Any]:
    stores = _stores(settings)
    url = stores[_platform(user_agent)]
    detail = (UPGRADE_FR if lang == "fr" else UPGRADE_EN).format(url=url)
    return {
        "type": "https://samaconso.senelec.sn/problems/upgrade_required",
        "title": "Mise à jour requise" if lang == "fr" else "Upgrade required",
        "status": 426,
        "code": "upgrade_required",
        "detail": detail,
        "instance": path,
        "message": detail,
        "store_url": url,
        "store_urls": stores,
        "min_version": {"android": settings.app_min_version_android, "ios": settings.app_min_version_ios},
    }


async def _upgrade_required(request: Request, settings: SettingsDep) -> JSONResponse:
    lang = negotiate(request.headers.get("accept-language"))
    body = upgrade_body(settings, lang, request.url.path, request.headers.get("user-agent", ""))
    return JSONResponse(
        body,
        status_code=426,
        media_type=PROBLEM_JSON,
        headers={
            "Upgrade": "SamaConso/3",
            "Connection": "Upgrade",
            "Content-Language": lang,
            "Cache-Control": "no-store",
        },
    )


for _method, _path in V2_HTTP_ROUTES:
    compat_router.add_api_route(
        _path, _upgrade_required, methods=[_method], name=f"v2 {_method} {_path}", response_class=JSONResponse
    )


@compat_router.websocket(V2_WEBSOCKET_ROUTE)
async def v2_notifications_socket(websocket: WebSocket, user_id: str, settings: SettingsDep) -> None:
    lang = negotiate(websocket.headers.get("accept-language"))
    body = upgrade_body(settings, lang, websocket.url.path, websocket.headers.get("user-agent", ""))
    denial = JSONResponse(body, status_code=426, media_type=PROBLEM_JSON, headers={"Content-Language": lang})
    try:
        await websocket.send_denial_response(denial)
    except RuntimeError:  # the server has no denial-response extension: accept, say it, close
        await websocket.accept()
        await websocket.send_text(json.dumps(body, ensure_ascii=False))
        await websocket.close(code=WS_CLOSE_CODE, reason=WS_CLOSE_REASON[lang])


def app_config(settings: Settings, lang: Lang) -> dict[str, Any]:
    return {
        "platforms": {
            "android": {
                "min_version": settings.app_min_version_android,
                "latest_version": settings.app_latest_version_android,
                "store_url": settings.app_store_url_android,
            },
            "ios": {
                "min_version": settings.app_min_version_ios,
                "latest_version": settings.app_latest_version_ios,
                "store_url": settings.app_store_url_ios,
            },
        },
        "maintenance": {
            "enabled": settings.maintenance_enabled,
            "message": settings.maintenance_message_fr if lang == "fr" else settings.maintenance_message_en,
            "starts_at": settings.maintenance_starts_at.isoformat()
            if settings.maintenance_starts_at
            else None,
            "ends_at": settings.maintenance_ends_at.isoformat() if settings.maintenance_ends_at else None,
        },
    }


@router.get("/app/config", summary="Public: app versions per platform, store links, maintenance window")
async def get_app_config(request: Request, settings: SettingsDep) -> Response:
    lang = negotiate(request.headers.get("accept-language"))
    payload = json.dumps(app_config(settings, lang), ensure_ascii=False, separators=(",", ":")).encode()
    etag = '"' + hashlib.sha256(payload).hexdigest()[:32] + '"'
    headers = {
        "Cache-Control": f"public, max-age={settings.app_config_cache_s}",
        "ETag": etag,
        "Vary": "Accept-Language",
        "Content-Language": lang,
    }
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(payload, media_type="application/json", headers=headers)
