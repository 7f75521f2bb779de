# `cmake --install` exports the libraries so that find_package(longqa) works.
install(TARGETS longqa_common longqa_attention longqa_tokenizer longqa_reader longqa_training longqa_retriever longqa_pipeline longqa_eval longqa_eval_runner longqa_server longqa
        EXPORT longqaTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/longqa DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT longqaTargets NAMESPACE longqa:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/longqa)

include(CMakePackageConfigHelpers)
# Consumers find the same torch we built against (its CMake prefix is recorded).
set(LONGQA_TORCH_PREFIX "${_torch_prefix}")
configure_package_config_file(cmake/longqaConfig.cmake.in
  "${CMAKE_CURRENT_BINARY_DIR}/longqaConfig.cmake"
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/longqa)
write_basic_package_version_file("${CMAKE_CURRENT_BINARY_DIR}/longqaConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/longqaConfig.cmake"
              "${CMAKE_CURRENT_BINARY_DIR}/longqaConfigVersion.cmake"
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/longqa)
