// Everything in optim/: optimizers, the factory, gradient clipping, LR schedules and precise
// batch-norm statistics.
//
//   #include "optim/optim.h"
//   gg::optim::Adam opt(g, params, {.lr = 3e-4});
//   gg::optim::CosineAnnealingLR sched(opt, {.t_max = epochs});
#pragma once

#include "optim/adagrad.h"
#include "optim/adam.h"
#include "optim/clip.h"
#include "optim/make_optimizer.h"
#include "optim/optimizer.h"
#include "optim/precise_bn.h"
#include "optim/reduce_lr_on_plateau.h"
#include "optim/rmsprop.h"
#include "optim/schedule.h"
