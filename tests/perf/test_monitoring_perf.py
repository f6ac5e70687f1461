"""Benchmark: the region-wide monitoring dashboard with 50 municipalities, 1,500 schools and
200,000 instances on PostgreSQL (make bench).

The data set is bulk-inserted in SQL (INSERT … SELECT over generate_series): instances over five
school years (2022/2023 … 2026/2027, the current one only up to today), their monitoring facts,
three completed steps each plus the open step of every running instance (≈ 630,000 human
tasks, and a step fact per completed one), twelve measures per approved roadmap, and 1,000
ММА members. Instances carry a placeholder state: the dashboard never loads one, which is
what this measures.

Server time is measured in-process (Flask test client, a logged-in session, no network): the
region official's HTML dashboard for the heaviest complete school year and for the default
(current) one, and the JSON API.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from app.extensions import db
from app.services import deployment
from app.services.monitoring_facts import SchoolYear
from tests.conftest import DEMO_PASSWORD, ROOT
from tests.web.conftest import WebClient

from . import support

pytestmark = pytest.mark.perf

MUNICIPALITIES = 50
SCHOOLS_PER_MUNICIPALITY = 30
INSTANCES = 200_000
MEMBERS = 1_000
FIRST_YEAR = 2022
YEARS = 5
TARGET_MS = 300.0
SAMPLES = 60


def _load(app: Flask) -> dict[str, Any]:
    """Insert the data set; returns its counts and the load time."""
    started = time.perf_counter()
    today = datetime.now(UTC)
    with app.app_context():
        deployment.deploy(
            deployment.bundle_from_directory(ROOT / "processes", ROOT / "forms"), None
        )
        conn = db.session.connection()
        params = {"now": today, "first": FIRST_YEAR, "years": YEARS}
        conn.execute(
            text(
                """
                INSERT INTO org_unit (slug, name, tier, parent_id, created_at)
                SELECT 'bench-m-' || g, 'Муниципальный район № ' || g, 'municipality',
                       (SELECT id FROM org_unit WHERE slug = 'lenobl'), now()
                FROM generate_series(1, :n) g
                """
            ),
            {"n": MUNICIPALITIES},
        )
        conn.execute(
            text(
                """
                INSERT INTO org_unit (slug, name, tier, parent_id, created_at)
                SELECT 'bench-s-' || m.slug || '-' || g, 'Школа № ' || g || ' (' || m.name || ')',
                       'institution', m.id, now()
                FROM org_unit m, generate_series(1, :n) g
                WHERE m.slug LIKE 'bench-m-%'
                """
            ),
            {"n": SCHOOLS_PER_MUNICIPALITY},
        )
        # Kind by g % 20: 0 agreement, 1 roadmap, 2–3 ММА selection (municipality);
        # 4–11 МО plan, 12–19 attestation support (school). Year by (g / 20) % YEARS.
        conn.execute(
            text(
                """
                WITH munis AS (
                    SELECT array_agg(id ORDER BY id) AS ids FROM org_unit
                    WHERE slug LIKE 'bench-m-%'),
                schools AS (
                    SELECT array_agg(id ORDER BY id) AS ids FROM org_unit
                    WHERE slug LIKE 'bench-s-%'),
                versions AS (
                    SELECT key, max(id) AS id FROM process_version GROUP BY key),
                rows AS (
                    SELECT g,
                      CASE WHEN g % 20 = 0 THEN 'tripartite_agreement'
                           WHEN g % 20 = 1 THEN 'roadmap_approval'
                           WHEN g % 20 < 4 THEN 'mma_selection'
                           WHEN g % 20 < 12 THEN 'mo_plan_approval'
                           ELSE 'attestation_support' END AS key,
                      CASE WHEN g % 20 < 4 THEN munis.ids[1 + (g * 7) % array_length(munis.ids, 1)]
                           ELSE schools.ids[1 + (g * 13) % array_length(schools.ids, 1)] END
                        AS unit_id,
                      :first + (g / 20) % :years AS year
                    FROM generate_series(1, :count) g, munis, schools),
                timed AS (
                    SELECT rows.*,
                      make_timestamptz(year, 9, 1, 9, 0, 0, 'UTC')
                        + make_interval(days => ((g * 7919) % GREATEST(1, LEAST(300,
                            (:now)::date - make_date(year, 9, 1))))) AS started,
                      make_interval(days => 1 + (g * 31) % 120, hours => g % 24) AS took
                    FROM rows)
                INSERT INTO process_instance (process_version_id, process_key, org_unit_id,
                    status, title, started_at, ended_at, lock_version, state)
                SELECT versions.id, timed.key, unit_id,
                       CASE WHEN started + took < :now THEN 'completed' ELSE 'running' END,
                       timed.key || ' № ' || g, started,
                       CASE WHEN started + took < :now THEN started + took END, 1, '{}'
                FROM timed JOIN versions ON versions.key = timed.key
                ORDER BY g
                """
            ),
            {**params, "count": INSTANCES},
        )
        conn.execute(
            text(
                """
                INSERT INTO instance_fact (instance_id, process_key, municipality_id, school_id,
                    status, started_at, ended_at, school_year, outcome, outcome_at, detail)
                SELECT i.id, i.process_key,
                       CASE WHEN u.tier = 'institution' THEN u.parent_id ELSE u.id END,
                       CASE WHEN u.tier = 'institution' THEN u.id END,
                       i.status, i.started_at, i.ended_at,
                       CASE WHEN extract(month FROM i.started_at) >= 9
                            THEN extract(year FROM i.started_at)::int
                            ELSE extract(year FROM i.started_at)::int - 1 END,
                       CASE WHEN i.status <> 'completed' THEN NULL
                            WHEN i.process_key = 'tripartite_agreement' THEN 'registered'
                            WHEN i.process_key IN ('roadmap_approval', 'mo_plan_approval')
                              THEN 'approved'
                            WHEN i.process_key = 'attestation_support'
                              THEN CASE WHEN i.id % 3 = 0 THEN 'refused' ELSE 'granted' END
                            ELSE CASE WHEN i.id % 4 = 0 THEN 'rejected' ELSE 'included' END
                       END,
                       i.ended_at, NULL
                FROM process_instance i JOIN org_unit u ON u.id = i.org_unit_id
                """
            )
        )
        conn.execute(
            text(
                """
                INSERT INTO roadmap_measure_fact (instance_id, direction, deadline)
                SELECT f.instance_id,
                       (ARRAY['management', 'professional_mastery', 'content_support'])[1 + g % 3],
                       (f.outcome_at + make_interval(days => 30 * g))::date
                FROM instance_fact f, generate_series(1, 12) g
                WHERE f.process_key = 'roadmap_approval' AND f.outcome = 'approved'
                """
            )
        )
        # Three completed steps per instance, then the open step of each running instance.
        conn.execute(
            text(
                """
                INSERT INTO human_task (instance_id, task_uuid, bpmn_id, name, lane, org_unit_id,
                    process_key, documentation, status, due_at, created_at, completed_at,
                    row_version)
                SELECT i.id, 'bench-' || i.id || '-' || s, 'Task_step_' || s, 'Шаг ' || s,
                       NULL, i.org_unit_id, i.process_key, '', 'completed',
                       i.started_at + make_interval(days => 10 * s),
                       i.started_at + make_interval(days => 3 * (s - 1)),
                       i.started_at + make_interval(days => 3 * (s - 1) + 1 + (i.id + s) % 5),
                       1
                FROM process_instance i, generate_series(1, 3) s
                """
            )
        )
        conn.execute(
            text(
                """
                INSERT INTO human_task (instance_id, task_uuid, bpmn_id, name, lane, org_unit_id,
                    process_key, documentation, status, due_at, created_at, row_version)
                SELECT i.id, 'bench-open-' || i.id, 'Task_open', 'Открытый шаг', NULL,
                       i.org_unit_id, i.process_key, '', 'open',
                       i.started_at + make_interval(days => 14 + i.id % 60),
                       i.started_at + make_interval(days => 9), 1
                FROM process_instance i WHERE i.status = 'running'
                """
            )
        )
        conn.execute(
            text(
                """
                INSERT INTO step_fact (task_id, instance_id, process_key, bpmn_id, name,
                    municipality_id, school_id, completed_at, seconds)
                SELECT h.id, h.instance_id, h.process_key, h.bpmn_id, h.name,
                       f.municipality_id, f.school_id, h.completed_at,
                       extract(epoch FROM h.completed_at - h.created_at)
                FROM human_task h JOIN instance_fact f ON f.instance_id = h.instance_id
                WHERE h.status = 'completed'
                """
            )
        )
        # The rollups, as the engine steps would have maintained them (school year of the
        # completion in Moscow time).
        year_of = """CASE WHEN extract(month FROM {c} AT TIME ZONE 'Europe/Moscow') >= 9
                     THEN extract(year FROM {c} AT TIME ZONE 'Europe/Moscow')::int
                     ELSE extract(year FROM {c} AT TIME ZONE 'Europe/Moscow')::int - 1 END"""
        days = "extract(epoch FROM ended_at - started_at) / 86400.0"
        conn.execute(
            text(
                f"""
                INSERT INTO cycle_rollup (school_year, municipality_id, process_key, completed,
                    seconds_sum, b0, b1, b2, b3, b4, b5)
                SELECT {year_of.format(c="ended_at")}, municipality_id, process_key, count(*),
                       sum(extract(epoch FROM ended_at - started_at)),
                       count(*) FILTER (WHERE {days} < 7),
                       count(*) FILTER (WHERE {days} >= 7 AND {days} < 14),
                       count(*) FILTER (WHERE {days} >= 14 AND {days} < 30),
                       count(*) FILTER (WHERE {days} >= 30 AND {days} < 60),
                       count(*) FILTER (WHERE {days} >= 60 AND {days} < 90),
                       count(*) FILTER (WHERE {days} >= 90)
                FROM instance_fact WHERE status = 'completed'
                GROUP BY 1, 2, 3
                """
            )
        )
        conn.execute(
            text(
                f"""
                INSERT INTO step_rollup (school_year, municipality_id, process_key, bpmn_id,
                    name, completed, seconds_sum)
                SELECT {year_of.format(c="completed_at")}, municipality_id, process_key, bpmn_id,
                       max(name), count(*), sum(seconds)
                FROM step_fact GROUP BY 1, 2, 3, 4
                """
            )
        )
        conn.execute(
            text(
                """
                INSERT INTO app_user (username, full_name, password_hash, is_active, created_at,
                    auth_source, must_set_password)
                SELECT 'bench-member-' || g, 'Методист ' || g, '!', true, now(), 'local', false
                FROM generate_series(1, :n) g
                """
            ),
            {"n": MEMBERS},
        )
        conn.execute(
            text(
                """
                WITH s AS (SELECT id, parent_id, row_number() OVER (ORDER BY id) AS n
                           FROM org_unit WHERE slug LIKE 'bench-s-%'),
                     u AS (SELECT id, row_number() OVER (ORDER BY id) AS n
                           FROM app_user WHERE username LIKE 'bench-member-%')
                INSERT INTO role_grant (user_id, role, org_unit_id, reason, created_at)
                SELECT u.id, r.role, CASE WHEN r.role = 'teacher' THEN s.id ELSE s.parent_id END,
                       '', now()
                FROM u JOIN s ON s.n = 1 + (u.n * 7) % 1500,
                     (VALUES ('teacher'), ('mma_member')) AS r(role)
                """
            )
        )
        db.session.commit()
        counts = {
            name: db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for name, table in (
                ("instances", "process_instance"),
                ("facts", "instance_fact"),
                ("human_tasks", "human_task"),
                ("roadmap_measures", "roadmap_measure_fact"),
                ("step_facts", "step_fact"),
            )
        }
        counts["municipalities"] = db.session.execute(
            text("SELECT count(*) FROM org_unit WHERE tier = 'municipality'")
        ).scalar_one()
        counts["schools"] = db.session.execute(
            text("SELECT count(*) FROM org_unit WHERE tier = 'institution'")
        ).scalar_one()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    counts["load_seconds"] = round(time.perf_counter() - started, 1)
    return counts


def _samples(action: Any, count: int) -> list[float]:
    for _ in range(5):  # warm-up: caches, prepared plans, templates
        action()
    samples = []
    for _ in range(count):
        elapsed, _result = support.timed(action)
        samples.append(elapsed)
    return samples


def test_region_dashboard_p95(need_postgres: None, bench: support.BenchResults) -> None:
    # A missed target is reported in the table and bench-results.json (targets), not failed:
    # the figure depends on the machine (docs/performance.md, Targets).
    with support.throwaway_postgres("monitoring") as url:
        app = support.build_app(url)
        try:
            _measure_dashboard(app, bench)
        finally:
            with app.app_context():
                db.engine.dispose()  # also after a failure: no connection left to the GC


def _measure_dashboard(app: Flask, bench: support.BenchResults) -> None:
    loaded = _load(app)
    assert loaded["instances"] == INSTANCES
    assert loaded["schools"] == 4 + MUNICIPALITIES * SCHOOLS_PER_MUNICIPALITY
    assert loaded["municipalities"] == 2 + MUNICIPALITIES
    web = WebClient(app.test_client())
    web.login("region_official.lenobl")
    with app.app_context():
        # The last complete school year: the one with the most finished instances.
        heaviest = SchoolYear(SchoolYear.of(datetime.now(UTC)).first - 1).label
    token = web.client.post(
        "/api/v1/auth/token",
        json={"username": "region_official.lenobl", "password": DEMO_PASSWORD},
    ).get_json()["token"]

    def page(path: str) -> Any:
        resp = web.get(path)
        assert resp.status_code == 200
        return resp

    def page_with(path: str, bearer: str) -> Any:
        resp = web.client.get(path, headers={"Authorization": f"Bearer {bearer}"})
        assert resp.status_code == 200
        return resp

    first = page(f"/monitoring/?year={heaviest}").get_data(as_text=True)
    assert first.count('class="school-cell"') == loaded["schools"]
    cpu_started = time.process_time()
    with support.profiled("monitoring_dashboard"):
        full_year = _samples(lambda: page(f"/monitoring/?year={heaviest}"), SAMPLES)
    # CPU time of this process per request: what the page costs without the waiting
    # that a loaded machine adds (the wall-clock p95 is the figure the target is about).
    cpu_ms = (time.process_time() - cpu_started) * 1000 / (SAMPLES + 5)
    current = _samples(lambda: page("/monitoring/"), SAMPLES // 2)
    api = _samples(lambda: page_with(f"/api/v1/monitoring?year={heaviest}", token), SAMPLES // 2)
    p95 = support.percentile(full_year, 95)
    bench.record(
        "monitoring_dashboard_p95_ms",
        p95,
        p50_ms=round(support.percentile(full_year, 50), 2),
        samples=len(full_year),
        school_year=heaviest,
        current_year_p95_ms=round(support.percentile(current, 95), 2),
        api_json_p95_ms=round(support.percentile(api, 95), 2),
        app_cpu_ms_per_request=round(cpu_ms, 1),
        target_ms=TARGET_MS,
        note="GET /monitoring/ as region_official.lenobl, in-process server time",
        **loaded,
    )
    print(
        f"\n[monitoring] p95 {p95:.1f} ms (p50 {support.percentile(full_year, 50):.1f}) "
        f"for {heaviest}; current year p95 {support.percentile(current, 95):.1f} ms; "
        f"API p95 {support.percentile(api, 95):.1f} ms; app CPU {cpu_ms:.1f} ms/request; "
        f"load {os.getloadavg()}; data set {loaded}"
    )
