/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The DAG model as loaded: every key of a full document, the defaults of a
 * minimal one, the id taken from the file name, matrix cells, loading from
 * files, hostile inputs and the diagnostics helpers. The validation
 * messages themselves are in test_dag_check.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "dag.h"
#include "sha256.h"
#include "suggest.h"

static const char full_yaml[] =
    "dag: fraud-model\n"
    "description: Retrain the fraud model\n"
    "tags: [ml, fraud]\n"
    "params:\n"
    "  dataset_version: latest\n"
    "  accuracy_threshold: 0.85\n"
    "  reason: manual\n"
    "  limits: {rows: 10}\n"
    "timezone: America/Mexico_City\n"
    "triggers:\n"
    "  - cron: \"0 2 * * 0\"\n"
    "    catchup: true\n"
    "    jitter: 30s\n"
    "  - event: data.arrived\n"
    "    id: arrivals\n"
    "    when: event.payload.bucket == \"ml-data\"\n"
    "    accumulate: event.payload.rows\n"
    "    threshold: 10000\n"
    "  - metric: model.accuracy\n"
    "    below: 0.85\n"
    "    above: 0.99\n"
    "    for: 3\n"
    "    labels: {model: fraud, version: 2}\n"
    "    priority: high\n"
    "    params: {reason: accuracy-drop}\n"
    "  - file: /data/incoming/*.parquet\n"
    "    stable: 5s\n"
    "  - file: /data/other/*\n"
    "  - webhook: code-changed\n"
    "    secret_env: HOOK_SECRET\n"
    "    when: event.payload.ref == \"refs/heads/main\"\n"
    "schedule: \"@weekly\"\n"
    "cooldown: 1h\n"
    "max_runs_per_day: 6\n"
    "max_active_runs: 1\n"
    "concurrency: 4\n"
    "priority: high\n"
    "environment: staging\n"
    "environments:\n"
    "  dev: {params: {dataset_version: sample}}\n"
    "  staging: {queue: staging}\n"
    "  prod:\n"
    "    queue: prod\n"
    "    params: {accuracy_threshold: 0.9}\n"
    "    approve_before: [register]\n"
    "defaults:\n"
    "  retries: 2\n"
    "  retry_delay: 30s\n"
    "  retry_backoff: 2.0\n"
    "  max_retry_delay: 10m\n"
    "  timeout: 1h\n"
    "  queue: cpu\n"
    "  trigger_rule: all_done\n"
    "on_failure: {run: \"./notify.sh ${{ run.id }}\"}\n"
    "on_success: {webhook: \"https://hooks.example/x\"}\n"
    "steps:\n"
    "  - id: register\n"
    "    needs: [evaluate, approve]\n"
    "    trigger_rule: none_failed\n"
    "    if: steps.evaluate.outputs.accuracy >= params.accuracy_threshold\n"
    "    run: python3 register.py --note \"ok\" ${{ run.id }}\n"
    "  - id: ingest\n"
    "    run: python3 ingest.py --version ${{ params.dataset_version }}\n"
    "    env:\n"
    "      DATA_DIR: /data/${{ run.environment }}\n"
    "      ROWS: 10\n"
    "    workdir: steps\n"
    "    retries: 0\n"
    "    retry_on_exit: [75]\n"
    "    no_retry_on_exit: [2, 3]\n"
    "  - id: validate\n"
    "    needs: ingest\n"
    "    run: python3 validate.py ${{ event.payload.path }}\n"
    "    retry_delay: 1m\n"
    "  - id: train\n"
    "    needs: [validate]\n"
    "    matrix:\n"
    "      lr: [0.1, 0.01]\n"
    "      depth: [3, 5, 7]\n"
    "      opt: [adam]\n"
    "    run: python3 train.py --lr ${{ matrix.lr }} --d ${{ matrix.depth }}\n"
    "    queue: gpu\n"
    "    retries: 1\n"
    "    timeout: 2h\n"
    "    retry_backoff: 1.5\n"
    "  - id: evaluate\n"
    "    needs: [train]\n"
    "    run: |\n"
    "      python3 evaluate.py ${{ steps.train.outputs.model }}\n"
    "      echo ${{ steps.ingest.state }}\n"
    "  - id: approve\n"
    "    needs: [evaluate]\n"
    "    if: run.environment == \"prod\"\n"
    "    approval: {message: \"Promote ${{ steps.evaluate.outputs.model "
    "}}?\"}\n"
    "  - id: notify\n"
    "    needs: evaluate\n"
    "    approval: true\n";

static struct dag *load_ok(const char *name, const char *yaml)
{
    struct dag_diags d;
    struct dag *dag = NULL;
    int rc;

    dag_diags_init(&d);
    rc = dag_load(name, yaml, strlen(yaml), &dag, &d);
    if (rc != 0)
        dag_diags_print(&d, name, stderr);
    assert_int_equal(rc, 0);
    assert_int_equal(d.n, 0);
    assert_non_null(dag);
    dag_diags_cleanup(&d);
    return dag;
}

static void check_json_str(const cJSON *obj, const char *key, const char *v)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

    assert_non_null(it);
    assert_true(cJSON_IsString(it));
    assert_string_equal(it->valuestring, v);
}

static void check_json_num(const cJSON *obj, const char *key, double v)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

    assert_non_null(it);
    assert_true(cJSON_IsNumber(it));
    assert_true(it->valuedouble == v);
}

static void check_top(const struct dag *d)
{
    assert_string_equal(d->id, "fraud-model");
    assert_string_equal(d->description, "Retrain the fraud model");
    assert_int_equal(d->n_tags, 2);
    assert_string_equal(d->tags[1], "fraud");
    check_json_str(d->params, "dataset_version", "latest");
    check_json_num(d->params, "accuracy_threshold", 0.85);
    check_json_num(cJSON_GetObjectItem(d->params, "limits"), "rows", 10);
    assert_string_equal(d->timezone, "America/Mexico_City");
    assert_int_equal(d->cooldown_ms, 3600 * 1000);
    assert_int_equal(d->max_runs_per_day, 6);
    assert_int_equal(d->max_active_runs, 1);
    assert_int_equal(d->concurrency, 4);
    assert_int_equal(d->priority, DAG_PRIO_HIGH);
    assert_string_equal(d->environment, "staging");
    assert_int_equal(d->n_environments, 3);
    assert_string_equal(d->environments[0].name, "dev");
    check_json_str(d->environments[0].params, "dataset_version", "sample");
    assert_null(d->environments[0].queue);
    assert_string_equal(d->environments[1].queue, "staging");
    assert_null(d->environments[1].params);
    assert_string_equal(d->environments[2].name, "prod");
    assert_string_equal(d->environments[2].queue, "prod");
    check_json_num(d->environments[2].params, "accuracy_threshold", 0.9);
    assert_int_equal(d->environments[2].n_approve_before, 1);
    assert_string_equal(d->environments[2].approve_before[0], "register");
    assert_int_equal(d->environments[2].pos.line, 42);
    assert_string_equal(d->on_failure.run, "./notify.sh ${{ run.id }}");
    assert_null(d->on_failure.webhook);
    assert_int_equal(d->on_failure.pos.line, 54);
    assert_null(d->on_success.run);
    assert_string_equal(d->on_success.webhook, "https://hooks.example/x");
    assert_int_equal(d->source_len, strlen(full_yaml));
    assert_memory_equal(d->source, full_yaml, d->source_len);
}

static void check_triggers(const struct dag *d)
{
    const struct dag_trigger *t = d->triggers;

    assert_int_equal(d->n_triggers, 7);
    /* schedule: comes first */
    assert_int_equal(t[0].kind, DAG_TRIG_CRON);
    assert_string_equal(t[0].target, "@weekly");
    assert_string_equal(t[0].key, "cron:@weekly");
    assert_int_equal(t[0].pos.line, 32);
    assert_int_equal(t[1].kind, DAG_TRIG_CRON);
    assert_string_equal(t[1].key, "cron:0 2 * * 0");
    assert_true(t[1].catchup);
    assert_int_equal(t[1].jitter_ms, 30000);
    assert_true(t[1].cron.hours == (1u << 2) && t[1].cron.wdays == 1);
    assert_int_equal(t[1].pos.line, 11);
    assert_int_equal(t[1].pos.col, 5);
    assert_int_equal(t[2].kind, DAG_TRIG_EVENT);
    assert_string_equal(t[2].key, "arrivals");
    assert_string_equal(t[2].target, "data.arrived");
    assert_string_equal(t[2].when, "event.payload.bucket == \"ml-data\"");
    assert_string_equal(t[2].accumulate, "event.payload.rows");
    assert_true(t[2].threshold == 10000);
    assert_false(t[2].has_priority);
    assert_int_equal(t[3].kind, DAG_TRIG_METRIC);
    assert_true(t[3].has_below && t[3].below == 0.85);
    assert_true(t[3].has_above && t[3].above == 0.99);
    assert_int_equal(t[3].for_samples, 3);
    check_json_str(t[3].labels, "model", "fraud");
    check_json_str(t[3].labels, "version", "2");
    assert_true(t[3].has_priority);
    assert_int_equal(t[3].priority, DAG_PRIO_HIGH);
    check_json_str(t[3].params, "reason", "accuracy-drop");
    assert_int_equal(t[4].kind, DAG_TRIG_FILE);
    assert_int_equal(t[4].stable_ms, 5000);
    assert_int_equal(t[5].stable_ms, 2000);
    assert_string_equal(t[5].key, "file:/data/other/*");
    assert_int_equal(t[6].kind, DAG_TRIG_WEBHOOK);
    assert_string_equal(t[6].target, "code-changed");
    assert_string_equal(t[6].secret_env, "HOOK_SECRET");
    assert_non_null(t[6].when);
    assert_int_equal(t[6].for_samples, 1);
    assert_int_equal(t[6].max_body, DAG_HOOK_BODY_MAX);
}

static void check_order(const struct dag *d)
{
    static const char *const order[] = {"ingest",   "validate", "train",
                                        "evaluate", "approve",  "register",
                                        "notify"};
    const struct dag_step *reg = &d->steps[5], *notify = &d->steps[6];
    const struct dag_step *hook = &d->steps[7];

    /* the on_failure hook's step comes last, needing every step */
    assert_int_equal(d->n_steps, 8);
    for (size_t i = 0; i < 7; i++) {
        assert_string_equal(d->steps[i].id, order[i]);
        assert_int_equal(d->steps[i].hook, DAG_HOOK_NONE);
    }
    assert_string_equal(hook->id, "on_failure");
    assert_int_equal(hook->hook, DAG_HOOK_ON_FAILURE);
    assert_int_equal(hook->n_needs, 7);
    assert_int_equal(hook->n_upstream, 7);
    assert_int_equal(hook->pos.line, 54);
    assert_int_equal(reg->n_needs, 2);
    assert_string_equal(reg->needs[0], "evaluate");
    assert_int_equal(reg->needs_idx[0], 3);
    assert_int_equal(reg->needs_idx[1], 4);
    assert_int_equal(reg->n_upstream, 5);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(reg->upstream[i], i);
    assert_int_equal(notify->n_upstream, 4);
    assert_int_equal(notify->needs_idx[0], 3);
    assert_int_equal(d->steps[0].n_upstream, 0);
    assert_int_equal(d->steps[1].needs_idx[0], 0);
    assert_int_equal(reg->pos.line, 57);
    assert_int_equal(reg->pos.col, 9);
}

static void check_steps(const struct dag *d)
{
    const struct dag_step *in = dag_step_get(d, "ingest");
    const struct dag_step *va = dag_step_get(d, "validate");
    const struct dag_step *tr = dag_step_get(d, "train");
    const struct dag_step *ap = dag_step_get(d, "approve");
    const struct dag_step *re = dag_step_get(d, "register");
    const struct dag_step *no = dag_step_get(d, "notify");

    assert_non_null(in && va && tr && ap && re && no);
    assert_null(dag_step_get(d, "nope"));
    /* ingest: defaults with retries overridden to 0 */
    assert_int_equal(in->retries, 0);
    assert_int_equal(in->retry_delay_ms, 30000);
    assert_true(in->retry_backoff == 2.0);
    assert_int_equal(in->max_retry_delay_ms, 600000);
    assert_int_equal(in->timeout_ms, 3600000);
    assert_string_equal(in->queue, "cpu");
    assert_int_equal(in->trigger_rule, DAG_RULE_ALL_DONE);
    assert_int_equal(in->n_env, 2);
    assert_string_equal(in->env[0].name, "DATA_DIR");
    assert_string_equal(in->env[0].value, "/data/${{ run.environment }}");
    assert_string_equal(in->env[1].value, "10");
    assert_string_equal(in->workdir, "steps");
    assert_int_equal(in->n_retry_on_exit, 1);
    assert_int_equal(in->retry_on_exit[0], 75);
    assert_int_equal(in->n_no_retry_on_exit, 2);
    assert_int_equal(in->no_retry_on_exit[1], 3);
    assert_int_equal(in->n_cells, 1);
    assert_int_equal(in->run_pos.line, 63);
    assert_int_equal(in->run_pos.col, 10);
    assert_int_equal(va->retry_delay_ms, 60000);
    assert_int_equal(va->retries, 2);
    assert_string_equal(tr->queue, "gpu");
    assert_int_equal(tr->retries, 1);
    assert_int_equal(tr->timeout_ms, 7200000);
    assert_true(tr->retry_backoff == 1.5);
    assert_int_equal(tr->n_matrix, 3);
    assert_int_equal(tr->n_cells, 6);
    assert_string_equal(tr->matrix[1].name, "depth");
    assert_true(ap->approval);
    assert_null(ap->run);
    assert_string_equal(ap->approval_message,
                        "Promote ${{ steps.evaluate.outputs.model }}?");
    assert_string_equal(ap->if_expr, "run.environment == \"prod\"");
    assert_int_equal(ap->if_pos.line, 93);
    assert_int_equal(re->trigger_rule, DAG_RULE_NONE_FAILED);
    assert_true(no->approval);
    assert_null(no->approval_message);
}

static void test_full_dag(void **state)
{
    struct dag *d = load_ok("dags/x.yaml", full_yaml);
    char hex[65];

    (void)state;
    check_top(d);
    check_triggers(d);
    check_order(d);
    check_steps(d);
    sha256_hex(full_yaml, strlen(full_yaml), hex);
    assert_string_equal(d->hash, hex);
    dag_free(d);
}

static void test_cells(void **state)
{
    struct dag *d = load_ok("x", full_yaml);
    const struct dag_step *tr = dag_step_get(d, "train");
    char *s;
    cJSON *c;

    (void)state;
    c = dag_step_cell(tr, 0);
    s = cJSON_PrintUnformatted(c);
    assert_string_equal(s, "{\"lr\":0.1,\"depth\":3,\"opt\":\"adam\"}");
    cJSON_free(s);
    cJSON_Delete(c);
    c = dag_step_cell(tr, 1);
    s = cJSON_PrintUnformatted(c);
    assert_string_equal(s, "{\"lr\":0.1,\"depth\":5,\"opt\":\"adam\"}");
    cJSON_free(s);
    cJSON_Delete(c);
    c = dag_step_cell(tr, 5);
    s = cJSON_PrintUnformatted(c);
    assert_string_equal(s, "{\"lr\":0.01,\"depth\":7,\"opt\":\"adam\"}");
    cJSON_free(s);
    cJSON_Delete(c);
    c = dag_step_cell(dag_step_get(d, "ingest"), 0);
    s = cJSON_PrintUnformatted(c);
    assert_string_equal(s, "{}");
    cJSON_free(s);
    cJSON_Delete(c);
    dag_free(d);
}

static void test_minimal_defaults(void **state)
{
    struct dag *d = load_ok("dags/hello.yaml", "steps: [{id: a, run: x}]\n");
    const struct dag_step *s = &d->steps[0];

    (void)state;
    assert_string_equal(d->id, "hello");
    assert_string_equal(d->timezone, "UTC");
    assert_int_equal(d->priority, DAG_PRIO_NORMAL);
    assert_null(d->description);
    assert_null(d->params);
    assert_null(d->environment);
    assert_int_equal(d->n_triggers, 0);
    assert_int_equal(d->n_environments, 0);
    assert_int_equal(d->cooldown_ms, 0);
    assert_int_equal(d->max_runs_per_day, 0);
    assert_int_equal(d->max_active_runs, 0);
    assert_int_equal(d->concurrency, 0);
    assert_null(d->on_failure.run);
    assert_null(d->on_success.webhook);
    assert_string_equal(s->queue, "default");
    assert_int_equal(s->retries, 0);
    assert_int_equal(s->retry_delay_ms, 10000);
    assert_true(s->retry_backoff == 1.0);
    assert_int_equal(s->max_retry_delay_ms, 0);
    assert_int_equal(s->timeout_ms, 0);
    assert_int_equal(s->trigger_rule, DAG_RULE_ALL_SUCCESS);
    assert_int_equal(s->n_cells, 1);
    assert_int_equal(s->n_needs, 0);
    assert_int_equal(s->n_upstream, 0);
    assert_false(s->approval);
    assert_null(s->if_expr);
    dag_free(d);
}

static void test_id_from_name(void **state)
{
    static const char y[] = "steps: [{id: a, run: x}]\n";
    struct dag_diags diags;
    struct dag *d;

    (void)state;
    d = load_ok("/srv/dags/hello-world.yaml", y);
    assert_string_equal(d->id, "hello-world");
    dag_free(d);
    d = load_ok("etl_2.yml", y);
    assert_string_equal(d->id, "etl_2");
    dag_free(d);
    d = load_ok("x/My DAG.yaml", "dag: mine\nsteps: [{id: a, run: x}]\n");
    assert_string_equal(d->id, "mine");
    dag_free(d);
    d = NULL;
    dag_diags_init(&diags);
    assert_int_equal(dag_load("x/My DAG.yaml", y, strlen(y), &d, &diags),
                     WEIR_EINVAL);
    assert_null(d);
    assert_int_equal(diags.n, 1);
    assert_int_equal(diags.v[0].pos.line, 0);
    assert_string_equal(
        diags.v[0].msg,
        "the file name gives the DAG id \"My DAG\", which is not valid (use "
        "lowercase letters, digits, \"_\" and \"-\", starting with a letter "
        "or digit (at most 64)): add a \"dag:\" key with a valid id");
    dag_diags_cleanup(&diags);
}

/* Hostile input: refused with one diagnostic that says why. */
static void expect_refused(const char *text, size_t len, const char *why)
{
    struct dag_diags d;
    struct dag *dag = NULL;

    dag_diags_init(&d);
    assert_int_equal(dag_load("h.yaml", text, len, &dag, &d), WEIR_EINVAL);
    assert_null(dag);
    if (d.n != 1)
        dag_diags_print(&d, "h.yaml", stderr);
    assert_int_equal(d.n, 1);
    assert_true(strlen(d.v[0].msg) > 10);
    if (why != NULL && strstr(d.v[0].msg, why) == NULL)
        fail_msg("\"%s\" does not say \"%s\"", d.v[0].msg, why);
    dag_diags_cleanup(&d);
}

/* A webhook's max_body: bytes from 1 KiB to the route's 256 KiB. */
static void test_hook_max_body(void **state)
{
    static const char ok[] = "dag: h\ntriggers:\n  - webhook: push\n"
                             "    secret_env: S\n    max_body: 4096\n"
                             "steps: [{id: a, run: x}]\n";
    static const char small[] = "dag: h\ntriggers:\n  - webhook: push\n"
                                "    secret_env: S\n    max_body: 10\n"
                                "steps: [{id: a, run: x}]\n";
    static const char big[] = "dag: h\ntriggers:\n  - webhook: push\n"
                              "    secret_env: S\n    max_body: 300000\n"
                              "steps: [{id: a, run: x}]\n";
    static const char event[] = "dag: h\ntriggers:\n  - event: e\n"
                                "    max_body: 4096\n"
                                "steps: [{id: a, run: x}]\n";
    struct dag_diags d;
    struct dag *dag = NULL;

    (void)state;
    dag_diags_init(&d);
    assert_int_equal(dag_load("h.yaml", ok, sizeof(ok) - 1, &dag, &d), 0);
    assert_int_equal(dag->triggers[0].max_body, 4096);
    dag_free(dag);
    dag_diags_cleanup(&d);
    expect_refused(small, sizeof(small) - 1, ">= 1024");
    expect_refused(big, sizeof(big) - 1, "at most 262144");
    expect_refused(event, sizeof(event) - 1, "max_body");
}

static void test_hostile(void **state)
{
    size_t cap = DAG_MAX_FILE_BYTES + 64, o = 0;
    char *big = malloc(cap);
    static const char bad_utf8[] = "dag: x\ndescription: \xc3\x28\n"
                                   "steps: [{id: a, run: x}]\n";
    static const char nul[] = "dag: x\n\0steps: [{id: a, run: x}]\n";

    (void)state;
    assert_non_null(big);
    /* alias bomb: 10 levels of 10 references each */
    o = (size_t)snprintf(big, cap, "a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (char c = 'b'; c <= 'k'; c++)
        o += (size_t)snprintf(big + o, cap - o,
                              "%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, "
                              "*%c, *%c, *%c]\n",
                              c, c, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1,
                              c - 1, c - 1, c - 1, c - 1);
    expect_refused(big, o, "100000");
    /* few nodes, but a long text repeated by every alias */
    o = (size_t)snprintf(big, cap, "description: &d ");
    memset(big + o, 'x', 200000);
    o += 200000;
    o += (size_t)snprintf(big + o, cap - o, "\ntags: [");
    for (int i = 0; i < 200; i++)
        o += (size_t)snprintf(big + o, cap - o, "*d, ");
    o += (size_t)snprintf(big + o, cap - o, "x]\nsteps: [{id: a, run: x}]\n");
    expect_refused(big, o, "bytes of text");
    /* deep nesting */
    o = (size_t)snprintf(big, cap, "steps: ");
    for (int i = 0; i < 100; i++)
        big[o++] = '[';
    for (int i = 0; i < 100; i++)
        big[o++] = ']';
    expect_refused(big, o, "32");
    expect_refused(bad_utf8, sizeof(bad_utf8) - 1, "UTF-8");
    expect_refused(nul, sizeof(nul) - 1, "NUL");
    expect_refused("", 0, NULL);
    expect_refused("a: [\n", 5, NULL);
    expect_refused("a: 1\n---\nb: 2\n", 14, NULL);
    /* over the size limit */
    memset(big, ' ', cap);
    memcpy(big, "dag: x\n#", 8);
    expect_refused(big, DAG_MAX_FILE_BYTES + 1, "1048576");
    free(big);
}

static const char *data_dir(void)
{
    const char *d = getenv("WEIR_TEST_DATA");

    return d ? d : "tests/data";
}

static void test_load_file(void **state)
{
    char path[512];
    struct dag_diags diags;
    struct dag *d = NULL;

    (void)state;
    snprintf(path, sizeof(path), "%s/dags/hello.yaml", data_dir());
    dag_diags_init(&diags);
    assert_int_equal(dag_load_file(path, &d, &diags), 0);
    assert_int_equal(diags.n, 0);
    assert_string_equal(d->id, "hello");
    assert_int_equal(d->n_steps, 2);
    assert_string_equal(d->steps[1].id, "world");
    dag_free(d);
    d = NULL;
    snprintf(path, sizeof(path), "%s/dags/broken.yaml", data_dir());
    assert_int_equal(dag_load_file(path, &d, &diags), WEIR_EINVAL);
    assert_null(d);
    assert_int_equal(diags.n, 2);
    assert_string_equal(diags.v[0].msg,
                        "step \"b\" needs \"aa\", which is not a step (did "
                        "you mean \"a\"?)");
    assert_string_equal(diags.v[1].msg, "cycle: c -> d -> c");
    dag_diags_cleanup(&diags);
}

static void expect_file_error(const char *path, int code, const char *msg)
{
    struct dag_diags diags;
    struct dag *d = NULL;

    dag_diags_init(&diags);
    assert_int_equal(dag_load_file(path, &d, &diags), code);
    assert_null(d);
    assert_int_equal(diags.n, 1);
    assert_int_equal(diags.v[0].pos.line, 0);
    assert_string_equal(diags.v[0].msg, msg);
    dag_diags_cleanup(&diags);
}

static void test_load_file_errors(void **state)
{
    char dir[] = "/tmp/weir-dag-XXXXXX";
    char path[64];
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/none.yaml", dir);
    expect_file_error(path, WEIR_EIO,
                      "cannot open the file: No such file or directory");
    expect_file_error(dir, WEIR_EIO,
                      "not a regular file; a DAG is a YAML file");
    snprintf(path, sizeof(path), "%s/fifo.yaml", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    expect_file_error(path, WEIR_EIO,
                      "not a regular file; a DAG is a YAML file");
    unlink(path);
    snprintf(path, sizeof(path), "%s/big.yaml", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), DAG_MAX_FILE_BYTES + 1), 0);
    fclose(f);
    expect_file_error(path, WEIR_ETOOBIG,
                      "the file is 1048577 bytes; the limit is 1048576 bytes");
    unlink(path);
    rmdir(dir);
}

static void test_diags_helpers(void **state)
{
    struct dag_diags d;
    char *buf = NULL;
    size_t len = 0;
    FILE *f;

    (void)state;
    dag_diags_init(&d);
    dag_diags_add(&d, (struct dag_pos){3, 4}, "bad %s", "thing");
    dag_diags_add(&d, (struct dag_pos){0, 0}, "whole file");
    f = open_memstream(&buf, &len);
    assert_non_null(f);
    dag_diags_print(&d, "dags/a.yaml", f);
    fclose(f);
    assert_string_equal(buf, "dags/a.yaml:3:4: bad thing\n"
                             "dags/a.yaml: whole file\n");
    free(buf);
    for (int i = 0; i < 2 * DAG_MAX_DIAGS; i++)
        dag_diags_add(&d, (struct dag_pos){i, 1}, "n%d", i);
    assert_int_equal(d.n, DAG_MAX_DIAGS);
    assert_true(d.truncated);
    dag_diags_cleanup(&d);
    assert_int_equal(d.n, 0);
    assert_null(d.v);
    assert_false(d.truncated);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(dag_priority_name(DAG_PRIO_LOW), "low");
    assert_string_equal(dag_priority_name(DAG_PRIO_CRITICAL), "critical");
    assert_string_equal(dag_trigger_rule_name(DAG_RULE_ALL_SUCCESS),
                        "all_success");
    assert_string_equal(dag_trigger_rule_name(DAG_RULE_ONE_SUCCESS),
                        "one_success");
    assert_string_equal(dag_trigger_kind_name(DAG_TRIG_CRON), "cron");
    assert_string_equal(dag_trigger_kind_name(DAG_TRIG_WEBHOOK), "webhook");
    assert_string_equal(dag_hook_name(DAG_HOOK_ON_FAILURE), "on_failure");
    assert_string_equal(dag_hook_name(DAG_HOOK_ON_SUCCESS), "on_success");
    assert_null(dag_hook_name(DAG_HOOK_NONE));
    dag_free(NULL);
    /* A word too long to compare suggests nothing, however long it is. */
    {
        static const char *const cands[] = {"steps", "params"};
        char word[300];

        memset(word, 'q', sizeof(word) - 1);
        word[sizeof(word) - 1] = '\0';
        assert_null(suggest_word(word, cands, 2));
        assert_string_equal(suggest_word("stpes", cands, 2), "steps");
    }
}

/* A run: hook is a step of its own: last, needing every step of the
 * file, with its rule; it inherits defaults and may name any step. */
/* `artifacts:` sets max_prod per name; other names keep one. */
static void test_artifacts(void **state)
{
    static const char yaml[] = "artifacts:\n"
                               "  churn-model: {max_prod: 3}\n"
                               "  report.v2:\n"
                               "steps:\n"
                               "  - {id: a, run: x}\n";
    struct dag *d = load_ok("arts", yaml);
    cJSON *j;

    (void)state;
    assert_int_equal(d->n_artifacts, 2);
    assert_string_equal(d->artifacts[0].name, "churn-model");
    assert_int_equal(d->artifacts[0].max_prod, 3);
    assert_int_equal(d->artifacts[0].pos.line, 2);
    assert_int_equal(d->artifacts[1].max_prod, 1);
    assert_int_equal(dag_artifact_max_prod(d, "churn-model"), 3);
    assert_int_equal(dag_artifact_max_prod(d, "report.v2"), 1);
    assert_int_equal(dag_artifact_max_prod(d, "other"), 1);
    assert_int_equal(dag_artifact_max_prod(NULL, "churn-model"), 1);
    j = dag_to_json(d);
    assert_non_null(j);
    check_json_num(
        cJSON_GetObjectItem(cJSON_GetObjectItem(j, "artifacts"), "churn-model"),
        "max_prod", 3);
    cJSON_Delete(j);
    dag_free(d);
}

/* `self_approve` and `promote_from` of an artifact: who may approve, and
 * which environments may feed a stage. */
static void test_artifact_governance(void **state)
{
    static const char yaml[] =
        "environments: {dev: {}, staging: {}, prod: {}}\n"
        "artifacts:\n"
        "  churn-model:\n"
        "    self_approve: true\n"
        "    promote_from: {prod: [staging, prod], staging: [dev]}\n"
        "  other: {}\n"
        "steps:\n"
        "  - {id: a, run: x}\n";
    struct dag *d = load_ok("gov", yaml);
    const struct dag_artifact *a = dag_artifact_find(d, "churn-model");
    const cJSON *from;
    cJSON *j;

    (void)state;
    assert_non_null(a);
    assert_true(a->self_approve);
    assert_int_equal(a->n_promote_from, 2);
    assert_string_equal(a->promote_from[0].stage, "prod");
    assert_int_equal(a->promote_from[0].n_envs, 2);
    assert_string_equal(a->promote_from[0].envs[0], "staging");
    assert_string_equal(a->promote_from[0].envs[1], "prod");
    assert_string_equal(a->promote_from[1].stage, "staging");
    assert_false(dag_artifact_find(d, "other")->self_approve);
    assert_int_equal(dag_artifact_find(d, "other")->n_promote_from, 0);
    assert_null(dag_artifact_find(d, "nope"));
    j = dag_to_json(d);
    assert_non_null(j);
    from = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(j, "artifacts"), "churn-model"),
        "promote_from");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(from, "prod")), 2);
    cJSON_Delete(j);
    dag_free(d);
}

static void test_hooks(void **state)
{
    static const char yaml[] =
        "defaults: {queue: q, timeout: 1m, retries: 1,"
        " trigger_rule: all_done}\n"
        "on_success:\n"
        "  run: echo ${{ run.id }} ${{ steps.b.outputs.x }}\n"
        "on_failure: {run: \"echo ${{ steps.a.state }}\"}\n"
        "steps:\n"
        "  - {id: b, needs: a, run: x}\n"
        "  - {id: a, run: x}\n"
        "  - {id: m, matrix: {k: [1, 2]}, run: x}\n";
    struct dag *d = load_ok("hooks", yaml);
    const struct dag_step *f = &d->steps[3], *s = &d->steps[4];
    cJSON *j;

    (void)state;
    assert_int_equal(d->n_steps, 5);
    assert_string_equal(d->steps[0].id, "a");
    assert_string_equal(f->id, "on_failure");
    assert_int_equal(f->hook, DAG_HOOK_ON_FAILURE);
    assert_int_equal(f->trigger_rule, DAG_RULE_ONE_FAILED);
    assert_string_equal(s->id, "on_success");
    assert_int_equal(s->hook, DAG_HOOK_ON_SUCCESS);
    assert_int_equal(s->trigger_rule, DAG_RULE_NONE_FAILED);
    /* every step of the file, in file order; not the other hook */
    assert_int_equal(s->n_needs, 3);
    assert_string_equal(s->needs[0], "b");
    assert_string_equal(s->needs[1], "a");
    assert_string_equal(s->needs[2], "m");
    assert_int_equal(s->n_upstream, 3);
    assert_string_equal(s->run, "echo ${{ run.id }} ${{ steps.b.outputs.x }}");
    assert_int_equal(s->run_pos.line, 3);
    assert_int_equal(s->n_cells, 1);
    assert_string_equal(s->queue, "q");
    assert_int_equal(s->timeout_ms, 60000);
    assert_int_equal(s->retries, 1);
    assert_int_equal(dag_step_get(d, "a")->trigger_rule, DAG_RULE_ALL_DONE);
    j = dag_to_json(d);
    assert_non_null(j);
    assert_string_equal(
        cJSON_GetObjectItem(
            cJSON_GetArrayItem(cJSON_GetObjectItem(j, "steps"), 4), "hook")
            ->valuestring,
        "on_success");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(
        cJSON_GetArrayItem(cJSON_GetObjectItem(j, "steps"), 0), "hook")));
    cJSON_Delete(j);
    dag_free(d);
    /* a webhook hook adds no step */
    d = load_ok("web", "on_failure: {webhook: \"https://x.example/h\"}\n"
                       "steps:\n  - {id: a, run: x}\n");
    assert_int_equal(d->n_steps, 1);
    dag_free(d);
}

/* A wide, deep DAG near the limit loads, and in topological order. */
static void test_large_dag(void **state)
{
    size_t cap = 120 * DAG_MAX_STEPS, o;
    char *y = malloc(cap);
    struct dag *d;

    (void)state;
    assert_non_null(y);
    o = (size_t)snprintf(y, cap, "steps:\n");
    /* listed from last to first: every step needs the one listed after */
    for (int i = DAG_MAX_STEPS - 1; i >= 0; i--) {
        o += (size_t)snprintf(y + o, cap - o, "  - {id: s%d, run: x", i);
        if (i > 0)
            o += (size_t)snprintf(y + o, cap - o, ", needs: s%d", i - 1);
        o += (size_t)snprintf(y + o, cap - o, "}\n");
    }
    d = load_ok("big", y);
    assert_int_equal(d->n_steps, DAG_MAX_STEPS);
    assert_string_equal(d->steps[0].id, "s0");
    assert_string_equal(d->steps[DAG_MAX_STEPS - 1].id, "s1999");
    assert_int_equal(d->steps[DAG_MAX_STEPS - 1].n_upstream, DAG_MAX_STEPS - 1);
    dag_free(d);
    free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_dag),
        cmocka_unit_test(test_cells),
        cmocka_unit_test(test_minimal_defaults),
        cmocka_unit_test(test_id_from_name),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_hook_max_body),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_load_file_errors),
        cmocka_unit_test(test_diags_helpers),
        cmocka_unit_test(test_artifact_governance),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_large_dag),
        cmocka_unit_test(test_hooks),
        cmocka_unit_test(test_artifacts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
