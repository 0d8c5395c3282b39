"""The item contract every driver serves: one set of models, so their JSON cannot drift apart.

Money stays `Decimal` from request to PostgreSQL (numeric(12,2)) and back: asyncpg and
psycopg2 both return `Decimal`. It goes out as a JSON string with exactly two decimals
("12.50"): a JSON number would be read as a float by many clients, and one fixed format makes
every driver's bytes identical. It comes in as a number or as such a string, so a client can send back what it
got. Timestamps go out in UTC with microseconds ("2025-01-31T12:00:00.123456Z"), whatever
time zone the session of the driver that read them uses.
"""

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)

# Largest value of PostgreSQL's bigint (the id column, OFFSET): larger ones are a 422, not a
# driver error.
BIGINT_MAX = 2**63 - 1


def storable_text(value: str) -> str:
    # PostgreSQL text cannot hold NUL; both drivers would raise on it (a 500, not a 422).
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def price_text(value: Decimal) -> str:
    return f"{value:.2f}"


def utc_text(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


# The column's rules (char_length 1..200, numeric(12,2) >= 0), checked before any SQL runs.
Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200),
    AfterValidator(storable_text),
    # The NUL rule in the schema too, so clients (and the fuzzer) know it.
    Field(json_schema_extra={"pattern": "^[^\\x00]*$"}),
]
# A price as text: plain ASCII digits, at most 10 before the point and 2 after. Decimal alone
# would also take "1e3", " 12", "1_000" and digits of other scripts, none of which the schema
# can describe; the one pattern serves the validator and the schema, so they cannot disagree.
PRICE_TEXT_PATTERN = r"^[0-9]{1,10}([.][0-9]{1,2})?$"


def price_text_as_written(value: object) -> object:
    if isinstance(value, str) and not re.fullmatch(PRICE_TEXT_PATTERN, value):
        raise ValueError("must be a decimal number such as 12.50: digits, at most two decimals")
    return value


# Decimal refuses NaN and Infinity; max_digits/decimal_places also bound the whole digits
# (10), so every accepted price fits numeric(12,2) without rounding or overflow.
Price = Annotated[
    Decimal,
    Field(ge=0, max_digits=12, decimal_places=2),
    BeforeValidator(price_text_as_written),
    # pydantic's own schema says "any string", which fuzzing proved wrong both ways.
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": 9999999999.99, "multipleOf": 0.01},
                {"type": "string", "pattern": PRICE_TEXT_PATTERN},
            ],
            "examples": ["12.50"],
        },
        mode="validation",
    ),
]
PriceText = Annotated[Decimal, PlainSerializer(price_text, return_type=str, when_used="json")]
UtcTimestamp = Annotated[datetime, PlainSerializer(utc_text, return_type=str, when_used="json")]


class ItemIn(BaseModel):
    """Body of POST and PUT: all a client may set. `id` and `created_at` belong to the
    database; unknown fields are refused (422) rather than silently dropped, so a misspelt
    field is reported instead of lost."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    price: Price


class Item(BaseModel):
    id: int
    name: str
    price: PriceText = Field(examples=["12.50"])
    created_at: UtcTimestamp = Field(
        json_schema_extra={"format": "date-time"}, examples=["2025-01-31T12:00:00.123456Z"]
    )


class ItemPage(BaseModel):
    items: list[Item]
    next_offset: int | None = Field(description="offset of the next page; null on the last page")


class ErrorDetail(BaseModel):
    detail: str
