// Batches of canvases (io/canvas.h) for the Trainer: images f32 [B, 1, S, S] normalised as
// (pixel / 255 − mean) / std, and for segmentation the label maps i64 [B, S, S] (0 background,
// c + 1 item class c). Shuffled per epoch as a pure function of (seed, epoch); the detector's
// batches (train/yolo.h) reuse fill_images() and sample() and write their own targets.
//
//   gg::train::CanvasBatches train(canvases, {.batch = 32, .seed = 1});
//   trainer.fit(train, evaluate, &miou);                 // feeds: images, labels
#pragma once

#include <cstdint>
#include <vector>

#include "graphgrad/io/canvas.h"
#include "graphgrad/io/dataset.h"
#include "graphgrad/train/trainer.h"

namespace gg::train {

struct CanvasBatchOptions {
    int64_t batch = 32;
    uint64_t seed = 1;
    bool shuffle = true;
    // Drop: every batch full (training); Pad: a last batch padded with blank canvases, whose
    // rows fill() does not count as valid (evaluation).
    io::LastBatch last_batch = io::LastBatch::Drop;
    io::PixelStats normalization{0.0f, 1.0f};
};

// Mean and standard deviation of pixel / 255 over every canvas pixel.
io::PixelStats canvas_statistics(const io::CanvasSet& data);

class CanvasBatches : public BatchSource {
public:
    // Keeps a reference to `data`: it must outlive the batches. Throws OptionError when the
    // batch is larger than the data with LastBatch::Drop (no batch at all) or not positive.
    CanvasBatches(const io::CanvasSet& data, CanvasBatchOptions options);

    int64_t num_batches() const override;
    void start_epoch(int64_t epoch) override;
    // feeds[0] images [B, 1, S, S], feeds[1] labels [B, S, S] (only when given: a detector fills
    // its own targets); returns the number of real canvases.
    int64_t fill(int64_t b, std::vector<Tensor>& feeds) override;

    int64_t fill_images(int64_t b, Tensor& images) const;
    int64_t sample(int64_t b, int64_t row) const;  // canvas index at that row, −1 for padding
    const io::CanvasSet& data() const { return data_; }
    int64_t batch() const { return o_.batch; }

private:
    const io::CanvasSet& data_;
    CanvasBatchOptions o_;
    std::vector<int64_t> order_;
};

}  // namespace gg::train
