"""The dashboard's headline figures in one statement written by hand: the benchmark's
yardstick for what the ORM-built queries of `attestations.dashboard.stats.headline` cost."""

from __future__ import annotations

import datetime as dt

from attestations.dashboard.stats import WEEK, DateRange

# The same figures as `headline` for every group, in one statement written by hand: the
# benchmark's yardstick for what the ORM-built queries cost. Parameters: end, end - 7 days,
# now (twice), start, end.
HEADLINE_SQL = """
WITH latest AS (
    SELECT (SELECT c.id FROM attestations_cycle c
             WHERE c.group_id = g.id AND c.period_end <= %(end)s AND c.period_end > %(week_before)s
             ORDER BY c.period_end DESC LIMIT 1) AS cycle_id
      FROM groups_chatgroup g
)
SELECT
  (SELECT COUNT(*) FROM groups_chatgroup WHERE status = 'approved'),
  (SELECT COUNT(*) FROM groups_chatgroup WHERE status = 'proposed'),
  (SELECT COUNT(*) FROM groups_chatgroup WHERE status = 'suspended'),
  (SELECT COUNT(*) FROM groups_chatgroup WHERE status = 'retired'),
  (SELECT COUNT(*) FROM attestations_hold WHERE lifted_at IS NULL),
  (SELECT COUNT(DISTINCT m.user_id) FROM groups_membership m
     JOIN groups_chatgroup g ON g.id = m.group_id
    WHERE m.left_at IS NULL AND g.status = 'approved'),
  o.on_time, o.late, o.outstanding, o.overdue, o.excused, o.held, o.left,
  (SELECT COUNT(*) FROM attestations_flag WHERE resolved_at IS NULL),
  (SELECT COUNT(*) FROM attestations_flag WHERE resolved_at IS NULL AND kind = 'member_overdue'),
  (SELECT COUNT(*) FROM attestations_flag WHERE resolved_at IS NULL AND kind = 'prompt_missed'),
  (SELECT COUNT(*) FROM attestations_flag
    WHERE kind = 'prompt_missed' AND raised_at >= %(start)s AND raised_at < %(end)s)
FROM (
  SELECT
    COUNT(*) FILTER (WHERE status = 'attested') AS on_time,
    COUNT(*) FILTER (WHERE status = 'late') AS late,
    COUNT(*) FILTER (WHERE status = 'pending' AND due_at >= %(now)s) AS outstanding,
    COUNT(*) FILTER (WHERE status = 'pending' AND due_at < %(now)s) AS overdue,
    COUNT(*) FILTER (WHERE status = 'excused') AS excused,
    COUNT(*) FILTER (WHERE status = 'held') AS held,
    COUNT(*) FILTER (WHERE status = 'left') AS left
  FROM attestations_obligation
  WHERE cycle_id IN (SELECT cycle_id FROM latest WHERE cycle_id IS NOT NULL)
) o
"""


def headline_by_hand(*, dates: DateRange, now: dt.datetime, connection) -> tuple:
    """Run HEADLINE_SQL (every group) and return its one row, in `Headline` field order."""
    adapt = connection.ops.adapt_datetimefield_value
    params = {"end": dates.end, "week_before": dates.end - WEEK, "now": now, "start": dates.start}
    with connection.cursor() as cursor:
        cursor.execute(HEADLINE_SQL, {k: adapt(v) for k, v in params.items()})
        return cursor.fetchone()
