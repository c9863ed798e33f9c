/* eval_test_dir.h - the eval tests' working folders: a temp folder per
 * test group (cmocka group setup/teardown) and entering a case folder as
 * upstream ran (./vocab/, relative checkpoint paths). */
#ifndef ITR_EVAL_TEST_DIR_H
#define ITR_EVAL_TEST_DIR_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define EVAL_DIR ITR_SOURCE_DIR "/fixtures/eval/"

static char g_tmp[64];

/* cmocka group setup/teardown: a fresh /tmp/itr_eval_XXXXXX per test file. */
static int setup(void **state) {
    (void)state;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/itr_eval_XXXXXX");
    return mkdtemp(g_tmp) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    return system(cmd) == 0 ? 0 : -1;
}

/* upstream ran from the case folder: ./vocab/, relative checkpoint paths */
static void enter(const char *name) {
    char dir[256];
    snprintf(dir, sizeof dir, "%s%s", EVAL_DIR, name);
    assert_int_equal(chdir(dir), 0);
}

#endif
