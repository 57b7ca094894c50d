"""A real OpenID Connect provider for the tests: django-oauth-toolkit in OIDC mode, as a small
Django project of its own, run in a subprocess on a free loopback port (tests/oidc_fixtures.py).

Nothing in it is a stand-in: it publishes a discovery document and its signing keys, asks for
PKCE, keeps single-use codes and signs ID tokens, as an office's provider does. Two extra
clients misbehave on purpose so the portal's checks can be seen to refuse them:
`portal-rogue` signs its ID tokens with a key it does not publish, `portal-expired` issues
ID tokens that have already expired. People and their claims are read from a JSON file the
tests write (PROVIDER_DIR/people.json), so a test can change someone's roles between sign-ins.
"""
