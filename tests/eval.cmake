# Retrieval quality: tests/eval/*.tsv against the seeds, engine beside the naive FTS5 plan.
# Thresholds are set from measurement (docs/ranking.md), a little below the measured values.
add_executable(eval_run ${CMAKE_CURRENT_LIST_DIR}/eval_run.c)
target_link_libraries(eval_run PRIVATE cardex)
add_test(NAME eval/quality
         COMMAND eval_run ${PROJECT_SOURCE_DIR}/seeds ${CMAKE_CURRENT_LIST_DIR}/eval
                 --min-top1 0.87 --min-mrr 0.91)
set_tests_properties(eval/quality PROPERTIES TIMEOUT 300)
