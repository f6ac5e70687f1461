"""Flask CLI commands: demo data, org import, process deployment, audit verification."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from .services import audit, demo, deployment, org
from .services.errors import ServiceError

demo_cli = AppGroup("demo", help="Демонстрационные данные.")
org_cli = AppGroup("org", help="Организации и пользователи.")
processes_cli = AppGroup("processes", help="Развёртывание процессов.")
audit_cli = AppGroup("audit", help="Журнал аудита.")


@demo_cli.command("seed")
def demo_seed() -> None:
    """Create the demo org tree and users on an empty database."""
    created = demo.seed(current_app.config["DEMO_PASSWORD"])
    click.echo(
        "Демонстрационные данные созданы."
        if created
        else "В базе уже есть данные: демонстрационные данные не добавлялись."
    )


@demo_cli.command("users")
def demo_users() -> None:
    """Print the demo users with their roles and units."""
    for username, role, slug in demo.demo_usernames():
        click.echo(f"{username:45} {role:25} {slug}")


@org_cli.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Показать, что изменится, ничего не сохраняя.")
def org_import(csv_file: Path, dry_run: bool) -> None:
    """Import org units or users with grants from CSV (all or nothing)."""
    try:
        report = org.import_csv(csv_file.read_text(encoding="utf-8"), None, dry_run=dry_run)
    except ServiceError as exc:
        click.echo(exc.message, err=True)
        for rows in exc.errors.values():
            for row in rows:
                click.echo(f"  {row}", err=True)
        raise SystemExit(1) from exc
    prefix = "Проверка (ничего не сохранено): " if dry_run else "Импортировано: "
    click.echo(
        f"{prefix}организаций {report.units_created}, пользователей "
        f"{report.users_created}, назначений ролей {report.grants_created}."
    )


@processes_cli.command("deploy")
@click.argument(
    "path", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
def processes_deploy(path: Path | None) -> None:
    """Validate and deploy every diagram in processes/ (and forms/)."""
    processes_dir = path or current_app.config["PROCESSES_DIR"]
    forms_dir = current_app.config["FORMS_DIR"]
    if path is not None and (path.parent / "forms").exists():
        forms_dir = path.parent / "forms"
    bundle = deployment.bundle_from_directory(Path(processes_dir), Path(forms_dir))
    try:
        outcomes, problems = deployment.deploy(bundle, None)
    except deployment.DeploymentRejected as exc:
        for p in exc.problems:
            click.echo(f"[{p.severity}] {p.file} {p.element_id or ''}: {p.message}", err=True)
        raise SystemExit(1) from exc
    for p in problems:
        click.echo(f"[{p.severity}] {p.file} {p.element_id or ''}: {p.message}", err=True)
    for o in outcomes:
        state = "новая версия" if o.created else "без изменений"
        click.echo(f"{o.key}: версия {o.version} ({state})")


@audit_cli.command("verify")
def audit_verify() -> None:
    """Recompute the audit hash chain and name the first broken link."""
    result = audit.verify()
    if result["ok"]:
        click.echo(f"Цепочка аудита цела: проверено событий {result['checked']}.")
        return
    click.echo(
        f"Цепочка аудита нарушена: первое повреждённое событие № {result['first_bad_seq']} "
        f"(проверено до него: {result['checked']}).",
        err=True,
    )
    raise SystemExit(1)


def register_cli(app: Flask) -> None:
    """Attach the command groups to the app."""
    for group in (demo_cli, org_cli, processes_cli, audit_cli):
        app.cli.add_command(group)
