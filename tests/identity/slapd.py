"""A throw-away OpenLDAP server for the tests: own config, own database, random loopback port.

The directory mimics Active Directory where it matters to us: accounts carry ``sAMAccountName``
(defined by a tiny schema with AD's OID), a service account may search, users may only bind."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ldap3 import Connection, Server

from samaconso.embedded.procs import ManagedProcess, free_port, port_open, wait_for

SLAPD = "/usr/sbin/slapd"
SCHEMA_DIR = Path("/etc/ldap/schema")
BASE_DN = "dc=senelec,dc=sn"
ROOT_DN = f"cn=admin,{BASE_DN}"
SERVICE_DN = f"cn=svc-samaconso,ou=services,{BASE_DN}"

AD_SCHEMA = """
attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName'
    EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
    SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.55555.1.1 NAME 'senelecAccount' SUP top AUXILIARY
    MAY ( sAMAccountName ) )
"""


@dataclass
class Directory:
    url: str
    root_password: str
    service_password: str
    proc: ManagedProcess
    ldaps_url: str | None = None

    def add_user(self, sam: str, password: str, *, ou: str = "people", uid: str | None = None) -> str:
        dn = f"cn={sam},ou={ou},{BASE_DN}"
        with Connection(Server(self.url), ROOT_DN, self.root_password, auto_bind=True) as conn:
            ok = conn.add(  # type: ignore[no-untyped-call]
                dn,
                ["inetOrgPerson", "senelecAccount"],
                {"sn": sam, "uid": uid or sam, "sAMAccountName": sam, "userPassword": password},
            )
            assert ok, conn.result
        return dn


def start_slapd(workdir: Path, tls: tuple[Path, Path] | None = None) -> Directory:
    """``tls``: (certificate chain, key) PEM files; slapd then also listens on ldaps://."""
    if not os.path.exists(SLAPD):
        raise RuntimeError("slapd is not installed (make test installs it)")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "db").mkdir(exist_ok=True)
    (workdir / "ad.schema").write_text(AD_SCHEMA)
    root_password = os.urandom(12).hex()
    service_password = os.urandom(12).hex()
    port = free_port()
    conf = workdir / "slapd.conf"
    conf.write_text(
        "\n".join(
            [
                *(
                    f"include {SCHEMA_DIR / name}"
                    for name in ("core.schema", "cosine.schema", "inetorgperson.schema")
                ),
                f"include {workdir / 'ad.schema'}",
                f"pidfile {workdir / 'slapd.pid'}",
                f"argsfile {workdir / 'slapd.args'}",
                "modulepath /usr/lib/ldap",
                "moduleload back_mdb",
                "database mdb",
                "maxsize 10485760",
                f'suffix "{BASE_DN}"',
                f'rootdn "{ROOT_DN}"',
                f"rootpw {root_password}",
                f"directory {workdir / 'db'}",
                # passwords: only usable to bind; the service account may search, nobody else
                *(
                    [f"TLSCertificateFile {tls[0]}", f"TLSCertificateKeyFile {tls[1]}"]
                    if tls is not None
                    else []
                ),
                "access to attrs=userPassword by anonymous auth by * none",
                f'access to * by dn.exact="{SERVICE_DN}" read by self read by * none',
                "",
            ]
        )
    )
    url = f"ldap://127.0.0.1:{port}"
    tls_port = free_port() if tls is not None else None
    listen = f"{url}/" + (f" ldaps://127.0.0.1:{tls_port}/" if tls_port else "")
    proc = ManagedProcess(
        "slapd", [SLAPD, "-f", str(conf), "-h", listen, "-d", "0"], log_path=workdir / "slapd.log"
    ).start()
    wait_for(lambda: port_open("127.0.0.1", port), 20, "slapd", proc)
    with Connection(Server(url), ROOT_DN, root_password, auto_bind=True) as conn:
        conn.add(BASE_DN, ["dcObject", "organization"], {"dc": "senelec", "o": "Senelec"})  # type: ignore[no-untyped-call]
        for ou in ("people", "services", "other"):
            conn.add(f"ou={ou},{BASE_DN}", ["organizationalUnit"], {"ou": ou})  # type: ignore[no-untyped-call]
        conn.add(SERVICE_DN, ["person"], {"sn": "service", "userPassword": service_password})  # type: ignore[no-untyped-call]
    return Directory(
        url=url,
        root_password=root_password,
        service_password=service_password,
        proc=proc,
        ldaps_url=f"ldaps://127.0.0.1:{tls_port}" if tls_port else None,
    )


def stop_slapd(directory: Directory, workdir: Path) -> None:
    directory.proc.stop()
    shutil.rmtree(workdir, ignore_errors=True)
