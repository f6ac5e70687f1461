"""«Мониторинг» pages, exports and the REST endpoint on the hand-computed data set."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook

from tests.conftest import ApiClient
from tests.web.conftest import WebClient

from . import dataset

Q = "year=2025/2026"


@pytest.fixture()
def data(seeded: Flask) -> dict[str, int]:
    """The data set, loaded in a context of its own (a pushed context would leak the login)."""
    with seeded.app_context():
        ids = dataset.load()
        ids.update(
            {slug: dataset.unit_id(slug) for slug in ("gatchina", "luga", "gatchina-school-2")}
        )
        return ids


@pytest.fixture()
def login(seeded: Flask) -> Any:
    def make(username: str) -> WebClient:
        session = WebClient(seeded.test_client())
        session.login(username)
        return session

    return make


def _row(html: str, attribute: str, slug: str) -> str:
    match = re.search(rf'<tr data-{attribute}="{slug}">(.*?)</tr>', html, re.S)
    assert match, f"no row {slug}"
    return match.group(1)


def _text(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


def test_dashboard_page_for_the_region(data: dict[str, int], login: Any) -> None:
    resp = login("region_official.lenobl").get(f"/monitoring/?{Q}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'href="/monitoring/"' in html  # the navbar item
    gatchina = _text(_row(html, "municipality", "gatchina"))
    assert "зарегистрировано с 05.10.2025 № 12" in gatchina
    assert "1: 2 2: 1 3: 1 срок истёк: 2" in gatchina
    assert "2 чел. из 1 школ" in gatchina
    assert "1 из 2 школ" in gatchina and "0 / 1 / 1" in gatchina
    luga = _text(_row(html, "municipality", "luga"))
    assert "не подписано" in luga and "в работе: 1" in luga and "1 / 0 / 0" in luga
    # Every number links to its drill-down; every school square too.
    assert (
        f'href="/monitoring/drill?year=2025/2026&amp;figure=overdue&amp;municipality={data["luga"]}"'
        in html
    )
    assert html.count('class="school-cell"') == 4
    assert html.count("<svg") >= 4 + 5  # three bar charts, the grid, five histograms
    school = _text(_row(html, "school", "gatchina-school-1"))
    assert school.startswith("МБОУ «Гатчинская СОШ № 1» 1 1 0 / 0 / 0 2 1"), school
    assert "узкое место" in html


def test_dashboard_scope_on_pages(data: dict[str, int], login: Any) -> None:
    director = login("director.gatchina-school-1")
    html = director.get(f"/monitoring/?{Q}").get_data(as_text=True)
    assert 'data-school="gatchina-school-1"' in html
    assert 'data-school="gatchina-school-2"' not in html
    assert 'data-municipality="luga"' not in html
    assert "Муниципальные процедуры вне вашей зоны" in html
    resp = director.get(f"/monitoring/?{Q}&municipality={data['luga']}")
    assert resp.status_code == 403
    resp = director.get(
        f"/monitoring/drill?figure=attestation_granted&{Q}&school={data['gatchina-school-2']}"
    )
    assert resp.status_code == 403

    teacher = login("teacher.gatchina-school-1")
    resp = teacher.get("/monitoring/")
    assert resp.status_code == 403
    assert "Мониторинг доступен руководителям" in resp.get_data(as_text=True)
    assert 'href="/monitoring/"' not in teacher.get("/").get_data(as_text=True)
    assert login("auditor").get("/monitoring/drill?figure=overdue").status_code == 403
    assert login("mms_head.luga").get(f"/monitoring/export.xlsx?{Q}").status_code == 200
    assert login("teacher.luga-school-1").get("/monitoring/export.xlsx").status_code == 403


def test_drill_down_page_links_instances(data: dict[str, int], login: Any) -> None:
    web = login("region_official.lenobl")
    html = web.get(f"/monitoring/drill?figure=overdue&{Q}").get_data(as_text=True)
    listed = {int(x) for x in re.findall(r'<tr data-instance="(\d+)">', html)}
    assert listed == {data["P2"], data["A2"]}
    assert f'href="/instances/{data["A2"]}"' in html
    assert "Экземпляров: 2" in html
    assert web.get(f"/monitoring/drill?figure=nonsense&{Q}").status_code == 404
    assert web.get("/monitoring/drill?figure=overdue&year=2025-26").status_code == 422


def test_csv_export(data: dict[str, int], login: Any) -> None:
    web = login("region_official.lenobl")
    resp = web.get(f"/monitoring/export.csv?table=municipalities&{Q}")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/csv")
    text = resp.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert rows[0] == ["Учебный год 2025/2026"]
    assert rows[1][:3] == ["Муниципалитет", "Соглашение", "Подписано с"]
    gatchina = next(r for r in rows if r[0] == "Гатчинский муниципальный округ")
    assert gatchina[1:] == (
        [
            "зарегистрировано",
            "2025-10-05",
            "12",
            "2025-10-15",
            "2",
            "1",
            "1",
            "4",
            "2",
            "2",
            "1",
            "2",
            "1",
            "1",
            "1",
            "0",
            "1",
            "1",
            "1",
        ]
    )
    luga = next(r for r in rows if r[0] == "Лужский муниципальный район")
    assert luga[1:] == [
        "нет",
        "",
        "",
        "нет",
        "0",
        "0",
        "0",
        "0",
        "0",
        "1",
        "1",
        "2",
        "1",
        "1",
        "0",
        "1",
        "0",
        "0",
        "1",
    ]
    steps = web.get(f"/monitoring/export.csv?table=steps&{Q}").get_data(as_text=True)
    assert "Task_council_review;2;3.0;да" in steps
    assert web.get(f"/monitoring/export.csv?table=secret&{Q}").status_code == 404


def test_xlsx_export(data: dict[str, int], login: Any) -> None:
    resp = login("municipal_head.gatchina").get(f"/monitoring/export.xlsx?{Q}")
    assert resp.status_code == 200
    assert resp.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = load_workbook(io.BytesIO(resp.get_data()))
    assert book.sheetnames == [
        "Муниципалитеты",
        "Школы",
        "Длительность процессов",
        "Длительность шагов",
    ]
    munis = list(book["Муниципалитеты"].iter_rows(values_only=True))
    assert [r[0] for r in munis[2:]] == ["Гатчинский муниципальный округ"]
    schools = list(book["Школы"].iter_rows(values_only=True))[2:]
    assert sorted((r[1], r[2], r[3], r[7]) for r in schools) == sorted(
        [("МБОУ «Гатчинская СОШ № 1»", 1, 1, 1), ("МБОУ «Гатчинская СОШ № 2»", 0, 0, 0)]
    )
    processes = {r[0]: r for r in list(book["Длительность процессов"].iter_rows(values_only=True))}
    assert any(r[1] == 1 and r[2] == 7.0 for r in processes.values())  # P1 only in Гатчина


def test_api_endpoint(data: dict[str, int], api: ApiClient) -> None:
    resp = api.get(f"/monitoring?{Q}", "region_official.lenobl")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["year"] == "2025/2026" and body["bucket_bounds_days"] == [7, 14, 30, 60, 90]
    g = next(m for m in body["municipalities"] if m["slug"] == "gatchina")
    assert g["agreement"]["outcome"] == "registered"
    assert g["agreement"]["registration_number"] == "12"
    assert g["roadmap"]["total"] == 4 and g["roadmap"]["total_overdue"] == 2
    assert (g["plans_approved"], g["overdue_tasks"], g["mma_members"]) == (1, 1, 2)
    assert [s["status"] for s in g["schools"]] == ["overdue", "none"]

    one = api.get(f"/monitoring?{Q}&municipality=luga", "cnppm_head.lenobl").get_json()
    assert [m["slug"] for m in one["municipalities"]] == ["luga"]

    refused = api.get("/monitoring", "teacher.gatchina-school-1")
    assert refused.status_code == 403
    assert refused.get_json()["message"].startswith("Мониторинг доступен")
    assert api.get(f"/monitoring?{Q}&municipality=luga", "mms_head.gatchina").status_code == 403
    assert api.get("/monitoring?year=2025-2026", "mms_head.gatchina").status_code == 422
    assert api.get("/monitoring?municipality=nowhere", "mms_head.gatchina").status_code == 404
    assert api.get("/monitoring").status_code == 401

    drill = api.get(
        f"/monitoring/instances?figure=plans_approved&{Q}&school=gatchina-school-1",
        "director.gatchina-school-1",
    ).get_json()
    assert (drill["total"], [i["id"] for i in drill["items"]]) == (1, [data["P1"]])
    spec = api.get("/openapi.json").get_json()
    assert "/api/v1/monitoring" in spec["paths"]
    assert "/api/v1/monitoring/instances" in spec["paths"]
