"""Start the tests' OpenID provider: `python -m tests.oidc_provider.serve` with PROVIDER_DIR set.

Binds a free loopback port, then prints `READY <base url>` on one line. With
PROVIDER_CLOCK_OFFSET (seconds), its clock runs that far from the real one, as the test
process's does (tests/clock.py), so both agree on when a token was issued and expires.
"""

import os
import time
from pathlib import Path

import time_machine
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def _write_key(path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.write_bytes(pem)


def main() -> None:
    offset = float(os.environ.get("PROVIDER_CLOCK_OFFSET", "0") or 0)
    if offset:
        time_machine.travel(time.time() + offset, tick=True).start()
    directory = Path(os.environ["PROVIDER_DIR"])
    for name in ("signing-key.pem", "rogue-key.pem"):
        if not (directory / name).exists():
            _write_key(directory / name)
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.oidc_provider.settings"

    # Django and the toolkit need the settings chosen above before their modules load.
    import django

    django.setup()
    from django.core.management import call_command
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application
    from oauth2_provider.models import Application

    call_command("migrate", verbosity=0, interactive=False)
    redirect_uris = " ".join(os.environ["PROVIDER_REDIRECT_URIS"].split())
    for client_id in ("portal", "portal-rogue", "portal-expired"):
        Application.objects.update_or_create(
            client_id=client_id,
            defaults={
                "name": client_id,
                "client_secret": f"{client_id}-secret",
                "client_type": Application.CLIENT_CONFIDENTIAL,
                "authorization_grant_type": Application.GRANT_AUTHORIZATION_CODE,
                "algorithm": Application.RS256_ALGORITHM,
                "redirect_uris": redirect_uris,
                "skip_authorization": True,
            },
        )

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format, *args):  # noqa: A002 - the signature of the base class
            pass

    server = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler)
    server.set_app(get_wsgi_application())
    print(f"READY http://127.0.0.1:{server.server_address[1]}", flush=True)
    # Until the tests end it (SIGTERM).
    server.serve_forever()


if __name__ == "__main__":
    main()
