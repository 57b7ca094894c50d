"""Notifications: what is due now (the sweep), the emails' words, and the Celery tasks.

Built on the clear-down core (`attestations`): the sweep reads and claims the core's
records and records emails through the core's outbox; the core never imports this package.
"""
