# Language level, warnings and compiler cache, shared by every target.
set(CMAKE_CXX_STANDARD 20)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
set(CMAKE_EXPORT_COMPILE_COMMANDS ON)
if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE RelWithDebInfo CACHE STRING "" FORCE)
endif()

find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_CXX_COMPILER_LAUNCHER "${CCACHE_PROGRAM}")
endif()

# -O2 rather than -O3: as fast here, quicker to build on CI's two cores.
set(CMAKE_CXX_FLAGS_RELEASE "-O2 -DNDEBUG")
# -Wno-restrict: GCC 12 reports impossible std::string memcpy overlaps at
# -O2/-O3 (GCC bug 105329), a false positive in libstdc++ itself.
add_compile_options(-Wall -Wextra -Wpedantic -Wno-missing-field-initializers)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  add_compile_options(-Wno-restrict)
endif()
# Fuzzing build (clang only, see tests/fuzz): every library is instrumented
# for libFuzzer's coverage and checked by ASan and UBSan.
if(EARSHOT_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "EARSHOT_FUZZ needs clang (CXX=clang++)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=address,undefined)
endif()
if(EARSHOT_WERROR)
  add_compile_options(-Werror)
endif()

# Every target includes from the repository root: "crawler/core/status.h".
include_directories(${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/generated)

# earshot_component(NAME DIR [DEPS ...]): a static library of every .cc in DIR
# (not recursive). Components add files without touching CMake.
function(earshot_component name dir)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  file(GLOB _srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/*.cc)
  if(_srcs)
    add_library(${name} STATIC ${_srcs})
    target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  else()
    # A component whose sources have not landed yet: usage requirements only.
    add_library(${name} INTERFACE)
    target_link_libraries(${name} INTERFACE ${ARG_DEPS})
  endif()
endfunction()
