// Everything a user needs to write graph code: the graph, autodiff, compile/run, every
// op builder and the operator overloads.
//
//   #include "graphgrad/ops/ops.h"
#pragma once

#include "graphgrad/graph/autodiff.h"
#include "graphgrad/graph/executor.h"
#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/init.h"
#include "graphgrad/ops/activation.h"
#include "graphgrad/ops/broadcast.h"
#include "graphgrad/ops/conv.h"
#include "graphgrad/ops/detection.h"
#include "graphgrad/ops/elementwise.h"
#include "graphgrad/ops/indexing.h"
#include "graphgrad/ops/linalg.h"
#include "graphgrad/ops/loss.h"
#include "graphgrad/ops/normalization.h"
#include "graphgrad/ops/overlap_loss.h"
#include "graphgrad/ops/pooling.h"
#include "graphgrad/ops/random.h"
#include "graphgrad/ops/reduction.h"
#include "graphgrad/ops/rnn.h"
#include "graphgrad/ops/shape_ops.h"
#include "graphgrad/ops/softmax.h"
