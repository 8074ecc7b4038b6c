# `cmake --install build --prefix P`: the shared library, the public headers under
# P/include/graphgrad/, the graphgrad program, a CMake package (find_package(graphgrad 0.5
# CONFIG) → graphgrad::graphgrad) and a pkg-config file.
#
# Only the headers listed here are installed: builders, graph, compile/run, autodiff,
# gradcheck, optimizers, models, io and the training harness. Kernels, layouts, the op
# registry and registration, and everything that includes oneDNN, OpenMP, CLI11 or JSON stay
# internal; tools/check-install.sh compiles every installed header on its own against the
# prefix alone, so a public header that reaches an internal one fails the tests.
include(CMakePackageConfigHelpers)

set(GG_PUBLIC_HEADERS
    graphgrad/graphgrad.h
    graphgrad/graph/autodiff.h graphgrad/graph/gradient.h graphgrad/graph/checkpoint.h graphgrad/graph/compile_options.h graphgrad/graph/compile_report.h
    graphgrad/graph/errors.h graphgrad/graph/executor.h
    graphgrad/graph/gradcheck.h graphgrad/graph/graph.h graphgrad/graph/init.h
    graphgrad/graph/memory_plan.h graphgrad/graph/node.h graphgrad/graph/tensor.h
    graphgrad/graph/tensor_desc.h
    graphgrad/ops/ops.h graphgrad/ops/activation.h graphgrad/ops/broadcast.h graphgrad/ops/conv.h graphgrad/ops/detection.h
    graphgrad/ops/elementwise.h graphgrad/ops/indexing.h graphgrad/ops/linalg.h graphgrad/ops/loss.h
    graphgrad/ops/normalization.h graphgrad/ops/pooling.h graphgrad/ops/random.h
    graphgrad/ops/reduction.h graphgrad/ops/rnn.h graphgrad/ops/rnn_cell.h graphgrad/ops/shape_ops.h graphgrad/ops/softmax.h
    graphgrad/optim/optim.h graphgrad/optim/adagrad.h graphgrad/optim/adam.h graphgrad/optim/clip.h
    graphgrad/optim/make_optimizer.h graphgrad/optim/optimizer.h graphgrad/optim/precise_bn.h
    graphgrad/optim/reduce_lr_on_plateau.h graphgrad/optim/rmsprop.h graphgrad/optim/schedule.h
    graphgrad/models/model_zoo.h graphgrad/models/attention_layers.h graphgrad/models/recurrent.h
    graphgrad/models/metric_learning.h graphgrad/models/vision_models.h
    graphgrad/models/text_classifiers.h graphgrad/io/labelled_text.h graphgrad/io/fasttext_hash.h
    graphgrad/io/checkpoint.h graphgrad/io/data_error.h graphgrad/io/dataset.h graphgrad/io/idx.h
    graphgrad/io/safetensors.h graphgrad/io/text_corpus.h graphgrad/io/utf8.h graphgrad/io/vocabulary.h
    graphgrad/io/word_vectors.h)
list(APPEND GG_PUBLIC_HEADERS graphgrad/train/trainer.h graphgrad/train/classification.h graphgrad/train/language_model.h
    graphgrad/train/word2vec.h
     graphgrad/train/language_model_io.h graphgrad/train/model_program.h graphgrad/train/model_summary.h
     graphgrad/train/model_compile_report.h graphgrad/train/schedule_by_name.h graphgrad/train/report_format.h
     graphgrad/train/metric_learning.h graphgrad/train/embedding_eval.h
     graphgrad/train/text_classification.h graphgrad/train/transfer.h graphgrad/train/class_subset.h)
# Segmentation and detection on canvases.
list(APPEND GG_PUBLIC_HEADERS graphgrad/io/canvas.h graphgrad/ops/overlap_loss.h graphgrad/models/yolo.h
     graphgrad/train/canvas_batches.h graphgrad/train/segmentation_metrics.h graphgrad/train/segmentation.h
     graphgrad/train/detection_eval.h graphgrad/train/yolo.h)

foreach(h ${GG_PUBLIC_HEADERS})
  get_filename_component(dir ${h} DIRECTORY)
  install(FILES ${h} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/${dir})
endforeach()
install(FILES ${CMAKE_BINARY_DIR}/generated/graphgrad/version.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/graphgrad)

install(TARGETS graphgrad EXPORT graphgradTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS graphgrad_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

set(GG_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/graphgrad)
install(EXPORT graphgradTargets NAMESPACE graphgrad:: DESTINATION ${GG_CMAKE_DIR})
configure_package_config_file(cmake/graphgradConfig.cmake.in ${CMAKE_BINARY_DIR}/graphgradConfig.cmake
                              INSTALL_DESTINATION ${GG_CMAKE_DIR})
# 0.x: minor versions may break the API, so 0.5 accepts only 0.5.*.
write_basic_package_version_file(${CMAKE_BINARY_DIR}/graphgradConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/graphgradConfig.cmake ${CMAKE_BINARY_DIR}/graphgradConfigVersion.cmake
        DESTINATION ${GG_CMAKE_DIR})

# Relocatable: the prefix is found from the .pc file's own place, so `--install --prefix P`
# (chosen after configure) works.
file(RELATIVE_PATH GG_PC_TO_PREFIX /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
configure_file(cmake/graphgrad.pc.in ${CMAKE_BINARY_DIR}/graphgrad.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/graphgrad.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
