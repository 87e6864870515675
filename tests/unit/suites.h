/* suites.h - every unit-test suite of luastream's C core.
 *
 * Each tests/unit/test_*.c file exposes one suite constructor; main.c runs
 * them all in one SRunner. */
#ifndef LS_TEST_SUITES_H
#define LS_TEST_SUITES_H

#include <check.h>

Suite *time_suite(void);
Suite *json_lua_suite(void);
Suite *json_scan_suite(void);
Suite *json_scan_impl_suite(void);
Suite *window_suite(void);
Suite *agg_suite(void);
Suite *state_suite(void);
Suite *value_suite(void);
Suite *table_suite(void);
Suite *sinks_suite(void);
Suite *deadletter_suite(void);
Suite *split_suite(void);
Suite *query_suite(void);
Suite *trigger_progress_suite(void);
Suite *lua_api_suite(void);
Suite *snapshot_suite(void);
Suite *merge_suite(void);
Suite *query_clone_suite(void);
Suite *checkpoint_suite(void);
Suite *cast_suite(void);
Suite *source_suite(void);
Suite *per_record_suite(void);
Suite *files_suite(void);
Suite *http_suite(void);
Suite *engine_suite(void);
Suite *session_suite(void);
Suite *explain_suite(void);
Suite *sketch_suite(void);
Suite *status_suite(void);
Suite *group_codec_suite(void);
Suite *sink_parts_suite(void);
Suite *state_cache_suite(void);

#endif
