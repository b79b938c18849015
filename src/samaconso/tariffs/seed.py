"""Reference tariff grids and threshold bands (every profile). Idempotent: a version already present
(same code and start date) is left as it is, so an admin's corrections are never overwritten."""

from __future__ import annotations

from samaconso.kit.db import Database
from samaconso.settings import Settings
from samaconso.tariffs import repository as repo
from samaconso.tariffs.models import TariffBand
from samaconso.tariffs.reference import REFERENCE_BANDS, REFERENCE_GRIDS


async def seed(db: Database, settings: Settings) -> list[str]:
    added: list[str] = []
    async with db.sessionmaker.begin() as session:  # one transaction, committed at the end
        for label, grid in REFERENCE_GRIDS:
            await repo.lock_code(session, grid.code)
            if not await repo.version_exists(session, grid.code, grid.effective_from):
                repo.add_version(session, grid, label, None)
                added.append(f"{grid.code} {grid.effective_from.isoformat()}")
        codes_with_bands = await repo.codes_with_bands(session)
        for code, position, lo, hi, color, fr, en in REFERENCE_BANDS:
            if code not in codes_with_bands:
                session.add(
                    TariffBand(
                        tariff_code=code,
                        position=position,
                        kwh_min=lo,
                        kwh_max=hi,
                        color_hex=color,
                        label_fr=fr,
                        label_en=en,
                    )
                )
    if added:
        return [f"Tarifs : grilles de référence ajoutées ({', '.join(added)})"]
    return ["Tarifs : grilles de référence déjà présentes"]
