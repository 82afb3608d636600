# Query engine: the cx_query driver and the query benchmark (included from bench/CMakeLists.txt).
add_executable(cx_query ${CMAKE_CURRENT_LIST_DIR}/cx_query.c)
target_link_libraries(cx_query PRIVATE cardex)
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/bench_query.c)
  add_executable(bench_query ${CMAKE_CURRENT_LIST_DIR}/bench_query.c)
  target_link_libraries(bench_query PRIVATE cardex)
endif()
