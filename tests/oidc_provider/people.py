"""Who can sign in at the tests' provider, with which claims, and the two misbehaving clients."""

import json
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db import transaction
from jwcrypto import jwk, jwt
from oauth2_provider.oauth2_validators import OAuth2Validator

PASSWORD = "provider-password"  # noqa: S105 - the one password of the tests' provider
ROGUE_CLIENT = "portal-rogue"
EXPIRED_CLIENT = "portal-expired"


def people() -> dict:
    """username -> the claims of their ID token (with "sub"), as the tests last wrote them."""
    return json.loads((settings.PROVIDER_DIR / "people.json").read_text())


class PeopleBackend(ModelBackend):
    """Anyone in people.json signs in with PASSWORD; their provider account is made on first use."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username in people() and password == PASSWORD:
            user, _ = get_user_model().objects.get_or_create(username=username)
            return user
        return None


class Validator(OAuth2Validator):
    # Every claim in people.json goes into the ID token, whatever the scopes.
    oidc_claim_scope = None

    def get_additional_claims(self, request):
        return dict(people().get(request.user.username, {}))

    def get_id_token_dictionary(self, token, token_handler, request):
        claims, expiration_time = super().get_id_token_dictionary(token, token_handler, request)
        if request.client.client_id == EXPIRED_CLIENT:
            claims["exp"] = int(time.time()) - 10 * 60
        return claims, expiration_time

    def finalize_id_token(self, id_token, token, token_handler, request):
        if request.client.client_id != ROGUE_CLIENT:
            return super().finalize_id_token(id_token, token, token_handler, request)
        # Signed with a key the provider never published, under the name (kid) of the one it did.
        claims, expiration_time = self.get_id_token_dictionary(token, token_handler, request)
        id_token.update(**claims)
        if "nonce" not in id_token and request.nonce:
            id_token["nonce"] = request.nonce
        header = {"typ": "JWT", "alg": "RS256", "kid": request.client.jwk_key.thumbprint()}
        rogue = jwk.JWK.from_pem((settings.PROVIDER_DIR / "rogue-key.pem").read_bytes())
        signed = jwt.JWT(header=json.dumps(header), claims=json.dumps(id_token, default=str))
        signed.make_signed_token(rogue)
        with transaction.atomic():
            saved = self._save_id_token(id_token["jti"], request, expiration_time)
        request.access_token = request.id_token = saved
        return signed.serialize()
