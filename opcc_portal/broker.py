"""The embedded broker: kombu's filesystem transport, with each message written atomically.

kombu's own transport creates the message file and then writes it, so a worker listing the
folder in between can take an empty file and stop on a JSON error. Here a message is
written under a name the worker ignores and renamed into place when complete (a rename is
atomic on one file system), so a worker only ever sees whole messages.

Used only with `CELERY_BROKER_URL=filesystem://` (settings set `CELERY_BROKER_TRANSPORT`).
"""

from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

# Options of a network broker (Redis). A broker that is down, or up but not answering, must
# not hold up a web request that queues a task: publishing gives up within seconds (a
# connection refused at once, a silent one after the socket timeouts), the email stays
# recorded as pending, and the next sweep queues it again. Without socket timeouts a silent
# broker holds the request for ever.
NETWORK_TRANSPORT_OPTIONS = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.5,
    "socket_connect_timeout": 2,
    "socket_timeout": 3,
}


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = f"{final}.part"  # not "<queue>.msg" after the first dot: never taken
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
