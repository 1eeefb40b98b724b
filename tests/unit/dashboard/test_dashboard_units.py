"""Sizes and built-in pool names in the page's language: Babel numbers, CLDR's short units."""

from __future__ import annotations

import pytest
from babel.units import format_unit

from basir.dashboard.pages_resources import GIB, KIB, MIB, amount_text
from basir.i18n import use_locale
from basir.i18n.labels import pool_label


def test_sizes_in_english_keep_binary_units() -> None:
    with use_locale("en"):
        assert amount_text("memory", 3.25 * GIB) == "3.2 GiB"
        assert amount_text("disk", 1536 * MIB) == "1.5 GiB"
        assert amount_text("memory", 312.4 * MIB) == "312.4 MiB"
        assert amount_text("memory", 2 * KIB) == "2 KiB"
        assert amount_text("memory", 1000) == "1,000 bytes"
        assert amount_text("cpu", 1.5) == "1.5" and amount_text("gradle", 12000) == "12,000"


@pytest.mark.parametrize(
    ("amount", "unit", "length"),
    [
        (3.2 * GIB, "digital-gigabyte", "short"),
        (312.4 * MIB, "digital-megabyte", "short"),
        (2 * KIB, "digital-kilobyte", "narrow"),  # CLDR's short form is the whole word
    ],
)
def test_sizes_in_arabic_use_cldrs_abbreviations(amount: float, unit: str, length: str) -> None:
    with use_locale("ar"):
        shown = amount_text("memory", amount)
    number = shown.split(" ")[0]
    assert shown == format_unit(float(number), unit, length=length, locale="ar")  # type: ignore[arg-type]
    assert "iB" not in shown


def test_built_in_pools_are_translated_custom_ones_kept() -> None:
    with use_locale("ar"):
        assert [pool_label(p) for p in ("cpu", "memory", "disk")] == [
            "المعالج",
            "الذاكرة",
            "القرص",
        ]
        assert pool_label("gradle") == "gradle" and pool_label("GPU-a") == "GPU-a"
    with use_locale("en"):
        assert pool_label("cpu") == "cpu"
