# Client black-box tests: the real cardex against a real cardexd on a temporary socket.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_FOUND AND TARGET cardex-client AND TARGET cardexd AND TARGET cardex-index)
  add_test(NAME integration/client
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/integration/client_test.py)
  set_tests_properties(integration/client PROPERTIES TIMEOUT 300
    ENVIRONMENT "CARDEX=$<TARGET_FILE:cardex-client>;CARDEXD=$<TARGET_FILE:cardexd>;CARDEX_INDEX_TOOL=$<TARGET_FILE:cardex-index>;CX_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endif()
