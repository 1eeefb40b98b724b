"""One table of pydantic messages for the spec loader and the API (`spec.pydantic_messages`)."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from basir.api.problems import validation_items
from basir.i18n import use_locale
from basir.spec.pydantic_messages import pydantic_message, short_input


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = Field(0, lt=10)
    name: str = Field("", max_length=3)


def _errors(data: dict[str, object]) -> list[dict[str, object]]:
    with pytest.raises(ValidationError) as caught:
        _Body.model_validate(data)
    return [dict(error) for error in caught.value.errors()]


def test_both_faces_read_the_same_table() -> None:
    errors = _errors({"count": 12, "name": "long", "extra": 1})
    from_api = [item["message"] for item in validation_items(errors)]
    assert from_api == [pydantic_message(error) for error in errors]
    assert from_api == [
        "must be less than 10",
        "is too long: at most 3 characters",
        "unknown field",
    ]


def test_the_value_given_is_shown_only_when_asked() -> None:
    (error,) = _errors({"count": "many"})
    assert pydantic_message(error) == "must be a whole number"
    assert pydantic_message(error, show_input=True) == "must be a whole number, got many"
    with use_locale("ar"):
        assert pydantic_message(error, show_input=True) == (
            "يجب أن تكون القيمة عددًا صحيحًا، والمُعطى many"
        )


def test_unknown_types_are_left_to_the_caller() -> None:
    assert pydantic_message({"type": "no_such_type"}) is None


def test_long_values_are_cut() -> None:
    assert short_input("x" * 50) == "x" * 37 + "…"
    assert short_input(12) == "12"


class _When(BaseModel):
    at: datetime


@pytest.mark.parametrize("given", ["notadate", "yesterday", "2026-13-01", [1]])
def test_every_bad_date_and_time_gets_our_message(given: object) -> None:
    with pytest.raises(ValidationError) as caught:
        _When.model_validate({"at": given})
    (error,) = caught.value.errors()
    assert pydantic_message(dict(error)) == (
        "must be a date and time (ISO 8601) or a Unix timestamp"
    )
    with use_locale("ar"):
        assert pydantic_message(dict(error)) is not None
        assert "ISO 8601" in str(pydantic_message(dict(error)))
