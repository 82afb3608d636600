# bench (daemon): loadgen and the echo-server baseline; run by hand, see bench/README.md.
add_executable(loadgen loadgen.c ${PROJECT_SOURCE_DIR}/daemon/histogram.c)
target_include_directories(loadgen PRIVATE ${PROJECT_SOURCE_DIR}/daemon)
target_link_libraries(loadgen PRIVATE PkgConfig::LIBUV)
add_executable(echo_server echo_server.c)
target_link_libraries(echo_server PRIVATE PkgConfig::LIBUV)
