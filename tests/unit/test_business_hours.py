"""Business-hours arithmetic: DST changes (Europe/Berlin, America/New_York), holidays, several
intervals a day, starts outside business hours, overnight shifts, 24x7 and round trips."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from crm_tui.errors import InvalidInput
from crm_tui.services.business_hours import (
    Calendar,
    add_business_minutes,
    business_minutes_between,
    duration_text,
    hours_text,
    parse_days,
    parse_duration,
)

BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
UTC = timezone.utc
WEEKDAYS = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


def local(zone, *args) -> datetime:
    return datetime(*args, tzinfo=zone)


def as_local(instant: datetime, zone) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def test_minutes_inside_one_day_and_into_the_next():
    cal = Calendar("Europe/Berlin", WEEKDAYS)
    start = local(BERLIN, 2026, 11, 23, 10, 0)  # Monday
    assert as_local(add_business_minutes(start, 60, cal), BERLIN) == datetime(2026, 11, 23, 11, 0)
    assert as_local(add_business_minutes(start, 7 * 60, cal), BERLIN) == datetime(2026, 11, 23, 17, 0)
    # one more minute is Tuesday 9:01, not Monday 17:01
    assert as_local(add_business_minutes(start, 7 * 60 + 1, cal), BERLIN) == datetime(2026, 11, 24, 9, 1)
    assert business_minutes_between(start, local(BERLIN, 2026, 11, 24, 9, 1), cal) == 7 * 60 + 1


def test_a_case_opened_on_saturday_counts_from_monday_nine():
    cal = Calendar("Europe/Berlin", WEEKDAYS)
    saturday = local(BERLIN, 2026, 11, 28, 14, 0)
    assert as_local(add_business_minutes(saturday, 0, cal), BERLIN) == datetime(2026, 11, 30, 9, 0)
    assert as_local(add_business_minutes(saturday, 30, cal), BERLIN) == datetime(2026, 11, 30, 9, 30)
    # Friday evening and Monday before opening count nothing until 9:00 Monday
    friday_night = local(BERLIN, 2026, 11, 27, 20, 0)
    assert business_minutes_between(friday_night, local(BERLIN, 2026, 11, 30, 8, 59), cal) == 0
    assert business_minutes_between(friday_night, local(BERLIN, 2026, 11, 30, 10, 0), cal) == 60
    # before opening on a weekday: the same day's opening
    early = local(BERLIN, 2026, 11, 24, 6, 0)
    assert as_local(add_business_minutes(early, 1, cal), BERLIN) == datetime(2026, 11, 24, 9, 1)


def test_holidays_are_skipped():
    cal = Calendar("Europe/Berlin", WEEKDAYS, holidays={date(2026, 12, 24), date(2026, 12, 25)})
    wednesday = local(BERLIN, 2026, 12, 23, 16, 0)
    # one hour left on the 23rd, the 24th and 25th are holidays, the weekend: Monday 28th
    assert as_local(add_business_minutes(wednesday, 61, cal), BERLIN) == datetime(2026, 12, 28, 9, 1)
    assert business_minutes_between(wednesday, local(BERLIN, 2026, 12, 28, 9, 1), cal) == 61
    # a start on a holiday waits for the next working day
    assert as_local(add_business_minutes(local(BERLIN, 2026, 12, 24, 10, 0), 5, cal), BERLIN) == \
        datetime(2026, 12, 28, 9, 5)


def test_several_intervals_a_day():
    cal = Calendar("America/New_York", {d: [["13:00", "17:00"], ["08:00", "12:00"]] for d in ("mon", "tue")})
    start = local(NEW_YORK, 2026, 11, 23, 11, 30)  # Monday, half an hour before lunch
    assert as_local(add_business_minutes(start, 30, cal), NEW_YORK) == datetime(2026, 11, 23, 12, 0)
    assert as_local(add_business_minutes(start, 31, cal), NEW_YORK) == datetime(2026, 11, 23, 13, 1)
    # 30 + 240 on Monday, then Tuesday 8:00-12:00 and 13:00-...: 8h on Tuesday, then next Monday
    assert as_local(add_business_minutes(start, 30 + 240 + 480 + 10, cal), NEW_YORK) == datetime(2026, 11, 30, 8, 10)
    assert business_minutes_between(local(NEW_YORK, 2026, 11, 23, 12, 10), local(NEW_YORK, 2026, 11, 23, 12, 50),
                                    cal) == 0


@pytest.mark.parametrize("zone, day, hours", [
    ("Europe/Berlin", date(2026, 3, 29), 23),   # spring forward: 02:00 -> 03:00
    ("Europe/Berlin", date(2026, 10, 25), 25),  # fall back: 03:00 -> 02:00
    ("America/New_York", date(2026, 3, 8), 23),
    ("America/New_York", date(2026, 11, 1), 25),
])
def test_a_24x7_calendar_counts_the_real_hours_of_a_dst_day(zone, day, hours):
    cal = Calendar.always_open(zone)
    tz = ZoneInfo(zone)
    midnight = datetime.combine(day, datetime.min.time(), tzinfo=tz)
    next_midnight = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    assert business_minutes_between(midnight, next_midnight, cal) == hours * 60
    # on 24x7, business minutes are plain minutes, across the change
    start = midnight + timedelta(hours=1)
    for minutes in (1, 59, 60, 61, 120, 23 * 60, 3 * 24 * 60 + 17):
        assert add_business_minutes(start, minutes, cal) == start.astimezone(UTC) + timedelta(minutes=minutes)


@pytest.mark.parametrize("zone, before, after", [
    ("Europe/Berlin", date(2026, 3, 27), date(2026, 3, 30)),    # Friday CET, Monday CEST
    ("Europe/Berlin", date(2026, 10, 23), date(2026, 10, 26)),  # Friday CEST, Monday CET
    ("America/New_York", date(2026, 3, 6), date(2026, 3, 9)),
    ("America/New_York", date(2026, 10, 30), date(2026, 11, 2)),
])
def test_office_hours_stay_at_nine_local_across_a_dst_weekend(zone, before, after):
    tz = ZoneInfo(zone)
    cal = Calendar(zone, WEEKDAYS)
    start = datetime.combine(before, datetime.min.time(), tzinfo=tz).replace(hour=16)
    due = add_business_minutes(start, 90, cal)
    assert as_local(due, tz) == datetime.combine(after, datetime.min.time()).replace(hour=9, minute=30)
    assert business_minutes_between(start, due, cal) == 90
    # the UTC offset moved by an hour between the two days: the due time is not start + n*24h
    assert (due - start.astimezone(UTC)) % timedelta(days=1) != timedelta(minutes=90)


def test_a_night_shift_across_the_spring_forward_gap_has_an_hour_less():
    # 22:00-06:00 starting Saturday 28 March in Berlin: the clock skips 02:00-03:00 that night
    cal = Calendar("Europe/Berlin", {"sat": [["22:00", "06:00"]]})
    start = local(BERLIN, 2026, 3, 28, 22, 0)
    assert business_minutes_between(start, local(BERLIN, 2026, 3, 29, 6, 0), cal) == 7 * 60
    assert as_local(add_business_minutes(start, 6 * 60, cal), BERLIN) == datetime(2026, 3, 29, 5, 0)
    # the next Saturday's shift has its eight hours
    start = local(BERLIN, 2026, 4, 4, 22, 0)
    assert business_minutes_between(start, local(BERLIN, 2026, 4, 5, 6, 0), cal) == 8 * 60


def test_a_night_shift_across_the_fall_back_fold_has_an_hour_more():
    cal = Calendar("America/New_York", {"sat": [["22:00", "06:00"]]})
    start = local(NEW_YORK, 2026, 10, 31, 22, 0)
    assert business_minutes_between(start, local(NEW_YORK, 2026, 11, 1, 6, 0), cal) == 9 * 60
    # a case opened Sunday 1:30 (the first, EDT, one) is inside the shift that started Saturday
    inside = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT
    assert add_business_minutes(inside, 10, cal) == inside + timedelta(minutes=10)


def test_an_overnight_shift_belongs_to_the_day_it_starts():
    cal = Calendar("UTC", {"fri": [["20:00", "04:00"]]}, holidays={date(2026, 11, 27)})
    friday = datetime(2026, 11, 27, 21, 0, tzinfo=UTC)  # a holiday Friday: no shift that night
    assert add_business_minutes(friday, 60, cal) == datetime(2026, 12, 4, 21, 0, tzinfo=UTC)
    saturday_morning = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)  # inside the shift of Friday the 4th
    assert add_business_minutes(saturday_morning, 60, cal) == datetime(2026, 12, 5, 4, 0, tzinfo=UTC)
    assert add_business_minutes(saturday_morning, 61, cal) == datetime(2026, 12, 11, 20, 1, tzinfo=UTC)


def test_large_targets_walk_weeks_and_round_trip():
    cal = Calendar("Europe/Berlin", WEEKDAYS, holidays={date(2027, 1, 1)})
    start = local(BERLIN, 2026, 11, 23, 9, 0)
    # 30 working days of 8 hours: 29 in 2026 (from the 23rd), New Year's Day off, the 30th on 4 January
    due = add_business_minutes(start, 30 * 480, cal)
    assert as_local(due, BERLIN) == datetime(2027, 1, 4, 17, 0)  # the 30th day ends at its close
    assert business_minutes_between(start, due, cal) == 30 * 480
    year = add_business_minutes(start, 260 * 480, cal)
    assert business_minutes_between(start, year, cal) == 260 * 480


@pytest.mark.parametrize("zone, hours", [
    ("Europe/Berlin", WEEKDAYS),
    ("America/New_York", {"mon": [["08:00", "12:00"], ["13:00", "17:30"]], "wed": [["22:00", "06:00"]],
                          "sat": [["00:00", "24:00"]]}),
    ("UTC", {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}),
])
def test_round_trips_from_random_starts_across_a_year(zone, hours):
    rng = random.Random(23)
    cal = Calendar(zone, hours, holidays={date(2026, 12, 25), date(2026, 3, 30), date(2026, 11, 2)})
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for _ in range(300):
        a = base + timedelta(minutes=rng.randrange(365 * 24 * 60))
        m = rng.choice([0, 1, 59, 60, 61, 479, 480, rng.randrange(1, 20000)])
        b = add_business_minutes(a, m, cal)
        assert b >= a
        assert business_minutes_between(a, b, cal) == m
        assert business_minutes_between(b, a, cal) == -m
        if m:  # and one minute less lands strictly earlier
            assert add_business_minutes(a, m - 1, cal) < b


def test_between_is_additive_over_a_dst_change():
    cal = Calendar("Europe/Berlin", {d: [["00:00", "24:00"]] for d in ("sat", "sun")} | WEEKDAYS)
    a, mid, b = (local(BERLIN, 2026, 3, 27, 12), local(BERLIN, 2026, 3, 29, 2, 30), local(BERLIN, 2026, 3, 31, 12))
    assert business_minutes_between(a, b, cal) == business_minutes_between(a, mid, cal) + \
        business_minutes_between(mid, b, cal)


def test_holidays_load_a_year_at_a_time_when_the_walk_reaches_it():
    asked = []

    def loader(year):
        asked.append(year)
        return {date(2027, 1, 1)} if year == 2027 else set()

    cal = Calendar("UTC", WEEKDAYS, more_holidays=loader, holiday_years={2026})
    start = datetime(2026, 12, 31, 16, 0, tzinfo=UTC)  # Thursday: New Year's Day is a holiday
    assert add_business_minutes(start, 120, cal) == datetime(2027, 1, 4, 10, 0, tzinfo=UTC)
    assert asked == [2027]


@pytest.mark.parametrize("hours, message", [
    ({"mon": [["09:00", "17:00"], ["16:00", "18:00"]]}, "overlaps"),
    ({"mon": [["9", "9"]]}, "empty"),
    ({"mon": [["25:00", "26:00"]]}, "not a time of day"),
    ({"mon": [["09:61", "10:00"]]}, "not a time of day"),
    ({"mon": [["nine", "17:00"]]}, "not a time of day"),
    ({"funday": [["09:00", "17:00"]]}, "not a day"),
    ({"mon": ["09:00-17:00"]}, "pair of times"),
    ({"mon": [["22:00", "10:00"]], "tue": [["09:00", "17:00"]]}, "runs into Tuesday"),
])
def test_bad_hours_are_one_line(hours, message):
    with pytest.raises(InvalidInput, match=message) as caught:
        Calendar("UTC", hours)
    assert "\n" not in str(caught.value)


def test_a_calendar_without_hours_refuses_arithmetic_and_a_bad_zone_is_named():
    with pytest.raises(InvalidInput, match="no working hours"):
        add_business_minutes(datetime(2026, 1, 1, tzinfo=UTC), 5, Calendar("UTC", {}))
    with pytest.raises(InvalidInput, match="unknown time zone 'Mars/Olympus'"):
        Calendar("Mars/Olympus", WEEKDAYS)
    with pytest.raises(ValueError, match="aware"):
        add_business_minutes(datetime(2026, 1, 1), 5, Calendar("UTC", WEEKDAYS))


@pytest.mark.parametrize("text, minutes", [("30m", 30), ("4h", 240), ("1d", 480), ("1d 4h", 720), ("1h30m", 90),
                                           ("90", 90), ("2.5h", 150), ("3D", 1440), (45, 45)])
def test_durations_as_typed(text, minutes):
    assert parse_duration(text) == minutes


@pytest.mark.parametrize("text", ["", "soon", "4x", "0", "-1h", "0.5m", "h"])
def test_bad_durations(text):
    with pytest.raises(InvalidInput):
        parse_duration(text)


def test_duration_text_and_days_and_hours_text():
    assert [duration_text(m) for m in (0, 5, 60, 90, 480, 720, 1500)] == ["0m", "5m", "1h", "1h 30m", "1d", "1d 4h",
                                                                          "3d 1h"]
    assert duration_text(1500, days=False) == "25h"
    assert parse_days("mon-fri") == ["mon", "tue", "wed", "thu", "fri"]
    assert parse_days("sat,sun") == ["sat", "sun"]
    assert parse_days("fri-mon") == ["mon", "fri", "sat", "sun"]
    assert parse_days("all") == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    with pytest.raises(InvalidInput):
        parse_days("someday")
    assert hours_text({"mon": [["13:00", "17:00"], ["9:00", "12:00"]], "sat": [["22:00", "04:00"]]}) == {
        "mon": "09:00-12:00, 13:00-17:00", "tue": "closed", "wed": "closed", "thu": "closed", "fri": "closed",
        "sat": "22:00-04:00", "sun": "closed"}
