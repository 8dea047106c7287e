# Finds the Debian-packaged dependencies (DESIGN.md §1). A missing one stops the
# configure step with the name of the package that provides it.

function(cohttpd_require_pkg var module package)
  pkg_check_modules(${var} IMPORTED_TARGET ${module})
  if(NOT ${var}_FOUND)
    message(FATAL_ERROR "cohttpd needs ${module}: install the Debian package '${package}' "
      "(or run packaging/install-deps)")
  endif()
endfunction()

if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "cohttpd needs pkg-config: install the Debian package 'pkg-config' "
    "(or run packaging/install-deps)")
endif()

cohttpd_require_pkg(INIH inih libinih-dev)
cohttpd_require_pkg(SYSTEMD libsystemd libsystemd-dev)
# Basic authentication: crypt_rn (libxcrypt) and the MAC of its cache (OpenSSL).
cohttpd_require_pkg(XCRYPT libxcrypt libcrypt-dev)
cohttpd_require_pkg(LIBCRYPTO libcrypto libssl-dev)
# Compression on the fly.
cohttpd_require_pkg(ZLIB zlib zlib1g-dev)
cohttpd_require_pkg(BROTLIENC libbrotlienc libbrotli-dev)
cohttpd_require_pkg(ZSTD libzstd libzstd-dev)

# llhttp: an installed library first (CMake package, then pkg-config); else the
# C sources Debian ships in node-llhttp, built strict into a static library.
find_package(llhttp QUIET CONFIG)
if(TARGET llhttp::llhttp_static AND NOT TARGET llhttp::llhttp)
  add_library(llhttp::llhttp ALIAS llhttp::llhttp_static)
endif()
if(NOT TARGET llhttp::llhttp)
  pkg_check_modules(LLHTTP IMPORTED_TARGET libllhttp)
  if(LLHTTP_FOUND)
    add_library(llhttp::llhttp ALIAS PkgConfig::LLHTTP)
  endif()
endif()
if(NOT TARGET llhttp::llhttp)
  set(LLHTTP_SRC_DIR /usr/share/llhttp CACHE PATH "Directory holding llhttp's C sources")
  set(LLHTTP_INCLUDE_DIR /usr/share/include/llhttp CACHE PATH "Directory holding llhttp.h")
  if(NOT EXISTS ${LLHTTP_SRC_DIR}/llhttp.c OR NOT EXISTS ${LLHTTP_INCLUDE_DIR}/llhttp.h)
    message(FATAL_ERROR "cohttpd needs llhttp: install the Debian package 'node-llhttp' "
      "(or run packaging/install-deps)")
  endif()
  add_library(llhttp_strict STATIC ${LLHTTP_SRC_DIR}/llhttp.c ${LLHTTP_SRC_DIR}/api.c
    ${LLHTTP_SRC_DIR}/http.c)
  target_include_directories(llhttp_strict SYSTEM PUBLIC ${LLHTTP_INCLUDE_DIR})
  # Strict mode rejects CR-prefixed header lines, bare CR chunk endings and
  # whitespace before the colon (the Debian 8.1 sources default to loose).
  target_compile_definitions(llhttp_strict PUBLIC LLHTTP_STRICT_MODE=1)
  target_compile_options(llhttp_strict PRIVATE -w)
  set_target_properties(llhttp_strict PROPERTIES POSITION_INDEPENDENT_CODE ON)
  add_library(llhttp::llhttp ALIAS llhttp_strict)
  message(STATUS "cohttpd: llhttp built strict from ${LLHTTP_SRC_DIR}")
endif()

if(COHTTPD_TESTS)
  cohttpd_require_pkg(CRITERION criterion libcriterion-dev)
  cohttpd_require_pkg(CURL libcurl libcurl4-openssl-dev)
  cohttpd_require_pkg(SECCOMP libseccomp libseccomp-dev)
endif()
