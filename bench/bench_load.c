/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loader benchmark: parses and validates one DAG file many times and
 * prints the mean and best time per load as JSON lines:
 *   bench_load FILE [ITERATIONS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "dag.h"

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)n + 1)) == NULL ||
        fread(buf, 1, (size_t)n, f) != (size_t)n) {
        perror(path);
        exit(1);
    }
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

int main(int argc, char **argv)
{
    long iterations = argc > 2 ? strtol(argv[2], NULL, 10) : 2000;
    double best = 1e9, total = 0;
    size_t len, steps = 0;
    char *text;

    if (argc < 2 || iterations < 1) {
        fprintf(stderr, "usage: bench_load FILE [ITERATIONS]\n");
        return 2;
    }
    text = read_all(argv[1], &len);
    for (long i = 0; i < iterations; i++) {
        struct dag_diags diags;
        struct dag *dag = NULL;
        double t0 = now_s(), dt;

        dag_diags_init(&diags);
        if (dag_load(argv[1], text, len, &dag, &diags) != 0) {
            dag_diags_print(&diags, argv[1], stderr);
            return 1;
        }
        dt = now_s() - t0;
        steps = dag->n_steps;
        dag_free(dag);
        dag_diags_cleanup(&diags);
        total += dt;
        if (dt < best)
            best = dt;
    }
    printf("{\"workload\": \"load%zu\", \"metric\": \"mean\", \"value\": %.1f, "
           "\"unit\": \"us\"}\n",
           steps, total / (double)iterations * 1e6);
    printf("{\"workload\": \"load%zu\", \"metric\": \"best\", \"value\": %.1f, "
           "\"unit\": \"us\"}\n",
           steps, best * 1e6);
    free(text);
    return 0;
}
