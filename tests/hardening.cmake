# hardening.cmake — faults, hostile clients, access and a short soak against the real daemon
# (tests/integration/hard_*.py, tests/soak.sh). Same arguments as tests/daemon.cmake's tests.
if(NOT CX_PYTHON3 OR NOT TARGET cardexd OR NOT TARGET cardex-index)
  return()
endif()

function(cx_hard_test name timeout)
  add_test(NAME integration/hard_${name}
           COMMAND ${CX_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/hard_${name}.py
                   ${CX_DAEMON_TEST_ARGS} ${ARGN})
  set_tests_properties(integration/hard_${name} PROPERTIES TIMEOUT ${timeout}
                       LABELS "integration;daemon;hardening")
endfunction()

cx_hard_test(faults 300)
cx_hard_test(hostile 240)
# It compares latencies with and without hostile load: not next to other tests of the suite.
set_tests_properties(integration/hard_hostile PROPERTIES RUN_SERIAL TRUE)
cx_hard_test(access 120)
# The soak, 25 s (tests/soak.sh MINUTES runs the long one).
cx_hard_test(soak 180 --seconds 25)
