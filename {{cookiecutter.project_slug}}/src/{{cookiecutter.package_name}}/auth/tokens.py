"""Bearer tokens: every write route asks for one of API_TOKENS (the reads too, with
API_TOKENS_FOR_READS), as `Authorization: Bearer <token>`.

Settings hold the tokens' SHA-256 digests only (settings.py). The token a client presents is
hashed and compared with each of them by `hmac.compare_digest`: digests all have one length
and the comparison takes the same time wherever they differ, so the time a refusal takes
tells nothing of the configured tokens, neither their content nor their length. Every digest
is compared, matched or not.
"""

import hashlib
import hmac
import logging
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from fastapi import Depends, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..dependencies import resources_of
from ..errors import ServiceError
from ..items.schemas import ErrorDetail
from ..settings import Settings

logger = logging.getLogger(__name__)


class MissingToken(ServiceError):
    status_code = status.HTTP_401_UNAUTHORIZED
    headers: ClassVar[Mapping[str, str] | None] = {"WWW-Authenticate": "Bearer"}


class InvalidToken(ServiceError):
    status_code = status.HTTP_401_UNAUTHORIZED
    headers: ClassVar[Mapping[str, str] | None] = {
        "WWW-Authenticate": 'Bearer error="invalid_token"'
    }


# The scheme OpenAPI declares (the Authorize button of /docs). auto_error=False: it would
# refuse every request without the header, while the check below first asks whether any
# token is set at all (development without tokens is open).
bearer = HTTPBearer(
    scheme_name="bearer",
    description="A token of API_TOKENS (the README says how to make and rotate one).",
    auto_error=False,
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def matches(token: str, digests: tuple[bytes, ...]) -> bool:
    presented = hashlib.sha256(token.encode()).digest()
    matched = False
    for digest in digests:
        # `|=`, not any(): no early exit, so which token matched does not show either.
        matched |= hmac.compare_digest(presented, digest)
    return matched


async def require_token(request: Request, credentials: Credentials) -> None:
    """401 unless the request carries one of API_TOKENS; open while none is set
    (development only: production refuses to start without them)."""
    # `async def`: reading a header and hashing a few bytes takes microseconds on the loop.
    # As a `def` dependency every write would first wait for a thread token, and with all
    # of them held (40 slow `def` requests) even a refusal would queue behind them.
    digests = resources_of(request).settings.api_tokens
    if not digests:
        return
    if credentials is None:
        raise MissingToken("this route needs Authorization: Bearer <token>")
    if not matches(credentials.credentials, digests):
        raise InvalidToken("the token is not one of API_TOKENS")


# For a route's or a router's `dependencies=[...]`, with the answer OpenAPI declares.
REQUIRE_TOKEN = Depends(require_token)
TOKEN_REFUSED: dict[int | str, dict[str, Any]] = {
    status.HTTP_401_UNAUTHORIZED: {
        "model": ErrorDetail,
        "description": "no bearer token, or not one of API_TOKENS",
    }
}


def warn_if_writes_are_open(settings: Settings) -> None:
    if not settings.api_tokens:
        logger.warning(
            "API_TOKENS is unset: anyone can write (ENVIRONMENT=development; "
            "production refuses to start without tokens)"
        )
