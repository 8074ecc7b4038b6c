// graphgrad for users: one header for graph code, autodiff, compile/run, every op builder,
// numerical gradient checks, optimizers and schedules, the model zoo, data sets, safetensors
// and checkpoints, and the training harness.
//
//   #include <graphgrad/graphgrad.h>
//   gg::Graph g;
//   auto x = g.input("x", {64, 1, 28, 28});
//   auto logits = gg::models::lenet5(x);
//
// Link graphgrad::graphgrad (CMake: find_package(graphgrad 0.5 CONFIG REQUIRED)) or use
// `pkg-config --cflags --libs graphgrad`.
#pragma once

#include "graphgrad/graph/autodiff.h"
#include "graphgrad/graph/checkpoint.h"
#include "graphgrad/graph/errors.h"
#include "graphgrad/graph/executor.h"
#include "graphgrad/graph/gradient.h"
#include "graphgrad/graph/gradcheck.h"
#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/init.h"
#include "graphgrad/graph/tensor.h"
#include "graphgrad/io/canvas.h"
#include "graphgrad/io/checkpoint.h"
#include "graphgrad/io/dataset.h"
#include "graphgrad/io/idx.h"
#include "graphgrad/io/fasttext_hash.h"
#include "graphgrad/io/labelled_text.h"
#include "graphgrad/io/safetensors.h"
#include "graphgrad/io/text_corpus.h"
#include "graphgrad/io/word_vectors.h"
#include "graphgrad/models/attention_layers.h"
#include "graphgrad/models/metric_learning.h"
#include "graphgrad/models/model_zoo.h"
#include "graphgrad/models/recurrent.h"
#include "graphgrad/models/text_classifiers.h"
#include "graphgrad/models/vision_models.h"
#include "graphgrad/models/yolo.h"
#include "graphgrad/ops/ops.h"
#include "graphgrad/optim/optim.h"
#include "graphgrad/train/canvas_batches.h"
#include "graphgrad/train/classification.h"
#include "graphgrad/train/detection_eval.h"
#include "graphgrad/train/embedding_eval.h"
#include "graphgrad/train/language_model.h"
#include "graphgrad/train/language_model_io.h"
#include "graphgrad/train/metric_learning.h"
#include "graphgrad/train/model_summary.h"
#include "graphgrad/train/report_format.h"
#include "graphgrad/train/schedule_by_name.h"
#include "graphgrad/train/segmentation.h"
#include "graphgrad/train/segmentation_metrics.h"
#include "graphgrad/train/text_classification.h"
#include "graphgrad/train/trainer.h"
#include "graphgrad/train/word2vec.h"
#include "graphgrad/train/yolo.h"
#include "graphgrad/version.h"
