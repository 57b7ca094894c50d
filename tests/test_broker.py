"""The embedded broker writes each message whole: a worker never takes a half-written file."""

import os
from queue import Empty

import pytest
from kombu import Connection

from opcc_portal.broker import Transport


@pytest.fixture
def channel(tmp_path):
    folders = {key: tmp_path / key for key in ("queue", "processed", "control")}
    for folder in folders.values():
        folder.mkdir()
    options = {
        "data_folder_in": str(folders["queue"]),
        "data_folder_out": str(folders["queue"]),
        "processed_folder": str(folders["processed"]),
        "control_folder": str(folders["control"]),
        "store_processed": False,
    }
    with Connection("filesystem://", transport=Transport, transport_options=options) as conn:
        yield conn.default_channel, folders["queue"]


def test_a_message_goes_through_whole_and_leaves_no_partial_file(channel):
    chan, folder = channel
    chan._put("tasks", {"body": "x" * 100_000})
    names = os.listdir(folder)
    assert len(names) == 1 and names[0].endswith(".tasks.msg")
    assert chan._get("tasks") == {"body": "x" * 100_000}
    assert os.listdir(folder) == []


def test_a_message_still_being_written_is_not_taken(channel):
    chan, folder = channel
    (folder / "1_abc.tasks.msg.part").write_bytes(b"")  # created, not yet written
    with pytest.raises(Empty):
        chan._get("tasks")
    assert os.listdir(folder) == ["1_abc.tasks.msg.part"]


def test_the_settings_use_it_for_the_embedded_broker_only(settings):
    from opcc_portal.celery import app

    with app.connection_for_write() as conn:
        embedded = settings.CELERY_BROKER_URL.startswith("filesystem://")
        assert isinstance(conn.transport, Transport) == embedded
