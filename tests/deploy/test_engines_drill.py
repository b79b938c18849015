"""The two engines in high availability (deploy/README.md §13.3), drilled on this machine by
``deploy/rehearsal/engines.py`` (``make rehearsal-engines``): a PostgreSQL 15 streaming replica built
from the repository's configuration files that the real API reads ``/admin/users`` from, and a
three-node RabbitMQ cluster whose classic queues are migrated to quorum queues and survive the loss
of their leader while a worker keeps consuming.

The fast tests check what the drill takes from the repository. The drill itself needs root,
PostgreSQL 15 and rabbitmq-server and takes about 2 minutes on two cores, so it only runs when
SAMACONSO_REHEARSAL_ENGINES=1 asks for it."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from samaconso.settings import Settings
from samaconso.worker import QUEUES, make_celery
from tests.support.tools import require_root, require_tool

ROOT = Path(__file__).resolve().parents[2]
DRILL = ROOT / "deploy" / "rehearsal" / "engines.py"
README = (ROOT / "deploy" / "README.md").read_text()
# The shared services of this machine and of production: the drill must never bind them.
SHARED_PORTS = {5432, 6379, 5672, 15672, 25672, 4369, 6432}


def drill() -> ModuleType:
    spec = importlib.util.spec_from_file_location("engines_drill", DRILL)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_replication_line_is_the_documented_one_and_comes_before_the_rejects() -> None:
    engines = drill()
    hba = (ROOT / "deploy" / "server1-data" / "postgresql" / "pg_hba.conf").read_text()
    out = engines.with_replication_line(hba, "10.20.0.21").splitlines()
    active = [line.split() for line in out if line.strip() and not line.lstrip().startswith("#")]
    replication = active.index(["host", "replication", "replication", "10.20.0.21/32", "scram-sha-256"])
    first_reject = next(i for i, fields in enumerate(active) if "reject" in fields)
    assert replication < first_reject  # pg_hba is read in order: after a reject it would never match
    documented = re.search(
        r"`host replication replication\s+<ip réplique>/32 (\S+)`", README.replace("\n", " ")
    )
    assert documented is not None
    assert documented.group(1) == "scram-sha-256"
    # every line of the repository's file is kept, in order, and only that line is added
    added = [line for line in out if line.split()[:2] == ["host", "replication"]]
    assert len(added) == 1
    assert [line for line in out if line not in added] == hba.splitlines()


def test_the_drill_binds_none_of_the_shared_ports() -> None:
    engines = drill()
    ports = [engines.EPMD_PORT]  # PostgreSQL and the API take free ephemeral ports (free_port)
    for _, node_port, dist_port in engines.RMQ_NODES:
        ports += [node_port, dist_port]
    assert len(set(ports)) == len(ports)
    assert not set(ports) & SHARED_PORTS
    assert len({name for name, _, _ in engines.RMQ_NODES}) == 3
    assert all(not name.startswith("rabbit@") for name, _, _ in engines.RMQ_NODES)


def test_the_drill_migrates_every_queue_the_app_declares() -> None:
    engines = drill()
    assert tuple(engines.QUEUES) == QUEUES
    documented = re.search(r"<file>` pour ([^;]+);", README.replace("\n", " "))
    assert documented is not None
    assert [q.strip() for q in documented.group(1).replace(" et ", ",").split(",")] == list(QUEUES)
    quorum = make_celery(Settings(celery_quorum_queues=True)).conf.task_queues
    classic = make_celery(Settings(celery_quorum_queues=False)).conf.task_queues
    assert {q.name: (q.queue_arguments or {}).get("x-queue-type") for q in quorum} == dict.fromkeys(
        QUEUES, "quorum"
    )
    assert all(not q.queue_arguments for q in classic)


def test_the_drill_overrides_only_settings_the_repository_file_sets_or_standby_ones() -> None:
    """The drill's overrides shrink the repository's postgresql settings for a test machine; a typo there
    would silently leave the repository's 8 GB value and the drill would not start on a small host."""
    engines = drill()
    repo_keys = set(
        re.findall(r"^(\w+)\s*=", (ROOT / "deploy/server1-data/postgresql/samaconso.conf").read_text(), re.M)
    )
    overrides = set(re.findall(r"^(\w+)\s*=", engines.PG_DRILL_OVERRIDES, re.M))
    assert overrides - repo_keys == {"unix_socket_directories", "hot_standby"}


def test_engines_drill_runs_for_real() -> None:
    if os.environ.get("SAMACONSO_REHEARSAL_ENGINES") != "1":
        pytest.skip("about 2 minutes: set SAMACONSO_REHEARSAL_ENGINES=1 to run the engines drill")
    require_root("the drill runs PostgreSQL as the postgres account and three RabbitMQ nodes")
    require_tool("runuser", "the drill runs PostgreSQL as the postgres account")
    if not Path("/usr/lib/postgresql/15/bin/postgres").exists():
        require_tool("postgresql-15", "the drill needs PostgreSQL 15's binaries")
    if not Path("/usr/lib/rabbitmq/bin/rabbitmq-server").exists():
        require_tool("rabbitmq-server", "the drill runs three RabbitMQ nodes")
    res = subprocess.run([sys.executable, str(DRILL)], capture_output=True, text=True, timeout=900)
    out = res.stdout
    print(out)  # the drill's figures, shown with -s
    assert res.returncode == 0, out + res.stderr
    assert "FAILED" not in out
    assert "walreceiver streaming" in out
    assert "la liste montre ['drill.admin']" in out  # replay paused: the list came from the replica
    assert "read-only transaction" in out
    # the dashboard refresh read the replica (replay paused: 2 customers there, 3 on the primary) and
    # wrote its rollups on the primary
    assert (
        "3 sur le primaire, 2 sur la réplique (rejeu suspendu) ; agrégat national écrit sur le primaire : 2 clients"
        in out
    )
    assert "users.customers = 3" in out
    assert out.count("quorum 3 membres") == len(QUEUES)
    assert "30/30 résultats" in out
    assert "nouveau leader rabbit" in out
    assert "résultat : réussi" in out
