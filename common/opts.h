/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one way the programs read their options: getopt_long() with exact
 * names and clear errors. getopt_long() on its own accepts an
 * abbreviation (--slot for --slots, or --s for whichever option starts
 * with s) and prints its own terse message; here every long option must
 * be spelled in full, and a mistake is reported as what is wrong and
 * what was probably meant.
 */
#ifndef WEIR_OPTS_H
#define WEIR_OPTS_H

#include <getopt.h>

#include "err.h"

/*
 * getopt_long(argc, argv, shorts, longs, NULL) (optarg and optind as it
 * sets them; the caller sets optind = 1 before the first call), except
 * that before the first option is returned the whole command line is
 * checked: an unknown option ("unknown option --limt (did you mean
 * --limit?)"), an abbreviated one, a value missing or given to an option
 * that takes none make it return '?' with err saying so (WEIR_EINVAL)
 * and print nothing. shorts must not start with ':', '+' or '-'.
 */
int weir_getopt(int argc, char *const argv[], const char *shorts,
                const struct option *longs, struct weir_err *err);

#endif
