# Third-party libraries, all from Debian packages (scripts/install-deps installs them).

# llhttp: Node.js' HTTP parser ships as C sources in node-llhttp; built here in strict mode.
set(LLHTTP_SOURCE_DIR /usr/share/llhttp)
set(LLHTTP_INCLUDE_DIR /usr/share/include/llhttp)
if(NOT EXISTS ${LLHTTP_SOURCE_DIR}/llhttp.c)
  message(FATAL_ERROR "llhttp sources not found in ${LLHTTP_SOURCE_DIR}: run scripts/install-deps")
endif()
add_library(llhttp STATIC ${LLHTTP_SOURCE_DIR}/llhttp.c ${LLHTTP_SOURCE_DIR}/api.c
                          ${LLHTTP_SOURCE_DIR}/http.c)
target_include_directories(llhttp SYSTEM PUBLIC ${LLHTTP_INCLUDE_DIR})
target_compile_definitions(llhttp PRIVATE LLHTTP_STRICT_MODE=1)
target_compile_options(llhttp PRIVATE -w)

# liburing: always the static archive, so the sanitized and the static builds run the same code.
find_library(LIBURING_ARCHIVE NAMES liburing.a REQUIRED)
find_path(LIBURING_INCLUDE_DIR liburing.h REQUIRED)
add_library(uring STATIC IMPORTED GLOBAL)
set_target_properties(uring PROPERTIES IMPORTED_LOCATION ${LIBURING_ARCHIVE}
                                       INTERFACE_INCLUDE_DIRECTORIES ${LIBURING_INCLUDE_DIR})

# hiredis: only its RESP formatter and reply reader (cache/redis_pipe.cc); the connection is
# ours, on io_uring. The static archive, as for liburing.
find_library(HIREDIS_ARCHIVE NAMES libhiredis.a REQUIRED)
find_path(HIREDIS_INCLUDE_DIR hiredis/hiredis.h REQUIRED)
add_library(hiredis STATIC IMPORTED GLOBAL)
set_target_properties(hiredis PROPERTIES IMPORTED_LOCATION ${HIREDIS_ARCHIVE}
                                         INTERFACE_INCLUDE_DIRECTORIES ${HIREDIS_INCLUDE_DIR})

# toml++: header-only mode (its pkg-config would force the shared library), no exceptions.
find_path(TOMLPP_INCLUDE_DIR toml++/toml.h REQUIRED)
add_library(tomlplusplus INTERFACE)
target_include_directories(tomlplusplus SYSTEM INTERFACE ${TOMLPP_INCLUDE_DIR})
target_compile_definitions(tomlplusplus INTERFACE TOML_HEADER_ONLY=1 TOML_EXCEPTIONS=0
                                                  TOML_ENABLE_FORMATTERS=0)

# mimalloc: Debian ships no static archive; its single-file build from the source package,
# compiled with MI_MALLOC_OVERRIDE, replaces malloc when linked first.
if(EDGEFN_MIMALLOC)
  if(NOT EXISTS ${EDGEFN_MIMALLOC_SOURCE}/src/static.c)
    message(FATAL_ERROR "mimalloc source not found in ${EDGEFN_MIMALLOC_SOURCE}: "
                        "run scripts/install-deps (or configure with -DEDGEFN_MIMALLOC=OFF)")
  endif()
  add_library(mimalloc_static OBJECT ${EDGEFN_MIMALLOC_SOURCE}/src/static.c)
  target_include_directories(mimalloc_static SYSTEM PUBLIC ${EDGEFN_MIMALLOC_SOURCE}/include)
  target_compile_definitions(mimalloc_static PRIVATE MI_MALLOC_OVERRIDE MI_STATIC_LIB NDEBUG)
  target_compile_options(mimalloc_static PRIVATE -w -O2 -ftls-model=initial-exec)
endif()

if(EDGEFN_TESTS)
  find_package(GTest REQUIRED)
endif()
if(EDGEFN_BENCH)
  find_package(benchmark REQUIRED)
endif()
find_package(Threads REQUIRED)

# valijson (JSON Schema) and rapidjson (the JSON it validates): both header-only. SYSTEM
# includes: their headers do not build under the project's warning flags.
find_path(VALIJSON_INCLUDE_DIR valijson/validator.hpp REQUIRED)
find_path(RAPIDJSON_INCLUDE_DIR rapidjson/document.h REQUIRED)
add_library(valijson INTERFACE)
target_include_directories(valijson SYSTEM INTERFACE ${VALIJSON_INCLUDE_DIR}
                                                     ${RAPIDJSON_INCLUDE_DIR})

# cmark-gfm (the markdown module): the static archives, as for liburing. The extensions call
# into the core library, so the extensions archive links first.
find_library(CMARK_GFM_ARCHIVE NAMES libcmark-gfm.a REQUIRED)
find_library(CMARK_GFM_EXTENSIONS_ARCHIVE NAMES libcmark-gfm-extensions.a REQUIRED)
find_path(CMARK_GFM_INCLUDE_DIR cmark-gfm.h REQUIRED)
add_library(cmark_gfm STATIC IMPORTED GLOBAL)
set_target_properties(cmark_gfm PROPERTIES IMPORTED_LOCATION ${CMARK_GFM_ARCHIVE}
                                           INTERFACE_INCLUDE_DIRECTORIES ${CMARK_GFM_INCLUDE_DIR})
add_library(cmark_gfm_extensions STATIC IMPORTED GLOBAL)
set_target_properties(cmark_gfm_extensions PROPERTIES
  IMPORTED_LOCATION ${CMARK_GFM_EXTENSIONS_ARCHIVE}
  INTERFACE_INCLUDE_DIRECTORIES ${CMARK_GFM_INCLUDE_DIR}
  INTERFACE_LINK_LIBRARIES cmark_gfm)

# c-ares: upstream host names are resolved by it, off the workers (runtime/resolver.cc). Static
# glibc's getaddrinfo would need NSS plugins at run time, which a scratch container lacks.
find_library(CARES_ARCHIVE NAMES libcares.a REQUIRED)
find_path(CARES_INCLUDE_DIR ares.h REQUIRED)
add_library(cares STATIC IMPORTED GLOBAL)
set_target_properties(cares PROPERTIES IMPORTED_LOCATION ${CARES_ARCHIVE}
  INTERFACE_INCLUDE_DIRECTORIES ${CARES_INCLUDE_DIR})
