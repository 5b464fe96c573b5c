# The dependencies of the Windows build (mingw-w64 cross build, see
# cmake/mingw-w64.cmake), as the same imported targets the POSIX build gets
# from find_package:
#   ZLIB::ZLIB       libz-mingw-w64-dev (static)
#   CURL::libcurl    a static libcurl with Schannel at BLOBFETCH_MINGW_CURL
#                    (.ci/windows.sh builds it from Debian's curl source)
#   nlohmann_json::nlohmann_json, CLI11::CLI11
#                    the header-only Debian packages, pointed at through a
#                    folder of links in the build tree (never /usr/include
#                    itself: the glibc headers there must stay invisible)
#   BLOBFETCH_CRYPTO_LIBS   CNG (bcrypt) for SHA-256/512
set(BLOBFETCH_MINGW_CURL "" CACHE PATH "prefix of a static libcurl built for mingw-w64 (lib/libcurl.a, include/curl)")

add_compile_definitions(NOMINMAX WIN32_LEAN_AND_MEAN _WIN32_WINNT=0x0A00 _FILE_OFFSET_BITS=64)

find_package(Threads REQUIRED)
find_library(BLOBFETCH_MINGW_ZLIB NAMES libz.a z REQUIRED)
find_path(BLOBFETCH_MINGW_ZLIB_INCLUDE zlib.h REQUIRED)
add_library(ZLIB::ZLIB STATIC IMPORTED)
set_target_properties(ZLIB::ZLIB PROPERTIES IMPORTED_LOCATION ${BLOBFETCH_MINGW_ZLIB}
  INTERFACE_INCLUDE_DIRECTORIES ${BLOBFETCH_MINGW_ZLIB_INCLUDE})

add_library(CURL::libcurl STATIC IMPORTED)
if(BLOBFETCH_MINGW_CURL)
  set_target_properties(CURL::libcurl PROPERTIES IMPORTED_LOCATION ${BLOBFETCH_MINGW_CURL}/lib/libcurl.a
    INTERFACE_INCLUDE_DIRECTORIES ${BLOBFETCH_MINGW_CURL}/include
    INTERFACE_COMPILE_DEFINITIONS CURL_STATICLIB
    INTERFACE_LINK_LIBRARIES "ZLIB::ZLIB;ws2_32;crypt32;bcrypt;secur32;iphlpapi")
endif()

set(BLOBFETCH_HEADER_ONLY ${CMAKE_BINARY_DIR}/third_party/include)
file(MAKE_DIRECTORY ${BLOBFETCH_HEADER_ONLY})
foreach(dir nlohmann CLI)
  if(NOT EXISTS /usr/include/${dir})
    message(FATAL_ERROR "/usr/include/${dir} is missing: install nlohmann-json3-dev and libcli11-dev")
  endif()
  file(CREATE_LINK /usr/include/${dir} ${BLOBFETCH_HEADER_ONLY}/${dir} SYMBOLIC)
endforeach()
add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
set_target_properties(nlohmann_json::nlohmann_json PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${BLOBFETCH_HEADER_ONLY})
add_library(CLI11::CLI11 INTERFACE IMPORTED)
set_target_properties(CLI11::CLI11 PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${BLOBFETCH_HEADER_ONLY})

set(BLOBFETCH_CRYPTO_LIBS bcrypt)
