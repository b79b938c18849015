"""Ce que la répétition et son scénario partagent : chemins du dépôt, commandes (dans un espace de
noms réseau, sous l'utilisateur de l'application), environnement de base, fichiers .env.

``rehearsal.py`` (l'orchestrateur) et ``scenario.py`` (le parcours joué à travers la VIP) importent
ce module ; aucun des deux n'importe l'autre en retour (``rehearsal.py`` appelle le scénario).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

APP_USER: str | None = None


REPO = Path(__file__).resolve().parents[2]


DEPLOY = REPO / "deploy"


def _traversable_by_others(path: Path) -> bool:
    return all(p.stat().st_mode & 0o001 for p in (path, *path.parents))


# PostgreSQL, Redis, PgBouncer et les scripts du serveur 1 tournent sous leurs utilisateurs : depuis
# un dépôt cloné dans un répertoire privé (mktemp -d, 0700), ils ne liraient pas les fichiers de
# deploy/. On travaille alors sur une copie lisible, supprimée à la fin.
if not _traversable_by_others(DEPLOY):
    import atexit
    import tempfile

    _DEPLOY_COPY = Path(tempfile.mkdtemp(prefix="samaconso-deploy-"))
    os.chmod(_DEPLOY_COPY, 0o755)
    shutil.copytree(DEPLOY, _DEPLOY_COPY / "deploy", symlinks=True)
    shutil.copy(REPO / ".env.production.example", _DEPLOY_COPY / ".env.production.example")
    DEPLOY = _DEPLOY_COPY / "deploy"
    atexit.register(shutil.rmtree, _DEPLOY_COPY, True)


VENV_BIN = REPO / ".venv" / "bin"


def weed_argv(data_dir: Path, ip: str, s3_config: Path) -> list[str]:
    """SeaweedFS ``weed mini`` (la doublure du MinIO du serveur 1) : S3 sur ``ip``:9000, identités de
    ``s3_config`` ; maître, filer et volume sur leurs ports habituels, sans WebDAV ni interface."""
    weed = shutil.which("weed", path=str(VENV_BIN)) or "weed"
    return [
        weed,
        "mini",
        f"-dir={data_dir}",
        f"-ip={ip}",
        "-ip.bind=0.0.0.0",
        "-s3.port=9000",
        f"-s3.config={s3_config}",
        "-master.port=9333",
        "-filer.port=8888",
        "-volume.port=8080",
        "-webdav=false",
        "-admin.ui=false",
        "-admin.port=23646",
    ]


class StepFailed(RuntimeError):
    pass


def run(
    argv: list[str],
    *,
    check: bool = True,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    input_text: str | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(
        argv, capture_output=True, text=True, env=env, timeout=timeout, input=input_text, cwd=cwd
    )
    if check and res.returncode != 0:
        raise StepFailed(
            f"{shlex.join(argv)} → code {res.returncode}: {(res.stderr or res.stdout).strip()[-800:]}"
        )
    return res


class DrillReport(Protocol):
    @property
    def success(self) -> bool: ...
    def failed(self, name: str, detail: str) -> None: ...
    def print(self) -> None: ...


class Drill(Protocol):
    """Ce qu'une répétition (espaces de noms ou conteneurs) offre à :func:`run_drill`."""

    @property
    def report(self) -> DrillReport: ...
    def cleanup(self) -> None: ...


def run_drill(drill: Drill, steps: Callable[[], None]) -> int:
    """Joue ``steps`` ; une étape qui échoue, une interruption (SIGTERM, SIGHUP, Ctrl-C) ou une erreur
    inattendue devient une ligne FAILED du rapport ; le nettoyage a lieu dans tous les cas (sans se
    laisser interrompre), puis le rapport est imprimé. Code de sortie : 0 si tout a réussi, sinon 1."""

    def interrupted(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    report = drill.report
    try:
        steps()
    except StepFailed as exc:
        report.failed("étape interrompue", str(exc)[:1500])
    except KeyboardInterrupt as exc:
        report.failed("interruption", str(exc))
    except Exception as exc:
        traceback.print_exc()
        report.failed("erreur inattendue", f"{type(exc).__name__}: {exc}")
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        drill.cleanup()
    report.print()
    return 0 if report.success else 1


def ns_argv(ns: str, argv: list[str], user: str | None = None) -> list[str]:
    base = ["ip", "netns", "exec", ns]
    if user:
        base += ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--"]
    return base + argv


def base_env() -> dict[str, str]:
    """L'environnement de cette machine, sans ce qui ne serait pas sur un serveur (AWS_*, SAMACONSO_*)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SAMACONSO_", "PG"))}


def parse_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip('"')
    return values


def compose_commands(path: Path, variables: dict[str, str] | None = None) -> dict[str, list[str]]:
    """La commande de chaque service d'un fichier compose, variables ${X:-défaut} résolues (celles de
    ``variables``, sinon de l'environnement : le .env du serveur)."""
    import yaml

    doc = yaml.safe_load(path.read_text())
    values = os.environ if variables is None else variables

    def interpolate(arg: str) -> str:
        return re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: values.get(m.group(1), m.group(2)), arg)

    return {
        name: [interpolate(str(a)) for a in svc["command"]]
        for name, svc in doc["services"].items()
        if isinstance(svc.get("command"), list) and svc["command"][0] == "samaconso"
    }
