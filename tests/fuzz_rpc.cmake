# fuzz_rpc.cmake — cardexd's request path (framing, envelope, param checks): a replay test with
# any compiler, libFuzzer with clang, and a 20 s smoke of the out-of-tree libFuzzer build.
set(CX_FUZZR_DIR ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)
if(NOT TARGET cardexd_core)
  return()
endif()
add_executable(fuzz_rpc_replay ${CX_FUZZR_DIR}/fuzz_rpc.c ${CX_FUZZR_DIR}/replay.c)
target_link_libraries(fuzz_rpc_replay PRIVATE cardexd_core)
add_test(NAME fuzz/rpc-replay COMMAND fuzz_rpc_replay ${CX_FUZZR_DIR}/corpus/rpc)
set_tests_properties(fuzz/rpc-replay PROPERTIES TIMEOUT 120 LABELS fuzz)

if(CARDEX_FUZZ AND CMAKE_C_COMPILER_ID MATCHES "Clang")
  add_executable(fuzz_rpc ${CX_FUZZR_DIR}/fuzz_rpc.c)
  target_compile_options(fuzz_rpc PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_rpc PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_rpc PRIVATE cardexd_core)
endif()

# Builds the target out of tree with clang (daemon and library instrumented) and fuzzes it
# for 20 s through run.sh; "skipped" without clang/libFuzzer. It brings its own sanitizers.
add_test(NAME fuzz/rpc-smoke COMMAND ${CX_FUZZR_DIR}/run.sh 20 rpc)
set_tests_properties(fuzz/rpc-smoke PROPERTIES TIMEOUT 300 LABELS "no-asan;fuzz"
                     ENVIRONMENT "FUZZ_ARTIFACTS=${CMAKE_CURRENT_BINARY_DIR}/fuzz-artifacts")
