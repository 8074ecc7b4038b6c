// Everything a user needs to write graph code: the graph, autodiff, compile/run, every
// op builder and the operator overloads.
//
//   #include "ops/ops.h"
#pragma once

#include "graph/autodiff.h"
#include "graph/executor.h"
#include "graph/graph.h"
#include "graph/init.h"
#include "ops/activation.h"
#include "ops/broadcast.h"
#include "ops/conv.h"
#include "ops/elementwise.h"
#include "ops/indexing.h"
#include "ops/linalg.h"
#include "ops/loss.h"
#include "ops/normalization.h"
#include "ops/pooling.h"
#include "ops/random.h"
#include "ops/reduction.h"
#include "ops/register_ops.h"
#include "ops/shape_ops.h"
#include "ops/softmax.h"
