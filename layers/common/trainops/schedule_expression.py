"""EventBridge Scheduler's recurring schedule expressions, checked before a schedule is created.

A pure parser (no I/O, no AWS import), so the config model can use it: a ``schedule:`` that EventBridge
Scheduler would refuse, or that would fire at a rate it cannot have, is a config error with the exact reason,
the same in ``trainops config validate`` and in the pipeline (SyncSchedule loads the config through the model).

The rules, from the EventBridge Scheduler User Guide ("Schedule types on EventBridge Scheduler") and the
EventBridge reference it points to ("Cron expressions reference", "Rate expressions reference"):

- ``rate(value unit)``: value a positive integer; unit ``minute | minutes | hour | hours | day | days``, singular
  when the value is 1 and plural above ("rate(1 hours) and rate(5 hour) aren't valid").
- ``cron(fields)``: six fields separated by white space, ``minutes hours day-of-month month day-of-week year``:

  ============  ================  ==============
  field         values            wildcards
  ============  ================  ==============
  minutes       0-59              , - * /
  hours         0-23              , - * /
  day-of-month  1-31              , - * ? / L W
  month         1-12 or JAN-DEC   , - * /
  day-of-week   1-7 or SUN-SAT    , - * ? L #
  year          1970-2199         , - * /
  ============  ================  ==============

  Day-of-month and day-of-week cannot both be given: one of them must be ``?``. With ``#`` the day-of-week field
  holds a single expression (``3#1,6#3`` is invalid).
- ``at(...)`` one-time schedules exist too; a retraining schedule recurs, so trainops refuses them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EXAMPLE_FIX = "e.g. rate(7 days), rate(1 day), or cron(0 3 ? * MON *) (Mondays at 03:00 UTC)"
CRON_FIELDS = ("minutes", "hours", "day-of-month", "month", "day-of-week", "year")
RATE_UNITS = {"minute": "minutes", "hour": "hours", "day": "days"}

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names for low, low + 1, ...
    step: bool = True  # the / wildcard
    question: bool = False  # the ? wildcard


_CRON = (
    _Field("minutes", 0, 59),
    _Field("hours", 0, 23),
    _Field("day-of-month", 1, 31, question=True),
    _Field("month", 1, 12, names=_MONTHS),
    _Field("day-of-week", 1, 7, names=_DAYS, step=False, question=True),
    _Field("year", 1970, 2199),
)

_RATE = re.compile(r"^rate\((?P<value>[^ )]*) (?P<unit>[^ )]*)\)$")


class ScheduleExpressionError(ValueError):
    """A schedule expression EventBridge Scheduler would refuse; ``fix`` says what to write instead."""

    def __init__(self, message: str, fix: str = EXAMPLE_FIX) -> None:
        super().__init__(message)
        self.fix = fix


def check_schedule_expression(expression: str) -> str:
    """Return ``expression`` when EventBridge Scheduler accepts it as a recurring schedule, else raise
    ScheduleExpressionError naming what is wrong."""
    text = expression.strip()
    if text != expression:
        raise ScheduleExpressionError(f"{expression!r} has leading or trailing white space", fix=f"write {text!r}")
    if text.startswith("rate("):
        _check_rate(text)
    elif text.startswith("cron("):
        _check_cron(text)
    elif text.startswith("at("):
        raise ScheduleExpressionError(
            f"{text!r} is a one-time schedule; a project's schedule retrains it again and again",
            fix="use a rate(...) or cron(...) expression, or start the one run by hand",
        )
    else:
        raise ScheduleExpressionError(f"{text!r} is neither rate(value unit) nor cron(six fields)")
    return text


def _check_rate(text: str) -> None:
    match = _RATE.match(text)
    if match is None:
        raise ScheduleExpressionError(
            f"{text!r}: a rate expression is rate(value unit), one space between value and unit",
            fix="e.g. rate(7 days) or rate(1 hour)",
        )
    value, unit = match["value"], match["unit"]
    if not value.isdigit() or int(value) < 1:
        raise ScheduleExpressionError(
            f"{text!r}: the value must be a positive whole number (got {value!r})", fix="e.g. rate(7 days)"
        )
    number = int(value)
    plural_of = RATE_UNITS.get(unit)
    singular_of = {p: s for s, p in RATE_UNITS.items()}.get(unit)
    if plural_of is None and singular_of is None:
        raise ScheduleExpressionError(
            f"{text!r}: the unit must be one of minute, minutes, hour, hours, day, days (got {unit!r})",
            fix=f"e.g. rate({number} {'day' if number == 1 else 'days'})",
        )
    if number == 1 and singular_of is not None:
        raise ScheduleExpressionError(f"{text!r}: with a value of 1 the unit is singular", fix=f"rate(1 {singular_of})")
    if number > 1 and plural_of is not None:
        raise ScheduleExpressionError(
            f"{text!r}: with a value above 1 the unit is plural", fix=f"rate({number} {plural_of})"
        )


def _check_cron(text: str) -> None:
    if not text.endswith(")"):
        raise ScheduleExpressionError(f"{text!r}: a cron expression is cron(fields), closed by ')'")
    fields = text[len("cron(") : -1].split()
    if len(fields) != len(_CRON):
        raise ScheduleExpressionError(
            f"{text!r} has {len(fields)} field(s); EventBridge Scheduler's cron has 6: {' '.join(CRON_FIELDS)}",
            fix="e.g. cron(0 3 ? * MON *) (Mondays at 03:00 UTC) or cron(30 2 1 * ? *) (the 1st of each month)",
        )
    for spec, value in zip(_CRON, fields, strict=True):
        problem = _field_problem(spec, value)
        if problem is not None:
            raise ScheduleExpressionError(f"{text!r}: {spec.name} field {value!r}: {problem}")
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ScheduleExpressionError(
            f"{text!r}: exactly one of day-of-month ({day_of_month}) and day-of-week ({day_of_week}) must be '?'",
            fix="put ? in the one you do not use, e.g. cron(0 3 ? * MON *) or cron(0 3 1 * ? *)",
        )


def _field_problem(spec: _Field, value: str) -> str | None:
    """Why ``value`` is not a valid ``spec`` field, or None."""
    if value == "?":
        return None if spec.question else "'?' is only for day-of-month and day-of-week"
    if "#" in value:
        if spec.name != "day-of-week":
            return "'#' is only for day-of-week"
        day, _, nth = value.partition("#")
        if _number(spec, day) is None or not nth.isdigit() or not 1 <= int(nth) <= 5:
            return "write <day>#<1-5>, e.g. 3#2 for the second Tuesday, alone in the field"
        return None
    for item in value.split(","):
        problem = _item_problem(spec, item)
        if problem is not None:
            return problem
    return None


def _item_problem(spec: _Field, item: str) -> str | None:  # noqa: PLR0911  (one return per grammar refusal, each naming its fix)
    allowed = f"{spec.low}-{spec.high}" + (f" or {spec.names[0]}-{spec.names[-1]}" if spec.names else "")
    if item == "":
        return "an empty value (two commas, or a comma at an end)"
    if item == "?":
        return "'?' stands alone in its field"
    if spec.name == "day-of-month" and item in ("L", "LW"):
        return None
    if spec.name == "day-of-month" and item.endswith("W"):
        return None if _number(spec, item[:-1]) is not None else f"W follows a day of the month ({allowed})"
    if spec.name == "day-of-week" and item.endswith("L"):
        return None if item == "L" or _number(spec, item[:-1]) is not None else f"L follows a day ({allowed})"
    base, slash, step = item.partition("/")
    if slash:
        if not spec.step:
            return "the '/' wildcard is not allowed in this field"
        if not step.isdigit() or int(step) < 1:
            return f"the increment after '/' must be a positive whole number (got {step!r})"
    if base == "*":
        return None
    start, dash, end = base.partition("-")
    for bound in (start, end) if dash else (start,):
        if _number(spec, bound) is None:
            return f"{bound!r} is not a value of this field ({allowed})"
    return None


def _number(spec: _Field, text: str) -> int | None:
    """The field value ``text`` stands for (a number in range or a name), or None."""
    upper = text.upper()
    if upper in spec.names:
        return spec.low + spec.names.index(upper)
    if text.isdigit() and spec.low <= int(text) <= spec.high:
        return int(text)
    return None
