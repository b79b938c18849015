"""Notifications: model, targeting, per-user feed, transactional outbox, fan-out, FCM, realtime.

Rooms: ``models.py`` (tables), ``repository.py`` (SQL), ``service.py`` (rules; ``notify_user`` for
other domains), ``router.py`` (HTTP + the ``/ws`` WebSocket), ``pipeline.py`` (relay, fan-out,
batches), ``tasks.py`` (Celery entry points), ``fcm.py`` (FCM v1 sender, OAuth2), ``curl_http2.py``
(HTTP/2 transport on libcurl, driven by asyncio), ``realtime.py`` (Redis pub/sub hub, metrics
refreshers). The FCM stand-ins the tests and the benchmark talk to live in ``tests/support/``
(``fcm_standin.py``, ``fcm_standin.mjs``). See README "Notifications".
"""
