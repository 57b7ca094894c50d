"""The audit: the history browser, exports with their log, the FOI evidence pack and the
ledger check (`/audit/`). Reads the clear-down core; never imports the dashboard."""
