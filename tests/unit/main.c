/* main.c - runs every unit-test suite (see suites.h).
 *
 *   CK_FORK=yes build/unit_tests      (make test-unit)
 *   CK_RUN_SUITE=agg build/unit_tests one suite
 */
#include <stdlib.h>

#include "suites.h"

int main(void)
{
    SRunner *sr = srunner_create(time_suite());
    srunner_add_suite(sr, json_lua_suite());
    srunner_add_suite(sr, json_scan_suite());
    srunner_add_suite(sr, json_scan_impl_suite());
    srunner_add_suite(sr, window_suite());
    srunner_add_suite(sr, agg_suite());
    srunner_add_suite(sr, state_suite());
    srunner_add_suite(sr, value_suite());
    srunner_add_suite(sr, table_suite());
    srunner_add_suite(sr, sinks_suite());
    srunner_add_suite(sr, deadletter_suite());
    srunner_add_suite(sr, split_suite());
    srunner_add_suite(sr, query_suite());
    srunner_add_suite(sr, trigger_progress_suite());
    srunner_add_suite(sr, lua_api_suite());
    srunner_add_suite(sr, snapshot_suite());
    srunner_add_suite(sr, merge_suite());
    srunner_add_suite(sr, query_clone_suite());
    srunner_add_suite(sr, checkpoint_suite());
    srunner_add_suite(sr, cast_suite());
    srunner_add_suite(sr, source_suite());
    srunner_add_suite(sr, per_record_suite());
    srunner_add_suite(sr, files_suite());
    srunner_add_suite(sr, http_suite());
    srunner_add_suite(sr, engine_suite());
    srunner_add_suite(sr, session_suite());
    srunner_add_suite(sr, explain_suite());
    srunner_add_suite(sr, sketch_suite());
    srunner_add_suite(sr, status_suite());
    srunner_add_suite(sr, group_codec_suite());
    srunner_add_suite(sr, sink_parts_suite());
    srunner_add_suite(sr, state_cache_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
