"""Everything the dashboard's first screen shows, in one statement written by hand: the
benchmark's yardstick for the page as served (PostgreSQL only).

The headline (groups by status, holds, people, this cycle's tally, flags), the first page
of the group table sorted worst first (each row's figures, admin and deputy), the strips
of those groups, the weekly trend and the count of emails failed lately. The page renders
these and a few things the statement leaves out: the signed-in viewer (session, user,
permissions), their own open clear-downs and the people who cannot be emailed.
"""

from __future__ import annotations

import datetime as dt

from attestations.dashboard.stats import STRIP_CYCLES, WEEK, DateRange

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
     SELECT due_at, sum(n_pending) AS n_pending, sum(n_attested) AS n_attested, sum(n_late) AS n_late,
            sum(n_excused) AS n_excused, sum(n_held) AS n_held, sum(n_left) AS n_left
       FROM attestations_cyclecount WHERE due_at >= %(trend_first)s AND due_at < %(trend_last)s GROUP BY due_at) w
  ) AS trend,
  (SELECT count(*) FROM attestations_sentemail WHERE status = 'failed'
      AND (attempted_at >= %(failed_since)s OR (attempted_at IS NULL AND created_at >= %(failed_since)s))) AS failed
"""


def first_screen_by_hand(
    *, dates: DateRange, now: dt.datetime, failed_since: dt.datetime, trend: tuple, size: int, connection
) -> tuple:
    """Run FIRST_SCREEN_SQL: (headline, members, table rows, strips, trend, failed)."""
    params = {
        "start": dates.start,
        "end": dates.end,
        "week_before": dates.end - WEEK,
        "strip_start": dates.end - STRIP_CYCLES * WEEK,
        "now": now,
        "size": size,
        "trend_first": trend[0],
        "trend_last": trend[1],
        "failed_since": failed_since,
    }
    with connection.cursor() as cursor:
        cursor.execute(FIRST_SCREEN_SQL, params)
        return cursor.fetchone()
