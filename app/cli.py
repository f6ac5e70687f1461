"""Flask CLI commands: demo data, org import, process deployment, the audit log."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from .jobs.cli import jobs_cli
from .services import admin_users, audit, audit_export, audit_log, demo, deployment, org, retention
from .services.errors import ServiceError

demo_cli = AppGroup("demo", help="Демонстрационные данные.")
org_cli = AppGroup("org", help="Организации и пользователи.")
processes_cli = AppGroup("processes", help="Развёртывание процессов.")
audit_cli = AppGroup("audit", help="Журнал аудита.")
users_cli = AppGroup("users", help="Учётные записи пользователей.")
monitoring_cli = AppGroup("monitoring", help="Сводные данные мониторинга.")


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


def _print_progress(stage: str, done: int, total: int) -> None:
    click.echo(f"  {stage}: {done}/{total}", err=True)


@org_cli.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Показать, что изменится, ничего не сохраняя.")
@click.option(
    "--tokens-out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="CSV для одноразовых ссылок установки пароля (пользователи без пароля в файле).",
)
def org_import(csv_file: Path, dry_run: bool, tokens_out: Path | None) -> None:
    """Import org units or users with grants from CSV (all or nothing)."""
    try:
        report = org.import_csv(
            csv_file.read_text(encoding="utf-8"),
            None,
            dry_run=dry_run,
            progress=_print_progress,
        )
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
    if report.setup_tokens:
        if tokens_out is not None:
            lines = ["username,setup_token"] + [f"{u},{t}" for u, t in report.setup_tokens.items()]
            tokens_out.write_text("\n".join(lines) + "\n", encoding="utf-8")
            tokens_out.chmod(0o600)
            click.echo(f"Одноразовые токены установки пароля записаны в {tokens_out}.")
        else:
            click.echo(
                f"Пользователей без пароля: {len(report.setup_tokens)}. Токены не сохранены "
                "(--tokens-out): выдайте им пароль через «Сбросить пароль» в администрировании."
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


@processes_cli.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--forms", "forms_dir", type=click.Path(file_okay=False, path_type=Path))
def processes_validate(paths: tuple[Path, ...], forms_dir: Path | None) -> None:
    """Validate diagrams and forms as a deployment would, deploying nothing (exit 1 on errors)."""
    from .services import designer

    bundle = designer.bundle_from_paths(list(paths), forms_dir or current_app.config["FORMS_DIR"])
    _, problems = deployment.validate_bundle(bundle)
    for p in problems:
        click.echo(f"[{p.severity}] {p.file} {p.element_id or ''}: {p.message}")
    errors = sum(p.severity == "error" for p in problems)
    click.echo(f"Ошибок: {errors}, предупреждений: {len(problems) - errors}.")
    if errors:
        raise SystemExit(1)


@processes_cli.command("export")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
def processes_export(directory: Path | None) -> None:
    """Write the latest deployed versions to DIR/processes and DIR/forms (default: the repo)."""
    from .services import designer

    processes_dir = directory / "processes" if directory else current_app.config["PROCESSES_DIR"]
    forms_dir = directory / "forms" if directory else current_app.config["FORMS_DIR"]
    result = designer.export_latest(Path(processes_dir), Path(forms_dir))
    for conflict in result.conflicts:
        click.echo(f"[warning] {conflict}", err=True)
    click.echo(f"Записано файлов: {len(result.written)} ({processes_dir}, {forms_dir}).")


_REASONS = {
    "hash": "содержимое события не соответствует его хешу",
    "link": "ссылка на предыдущее событие не совпадает",
    "missing": "событие отсутствует",
    "checkpoint": "события до контрольной точки хранения не совпадают с её сводкой",
}


@audit_cli.command("verify")
def audit_verify() -> None:
    """Recompute the audit hash chain and name the first broken link."""
    result = audit.verify()
    if result["ok"]:
        click.echo(f"Цепочка аудита цела: проверено событий {result['checked']}.")
        return
    reason = _REASONS.get(result.get("reason") or "", "")
    click.echo(
        f"Цепочка аудита нарушена: первое повреждённое событие № {result['first_bad_seq']}"
        f"{f' ({reason})' if reason else ''} (проверено до него: {result['checked']}).",
        err=True,
    )
    raise SystemExit(1)


def _moment(value: str | None, option: str) -> datetime | None:
    """An ISO 8601 date or date-time from the command line; without a zone it is UTC."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(
            "ожидается дата ISO 8601, например 2026-01-31 или 2026-01-31T12:00:00+03:00",
            param_hint=option,
        ) from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _fail(exc: ServiceError) -> NoReturn:
    click.echo(exc.message, err=True)
    for messages in exc.errors.values():
        for message in messages:
            click.echo(f"  {message}", err=True)
    raise SystemExit(1) from exc


@audit_cli.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="jsonl")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Файл (по умолчанию — стандартный вывод).",
)
@click.option("--process", "process_key", help="Ключ процесса.")
@click.option("--instance", "instance_id", type=int, help="Номер экземпляра.")
@click.option("--actor", help="Имя пользователя, совершившего действие.")
@click.option("--org-unit", "org_unit", help="Организация (slug) вместе с подчинёнными.")
@click.option("--kind", help="Вид события; несколько — через запятую.")
@click.option("--since", help="С момента (ISO 8601).")
@click.option("--until", help="До момента, не включая (ISO 8601).")
def audit_export_cmd(
    fmt: str,
    output: Path | None,
    process_key: str | None,
    instance_id: int | None,
    actor: str | None,
    org_unit: str | None,
    kind: str | None,
    since: str | None,
    until: str | None,
) -> None:
    """Export the log (or a filtered view) with its hashes, streamed; the export is audited."""
    try:
        flt = audit_log.AuditFilter(
            process_key=process_key,
            instance_id=instance_id,
            actor=actor,
            org_unit_id=audit_log.unit_id_for_slug(org_unit) if org_unit else None,
            kinds=audit_log.parse_kinds(kind),
            since=_moment(since, "--since"),
            until=_moment(until, "--until"),
        )
        export = audit_export.start_export(None, flt, fmt, via="cli")
    except ServiceError as exc:
        _fail(exc)
    if output is None:
        for chunk in export.chunks():
            sys.stdout.write(chunk)
        sys.stdout.flush()
        return
    with output.open("w", encoding="utf-8", newline="") as handle:
        for chunk in export.chunks():
            handle.write(chunk)
    click.echo(f"Выгрузка записана в {output} (события до № {export.upto_seq}).", err=True)


@audit_cli.command("retention-report")
@click.option("--as-of", "as_of", help="На дату (ISO 8601); по умолчанию — сейчас.")
def audit_retention_report(as_of: str | None) -> None:
    """Report the instances past their retention period and their events; deletes nothing."""
    try:
        result = retention.report(_moment(as_of, "--as-of"))
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"Сроки хранения на {result.as_of:%Y-%m-%d %H:%M} UTC:")
    click.echo(f"{'процесс':30} {'лет':>4} {'завершены до':12} {'экземпляров':>12} {'событий':>10}")
    for row in result.rows:
        click.echo(
            f"{row.process_key:30} {row.years:>4} {row.cutoff:%Y-%m-%d}   "
            f"{row.instances:>12} {row.events:>10}"
        )
    click.echo(
        f"Итого с истёкшим сроком: экземпляров {result.instances}, событий {result.events}. "
        "Ничего не удалено; удаление — flask audit purge --before ДАТА --confirm."
    )


@audit_cli.command("purge")
@click.option("--before", required=True, help="Удалить то, чей срок хранения истёк до этой даты.")
@click.option("--confirm", is_flag=True, help="Действительно удалить (без флага — только подсчёт).")
def audit_purge(before: str, confirm: bool) -> None:
    """Delete instances past retention with their events and rows; audited, leaves a checkpoint."""
    moment = _moment(before, "--before")
    assert moment is not None
    try:
        result = retention.purge(moment, confirm=confirm)
    except ServiceError as exc:
        _fail(exc)
    details = ", ".join(f"{k}: {v}" for k, v in sorted(result.per_process.items())) or "—"
    rows = ", ".join(f"{k}: {v}" for k, v in sorted(result.rows.items())) or "—"
    cut = ", ".join(f"{k}: {v}" for k, v in sorted(result.detached.items())) or "—"
    if not confirm:
        click.echo(
            f"Проверка: к удалению экземпляров {result.instances}, событий {result.events} "
            f"({details}); строк по таблицам: {rows}; ссылок, которые будут обнулены: {cut}. "
            "Ничего не удалено: добавьте --confirm."
        )
        return
    if result.checkpoint_seq is None:
        click.echo("Нечего удалять: нет экземпляров с истёкшим сроком хранения.")
        return
    click.echo(
        f"Удалено событий {result.events} по {result.instances} экземплярам ({details}); "
        f"строк по таблицам: {rows}; обнулено ссылок: {cut}. "
        f"Контрольная точка — событие № {result.checkpoint_seq} (охватывает до № "
        f"{result.through_seq}); проверка цепочки: flask audit verify."
    )


@users_cli.command("create")
@click.argument("username")
@click.option("--full-name", default="", help="ФИО.")
@click.option("--email", default=None, help="Электронная почта.")
@click.option("--ldap", "directory", is_flag=True, help="Вход через каталог (LDAP), без пароля.")
def users_create(username: str, full_name: str, email: str | None, directory: bool) -> None:
    """Create a user (no roles); a local user gets a one-time password setup token."""
    try:
        created = admin_users.create_user(
            None, username, full_name, email, auth_source="ldap" if directory else "local"
        )
    except ServiceError as exc:
        click.echo(exc.message, err=True)
        raise SystemExit(1) from exc
    click.echo(f"Пользователь {created.user.username} создан (id {created.user.id}).")
    if created.setup_token:
        click.echo(f"Одноразовый токен установки пароля: {created.setup_token}")


@users_cli.command("deactivate")
@click.argument("username")
@click.option("--reason", required=True, help="Основание отключения.")
def users_deactivate(username: str, reason: str) -> None:
    """Deactivate a user: no more logins, API tokens revoked."""
    user = admin_users.by_username(username)
    if user is None:
        click.echo(f"Пользователь {username} не найден.", err=True)
        raise SystemExit(1)
    try:
        admin_users.deactivate_user(None, user.id, reason)
    except ServiceError as exc:
        click.echo(exc.message, err=True)
        raise SystemExit(1) from exc
    click.echo(f"Пользователь {username} отключён.")


@monitoring_cli.command("rebuild")
def monitoring_rebuild() -> None:
    """Fill the monitoring summary for instances started before it existed; recount rollups."""
    from .services import monitoring_facts

    added, total = monitoring_facts.rebuild()
    click.echo(f"Добавлено сводных записей: {added}; всего: {total}. Итоги пересчитаны.")


def register_cli(app: Flask) -> None:
    """Attach the command groups to the app."""
    for group in (demo_cli, org_cli, processes_cli, audit_cli, jobs_cli, users_cli, monitoring_cli):
        app.cli.add_command(group)
