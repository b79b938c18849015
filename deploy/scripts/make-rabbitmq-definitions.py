#!/usr/bin/env python3
"""Écrit definitions.json de RabbitMQ (utilisateurs, vhost, droits, politiques) sans mot de passe en clair.

    python3 make-rabbitmq-definitions.py --app-password-file secrets/rabbitmq_app_password \
        --admin-password-file secrets/rabbitmq_admin_password > secrets/rabbitmq_definitions.json

Les mots de passe sont hachés comme RabbitMQ le fait (rabbit_password_hashing_sha256 : sel de 4 octets,
SHA-256 de sel + mot de passe, en base64). Politique : les quatre files Celery envoient leurs lettres
mortes (messages rejetés ou expirés) vers l'échange « samaconso.dlx » → file « samaconso.dead_letter ».
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
from pathlib import Path


def rabbit_hash(password: str) -> str:
    salt = os.urandom(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def read_secret(path: str) -> str:
    value = Path(path).read_text(encoding="utf-8").strip()
    if len(value) < 16:
        raise SystemExit(f"{path}: mot de passe trop court (16 caractères minimum)")
    return value


def definitions(app_user: str, app_password: str, admin_user: str, admin_password: str, vhost: str) -> dict:
    algo = "rabbit_password_hashing_sha256"
    queues = "^(urgent|high_priority|normal|low_priority)$"
    return {
        "users": [
            {
                "name": app_user,
                "password_hash": rabbit_hash(app_password),
                "hashing_algorithm": algo,
                "tags": [],
            },
            {
                "name": admin_user,
                "password_hash": rabbit_hash(admin_password),
                "hashing_algorithm": algo,
                "tags": ["administrator"],
            },
        ],
        "vhosts": [{"name": vhost}],
        "permissions": [
            {"user": app_user, "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"},
            {"user": admin_user, "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"},
        ],
        "exchanges": [
            {
                "name": "samaconso.dlx",
                "vhost": vhost,
                "type": "fanout",
                "durable": True,
                "auto_delete": False,
                "internal": False,
                "arguments": {},
            },
        ],
        "queues": [
            {
                "name": "samaconso.dead_letter",
                "vhost": vhost,
                "durable": True,
                "auto_delete": False,
                "arguments": {"x-queue-type": "classic"},
            },
        ],
        "bindings": [
            {
                "source": "samaconso.dlx",
                "vhost": vhost,
                "destination": "samaconso.dead_letter",
                "destination_type": "queue",
                "routing_key": "",
                "arguments": {},
            },
        ],
        "policies": [
            {
                "vhost": vhost,
                "name": "celery-dead-letter",
                "pattern": queues,
                "apply-to": "queues",
                "priority": 0,
                "definition": {"dead-letter-exchange": "samaconso.dlx"},
            },
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app-user", default="samaconso")
    parser.add_argument("--app-password-file", required=True)
    parser.add_argument("--admin-user", default="exploitation")
    parser.add_argument("--admin-password-file", required=True)
    parser.add_argument("--vhost", default="samaconso")
    args = parser.parse_args()
    doc = definitions(
        args.app_user,
        read_secret(args.app_password_file),
        args.admin_user,
        read_secret(args.admin_password_file),
        args.vhost,
    )
    json.dump(doc, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
