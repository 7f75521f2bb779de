# Finds every dependency. libtorch comes from the PyPI torch wheel in the project's
# virtual environment (scripts/install_deps.sh); CMake finds it through
# torch.utils.cmake_prefix_path. Everything else comes from Debian packages.
set(LONGQA_PYTHON "${CMAKE_SOURCE_DIR}/.venv/bin/python" CACHE FILEPATH
    "Python of the environment that holds the torch wheel (and the test references)")
if(NOT EXISTS "${LONGQA_PYTHON}")
  message(FATAL_ERROR "No Python at ${LONGQA_PYTHON}: run scripts/install_deps.sh first, "
                      "or pass -DLONGQA_PYTHON=/path/to/python with torch installed.")
endif()
execute_process(
  COMMAND "${LONGQA_PYTHON}" -c "import torch.utils; print(torch.utils.cmake_prefix_path)"
  OUTPUT_VARIABLE _torch_prefix OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "${LONGQA_PYTHON} cannot import torch: run scripts/install_deps.sh")
endif()
list(APPEND CMAKE_PREFIX_PATH "${_torch_prefix}")

find_package(Threads REQUIRED)
find_package(Torch REQUIRED)

# Fused CUDA kernels (attention/usw_attention_forward.cu, usw_attention_backward.cu): on by default when the found libtorch
# is a CUDA build (its config then has enabled the CUDA language and found nvcc).
if(CAFFE2_USE_CUDA AND CMAKE_CUDA_COMPILER)
  set(_longqa_cuda_default ON)
else()
  set(_longqa_cuda_default OFF)
endif()
option(LONGQA_CUDA "Build the fused CUDA attention kernels" ${_longqa_cuda_default})
set(LONGQA_CUDA_ARCHS "90" CACHE STRING
    "CUDA architectures of longqa's kernels (CMAKE_CUDA_ARCHITECTURES syntax; 90 = H100/H200)")
if(LONGQA_CUDA)
  if(NOT _longqa_cuda_default)
    message(FATAL_ERROR "LONGQA_CUDA=ON needs a CUDA build of libtorch and nvcc")
  endif()
  enable_language(CUDA)
  # TorchConfig appends -gencode flags for ~11 architectures to CMAKE_CUDA_FLAGS; drop them so
  # that our .cu compiles once per LONGQA_CUDA_ARCHS entry (CUDA_ARCHITECTURES on the target).
  string(REGEX REPLACE "-gencode[ ;]+arch=[^ ;]+" "" CMAKE_CUDA_FLAGS "${CMAKE_CUDA_FLAGS}")
  message(STATUS "longqa: CUDA kernels for architectures ${LONGQA_CUDA_ARCHS}")
endif()
find_package(nlohmann_json 3 REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)  # the PostgreSQL store
# The reader's CPU linear layers call OpenBLAS's sgemm (reader/blas_linear.cpp): libopenblas0-pthread.
pkg_check_modules(OPENBLAS REQUIRED IMPORTED_TARGET openblas)
# Retrieval: FAISS (Debian's static libfaiss needs OpenMP found first; its BLAS is
# libblas.so, i.e. libopenblas0-pthread through alternatives) and SQLite with FTS5.
find_package(OpenMP REQUIRED)
find_package(faiss REQUIRED)
find_package(SQLite3 REQUIRED)

# Torch's imported targets carry its compile flags; TORCH_LIBRARIES is what we link.
# torch/torch.h is heavy: targets that need it get it as a precompiled header.
#
# libtorch.so exports its own copy of some std::filesystem functions (built against a
# newer libstdc++); linking libstdc++ first makes the system's copy win, or
# std::filesystem::remove_all crashes in every program linked with torch.
function(longqa_use_torch target)
  target_link_libraries(${target} PUBLIC stdc++ ${TORCH_LIBRARIES})
  target_precompile_headers(${target} PRIVATE <torch/torch.h>)
endfunction()
