"""Administration fixtures: users with grants made in the test, a throwaway slapd."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import OrgUnit, RoleGrant, User
from app.services.auth import hash_password
from tests.conftest import DEMO_PASSWORD


def make_user(
    app: Flask,
    username: str,
    grants: list[tuple[str, str]] | None = None,
    *,
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
    password: str = DEMO_PASSWORD,
    auth_source: str = "local",
) -> int:
    """A user with role grants [(role, unit slug)] written straight to the database; its id."""
    with app.app_context():
        user = User(
            username=username,
            full_name=f"Тестовый {username}",
            email=f"{username}@example.org",
            password_hash=hash_password(password) if auth_source == "local" else "",
            auth_source=auth_source,
        )
        db.session.add(user)
        db.session.flush()
        for role, slug in grants or []:
            unit = db.session.execute(select(OrgUnit).where(OrgUnit.slug == slug)).scalar_one()
            db.session.add(
                RoleGrant(
                    user_id=user.id,
                    role=role,
                    org_unit_id=unit.id,
                    valid_from=valid_from,
                    valid_to=valid_to,
                )
            )
        db.session.commit()
        user_id = user.id
        db.session.remove()
        return user_id


def user_id(app: Flask, username: str) -> int:
    """The id of a user by username."""
    with app.app_context():
        uid = db.session.execute(select(User.id).where(User.username == username)).scalar_one()
        db.session.remove()
        return int(uid)


GATCHINA_ADMIN = "admin.gatchina"


@pytest.fixture()
def gatchina_admin(seeded: Flask) -> str:
    """An admin whose scope is the gatchina municipality and its schools."""
    make_user(seeded, GATCHINA_ADMIN, [("admin", "gatchina")])
    return GATCHINA_ADMIN


# --- a throwaway OpenLDAP server ------------------------------------------------------------

BASE_DN = "dc=rsnms,dc=test"
ROOT_DN = f"cn=admin,{BASE_DN}"
ROOT_PW = "root-secret"
LDAP_USER = "ivanov"
LDAP_PASSWORD = "ldap-pass-1"
SCHEMAS = ("core", "cosine", "inetorgperson", "nis")


def _slapd() -> str | None:
    return shutil.which("slapd") or (
        "/usr/sbin/slapd" if os.path.exists("/usr/sbin/slapd") else None
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Directory:
    """A running slapd: its URL, and a way to stop it (directory down)."""

    url: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def _ldif() -> str:
    return f"""dn: {BASE_DN}
objectClass: dcObject
objectClass: organization
dc: rsnms
o: RSNMS test

dn: ou=people,{BASE_DN}
objectClass: organizationalUnit
ou: people

dn: uid={LDAP_USER},ou=people,{BASE_DN}
objectClass: inetOrgPerson
uid: {LDAP_USER}
cn: Иванов Иван Иванович
sn: Иванов
displayName: Иванов Иван Иванович
mail: ivanov@example.org
userPassword: {LDAP_PASSWORD}

dn: uid=petrova,ou=people,{BASE_DN}
objectClass: inetOrgPerson
uid: petrova
cn: Петрова Мария
sn: Петрова
userPassword: petrova-pass-1
"""


@pytest.fixture()
def directory(tmp_path: Path) -> Iterator[Directory]:
    """slapd on 127.0.0.1 with a free port, a temp config and a base DN with test users."""
    slapd = _slapd()
    if slapd is None or shutil.which("ldapadd") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("slapd/ldapadd missing in CI: apt-get install slapd ldap-utils")
        pytest.skip("slapd не установлен: apt-get install slapd ldap-utils")
    port = _free_port()
    data = tmp_path / "ldap-db"
    data.mkdir()
    conf = tmp_path / "slapd.conf"
    includes = "\n".join(f"include /etc/ldap/schema/{s}.schema" for s in SCHEMAS)
    conf.write_text(
        f"""{includes}
pidfile {tmp_path / "slapd.pid"}
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 10485760
suffix "{BASE_DN}"
rootdn "{ROOT_DN}"
rootpw {ROOT_PW}
directory {data}
""",
        encoding="utf-8",
    )
    url = f"ldap://127.0.0.1:{port}"
    log = (tmp_path / "slapd.log").open("wb")
    process = subprocess.Popen(
        [slapd, "-d", "0", "-h", f"{url}/", "-f", str(conf)], stdout=log, stderr=log
    )
    server = Directory(url, process)
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                raise RuntimeError((tmp_path / "slapd.log").read_text(errors="replace"))
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("slapd did not start listening")
            time.sleep(0.1)
        subprocess.run(
            ["ldapadd", "-x", "-H", url, "-D", ROOT_DN, "-w", ROOT_PW],
            input=_ldif().encode("utf-8"),
            check=True,
            capture_output=True,
            timeout=30,
        )
        yield server
    finally:
        server.stop()
        log.close()


@pytest.fixture()
def ldap_app(seeded: Flask, directory: Directory) -> Iterator[Flask]:
    """The seeded app configured to log in through the throwaway directory."""
    keys = ("LDAP_URL", "LDAP_BASE_DN", "LDAP_USER_DN_TEMPLATE", "LDAP_TIMEOUT")
    saved: dict[str, Any] = {k: seeded.config.get(k) for k in keys}
    seeded.config.update(
        LDAP_URL=directory.url,
        LDAP_BASE_DN=BASE_DN,
        LDAP_USER_DN_TEMPLATE="uid={username},ou=people,{base_dn}",
        LDAP_TIMEOUT=3,
    )
    try:
        yield seeded
    finally:
        seeded.config.update(saved)
