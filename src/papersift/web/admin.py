"""The admin page: the worker's jobs (schedule, last run, outcome, duration), the harvests' state and
the index owner."""

from __future__ import annotations

from fastapi import APIRouter, Request

from papersift.jobs.registry import jobs_for
from papersift.store import harvest as harvest_sql
from papersift.store import jobs as jobs_sql
from papersift.web import deps
from papersift.web.render import render

router = APIRouter(include_in_schema=False)


@router.get("/admin")
def admin_page(request: Request):
    deps.require_admin(request)
    eng = deps.engine(request)
    schedule = {j.name: j for j in jobs_for(eng.settings)}
    rows = {r.name: r for r in jobs_sql.all_jobs(eng.db)}
    jobs = [{"name": n, "job": schedule.get(n), "row": rows.get(n)} for n in sorted(set(schedule) | set(rows))]
    return render(request, "admin.html", {
        "jobs": jobs, "runs": jobs_sql.runs(eng.db, limit=30), "owner": deps.index_owner(eng),
        "indexed": len(eng.lexical), "change": eng.lexical.seq, "vectors": len(eng.semantic),
        "model": eng.semantic.model, "harvests": harvest_sql.all_states(eng.db)})
