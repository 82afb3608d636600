# fuzz.cmake — the card parser's fuzz target: a replay test with any compiler, libFuzzer with clang.
set(CX_FUZZ_DIR ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)

# The target's main() for gcc and plain builds: every corpus file and every
# test card goes through it, so the suite exercises the target everywhere.
add_executable(fuzz_card_replay ${CX_FUZZ_DIR}/fuzz_card.c ${CX_FUZZ_DIR}/replay.c)
target_link_libraries(fuzz_card_replay PRIVATE cardex)
add_test(NAME fuzz/card-replay
         COMMAND fuzz_card_replay ${CX_FUZZ_DIR}/corpus/card ${CMAKE_CURRENT_SOURCE_DIR}/data)
set_tests_properties(fuzz/card-replay PROPERTIES TIMEOUT 120 LABELS fuzz)

# In tree, with -DCARDEX_FUZZ=ON and clang: the parser's sources compiled
# into the target itself so that libFuzzer sees their coverage.
if(CARDEX_FUZZ AND CMAKE_C_COMPILER_ID MATCHES "Clang")
  set(CX_IDX ${PROJECT_SOURCE_DIR}/index)
  add_executable(fuzz_card ${CX_FUZZ_DIR}/fuzz_card.c ${CX_IDX}/card.c ${CX_IDX}/card_yaml.c
                 ${CX_IDX}/card_body.c ${CX_IDX}/util.c)
  target_include_directories(fuzz_card PRIVATE ${CX_IDX})
  target_compile_options(fuzz_card PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_card PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_card PRIVATE PkgConfig::YAML PkgConfig::CMARK PkgConfig::JANSSON m)
endif()

# Builds the libFuzzer target out of tree and fuzzes it for 20 s; prints
# "skipped" and passes without clang/libFuzzer. It brings its own sanitizers.
add_test(NAME fuzz/card-smoke COMMAND ${CX_FUZZ_DIR}/smoke.sh)
set_tests_properties(fuzz/card-smoke PROPERTIES TIMEOUT 300 LABELS "no-asan;fuzz")
