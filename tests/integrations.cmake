# Integrations (contrib/): Neovim, Emacs and the Python client, each against a real cardexd.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_FOUND AND TARGET cardexd AND TARGET cardex-index)
  set(_cx_env "CARDEXD=$<TARGET_FILE:cardexd>;CARDEX_INDEX_TOOL=$<TARGET_FILE:cardex-index>;CX_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
  foreach(editor nvim emacs)
    add_test(NAME integration/${editor}
             COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/integration/editors_test.py ${editor})
    set_tests_properties(integration/${editor} PROPERTIES TIMEOUT 180 SKIP_RETURN_CODE 77
                         ENVIRONMENT "${_cx_env}")
  endforeach()
  add_test(NAME integration/python
           COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/contrib/python/test_cardex.py)
  set_tests_properties(integration/python PROPERTIES TIMEOUT 180 ENVIRONMENT "${_cx_env}")
endif()
