"""The import report: per v2 table, how many rows were imported (new or updated in v3), merged into
another row, or skipped — with the reason of every skip. Printed and written as JSON."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_LISTED = 200  # missing attachments listed by name (the count is always complete)


@dataclass
class TableCounts:
    read: int = 0
    imported: int = 0  # new in v3
    updated: int = 0  # already in v3 (a re-run or a delta), brought up to date
    merged: int = 0  # folded into another row (same phone, same link, same token…)
    deleted: int = 0  # gone from v2 since an earlier import: undone in v3 (see each table's rule)
    skipped: Counter[str] = field(default_factory=Counter)

    def skip(self, reason: str, count: int = 1) -> None:
        if count:
            self.skipped[reason] += count

    def to_json(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "imported": self.imported,
            "updated": self.updated,
            "merged": self.merged,
            "deleted": self.deleted,
            "skipped": sum(self.skipped.values()),
            "skipped_by_reason": dict(sorted(self.skipped.items())),
        }


@dataclass
class ImportReport:
    dry_run: bool
    since: str | None
    tables: dict[str, TableCounts] = field(default_factory=dict)
    facts: dict[str, int] = field(default_factory=dict)  # e.g. owners recomputed, meters created
    missing_attachments: list[dict[str, Any]] = field(default_factory=list)
    missing_attachments_total: int = 0
    warnings: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)

    def table(self, name: str) -> TableCounts:
        return self.tables.setdefault(name, TableCounts())

    def missing(self, request_v2_id: int, name: str, reason: str) -> None:
        self.missing_attachments_total += 1
        if len(self.missing_attachments) < MAX_LISTED:
            self.missing_attachments.append({"demande": request_v2_id, "fichier": name, "reason": reason})

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "since": self.since,
            "tables": {name: counts.to_json() for name, counts in self.tables.items()},
            "facts": self.facts,
            "missing_attachments_total": self.missing_attachments_total,
            "missing_attachments": self.missing_attachments,
            "warnings": self.warnings,
            "timings_s": {k: round(v, 2) for k, v in self.timings_s.items()},
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    def summary(self) -> str:
        lines = [
            f"{'table':<16}{'read':>10}{'new':>10}{'updated':>10}{'merged':>10}{'skipped':>10}{'deleted':>10}"
        ]
        for name, c in self.tables.items():
            lines.append(
                f"{name:<16}{c.read:>10}{c.imported:>10}{c.updated:>10}{c.merged:>10}"
                f"{sum(c.skipped.values()):>10}{c.deleted:>10}"
            )
            for reason, count in sorted(c.skipped.items()):
                lines.append(f"{'':<18}skipped {reason}: {count}")
        for key, value in self.facts.items():
            lines.append(f"{key}: {value}")
        if self.missing_attachments_total:
            lines.append(f"missing attachments: {self.missing_attachments_total}")
        lines.extend(f"warning: {w}" for w in self.warnings)
        return "\n".join(lines)
