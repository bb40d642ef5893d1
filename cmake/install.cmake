# `cmake --install`: the libraries up to coder, the headers a host includes, and the packages that
# find them: CMake's (find_package(coder-runtime CONFIG), target coder-runtime::coder-runtime) and
# pkg-config's (coder-runtime.pc). The CLI, the service and the holder are the executable's, not
# the library's.
include(CMakePackageConfigHelpers)

# What <coder_runtime/coder_runtime.hpp> includes, and all they include in turn: no crypto/, wire
# format or packet layer (the consumer test compiles every one of them against the installed
# tree alone).
set(CODER_RUNTIME_INSTALLED_HEADERS
  runtime/asio_error.hpp runtime/async_mutex.hpp runtime/async_stream.hpp runtime/backoff.hpp
  runtime/deadline.hpp runtime/error.hpp runtime/event.hpp runtime/local_user.hpp runtime/logging.hpp
  runtime/memory_stream.hpp runtime/paths.hpp
  proxy/process_stream.hpp proxy/proxy_command.hpp proxy/stream_listener.hpp proxy/tcp_listener.hpp
  proxy/tcp_stream.hpp
  ssh/algorithms.hpp ssh/channel.hpp ssh/channel_stream.hpp ssh/client.hpp ssh/client_auth.hpp
  ssh/client_config.hpp ssh/config.hpp ssh/connection.hpp ssh/digest.hpp ssh/disconnect_reason.hpp ssh/identity.hpp
  ssh/incoming_channel.hpp
  ssh/known_hosts.hpp ssh/session.hpp ssh/signer.hpp ssh/transport.hpp ssh/version_exchange.hpp
  ssh/sftp/client.hpp ssh/sftp/types.hpp
  coder/cli_driver.hpp coder/dial.hpp coder/doctor.hpp coder/fault_class.hpp coder/forward.hpp coder/operations.hpp coder/pool.hpp
  coder/proxy_command_line.hpp coder/readiness.hpp coder/sftp_files.hpp coder/workspace.hpp
  coder/workspace_connect.hpp coder/workspace_plan.hpp)
foreach(header IN LISTS CODER_RUNTIME_INSTALLED_HEADERS)
  get_filename_component(folder ${header} DIRECTORY)
  install(FILES src/${header} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/coder_runtime/${folder})
endforeach()
install(FILES include/coder_runtime/coder_runtime.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/coder_runtime)

install(TARGETS coder_runtime coder_runtime_coder coder_runtime_ssh coder_runtime_proxy coder_runtime_core
                asio_standalone coder_runtime_fmt
        EXPORT coder-runtime-targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
set(CODER_RUNTIME_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/coder-runtime)
install(EXPORT coder-runtime-targets NAMESPACE coder-runtime:: DESTINATION ${CODER_RUNTIME_CMAKE_DIR})
configure_package_config_file(cmake/coder-runtime-config.cmake.in
  ${PROJECT_BINARY_DIR}/coder-runtime-config.cmake INSTALL_DESTINATION ${CODER_RUNTIME_CMAKE_DIR})
# 0.x: a new minor version may change the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/coder-runtime-config-version.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/coder-runtime-config.cmake ${PROJECT_BINARY_DIR}/coder-runtime-config-version.cmake
        DESTINATION ${CODER_RUNTIME_CMAKE_DIR})
# Relocatable: the prefix is found from where the .pc file is, so `cmake --install --prefix` holds.
file(RELATIVE_PATH CODER_RUNTIME_PC_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
configure_file(cmake/coder-runtime.pc.in ${PROJECT_BINARY_DIR}/coder-runtime.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/coder-runtime.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
