# Profile-guided optimisation of the daemon (COHTTPD_PGO=ON; GCC, without
# sanitizers or fuzzing).
#
# A copy of the daemon instrumented with -fprofile-generate is built first, in
# <build>/pgo/build, from the same sources with the same options, except
# link-time optimisation: the counters are those of each function as
# compiled before any link, the same either way, and the copy builds in
# about half the time. The training program (packaging/pgo/train.c) runs it
# on a site of its own and sends it the requests a server mostly sees; the
# daemon writes its counts to <build>/pgo/profile when it stops. The layers and the daemon are then
# compiled with -fprofile-use: GCC knows which branches are taken and how
# often, inlines along the paths that run, and moves the code that never ran
# (errors, rare options) apart from the code that does, so a request runs
# through fewer pages of code. Code the training never reached is compiled as
# without a profile (-fprofile-partial-training).
#
# -Wmaybe-uninitialized is not an error in the profiled build: what it finds
# depends on the inlining, which here depends on the training's counts; the
# builds without a profile keep it an error.
#
# Reads COHTTPD_PGO_GENERATE (set only for the instrumented build). Sets
# COHTTPD_PGO_FLAGS (compile options of the layers and the daemon) and
# COHTTPD_PGO_LINK_FLAGS, and, with COHTTPD_PGO, the target
# cohttpd_pgo_profile that the layers depend on.

set(COHTTPD_PGO_FLAGS "")
set(COHTTPD_PGO_LINK_FLAGS "")

if(COHTTPD_PGO_GENERATE)
  # This is the instrumented build, configured by the one below. The profile's
  # file names are the objects' paths below the build directory, which are
  # the same in both builds.
  set(COHTTPD_PGO_FLAGS -fprofile-generate=${COHTTPD_PGO_GENERATE}
      -fprofile-update=prefer-atomic -fprofile-prefix-path=${CMAKE_BINARY_DIR})
  set(COHTTPD_PGO_LINK_FLAGS ${COHTTPD_PGO_FLAGS})
  message(STATUS "cohttpd: instrumented for profile-guided optimisation")
elseif(COHTTPD_PGO)
  if(NOT CMAKE_C_COMPILER_ID STREQUAL "GNU" OR SAN OR COHTTPD_FUZZ)
    message(FATAL_ERROR "COHTTPD_PGO needs GCC and a build without sanitizers or fuzzing "
                        "(configure with -DCOHTTPD_PGO=OFF)")
  endif()
  include(ExternalProject)
  include(ProcessorCount)
  ProcessorCount(pgo_jobs)
  if(pgo_jobs EQUAL 0)
    set(pgo_jobs 2)
  endif()
  set(pgo_dir ${CMAKE_BINARY_DIR}/pgo)
  string(TOUPPER "${CMAKE_BUILD_TYPE}" pgo_type)
  ExternalProject_Add(cohttpd_pgo_instrumented
    SOURCE_DIR ${PROJECT_SOURCE_DIR}
    BINARY_DIR ${pgo_dir}/build
    CMAKE_ARGS
      -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE}
      -DCMAKE_C_COMPILER=${CMAKE_C_COMPILER}
      -DCMAKE_C_FLAGS=${CMAKE_C_FLAGS}
      -DCMAKE_C_FLAGS_${pgo_type}=${CMAKE_C_FLAGS_${pgo_type}}
      -DCMAKE_EXE_LINKER_FLAGS=${CMAKE_EXE_LINKER_FLAGS}
      -DCOHTTPD_TESTS=OFF
      -DCOHTTPD_PGO=OFF
      -DCOHTTPD_PGO_GENERATE=${pgo_dir}/profile
      -DCOHTTPD_LTO=OFF
      -DCOHTTPD_WERROR=${COHTTPD_WERROR}
      -DCOHTTPD_CORO_SWITCH=${COHTTPD_CORO_SWITCH}
    BUILD_COMMAND ${CMAKE_COMMAND} --build <BINARY_DIR> --target cohttpd --parallel ${pgo_jobs}
    INSTALL_COMMAND ""
    BUILD_ALWAYS ON
    BUILD_BYPRODUCTS ${pgo_dir}/build/cohttpd)

  add_executable(cohttpd-pgo-train packaging/pgo/train.c)
  target_compile_options(cohttpd-pgo-train PRIVATE ${COHTTPD_CFLAGS})
  # Old counts go first: the training starts from nothing each time.
  add_custom_command(OUTPUT ${pgo_dir}/trained
    COMMAND ${CMAKE_COMMAND} -E rm -rf ${pgo_dir}/profile
    COMMAND cohttpd-pgo-train ${pgo_dir}/build/cohttpd
    COMMAND ${CMAKE_COMMAND} -E touch ${pgo_dir}/trained
    DEPENDS ${pgo_dir}/build/cohttpd cohttpd-pgo-train
    COMMENT "Profile-guided optimisation: serving the training load with the instrumented daemon"
    VERBATIM)
  add_custom_target(cohttpd_pgo_profile DEPENDS ${pgo_dir}/trained)
  add_dependencies(cohttpd_pgo_profile cohttpd_pgo_instrumented)

  set(COHTTPD_PGO_FLAGS -fprofile-use=${pgo_dir}/profile -fprofile-prefix-path=${CMAKE_BINARY_DIR}
      -fprofile-partial-training -Wno-missing-profile -Wno-error=maybe-uninitialized)
  set(COHTTPD_PGO_LINK_FLAGS ${COHTTPD_PGO_FLAGS}) # the link-time optimisation reads it too
  set(COHTTPD_PGO_TRAINED ${pgo_dir}/trained)
  message(STATUS "cohttpd: profile-guided optimisation: trained by packaging/pgo/train.c")
endif()
