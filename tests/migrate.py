"""Moving a test database to an older migration and back, for tests of migrations."""

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate_to(target=None):
    """Migrate to `target`, or to the latest of every app; returns the apps of that state."""
    executor = MigrationExecutor(connection)
    target = target or executor.loader.graph.leaf_nodes()
    executor.migrate(target)
    executor.loader.build_graph()
    return executor.loader.project_state(target).apps
