# cardexd black-box tests: each tests/integration/daemon_*.py drives the real daemon on a
# private socket (Python 3 standard library only). Under -DCARDEX_SANITIZE=ON every test's
# final SIGTERM is also a LeakSanitizer check: the daemon must exit 0.
# The reply encoder (the library's cx__json_write) against jansson.
add_executable(daemon_json_test ${CMAKE_CURRENT_SOURCE_DIR}/integration/daemon_json_test.c)
target_include_directories(daemon_json_test PRIVATE ${PROJECT_SOURCE_DIR}/daemon)
target_link_libraries(daemon_json_test PRIVATE cardex PkgConfig::LIBUV m)
add_test(NAME integration/daemon_json COMMAND daemon_json_test)
set_tests_properties(integration/daemon_json PROPERTIES TIMEOUT 60 LABELS "integration;daemon")
# The request parser's fast path for common lines against jansson (mutated lines).
add_executable(daemon_envelope_test ${CMAKE_CURRENT_SOURCE_DIR}/integration/daemon_envelope_test.c)
target_link_libraries(daemon_envelope_test PRIVATE cardexd_core)
add_test(NAME integration/daemon_envelope COMMAND daemon_envelope_test)
set_tests_properties(integration/daemon_envelope PROPERTIES TIMEOUT 120 LABELS "integration;daemon")

find_program(CX_PYTHON3 python3)
find_program(CX_VALGRIND valgrind)
if(NOT CX_PYTHON3 OR NOT TARGET cardexd OR NOT TARGET cardex-index)
  message(STATUS "cardexd integration tests disabled (python3, cardexd or cardex-index missing)")
  return()
endif()

set(CX_DAEMON_TEST_ARGS
  --cardexd $<TARGET_FILE:cardexd>
  --cardex-index $<TARGET_FILE:cardex-index>
  --seeds ${PROJECT_SOURCE_DIR}/seeds)
if(TARGET gen_cards)
  list(APPEND CX_DAEMON_TEST_ARGS --gen-cards $<TARGET_FILE:gen_cards>)
endif()

function(cx_daemon_test name timeout)
  add_test(NAME integration/daemon_${name}
           COMMAND ${CX_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/daemon_${name}.py
                   ${CX_DAEMON_TEST_ARGS} ${ARGN})
  set_tests_properties(integration/daemon_${name} PROPERTIES TIMEOUT ${timeout}
                       LABELS "integration;daemon")
endfunction()

cx_daemon_test(methods 120)
cx_daemon_test(errors 180)
cx_daemon_test(framing 180)
cx_daemon_test(load 300)
cx_daemon_test(reload 300)
cx_daemon_test(signals 180)
cx_daemon_test(socket 180)
cx_daemon_test(budget 240)

# The same daemon under valgrind's leak checker (too slow and incompatible with ASan).
if(CX_VALGRIND)
  cx_daemon_test(valgrind 600 --valgrind ${CX_VALGRIND})
  set_tests_properties(integration/daemon_valgrind PROPERTIES LABELS "integration;daemon;no-asan;valgrind")
else()
  message(STATUS "valgrind not found: integration/daemon_valgrind skipped")
endif()
