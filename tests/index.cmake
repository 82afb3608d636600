# The index builder's black-box tests (the unit test tests/unit/test_index.c registers itself).
# Under ASan the tool is ~5x slower: a smaller corpus keeps the test near a minute.
if(CARDEX_SANITIZE)
  set(CX_KILL_CARDS 1500)
else()
  set(CX_KILL_CARDS 3000)
endif()
add_test(NAME integration/index_kill
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/index_kill.sh
          $<TARGET_FILE:cardex-index> $<TARGET_FILE:gen_cards> ${CX_KILL_CARDS} 10)
set_tests_properties(integration/index_kill PROPERTIES TIMEOUT 300)

add_test(NAME integration/index_tool
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/index_tool.sh
          $<TARGET_FILE:cardex-index> ${PROJECT_SOURCE_DIR}/seeds)
set_tests_properties(integration/index_tool PROPERTIES TIMEOUT 120)
