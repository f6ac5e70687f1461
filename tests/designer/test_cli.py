"""`flask processes validate` and `flask processes export` (git as the source of truth)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .helpers import CORPUS, DATA, ROOT


def test_validate_reports_every_problem_and_fails(seeded: Any) -> None:
    result = seeded.test_cli_runner().invoke(
        args=[
            "processes",
            "validate",
            str(CORPUS / "many_problems.bpmn"),
            "--forms",
            str(DATA / "forms"),
        ]
    )
    assert result.exit_code == 1
    for element in ("Lane_wizard", "Task_no_form", "Gateway_choice", "Script_import", "Flow_a"):
        assert element in result.output
    assert "Ошибок: " in result.output


def test_validate_a_good_diagram_passes(seeded: Any) -> None:
    result = seeded.test_cli_runner().invoke(
        args=[
            "processes",
            "validate",
            str(DATA / "designer_demo.bpmn"),
            "--forms",
            str(DATA / "forms"),
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Ошибок: 0, предупреждений: 0." in result.output


def test_validate_the_repository_processes(seeded: Any) -> None:
    result = seeded.test_cli_runner().invoke(
        args=["processes", "validate", str(ROOT / "processes")]
    )
    assert result.exit_code == 0, result.output


def test_export_round_trips_as_a_no_op_deploy(seeded: Any, tmp_path: Path) -> None:
    runner = seeded.test_cli_runner()
    exported = runner.invoke(args=["processes", "export", str(tmp_path)])
    assert exported.exit_code == 0, exported.output
    for source in (ROOT / "processes").glob("*.bpmn"):
        assert (tmp_path / "processes" / source.name).read_bytes() == source.read_bytes()
    assert (tmp_path / "forms" / "mo_plan_approval" / "draft.json").is_file()
    redeployed = runner.invoke(args=["processes", "deploy", str(tmp_path / "processes")])
    assert redeployed.exit_code == 0, redeployed.output
    assert "новая версия" not in redeployed.output
    assert "без изменений" in redeployed.output
