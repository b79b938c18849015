"""Contrôle de santé du conteneur (HEALTHCHECK de l'image) : sans dépendance, en moins de 5 s.

- API (SAMACONSO_HEALTH_PORT défini) : GET http://127.0.0.1:<port>/health doit répondre 200 et
  contenir « running » (le même critère que le moniteur du F5).
- Autres processus (workers, beat, flower) : le processus principal (PID 1 sous init, ou 2) vit.
"""

from __future__ import annotations

import os
import sys
import urllib.request


def main() -> int:
    port = os.environ.get("SAMACONSO_HEALTH_PORT")
    if not port:
        return 0
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{int(port)}/health", timeout=4) as resp:
            body = resp.read(4096)
            return 0 if resp.status == 200 and b"running" in body else 1
    except (OSError, ValueError):
        return 1


if __name__ == "__main__":
    sys.exit(main())
