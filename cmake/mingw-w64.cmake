# Cross-compiling blobfetch for 64-bit Windows with Debian's mingw-w64 (GCC,
# the posix thread model: std::thread and std::mutex need it).
#   cmake -S . -B build-win -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64.cmake \
#         -DBLOBFETCH_MINGW_CURL=<prefix of a static libcurl built for mingw>
# .ci/windows.sh builds that libcurl and runs the result under Wine.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(BLOBFETCH_MINGW_TRIPLET x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${BLOBFETCH_MINGW_TRIPLET}-gcc-posix)
set(CMAKE_CXX_COMPILER ${BLOBFETCH_MINGW_TRIPLET}-g++-posix)
set(CMAKE_RC_COMPILER ${BLOBFETCH_MINGW_TRIPLET}-windres)

# Libraries and headers of the target only (zlib: libz-mingw-w64-dev); the
# host's programs (none are run at build time) from the build machine.
set(CMAKE_FIND_ROOT_PATH /usr/${BLOBFETCH_MINGW_TRIPLET})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Self-contained executables and DLL: no libstdc++/libgcc/winpthread DLLs to
# ship next to them (Wine finds none of them otherwise).
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "-static")

# Run test programs under Wine (ctest, gtest discovery).
find_program(BLOBFETCH_WINE wine)
if(BLOBFETCH_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${BLOBFETCH_WINE})
endif()
