# itr_component(NAME <target> DIR <dir> [DEPS <targets...>] [TEST_DEPS <targets...>])
#
# One folder = one static library: every *.c directly in DIR is compiled into
# <target>. Every DIR/tests/test_*.c becomes a cmocka test executable linked
# against <target> (and TEST_DEPS), registered with CTest under "<target>/<file stem>".
# A new source or test file is picked up without editing CMake.
function(itr_component)
  cmake_parse_arguments(C "" "NAME;DIR" "DEPS;TEST_DEPS" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS "${C_DIR}/*.c")
  if(NOT srcs)
    message(STATUS "itr: ${C_NAME} has no sources yet")
    add_library(${C_NAME} INTERFACE)
    target_include_directories(${C_NAME} INTERFACE ${PROJECT_SOURCE_DIR}/include)
    target_link_libraries(${C_NAME} INTERFACE ${C_DEPS})
    return()
  endif()
  add_library(${C_NAME} STATIC ${srcs})
  target_include_directories(${C_NAME} PUBLIC ${PROJECT_SOURCE_DIR}/include
                                       PRIVATE ${C_DIR})
  target_link_libraries(${C_NAME} PUBLIC ${C_DEPS})
  if(MATH_LIB)
    target_link_libraries(${C_NAME} PUBLIC ${MATH_LIB})
  endif()
  file(GLOB tests CONFIGURE_DEPENDS "${C_DIR}/tests/test_*.c")
  foreach(t ${tests})
    get_filename_component(stem ${t} NAME_WE)
    set(exe ${C_NAME}_${stem})
    add_executable(${exe} ${t})
    target_include_directories(${exe} PRIVATE ${C_DIR} ${C_DIR}/tests)
    target_link_libraries(${exe} PRIVATE ${C_NAME} ${C_TEST_DEPS} PkgConfig::CMOCKA)
    target_compile_definitions(${exe} PRIVATE
      ITR_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
      ITR_SHARED_DIR="${PROJECT_SOURCE_DIR}/../shared")
    add_test(NAME ${C_NAME}/${stem} COMMAND ${exe}
             WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(${C_NAME}/${stem} PROPERTIES TIMEOUT 600)
  endforeach()
endfunction()
