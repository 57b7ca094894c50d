"""The dashboard: compliance figures, charts and drill-downs for the DPO, auditors and
group admins (`/dashboard/`). Reads the clear-down core; never imports the audit."""
