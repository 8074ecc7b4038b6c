// Everything in optim/: optimizers, the factory, gradient clipping, LR schedules and precise
// batch-norm statistics.
//
//   #include "graphgrad/optim/optim.h"
//   gg::optim::Adam opt(g, params, {.lr = 3e-4});
//   gg::optim::CosineAnnealingLR sched(opt, {.t_max = epochs});
#pragma once

#include "graphgrad/optim/adagrad.h"
#include "graphgrad/optim/adam.h"
#include "graphgrad/optim/clip.h"
#include "graphgrad/optim/make_optimizer.h"
#include "graphgrad/optim/optimizer.h"
#include "graphgrad/optim/precise_bn.h"
#include "graphgrad/optim/reduce_lr_on_plateau.h"
#include "graphgrad/optim/rmsprop.h"
#include "graphgrad/optim/schedule.h"
