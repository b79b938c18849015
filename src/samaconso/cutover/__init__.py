"""Cutover from SamaConso v2: read the v2 database (read-only, streaming), write v3 idempotently, and
answer the installed v2 app with ``426 Upgrade Required``."""
