"""Everything the dashboard's first screen shows, in one statement written by hand: the
benchmark's yardstick for the page as served (PostgreSQL only).

The headline (groups by status, holds, people, this cycle's tally, flags), the first page
of the group table sorted worst first (each row's figures, admin and deputy), the strips
of those groups, the weekly trend, the count of emails failed lately, the viewer's own
open clear-downs, the people the portal cannot email (the first 21 and how many) and the
open flags of reviews and hold timers. What the page does besides: the signed-in viewer
(session, user, permissions) and the HTML.
"""

from __future__ import annotations

import datetime as dt

from attestations import periods
from attestations.dashboard.stats import STRIP_CYCLES, WEEK, DateRange
from groups.permissions import DPO_ROLE

FIRST_SCREEN_SQL = """
WITH g AS (
  SELECT g.id, g.name, g.status, g.status_changed_at, g.admin_id, g.deputy_id,
    (SELECT count(*) FROM groups_membership m WHERE m.group_id = g.id AND m.left_at IS NULL) AS members,
    (SELECT c.prompted_at FROM attestations_cycle c
      WHERE c.group_id = g.id AND c.prompted_at IS NOT NULL ORDER BY c.period_end DESC LIMIT 1) AS last_prompt_at,
    EXISTS (SELECT 1 FROM attestations_hold h WHERE h.group_id = g.id AND h.lifted_at IS NULL) AS on_hold,
    l.cycle_id, l.due_at, coalesce(l.n_pending, 0) AS n_pending, coalesce(l.n_attested, 0) AS n_attested,
    coalesce(l.n_late, 0) AS n_late, coalesce(l.n_excused, 0) AS n_excused, coalesce(l.n_held, 0) AS n_held,
    coalesce(l.n_left, 0) AS n_left,
    (SELECT count(*) FROM attestations_flag f
      WHERE f.group_id = g.id AND f.resolved_at IS NULL AND f.kind = 'member_overdue') AS open_overdue,
    (SELECT count(*) FROM attestations_flag f
      WHERE f.group_id = g.id AND f.resolved_at IS NULL AND f.kind = 'prompt_missed') AS open_prompt,
    (SELECT count(*) FROM attestations_flag f WHERE f.group_id = g.id AND f.kind = 'prompt_missed'
        AND f.raised_at >= %(start)s AND f.raised_at < %(end)s) AS missed
  FROM groups_chatgroup g
  LEFT JOIN LATERAL (
    SELECT * FROM attestations_cyclecount cc
     WHERE cc.group_id = g.id AND cc.period_end > %(week_before)s AND cc.period_end <= %(end)s
     ORDER BY cc.period_end DESC LIMIT 1
  ) l ON true
), t AS (
  SELECT g.*, n_attested + n_late AS done, n_attested + n_late + n_pending AS owed,
    CASE WHEN due_at < %(now)s THEN n_pending ELSE 0 END AS overdue,
    CASE WHEN due_at < %(now)s THEN 0 ELSE n_pending END AS outstanding
  FROM g
), page AS (
  SELECT t.*, a.username AS admin_username, a.first_name AS admin_first, a.last_name AS admin_last,
    d.username AS deputy_username, d.first_name AS deputy_first, d.last_name AS deputy_last,
    row_number() OVER (ORDER BY CASE WHEN owed > 0 THEN (done * 2000 + owed) / (owed * 2) END ASC NULLS LAST,
                                lower(t.name) COLLATE "C", t.id) AS position
  FROM t JOIN auth_user a ON a.id = t.admin_id LEFT JOIN auth_user d ON d.id = t.deputy_id
  ORDER BY position
  LIMIT %(size)s
), unreachable AS (
  SELECT * FROM (
    SELECT u.id, u.username, u.first_name, u.last_name,
      EXISTS (SELECT 1 FROM auth_user_groups ug JOIN auth_group r ON r.id = ug.group_id
               WHERE ug.user_id = u.id AND r.name = %(dpo_role)s) AS is_dpo,
      EXISTS (SELECT 1 FROM groups_chatgroup cg WHERE (cg.admin_id = u.id OR cg.deputy_id = u.id)
               AND cg.status IN ('approved', 'suspended')) AS runs_group,
      EXISTS (SELECT 1 FROM groups_membership m JOIN groups_chatgroup cg ON cg.id = m.group_id
               WHERE m.user_id = u.id AND m.left_at IS NULL AND cg.status IN ('approved', 'suspended')) AS is_member
    FROM auth_user u WHERE u.is_active AND u.email = ''
  ) people WHERE is_dpo OR runs_group OR is_member
)
SELECT
  (SELECT json_build_object(
     'approved', count(*) FILTER (WHERE status = 'approved'), 'proposed', count(*) FILTER (WHERE status = 'proposed'),
     'suspended', count(*) FILTER (WHERE status = 'suspended'), 'retired', count(*) FILTER (WHERE status = 'retired'),
     'active_holds', count(*) FILTER (WHERE on_hold), 'on_time', sum(n_attested), 'late', sum(n_late),
     'outstanding', sum(outstanding), 'overdue', sum(overdue), 'excused', sum(n_excused), 'held', sum(n_held),
     'left', sum(n_left), 'open_overdue', sum(open_overdue), 'open_prompt', sum(open_prompt),
     'missed', sum(missed), 'groups', count(*)) FROM t) AS headline,
  (SELECT count(DISTINCT m.user_id) FROM groups_membership m JOIN groups_chatgroup g ON g.id = m.group_id
    WHERE m.left_at IS NULL AND g.status = 'approved') AS members,
  (SELECT json_agg(page ORDER BY position) FROM page) AS table_rows,
  (SELECT json_agg(s) FROM (
     SELECT c.group_id, c.id, c.period_start, c.period_end, c.due_at, c.hold_id, cc.n_pending, cc.n_attested,
            cc.n_late, cc.n_excused, cc.n_held, cc.n_left
       FROM attestations_cycle c LEFT JOIN attestations_cyclecount cc ON cc.cycle_id = c.id
      WHERE c.group_id IN (SELECT id FROM page) AND c.period_end <= %(end)s AND c.period_end > %(strip_start)s) s
  ) AS strips,
  (SELECT json_agg(w) FROM (
     SELECT width_bucket(due_at, %(trend_mondays)s::timestamptz[]) - 1 AS week, due_at < %(now)s AS passed,
            sum(n_pending) AS n_pending, sum(n_attested) AS n_attested, sum(n_late) AS n_late,
            sum(n_excused) AS n_excused, sum(n_held) AS n_held, sum(n_left) AS n_left
       FROM attestations_cyclecount WHERE due_at >= %(trend_first)s AND due_at < %(trend_last)s GROUP BY 1, 2) w
  ) AS trend,
  (SELECT count(*) FROM attestations_sentemail WHERE status = 'failed'
      AND (attempted_at >= %(failed_since)s OR (attempted_at IS NULL AND created_at >= %(failed_since)s))) AS failed,
  (SELECT json_agg(o ORDER BY o.overdue DESC, o.due_at, o.name, o.id) FROM (
     SELECT ob.id, ob.due_at, ob.due_at < %(now)s AS overdue, c.period_start, c.period_end, cg.name
       FROM attestations_obligation ob JOIN attestations_cycle c ON c.id = ob.cycle_id
       JOIN groups_chatgroup cg ON cg.id = c.group_id
      WHERE ob.user_id = %(viewer)s AND ob.status = 'pending'
        AND NOT EXISTS (SELECT 1 FROM attestations_hold h WHERE h.group_id = c.group_id AND h.lifted_at IS NULL)) o
  ) AS own_open,
  (SELECT json_agg(p) FROM (SELECT * FROM unreachable ORDER BY last_name, first_name, username LIMIT 21) p)
    AS cannot_email,
  (SELECT count(*) FROM unreachable) AS cannot_email_total,
  (SELECT json_agg(f ORDER BY f.kind DESC, f.raised_at, f.id) FROM (
     SELECT fl.id, fl.kind, fl.raised_at, fl.review_id, cg.name AS group_name, u.username, u.first_name,
            u.last_name, h.reference
       FROM attestations_flag fl JOIN groups_chatgroup cg ON cg.id = fl.group_id
       LEFT JOIN auth_user u ON u.id = fl.user_id LEFT JOIN attestations_hold h ON h.id = fl.hold_id
      WHERE fl.resolved_at IS NULL AND fl.kind IN ('timer_not_off', 'review_overdue')) f
  ) AS duty_flags
"""


FIELDS = (
    "headline", "members", "table_rows", "strips", "trend", "failed", "own_open", "cannot_email",
    "cannot_email_total", "duty_flags",
)  # fmt: skip


def first_screen_by_hand(
    *, dates: DateRange, now: dt.datetime, viewer_id: int, failed_since: dt.datetime, size: int, connection
) -> dict:
    """Run FIRST_SCREEN_SQL for the viewer: `FIELDS`, each as the statement gives it (JSON
    where it is rows). The trend's weeks are those of the range, Monday to Sunday in UK time,
    `week` counting from 0."""
    mondays = [periods.local_to_utc(monday, dt.time(0)) for monday in dates.week_starts()]
    params = {
        "start": dates.start,
        "end": dates.end,
        "week_before": dates.end - WEEK,
        "strip_start": dates.end - STRIP_CYCLES * WEEK,
        "now": now,
        "size": size,
        "trend_mondays": mondays,
        "trend_first": mondays[0],
        "trend_last": periods.local_to_utc(dates.week_starts()[-1] + WEEK, dt.time(0)),
        "failed_since": failed_since,
        "viewer": viewer_id,
        "dpo_role": DPO_ROLE,
    }
    with connection.cursor() as cursor:
        cursor.execute(FIRST_SCREEN_SQL, params)
        return dict(zip(FIELDS, cursor.fetchone(), strict=True))


def the_statement_s_figures(found: dict) -> dict:
    """What `first_screen_by_hand` found, in the shape of `the_page_s_figures`."""
    h = found["headline"]
    weeks: dict[int, list[int]] = {}
    for w in found["trend"] or []:
        week = weeks.setdefault(w["week"], [0] * 7)
        pending_as = 3 if w["passed"] else 2  # overdue, else outstanding
        for i, n in ((0, w["n_attested"]), (1, w["n_late"]), (pending_as, w["n_pending"]), (4, w["n_excused"])):
            week[i] += n
        week[5] += w["n_held"]
        week[6] += w["n_left"]
    return {
        "groups": (h["approved"], h["proposed"], h["suspended"], h["retired"], h["active_holds"]),
        "members": found["members"],
        "this_cycle": tuple(h[k] for k in ("on_time", "late", "outstanding", "overdue", "excused", "held", "left")),
        "flags": (h["open_overdue"], h["open_prompt"], h["missed"]),
        "table": [row["id"] for row in found["table_rows"] or []],
        "strips": sorted(s["id"] for s in found["strips"] or []),
        "trend": {week: tuple(counts) for week, counts in weeks.items() if any(counts)},
        "failed": found["failed"],
        "own_open": [o["id"] for o in found["own_open"] or []],
        "cannot_email": ([p["username"] for p in found["cannot_email"] or []][:20], found["cannot_email_total"]),
        "duty_flags": [f["id"] for f in found["duty_flags"] or []],
    }


def the_page_s_figures(*, dates: DateRange, now: dt.datetime, viewer, failed_since: dt.datetime, size: int) -> dict:
    """The same figures as the dashboard's first screen gets them (the selectors its view calls)."""
    from attestations import selectors
    from attestations.dashboard import stats

    scope = stats.Scope()
    page = stats.group_table_page(scope=scope, dates=dates, now=now, size=size, with_sums=True)
    h = stats.headline_of_table(scope=scope, dates=dates, now=now, sums=page.sums)
    strips = stats.group_strips(group_ids=[row.pk for row in page], dates=dates, now=now)
    trend = stats.trend(scope=scope, dates=dates, now=now)
    cannot = selectors.people_who_cannot_be_emailed()
    t = h.latest
    return {
        "groups": (h.approved, h.proposed, h.suspended, h.retired, h.active_holds),
        "members": h.members,
        "this_cycle": (t.on_time, t.late, t.outstanding, t.overdue, t.excused, t.held, t.left),
        "flags": (h.open_overdue_flags, h.open_prompt_flags, h.prompts_missed),
        "table": [row.pk for row in page],
        "strips": sorted(cell.cycle_id for cells in strips.values() for cell in cells),
        "trend": {
            i: (
                w.tally.on_time,
                w.tally.late,
                w.tally.outstanding,
                w.tally.overdue,
                w.tally.excused,
                w.tally.held,
                w.tally.left,
            )
            for i, w in enumerate(trend)
            if w.tally.total
        },  # fmt: skip
        "failed": selectors.sent_emails_failed_since(since=failed_since),
        "own_open": [o.pk for o in selectors.member_open_obligations(user=viewer, now=now)],
        "cannot_email": ([p.username for p in cannot.people], cannot.total),
        "duty_flags": [flag.pk for flag in selectors.open_duty_flags()],
    }
