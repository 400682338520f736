// The chunked decoder: the same payload and verdict whether the bytes come at once or split at
// an arbitrary point (the upstream and the client may split their writes anywhere).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "proxy/chunked_decoder.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using gradatum::proxy::ChunkedDecoder;
    if (size < 1) return 0;
    size_t split = data[0] % (size);
    const char* bytes = reinterpret_cast<const char*>(data + 1);
    size_t length = size - 1;
    split = std::min(split, length);

    ChunkedDecoder whole;
    std::string whole_out;
    size_t whole_used = 0;
    bool whole_ok = whole.feed(bytes, length, whole_out, &whole_used);

    ChunkedDecoder parts;
    std::string parts_out;
    size_t used_a = 0, used_b = 0;
    bool ok = parts.feed(bytes, split, parts_out, &used_a);
    if (ok && !parts.done())
        ok = parts.feed(bytes + split, length - split, parts_out, &used_b);
    else
        used_b = 0;
    if (ok != whole_ok) std::abort();
    if (ok && (parts.done() != whole.done() || parts_out != whole_out)) std::abort();
    if (ok && whole.done() && used_a + used_b != whole_used) std::abort();
    if (whole_used > length) std::abort();
    return 0;
}
