# The Windows unit tests (included from the top-level CMakeLists.txt when
# cross-building with mingw-w64): GoogleTest built from Debian's sources, and
# the unit tests of base, config, state, io, lock, hash, the download
# core's pure pieces (download, net) and the host's command line, run under Wine by ctest (CMAKE_CROSSCOMPILING_EMULATOR).
set(BLOBFETCH_GTEST_SOURCE /usr/src/googletest CACHE PATH "GoogleTest's sources (Debian: googletest)")
set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
set(gtest_disable_pthreads ON CACHE BOOL "" FORCE)  # (mingw: GoogleTest's own Win32 threading)
add_subdirectory(${BLOBFETCH_GTEST_SOURCE} ${CMAKE_BINARY_DIR}/googletest EXCLUDE_FROM_ALL)
foreach(t gtest gtest_main gmock gmock_main)
  target_compile_options(${t} PRIVATE -Wno-error)
endforeach()

set(dir ${CMAKE_CURRENT_LIST_DIR})
add_library(blobfetch_test_support_win STATIC ${dir}/support/process_win32.cpp ${dir}/support/blob_content.cpp)
target_include_directories(blobfetch_test_support_win PUBLIC ${dir})
target_link_libraries(blobfetch_test_support_win PUBLIC blobfetch_files gtest)
# Under Wine the build tree is seen through drive Z: (the Unix root).
if(CMAKE_CROSSCOMPILING)
  set(BLOBFETCH_WINE_DRIVE "Z:" CACHE STRING "the drive under which Wine shows the build machine's root")
endif()
target_compile_definitions(blobfetch_test_support_win PUBLIC
  BLOBFETCH_BIN_DIR="${BLOBFETCH_WINE_DRIVE}${CMAKE_BINARY_DIR}/bin"
  BLOBFETCH_SOURCE_DIR="${BLOBFETCH_WINE_DRIVE}${CMAKE_SOURCE_DIR}")

# Another process holding a directory's lock or a blob's, for the lock tests.
add_executable(blobfetch-lockholder ${dir}/support/tools/lockholder_main.cpp)
target_link_libraries(blobfetch-lockholder PRIVATE blobfetch_files)

# The test files that apply on Windows; cases inside them that test POSIX
# behaviour (symbolic links, modes, /dev/null, st_blocks) say so and are
# compiled on POSIX only.
set(BLOBFETCH_WIN_UNIT_TESTS
  unit/base/cancellation_test.cpp unit/base/path_safety_test.cpp unit/base/url_test.cpp
  unit/config/binary_sources_test.cpp unit/config/manifest_test.cpp
  unit/state/chunk_bitmap_test.cpp unit/state/download_state_test.cpp
  unit/io/file_test.cpp unit/io/positional_writer_test.cpp unit/io/dir_handle_win32_test.cpp
  unit/lock/blob_lock_test.cpp unit/lock/dir_lock_test.cpp
  unit/hash/crc32_test.cpp unit/hash/sha256_test.cpp
  unit/download/chunk_transfer_test.cpp unit/download/fetch_progress_test.cpp unit/download/response_check_test.cpp
  unit/download/outcome_policy_test.cpp unit/download/scheduler_test.cpp
  unit/net/http_headers_test.cpp unit/net/retry_policy_test.cpp
  unit/host/cli_test.cpp)
list(TRANSFORM BLOBFETCH_WIN_UNIT_TESTS PREPEND ${dir}/)
# (The host's command line, built as on Windows: CLI11's defaults there.)
add_executable(blobfetch_unit_tests_win ${BLOBFETCH_WIN_UNIT_TESTS} ${CMAKE_SOURCE_DIR}/src/host/cli.cpp)
target_link_libraries(blobfetch_unit_tests_win PRIVATE blobfetch_core blobfetch_files blobfetch_config blobfetch_test_support_win
  gtest_main gmock ZLIB::ZLIB CLI11::CLI11)
add_dependencies(blobfetch_unit_tests_win blobfetch-lockholder)
add_test(NAME unit_win COMMAND blobfetch_unit_tests_win)
set_tests_properties(unit_win PROPERTIES LABELS unit TIMEOUT 600)
