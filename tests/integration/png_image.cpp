#include "png_image.hpp"

#include <Poco/Base64Encoder.h>
#include <Poco/Checksum.h>
#include <Poco/DeflatingStream.h>

#include <random>
#include <sstream>

namespace ge_test {

namespace {

void put_u32(std::string& out, uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((value >> shift) & 0xff);
}

// One chunk: length, type, data, CRC-32 of type and data (PNG spec 5.3).
void put_chunk(std::string& out, const char* type, const std::string& data) {
    put_u32(out, static_cast<uint32_t>(data.size()));
    std::string typed = std::string(type, 4) + data;
    Poco::Checksum crc(Poco::Checksum::TYPE_CRC32);
    crc.update(typed.data(), static_cast<unsigned>(typed.size()));
    out += typed;
    put_u32(out, crc.checksum());
}

}  // namespace

std::string noise_png(uint32_t width, uint32_t height, uint32_t seed, int deflate_level) {
    std::mt19937 random(seed);
    // Each row: filter type 0 (none), then R G B per pixel.
    std::string raw;
    raw.reserve(static_cast<size_t>(height) * (1 + width * 3));
    for (uint32_t y = 0; y < height; ++y) {
        raw += '\0';
        for (uint32_t x = 0; x < width * 3; x += 4) {
            uint32_t bits = random();
            for (uint32_t i = 0; i < 4 && x + i < width * 3; ++i) {
                raw += static_cast<char>((bits >> (8 * i)) & 0xff);
            }
        }
    }
    std::ostringstream zlib;
    {
        Poco::DeflatingOutputStream deflate(zlib, Poco::DeflatingStreamBuf::STREAM_ZLIB,
                                            deflate_level);
        deflate.write(raw.data(), static_cast<std::streamsize>(raw.size()));
        deflate.close();
    }

    std::string header;
    put_u32(header, width);
    put_u32(header, height);
    header +=
        std::string("\x08\x02\x00\x00\x00", 5);  // 8 bits, RGB, deflate, filter 0, no interlace
    std::string png = "\x89PNG\r\n\x1a\n";
    put_chunk(png, "IHDR", header);
    put_chunk(png, "IDAT", zlib.str());
    put_chunk(png, "IEND", "");
    return png;
}

std::string png_data_url(const std::string& png) {
    std::ostringstream out;
    {
        Poco::Base64Encoder base64(out);
        base64.rdbuf()->setLineLength(0);  // one line: a URL
        base64.write(png.data(), static_cast<std::streamsize>(png.size()));
        base64.close();
    }
    return "data:image/png;base64," + out.str();
}

}  // namespace ge_test
