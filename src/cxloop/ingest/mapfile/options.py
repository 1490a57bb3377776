"""The checked parts of a mapping file's values: the base of its parser (text, flags,
dates, tables) and the number and time options (spec.py parses the rest).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cxloop.ingest.mapfile.model import MappingFileError


class ValueParser:
    """Reads one mapping file's scalars and value options; every mistake names the key."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, key: str, problem: str) -> MappingFileError:
        return MappingFileError(self.file, key, problem)

    def table(self, value: object, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a table, got {kind_name(value)}")
        return value

    def text(self, value: object, key: str) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.fail(key, f"expected a string, got {kind_name(value)}")
        return str(value)

    def day(self, value: object, key: str) -> str:
        """A date, written 2000-01-01 (a TOML date, or a string)."""
        if isinstance(value, date) and not isinstance(value, datetime):
            return value.isoformat()
        try:
            return date.fromisoformat(self.text(value, key)).isoformat()
        except ValueError:
            raise self.fail(key, f"expected a date such as 1990-01-01, got {value!r}") from None

    def flag(self, value: object, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {kind_name(value)}")
        return value

    def number_opts(self, t: dict[str, Any], key: str) -> dict[str, Any]:
        """``decimal`` and ``thousands``: without ``thousands``, a space groups digits, and
        the other mark too when ``decimal`` is given (1,234.50 or 1.234,50)."""
        opts: dict[str, Any] = {}
        dec = "."
        if "decimal" in t:
            dec = self.text(t["decimal"], f"{key}.decimal")
            if dec not in (".", ","):
                raise self.fail(f"{key}.decimal", "expected '.' or ','")
            opts["decimal"] = dec
            opts["thousands"] = ("." if dec == "," else ",") + " "
        if "thousands" in t:
            sep = self.text(t["thousands"], f"{key}.thousands")
            sep = "" if sep == "none" else sep
            if sep not in (",", ".", " ", "'", ""):
                raise self.fail(f"{key}.thousands", "expected ',', '.', ' ', \"'\" or 'none'")
            if sep == dec:
                raise self.fail(f"{key}.thousands", f"{sep!r} is the decimal mark too")
            opts["thousands"] = sep
        return opts

    def time_opts(self, t: dict[str, Any], key: str, target: str) -> dict[str, Any]:
        opts: dict[str, Any] = {}
        timed = target in ("ts", "due_at") or t.get("type") == "time"
        for k in ("format", "zone", "end_of_day", "plus", "not_before"):
            if k in t and not timed and target != "attr":
                raise self.fail(f"{key}.{k}", "only for times (ts, due_at)")
        if "format" in t:
            fmt = self.text(t["format"], f"{key}.format")
            snowflake = fmt == "snowflake" or re.fullmatch(r"snowflake:[0-9]+", fmt)
            if (
                fmt not in ("iso", "epoch", "epoch_ms", "excel")
                and "%" not in fmt
                and not snowflake
            ):
                raise self.fail(
                    f"{key}.format",
                    f"{fmt!r} is not iso, epoch, epoch_ms, excel, snowflake or a strftime "
                    "format such as '%d/%m/%Y %H:%M'",
                )
            opts["format"] = fmt
        if "not_before" in t:
            opts["not_before"] = self.day(t["not_before"], f"{key}.not_before")
        if "zone" in t:
            zone = self.text(t["zone"], f"{key}.zone")
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise self.fail(
                    f"{key}.zone", f"unknown time zone {zone!r} (e.g. UTC, Europe/Paris)"
                ) from None
            opts["zone"] = zone
        if "end_of_day" in t:
            opts["end_of_day"] = self.flag(t["end_of_day"], f"{key}.end_of_day")
        if target == "attr" and opts:
            opts["type"] = "time"
        return opts


def kind_name(value: object) -> str:
    names = {dict: "a table", list: "a list", str: "a string", bool: "true/false"}
    return names.get(type(value), type(value).__name__)
