"""Local policy parameters (政策参数): the numbers a district sets for itself, in versioned files.

Points per rule, grade cut-offs and bands, the look-back window of the supervision mode, list terms,
key sectors, the objection window, complaint deadlines and sampling ratios are not the code's to fix:
districts differ, and a regulator must be able to change one without a release. Each version is a TOML
file (`api/policies/`, or the folder `ONECODE_POLICY_DIR` names) with a `version` and the day it takes
effect; `in_force(day)` is the latest one in effect that day. Every file is read and checked when the
app starts, and a doubtful one stops it with the file and the reason, as a bad setting does. What was
decided under a version (a violation's points and window, a complaint's deadlines, a credit record, a
draw) stores that version's number with it, so a new version changes only what is decided after it.

Each parameter names the text that sets it, or says it is a local policy parameter ([sources]).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from flask import current_app, has_app_context

from api.config import ConfigError
from api.database import today_shanghai

PACKAGED = Path(__file__).with_name("policies")
GRADES = ("A", "B", "C", "D")
RISK_LEVELS = ("low", "medium", "high")
LOCAL = "local"  # a source that starts so: a local policy parameter


@dataclass(frozen=True)
class Policy:
    version: int
    effective_from: dt.date
    title: str
    grade_c_from: int
    grade_d_from: int
    warning_talk_from: int
    key_supervision_from: int
    validation_deferred_from: int
    mode_lookback_years: int
    serious_violation_points: int
    black_list_term_days: int
    public_years: int
    publish_working_days: int
    objection_working_days: int
    record_within_years: int
    rule_points: Mapping[str, int]
    accept_working_days: int
    reply_days: int
    max_extension_days: int
    key_categories: tuple[str, ...]
    grade_ratios: Mapping[str, float]
    graded_risk_ratios: Mapping[str, float]
    sources: Mapping[str, str]
    file: str | None = field(default=None, compare=False)  # the file it was read from (for the errors)

    @property
    def bands(self) -> tuple[tuple[int, str], ...]:
        """Consequence bands, highest first: (the points from which it applies, its name)."""
        return ((self.validation_deferred_from, "validation_deferred"), (self.key_supervision_from, "key_supervision"),
                (self.warning_talk_from, "warning_talk"))

    def public(self) -> dict:
        """What GET /api/v1/policy shows: every parameter under its section, and where each comes from."""
        return {
            "version": self.version, "effective_from": self.effective_from, "title": self.title,
            "parameters": {section: {name: _plain(getattr(self, attribute)) for name, attribute in names.items()}
                           for section, names in SECTIONS.items()},
            "sources": [{"parameter": parameter, "local": text.startswith(LOCAL),
                         "text": text.removeprefix(LOCAL).lstrip(":： ") or None}
                        for parameter, text in self.sources.items()],
        }


def _plain(value):
    return dict(value) if isinstance(value, Mapping) else list(value) if isinstance(value, tuple) else value


# --- the file's layout: section -> {key in the file: attribute of Policy} ------------------------------

SECTIONS: dict[str, dict[str, str]] = {
    "credit": {name: name for name in (
        "grade_c_from", "grade_d_from", "warning_talk_from", "key_supervision_from", "validation_deferred_from",
        "mode_lookback_years", "serious_violation_points", "black_list_term_days", "public_years", "publish_working_days")},
    "violations": {"objection_working_days": "objection_working_days", "record_within_years": "record_within_years",
                   "points": "rule_points"},
    "complaints": {name: name for name in ("accept_working_days", "reply_days", "max_extension_days")},
    "draws": {name: name for name in ("key_categories", "grade_ratios", "graded_risk_ratios")},
}


class PolicyError(ConfigError):
    """A policy file that cannot be trusted: the app does not start on it."""


def _whole(low: int, high: int) -> Callable[[object], int]:
    def parse(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"a whole number from {low} to {high}")
        return value
    return parse


def _rule_points(value: object) -> int:
    """Points of one rule: what the violations table holds (CHECK points IN (1, 2, 4, 6, 10))."""
    if isinstance(value, bool) or not isinstance(value, int) or value not in RULE_POINT_VALUES:
        raise ValueError("one of " + ", ".join(map(str, RULE_POINT_VALUES)))
    return value


RULE_POINT_VALUES = (1, 2, 4, 6, 10)


def _ratio(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and 0 <= value <= 1):
        raise ValueError("a ratio from 0 to 1")
    return float(value)


def _table(keys: Iterable[str] | None, parse: Callable[[object], object]) -> Callable[[object], Mapping]:
    """A table of `parse`d values; with `keys`, exactly those keys."""
    def parse_table(value: object) -> Mapping:
        if not isinstance(value, dict) or not value:
            raise ValueError("a table")
        if keys is not None and set(value) != set(keys):
            raise ValueError("a table of exactly " + ", ".join(keys))
        return MappingProxyType({key: parse(item) for key, item in value.items()})
    return parse_table


def _names(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value) \
            or len(set(value)) != len(value):
        raise ValueError("a list of distinct names")
    return tuple(value)


_POINTS = _whole(1, 100)
PARSE: dict[str, Callable[[object], object]] = {
    "grade_c_from": _POINTS, "grade_d_from": _POINTS, "warning_talk_from": _POINTS, "key_supervision_from": _POINTS,
    "validation_deferred_from": _POINTS,
    "mode_lookback_years": _whole(1, 10),  # never shorter than the scoring cycle (a calendar year)
    "serious_violation_points": _POINTS,
    "black_list_term_days": _whole(1, 3650), "public_years": _whole(1, 10), "publish_working_days": _whole(1, 60),
    "objection_working_days": _whole(1, 60), "record_within_years": _whole(1, 5), "rule_points": _table(None, _rule_points),
    "accept_working_days": _whole(1, 60), "reply_days": _whole(1, 365), "max_extension_days": _whole(0, 365),
    "key_categories": _names, "grade_ratios": _table(GRADES, _ratio), "graded_risk_ratios": _table(RISK_LEVELS, _ratio),
}


def parse(document: dict) -> Policy:
    """One version from its TOML document; ValueError names the key and what it must be."""
    top = {"version", "effective_from", "title", "sources", *SECTIONS}
    if unknown := sorted(set(document) - top):
        raise ValueError(f"unknown key {unknown[0]!r}")
    version, effective_from, title = document.get("version"), document.get("effective_from"), document.get("title")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError("version must be a whole number from 1")
    if type(effective_from) is not dt.date:
        raise ValueError("effective_from must be a date such as 2027-01-01")
    if not isinstance(title, str) or not title.strip():
        raise ValueError("title must be some text")
    values: dict[str, object] = {}
    for section, names in SECTIONS.items():
        table = document.get(section)
        if not isinstance(table, dict):
            raise ValueError(f"[{section}] is missing")
        if unknown := sorted(set(table) - set(names)):
            raise ValueError(f"{section}.{unknown[0]} is not a policy parameter")
        for key, attribute in names.items():
            if key not in table:
                raise ValueError(f"{section}.{key} is missing")
            try:
                values[attribute] = PARSE[attribute](table[key])
            except ValueError as error:
                raise ValueError(f"{section}.{key} must be {error}") from None
    sources = document.get("sources")
    parameters = [f"{section}.{key}" for section, names in SECTIONS.items() for key in names]
    if not isinstance(sources, dict) or not all(isinstance(text, str) and text.strip() for text in sources.values()):
        raise ValueError("[sources] must name, for each parameter, the text that sets it or \"local\"")
    if missing := [name for name in parameters if name not in sources]:
        raise ValueError(f"sources: {missing[0]} names no source (the text that sets it, or \"local\")")
    if unknown := sorted(set(sources) - set(parameters)):
        raise ValueError(f"sources: {unknown[0]} is not a policy parameter")
    policy = Policy(version=version, effective_from=effective_from, title=title.strip(),
                    sources=MappingProxyType({name: sources[name].strip() for name in parameters}), **values)  # type: ignore[arg-type]
    _check_order(policy)
    return policy


def _check_order(policy: Policy) -> None:
    if policy.serious_violation_points > max(RULE_POINT_VALUES):
        raise ValueError(f"credit.serious_violation_points must be at most {max(RULE_POINT_VALUES)}, the most "
                         "points one rule can carry")
    if not policy.grade_c_from < policy.grade_d_from:
        raise ValueError("credit.grade_c_from must be below credit.grade_d_from")
    if not policy.warning_talk_from < policy.key_supervision_from < policy.validation_deferred_from:
        raise ValueError("credit bands must rise: warning_talk_from < key_supervision_from < validation_deferred_from")
    ratios = [policy.grade_ratios[grade] for grade in GRADES]
    if ratios != sorted(ratios):
        raise ValueError("draws.grade_ratios must not fall as the grade worsens (A <= B <= C <= D)")
    risk = [policy.graded_risk_ratios[level] for level in RISK_LEVELS]
    if risk != sorted(risk):
        raise ValueError("draws.graded_risk_ratios must not fall as the risk rises (low <= medium <= high)")


@dataclass(frozen=True)
class PolicyBook:
    """Every version, oldest first."""

    versions: tuple[Policy, ...]

    def in_force(self, day: dt.date) -> Policy:
        """The latest version in effect on `day` (the first version for days before it)."""
        found = self.versions[0]
        for policy in self.versions:
            if policy.effective_from <= day:
                found = policy
        return found

    def next_change(self, day: dt.date) -> dt.date | None:
        """The day the next version after `day` takes effect, if one is on file."""
        return min((p.effective_from for p in self.versions if p.effective_from > day), default=None)

    def version(self, number: int) -> Policy:
        for policy in self.versions:
            if policy.version == number:
                return policy
        raise LookupError(f"no policy version {number}")

    def check_names(self, *, categories: Iterable[str], rule_codes: Iterable[str]) -> None:
        """Names the policy uses that the packages define (called by the app factory, which sees them all)."""
        categories, rule_codes = set(categories), set(rule_codes)
        for policy in self.versions:
            where = f"file {policy.file} (version {policy.version})" if policy.file else f"version {policy.version}"
            if unknown := sorted(set(policy.key_categories) - categories):
                raise PolicyError(f"policy {where}: draws.key_categories: unknown category {unknown[0]!r}")
            if missing := sorted(rule_codes - set(policy.rule_points)):
                raise PolicyError(f"policy {where}: violations.points: no points for rule {missing[0]}")
            if unknown := sorted(set(policy.rule_points) - rule_codes):
                raise PolicyError(f"policy {where}: violations.points: unknown rule {unknown[0]}")


def load(folder: str | Path | None = None) -> PolicyBook:
    """Read and check every `*.toml` in `folder` (the packaged versions if None)."""
    path = Path(folder) if folder else PACKAGED
    files = sorted(path.glob("*.toml")) if path.is_dir() else []
    if not files:
        raise PolicyError(f"ONECODE_POLICY_DIR ({path}): no policy file (*.toml) there")
    versions = []
    for file in files:
        try:
            with file.open("rb") as handle:
                versions.append(dataclasses.replace(parse(tomllib.load(handle)), file=str(file)))
        except OSError as error:
            raise PolicyError(f"policy file {file}: cannot be read: {error.strerror}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise PolicyError(f"policy file {file}: is not TOML: {error}") from None
        except ValueError as error:
            raise PolicyError(f"policy file {file}: {error}") from None
    versions.sort(key=lambda policy: policy.version)
    for before, after in zip(versions, versions[1:], strict=False):
        if after.version == before.version:
            raise PolicyError(f"policy version {after.version} is in two files: {before.file} and {after.file}")
        if after.effective_from <= before.effective_from:
            raise PolicyError(f"policy file {after.file}: policy version {after.version} must take effect after "
                              f"version {before.version} ({before.effective_from}, {before.file})")
    return PolicyBook(tuple(versions))


@functools.cache
def packaged() -> PolicyBook:
    return load(None)


def book() -> PolicyBook:
    """The app's versions inside a request or command, else the packaged ones (scripts, unit tests)."""
    if has_app_context():
        return current_app.extensions.get("policy", packaged())
    return packaged()


def in_force(day: dt.date | None = None) -> Policy:
    """The version in force on `day` (today, Beijing time, if None)."""
    return book().in_force(day or today_shanghai())


def policy_version_now() -> int:
    """The version in force today: the column default of what stores one (a row written without naming
    its version was decided now)."""
    return in_force().version
