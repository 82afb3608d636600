# The shipped corpus: `cardex-index check seeds/` passes in strict mode with no warnings.
# (tests/unit/test_seeds.c counts cards per pack, resolves links and checks tests/eval/.)
if(TARGET cardex-index)
  add_test(NAME seeds/check COMMAND cardex-index check ${PROJECT_SOURCE_DIR}/seeds)
  set_tests_properties(seeds/check PROPERTIES TIMEOUT 120
    FAIL_REGULAR_EXPRESSION " [1-9][0-9]* warning| [1-9][0-9]* error|: warning:|: error:")
endif()
