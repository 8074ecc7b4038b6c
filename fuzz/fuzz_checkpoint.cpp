// A checkpoint as `graphgrad train --resume` trusts it: the tensors load into a store that
// holds two parameters and Adam's state (shapes must match exactly), the optimizer state is
// checked (step counts, finite moments), then the metadata a resume reads: epoch, best metric,
// the plateau schedule's state and the input normalisation.
#include "fuzz_util.h"
#include "graphgrad/graph/graph.h"
#include "graphgrad/io/checkpoint.h"
#include "graphgrad/optim/adam.h"
#include "graphgrad/optim/reduce_lr_on_plateau.h"
#include "graphgrad/train/schedule_by_name.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    gg::fuzz::MemFile f(data, size);
    gg::fuzz::expect_only_gg_errors([&] {
        gg::Graph g;
        gg::Value w = g.parameter("fc.weight", {3, 2}), b = g.parameter("fc.bias", {3});
        gg::optim::Adam opt(g, {w, b});
        gg::optim::ReduceLROnPlateau plateau(opt, {});
        gg::io::Metadata meta = gg::io::load_checkpoint(g.store(), f.path());
        opt.check_state(f.path());
        const int64_t epoch = gg::io::metadata_int(meta, "epoch", f.path()).value_or(0);
        (void)gg::io::metadata_double(meta, "best_metric", f.path());
        (void)gg::io::metadata_double(meta, "normalize_mean", f.path(), -1e6, 1e6);
        (void)gg::io::metadata_double(meta, "normalize_std", f.path(), 1e-12, 1e6);
        if (epoch > 0) gg::train::resume_schedule(&plateau, epoch, meta, f.path());
    });
    return 0;
}
