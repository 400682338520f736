// PNG images made in the test, for vision requests: no image files to commit, any size.
#pragma once

#include <cstdint>
#include <string>

namespace ge_test {

// An RGB PNG of `width` x `height` pixels of deterministic noise from `seed`. `deflate_level` 0
// stores the pixels uncompressed (noise does not compress anyway), so the file is about
// width * height * 3 bytes.
std::string noise_png(uint32_t width, uint32_t height, uint32_t seed, int deflate_level = 0);

// "data:image/png;base64,...": what an OpenAI client puts in an image_url content part.
std::string png_data_url(const std::string& png);

}  // namespace ge_test
