#!/usr/bin/env python3
"""Réécrit les cibles de deploy/monitoring/prometheus.yml depuis l'inventaire (deploy/inventory.conf).

Entre les repères « # inventaire: début JOB » et « # inventaire: fin JOB » de prometheus.yml :
samaconso_api (chaque API), samaconso_worker (chaque worker), flower, node (chaque serveur d'API et
de workers ; le serveur 1 reste écrit à la main, hors repères).

  python3 deploy/scripts/make-prometheus-targets.py            (réécrit prometheus.yml)
  python3 deploy/scripts/make-prometheus-targets.py --check    (code 1 si prometheus.yml n'est pas à jour)
  … --inventory AUTRE.conf --config AUTRE.yml
Puis : promtool check config /etc/prometheus/prometheus.yml && systemctl reload prometheus.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[1]
ROLE_OF_JOB = {"samaconso_api": "api", "samaconso_worker": "worker", "flower": "flower"}
NODE_EXPORTER_PORT = 9100
INDENT = "      "


def read_inventory(path: Path) -> list[dict[str, str]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split()
        if len(fields) != 6:
            raise SystemExit(f"{path}:{number}: 6 colonnes attendues (rôle nom hôte adresse port service)")
        role, name, host, addr, port, service = fields
        rows.append(
            {"role": role, "name": name, "host": host, "addr": addr, "port": port, "service": service}
        )
    names = [r["name"] for r in rows]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise SystemExit(f"{path}: noms en double : {', '.join(duplicated)}")
    return rows


def targets(job: str, rows: list[dict[str, str]]) -> list[str]:
    lines = []
    if job == "node":
        seen: list[str] = []
        for r in rows:
            if r["addr"] not in seen:
                seen.append(r["addr"])
        for addr in seen:
            lines.append(f'{INDENT}- targets: ["{addr}:{NODE_EXPORTER_PORT}"]')
            lines.append(f"{INDENT}  labels: {{server: {addr}}}")
        return lines
    for r in rows:
        if r["role"] == ROLE_OF_JOB[job] and r["port"] != "-":
            lines.append(f'{INDENT}- targets: ["{r["addr"]}:{r["port"]}"]')
            lines.append(f"{INDENT}  labels: {{instance_name: {r['name']}, server: {r['addr']}}}")
    return lines


def render(config: str, rows: list[dict[str, str]]) -> str:
    for job in (*ROLE_OF_JOB, "node"):
        pattern = re.compile(
            rf"^(?P<start>\s*# inventaire: début {job}\n)(?P<body>.*?)^(?P<end>\s*# inventaire: fin {job}\n)",
            re.S | re.M,
        )
        body = "\n".join(targets(job, rows)) + "\n"
        config, count = pattern.subn(lambda m, b=body: m["start"] + b + m["end"], config)  # type: ignore[misc]
        if count != 1:
            raise SystemExit(f"prometheus.yml : repères « inventaire » du job {job} introuvables")
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", type=Path, default=DEPLOY / "inventory.conf")
    parser.add_argument("--config", type=Path, default=DEPLOY / "monitoring" / "prometheus.yml")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    current = args.config.read_text(encoding="utf-8")
    wanted = render(current, read_inventory(args.inventory))
    if args.check:
        if wanted != current:
            print(f"{args.config} n'est pas à jour : relancer {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    if wanted != current:
        args.config.write_text(wanted, encoding="utf-8")
        print(f"{args.config} : cibles réécrites depuis {args.inventory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
