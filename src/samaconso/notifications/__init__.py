"""Notifications: model, targeting, per-user feed, transactional outbox, fan-out, FCM, realtime.

Rooms: ``models.py`` (tables), ``repository.py`` (SQL), ``service.py`` (rules; ``notify_user`` for
other domains), ``router.py`` (HTTP + the ``/ws`` WebSocket), ``pipeline.py`` (relay, fan-out,
batches), ``tasks.py`` (Celery entry points), ``fcm.py`` (FCM v1 sender, OAuth2), ``h2client.py``
(multiplexed HTTP/2 channel), ``realtime.py`` (Redis pub/sub hub, metrics refreshers),
``fcm_standin.py`` (local FCM + OAuth2 server for tests and benchmarks). See README "Notifications".
"""
