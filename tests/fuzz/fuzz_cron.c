/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for cron expressions: any bytes go to cron_parse();
 * a failure must carry a message and an offset inside the text, and a
 * success must give strictly increasing fire times in UTC and in New York
 * (around its DST edges too). The same bytes also go to cron_parse_time().
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Zones are loaded once; New York is skipped when tzdata is missing. */
static const struct tz *fuzz_zone(int i)
{
    static struct tz *zones[2];
    static bool loaded;

    if (!loaded) {
        struct weir_err err;

        if (tz_load("UTC", &zones[0], &err) != 0)
            abort();
        if (tz_load("America/New_York", &zones[1], &err) != 0)
            zones[1] = NULL;
        loaded = true;
    }
    return zones[i];
}

/*
 * A start instant from the input: anywhere in 1970-2100, or near a DST
 * edge of the zone, so gaps and overlaps are reached often.
 */
static int64_t fuzz_after(const uint8_t *data, size_t size, const struct tz *tz)
{
    uint64_t h = 1469598103934665603ULL;
    int64_t after;

    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211ULL;
    after = (int64_t)(h % 4102444800ULL);
    if (tz != NULL && (h >> 62) != 0) {
        int64_t edge = tz_next_transition(tz, after);

        if (edge != INT64_MAX)
            after = edge - 7200 + (int64_t)((h >> 20) % 14400);
    }
    return after;
}

static void fuzz_next(const struct cron_expr *c, const uint8_t *data,
                      size_t size)
{
    for (int z = 0; z < 2; z++) {
        const struct tz *tz = fuzz_zone(z);
        int64_t after = fuzz_after(data, size, tz), next = 0;
        char buf[40];

        if (z == 1 && tz == NULL)
            continue;
        for (int i = 0; i < 4; i++) {
            if (cron_next(c, tz, after, &next) != 0)
                break;
            if (next <= after)
                abort();
            cron_format_time(next, tz, buf, sizeof(buf));
            after = next;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct weir_err err = {0};
    struct cron_expr c;
    char *text = malloc(size + 1);
    int64_t t;
    int off = -1;

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (cron_parse(text, &c, &err, &off) == 0) {
        fuzz_next(&c, data, size);
    } else if (err.msg[0] == '\0' || off < 0 || (size_t)off > strlen(text)) {
        abort();
    }
    if (cron_parse_time(text, fuzz_zone(1), &t, &err) == 0)
        cron_format_time(t, fuzz_zone(0), (char[40]){0}, 40);
    free(text);
    return 0;
}
