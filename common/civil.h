/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Proleptic Gregorian calendar arithmetic on days counted from 1970-01-01,
 * shared by the time-zone reader and the cron engine. Inline, because the
 * cron engine's jumps call these in its inner loop.
 */
#ifndef WEIR_CIVIL_H
#define WEIR_CIVIL_H

#include <stdbool.h>
#include <stdint.h>

/* Days before the first of each month in a common year. */
static const int civil_cum_days[12] = {0,   31,  59,  90,  120, 151,
                                       181, 212, 243, 273, 304, 334};

/* Division rounding toward minus infinity, for instants before 1970. */
static inline int64_t civil_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static inline bool civil_is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to January 1 of year y. */
static inline int64_t civil_days_before_year(int64_t y)
{
    int64_t p = y - 1;

    return 365 * (y - 1970) + civil_floor_div(p, 4) - civil_floor_div(p, 100) +
           civil_floor_div(p, 400) - 477;
}

/* Days from 1970-01-01 to y-m-d (m 1-12, d 1-31). */
static inline int64_t civil_days_from_date(int64_t y, int m, int d)
{
    return civil_days_before_year(y) + civil_cum_days[m - 1] +
           (m > 2 && civil_is_leap(y)) + d - 1;
}

/* The year that holds day `days`. */
static inline int64_t civil_year_from_days(int64_t days)
{
    int64_t y = 1970 + civil_floor_div(days * 400, 146097);

    while (civil_days_before_year(y) > days)
        y--;
    while (civil_days_before_year(y + 1) <= days)
        y++;
    return y;
}

/* The date of day `days`. */
static inline void civil_date_from_days(int64_t days, int64_t *y, int *m,
                                        int *d)
{
    int64_t yy = civil_year_from_days(days);
    int leap = civil_is_leap(yy);
    int doy = (int)(days - civil_days_before_year(yy)), mm = 12;

    while (mm > 1 && civil_cum_days[mm - 1] + (mm > 2 && leap) > doy)
        mm--;
    *y = yy;
    *m = mm;
    *d = doy - civil_cum_days[mm - 1] - (mm > 2 && leap) + 1;
}

static inline int civil_days_in_month(int64_t y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return dim[m - 1] + (m == 2 && civil_is_leap(y));
}

/* 0 = Sunday; 1970-01-01 was a Thursday. */
static inline int civil_weekday(int64_t days)
{
    return (int)(days - civil_floor_div(days + 4, 7) * 7 + 4);
}

#endif
